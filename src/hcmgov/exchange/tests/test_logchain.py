"""The message log's proofs: ``chain_verify`` (and ``hcmgov exchange verify``) finds an altered,
missing or rewritten record and a seal or time stamp that does not match; ``log_seal`` time-stamps
chain heads over HTTP with the TSA simulator; ``log_archive`` moves old, sealed records to the
document store and verification spans the archive (``--archives`` reads the files again).

Chains are built with ``logchain.Chain`` and ``chain_append``, as the gateway builds them."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from asn1crypto import cms
from django.core.management import CommandError, call_command
from django.db import transaction

from hcmgov import simulators
from hcmgov.common.errors import DomainError
from hcmgov.documents import storage
from hcmgov.exchange import logchain, timestamps
from hcmgov.exchange.models import LogArchive, LogSeal, MessageLogRecord

pytestmark = pytest.mark.django_db

A, B = "gw-a:101:19a0", "gw-b:202:19a1"
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def entry(i: int, at: dt.datetime, *, bodies: bool = False) -> dict[str, Any]:
    response = f'{{"parcel": {i}, "owner": "Nguyễn Văn An"}}'.encode()
    return {
        "at": at,
        "request_id": f"req-{i:04d}",
        "client_id": "mot-cua-q1",
        "consumer": "000.00.31.H29/mot-cua",
        "service": "000.00.12.H29/dat-dai/thua-dat",
        "method": "GET",
        "path": f"/parcels/{i}?year=2025",
        "end_user": "079085001234" if i % 3 else "",
        "status": 200 if i % 7 else 404,
        "error": "",
        "duration_ms": round(3.25 + i * 1.1, 3),
        "request_bytes": 0,
        "response_bytes": len(response),
        "request_sha256": hashlib.sha256(b"").hexdigest(),
        "response_sha256": hashlib.sha256(response).hexdigest(),
        "bodies": b"gAAAAAB-encrypted-" + bytes([i % 256]) * 40 if bodies else None,
    }


def grow(
    chain: logchain.Chain, count: int, *, start: dt.datetime = START, step: dt.timedelta = dt.timedelta(minutes=1)
):
    """``count`` more records on ``chain``, one every ``step`` from ``start``, in batches as the gateway writes."""
    base = chain.seq
    entries = [entry(base + i, start + i * step, bodies=(base + i) % 4 == 0) for i in range(1, count + 1)]
    for batch in range(0, count, 8):
        logchain.chain_append(chain, entries[batch : batch + 8])
    return chain


@pytest.fixture
def chains() -> dict[str, logchain.Chain]:
    """Two gateway processes: 30 records of A, 20 of B (some with bodies kept)."""
    return {A: grow(logchain.Chain(A), 30), B: grow(logchain.Chain(B), 20)}


@pytest.fixture(scope="module")
def tsa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The TSA simulator and its root certificate (a file, as HCMGOV_TRUSTED_ROOTS names them)."""
    with simulators.running("tsa") as url:
        root = tmp_path_factory.mktemp("tsa") / "tsa-root.pem"
        root.write_bytes(_OPENER.open(url + "/_sim/ca.pem").read())
        yield url, str(root)


@pytest.fixture
def tsa(tsa_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    url, root = tsa_url
    monkeypatch.setenv("HCMGOV_TSA_URL", url)
    monkeypatch.setenv("HCMGOV_TRUSTED_ROOTS", root)  # the platform trusts this authority
    tsa_url = url
    _OPENER.open(urllib.request.Request(tsa_url + "/_sim/faults", method="DELETE"))  # noqa: S310 - the simulator
    return tsa_url


def verify_command(*args: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("exchange", "verify", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


# --- verification --------------------------------------------------------------------------------


def test_two_chains_verify_and_the_command_says_so(chains):
    report = logchain.chain_verify()
    assert report.ok
    assert [(n.node, n.records, n.seals, n.problem) for n in report.nodes] == [(A, 30, 0, None), (B, 20, 0, None)]
    out, error = verify_command()
    assert error is None
    assert out.count("Chuỗi nhật ký toàn vẹn / log chain intact") == 2
    assert f"{A}: 30 bản ghi / records" in out


def test_an_altered_record_is_named_by_node_and_seq(chains):
    MessageLogRecord.objects.filter(node=A, seq=17).update(path="/parcels/17?year=2024")
    report = logchain.chain_verify()
    assert not report.ok
    [problem] = report.problems
    assert (problem.kind, problem.node, problem.seq) == ("altered", A, 17)
    stored = MessageLogRecord.objects.get(node=A, seq=17)
    assert problem.found == stored.hash
    assert problem.expected != stored.hash
    assert problem.expected == logchain.record_hash(logchain.stored_fields(stored), stored.prev_hash)
    assert report.nodes[0].records == 16  # the first problem stops the walk of A; B is walked whole
    assert report.nodes[1].ok

    out, error = verify_command()
    assert error is not None
    assert error.returncode == 1
    assert f"Bản ghi {A} #17 đã bị sửa" in out
    assert f"Record {A} #17 was altered" in out
    assert "Chuỗi nhật ký toàn vẹn / log chain intact" in out  # B
    assert verify_command("--node", B)[1] is None


@pytest.mark.parametrize(
    "change",
    [{"status": 500}, {"duration_ms": 1.0}, {"at": START}, {"bodies": b"other"}, {"end_user": "079190005678"}],
)
def test_any_hashed_field_altered_is_found(chains, change):
    MessageLogRecord.objects.filter(node=B, seq=5).update(**change)
    [problem] = logchain.chain_verify(node=B).problems
    assert (problem.kind, problem.seq) == ("altered", 5)


def test_a_record_rewritten_with_its_hash_breaks_the_next_link(chains):
    record = MessageLogRecord.objects.get(node=A, seq=10)
    record.path = "/parcels/forged"
    new_hash = logchain.record_hash(logchain.stored_fields(record), record.prev_hash)
    MessageLogRecord.objects.filter(pk=record.pk).update(path=record.path, hash=new_hash)
    [problem] = logchain.chain_verify().problems
    assert (problem.kind, problem.node, problem.seq) == ("link", A, 11)
    assert (problem.expected, problem.found) == (new_hash, record.hash)


def test_a_deleted_middle_record_is_a_gap(chains):
    MessageLogRecord.objects.filter(node=B, seq__in=[8, 9]).delete()
    [problem] = logchain.chain_verify().problems
    assert (problem.kind, problem.node, problem.seq) == ("missing", B, 8)
    assert "#8–#9" in problem.message.vi
    assert "jumps from #7 to #10" in problem.message.en
    out, error = verify_command("--node", B)
    assert error is not None
    assert f"Records {B} #8–#9 are missing" in out


def test_a_chain_without_its_first_records_is_a_gap(chains):
    MessageLogRecord.objects.filter(node=A, seq__lte=3).delete()
    [problem] = logchain.chain_verify(node=A).problems
    assert (problem.kind, problem.seq) == ("missing", 1)


def test_an_unknown_node_is_a_problem(chains):
    [problem] = logchain.chain_verify(node="nowhere").problems
    assert problem.kind == "unknown_node"


def test_the_empty_log_verifies():
    assert logchain.chain_verify().nodes == []
    out, error = verify_command()
    assert error is None
    assert "trống / the message log is empty" in out


@pytest.mark.django_db(transaction=True)
def test_verify_outside_a_transaction_reads_one_snapshot():
    """As the command runs from a shell: on PostgreSQL in one REPEATABLE READ, READ ONLY transaction."""
    grow(logchain.Chain(A), 12)
    assert logchain.chain_verify().ok
    assert not transaction.get_connection().in_atomic_block


# --- seals ---------------------------------------------------------------------------------------


def test_heads_are_sealed_over_http_and_the_seals_verify(chains, tsa):
    seals = logchain.log_seal()
    assert [(s.node, s.seq) for s in seals] == [(A, 30), (B, 20)]
    for seal in seals:
        stored = LogSeal.objects.get(node=seal.node, seq=seal.seq)
        assert stored.head_hash == MessageLogRecord.objects.get(node=seal.node, seq=seal.seq).hash
        gen_time = timestamps.token_check(token=bytes(stored.token), data=bytes.fromhex(stored.head_hash))
        assert stored.stamped_at == gen_time
    assert logchain.log_seal() == []  # nothing grew

    grow(chains[A], 5, start=START + dt.timedelta(hours=1))
    assert [(s.node, s.seq) for s in logchain.log_seal()] == [(A, 35)]
    report = logchain.chain_verify()
    assert report.ok
    assert [(n.records, n.seals) for n in report.nodes] == [(35, 2), (20, 1)]
    out = io.StringIO()
    call_command("exchange", "seal", stdout=out)
    assert "no chain grew since its last seal" in out.getvalue()


def test_a_time_stamp_from_an_authority_the_platform_does_not_trust_is_refused(chains, tsa, monkeypatch):
    """Anyone can run a time-stamping authority: its stamps count only when its certificate chains
    to a trusted root. Sealing with an untrusted one stores nothing; a seal whose authority is no
    longer trusted is reported by verify."""
    seals = logchain.log_seal()
    assert logchain.chain_verify().ok
    monkeypatch.setenv("HCMGOV_TRUSTED_ROOTS", "")
    with pytest.raises(timestamps.TokenInvalid):
        timestamps.token_check(token=bytes(seals[0].token), data=bytes.fromhex(seals[0].head_hash))
    grow(chains[A], 2, start=START + dt.timedelta(hours=1))
    with pytest.raises(DomainError) as refused:
        logchain.log_seal()
    assert refused.value.code == "tsa_bad_token"
    assert LogSeal.objects.count() == len(seals)
    assert not logchain.chain_verify().ok


def test_a_seal_covers_what_was_written_up_to_now(chains, tsa):
    [seal, _] = logchain.log_seal(now=START + dt.timedelta(minutes=12, seconds=30))
    assert (seal.node, seal.seq) == (A, 12)


def test_a_deleted_last_record_before_the_seal_is_a_seal_problem(chains, tsa):
    logchain.log_seal()
    MessageLogRecord.objects.filter(node=A, seq=30).delete()
    [problem] = logchain.chain_verify().problems
    assert (problem.kind, problem.node, problem.seq) == ("seal", A, 30)
    assert "not in the log (the chain ends at #29)" in problem.message.en
    out, error = verify_command()
    assert error is not None
    assert f"Seal {A} #30 names record #30" in out


def test_a_sealed_chain_rewritten_from_the_seal_on_does_not_match_it(chains, tsa):
    """Whoever rewrites every hash from a record on keeps the links — not the seal."""
    logchain.log_seal()
    prev = MessageLogRecord.objects.get(node=B, seq=14).hash
    for record in MessageLogRecord.objects.filter(node=B, seq__gte=15).order_by("seq"):
        if record.seq == 15:
            record.path = "/parcels/forged"
        record.prev_hash = prev
        record.hash = prev = logchain.record_hash(logchain.stored_fields(record), prev)
        record.save()
    [problem] = logchain.chain_verify().problems
    assert (problem.kind, problem.node, problem.seq) == ("seal", B, 20)


def _forged_imprint(seal: LogSeal) -> bytes:
    other = LogSeal.objects.exclude(pk=seal.pk).get()
    return bytes(other.token)  # a genuine token, over another head


def _forged_signature(seal: LogSeal) -> bytes:
    info = cms.ContentInfo.load(bytes(seal.token))
    signer = info["content"]["signer_infos"][0]
    signature = bytearray(signer["signature"].native)
    signature[10] ^= 0x01
    signer["signature"] = bytes(signature)
    return info.dump(force=True)


def _forged_tst_info(seal: LogSeal) -> bytes:
    info = cms.ContentInfo.load(bytes(seal.token))
    tst = info["content"]["encap_content_info"]["content"].parsed
    tst["gen_time"] = tst["gen_time"].native - dt.timedelta(days=365)  # backdated after signing
    return info.dump(force=True)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (_forged_imprint, "it stamps other data"),
        (_forged_signature, "signature does not verify"),
        (_forged_tst_info, "TSTInfo was changed"),
        (lambda seal: b"\x30\x03\x02\x01\x00", "cannot be read"),
    ],
)
def test_a_forged_token_is_found(chains, tsa, forge, reason):
    logchain.log_seal()
    seal = LogSeal.objects.get(node=A)
    LogSeal.objects.filter(pk=seal.pk).update(token=forge(seal))
    [problem] = logchain.chain_verify().problems
    assert (problem.kind, problem.node, problem.seq) == ("token", A, 30)
    assert reason in problem.message.en


def test_a_changed_seal_time_is_found(chains, tsa):
    logchain.log_seal()
    LogSeal.objects.filter(node=B).update(stamped_at=START)
    [problem] = logchain.chain_verify().problems
    assert (problem.kind, problem.node, problem.seq) == ("seal", B, 20)


def test_without_a_tsa_nothing_is_sealed(chains, monkeypatch):
    monkeypatch.setenv("HCMGOV_TSA_URL", "")
    with pytest.raises(DomainError) as info:
        logchain.log_seal()
    assert info.value.code == "tsa_not_configured"
    assert "HCMGOV_TSA_URL" in info.value.message.vi
    with pytest.raises(CommandError, match=r"Chưa cấu hình máy chủ cấp dấu thời gian .* / No time-stamping"):
        call_command("exchange", "seal", stdout=io.StringIO())
    assert not LogSeal.objects.exists()


def test_a_tsa_that_fails_leaves_nothing_sealed(chains, tsa):
    for fault in ({"fault": "slow", "delay": 0.01}, {"fault": "reject"}):  # A stamped (late), B refused
        body = json.dumps({**fault, "times": 1}).encode()
        _OPENER.open(urllib.request.Request(tsa + "/_sim/faults", data=body, method="POST"))  # noqa: S310
    with pytest.raises(DomainError) as info:
        logchain.log_seal()  # neither is stored
    assert info.value.code == "tsa_unavailable"
    assert "tried again" in info.value.message.en
    assert not LogSeal.objects.exists()
    assert len(logchain.log_seal()) == 2  # the next run seals both


def test_a_tsa_that_does_not_answer_leaves_nothing_sealed(chains, monkeypatch):
    monkeypatch.setenv("HCMGOV_TSA_URL", "http://127.0.0.1:9/tsa")  # discard port: nothing listens
    with pytest.raises(DomainError) as info:
        logchain.log_seal()
    assert info.value.code == "tsa_unavailable"
    assert not LogSeal.objects.exists()


# --- archives ------------------------------------------------------------------------------------


def _archive_file(archive: LogArchive) -> str:
    return storage.documents_storage().path(archive.blob_key)


def _rewrite(archive: LogArchive, change) -> None:
    """Change the records of an archive file in place."""
    path = _archive_file(archive)
    with open(path, "rb") as handle:
        rows = [json.loads(line) for line in gzip.decompress(handle.read()).splitlines()]
    change(rows)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in rows)))


def test_old_sealed_records_are_archived_and_verify_spans_the_archive(chains, tsa):
    logchain.log_seal()
    grow(chains[A], 10, start=START + dt.timedelta(days=200))  # A #31–#40: not sealed, not old
    now = START + dt.timedelta(days=200, minutes=30)
    archives = logchain.log_archive(older_than=dt.timedelta(days=180), now=now)
    assert [(a.node, a.first_seq, a.last_seq, a.records) for a in archives] == [(A, 1, 30, 30), (B, 1, 20, 20)]
    assert list(MessageLogRecord.objects.filter(node=A).values_list("seq", flat=True).order_by("seq")) == list(
        range(31, 41)
    )
    assert not MessageLogRecord.objects.filter(node=B).exists()
    assert LogSeal.objects.count() == 2  # seals stay

    a = LogArchive.objects.get(node=A)
    data = gzip.decompress(open(_archive_file(a), "rb").read())  # noqa: SIM115 - a test's one read
    rows = [json.loads(line) for line in data.splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, 31))
    assert rows[-1]["hash"] == a.last_hash
    assert rows[3]["bodies"]
    assert a.sha256 == hashlib.sha256(open(_archive_file(a), "rb").read()).hexdigest()  # noqa: SIM115

    report = logchain.chain_verify()
    assert report.ok
    assert [(n.records, n.seals, n.archives) for n in report.nodes] == [(10, 1, 1), (0, 1, 1)]
    deep = logchain.chain_verify(archives=True)
    assert deep.ok
    assert [(n.records, n.seals) for n in deep.nodes] == [(40, 1), (20, 1)]
    out, error = verify_command("--archives")
    assert error is None
    assert "tệp lưu trữ / archives" in out

    logchain.log_seal()  # A #40; then everything of A is old enough
    [more] = logchain.log_archive(older_than=dt.timedelta(days=1), now=now + dt.timedelta(days=2))
    assert (more.node, more.first_seq, more.last_seq) == (A, 31, 40)
    assert logchain.chain_verify(archives=True).ok


def test_a_chain_that_skips_the_archive_boundary_is_found(chains, tsa):
    logchain.log_seal()
    logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    grow(chains[A], 3, start=START + dt.timedelta(days=2))
    MessageLogRecord.objects.filter(node=A, seq=31).delete()
    [problem] = logchain.chain_verify(node=A).problems
    assert (problem.kind, problem.seq) == ("missing", 31)


def test_an_altered_archive_file_is_found_with_archives(chains, tsa):
    logchain.log_seal()
    [archive, _] = logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    _rewrite(archive, lambda rows: rows[11].update(path="/parcels/forged"))
    assert logchain.chain_verify().ok  # the archive row is taken on trust
    report = logchain.chain_verify(archives=True)
    [problem] = report.problems
    assert (problem.kind, problem.node, problem.seq) == ("altered", A, 12)  # the record in the file, by name
    out, error = verify_command("--archives")
    assert error is not None
    assert error.returncode == 1
    assert f"Record {A} #12 was altered" in out


def test_an_archive_file_changed_but_its_records_is_found(chains, tsa):
    logchain.log_seal()
    [_, archive] = logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    _rewrite(archive, lambda rows: None)  # same records, other bytes (compressed again)
    [problem] = logchain.chain_verify(archives=True).problems
    assert (problem.kind, problem.node) == ("archive", B)
    assert problem.expected == archive.sha256
    assert "the file was changed" in problem.message.en


def test_a_missing_archive_file_is_found(chains, tsa):
    logchain.log_seal()
    [archive, _] = logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    storage.documents_storage().delete(archive.blob_key)
    [problem] = logchain.chain_verify(archives=True).problems
    assert (problem.kind, problem.node, problem.seq) == ("archive", A, 1)


def test_only_sealed_records_are_archived(chains, tsa):
    logchain.log_seal(now=START + dt.timedelta(minutes=10))  # A #10, B #10
    archives = logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    assert [(a.node, a.last_seq) for a in archives] == [(A, 10), (B, 10)]
    assert logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2)) == []
    assert logchain.chain_verify(archives=True).ok


def test_nothing_is_archived_without_a_seal(chains):
    assert logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2)) == []
    assert MessageLogRecord.objects.count() == 50


def test_a_chain_that_does_not_verify_is_not_archived(chains, tsa, caplog):
    logchain.log_seal()
    MessageLogRecord.objects.filter(node=A, seq=4).update(status=201)
    archives = logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    assert [a.node for a in archives] == [B]
    assert MessageLogRecord.objects.filter(node=A).count() == 30
    assert f"Record {A} #4 was altered" in caplog.text


def test_a_failed_archive_leaves_the_records(chains, tsa, monkeypatch):
    from hcmgov.documents import services as documents

    logchain.log_seal()

    def broken(**kwargs: Any) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(documents, "platform_file_keep", broken)
    with pytest.raises(OSError, match="disk full"):
        logchain.log_archive(older_than=dt.timedelta(days=1), now=START + dt.timedelta(days=2))
    assert MessageLogRecord.objects.count() == 50
    assert not LogArchive.objects.exists()


def test_the_archive_command(chains, tsa):
    logchain.log_seal()
    out = io.StringIO()
    call_command("exchange", "archive", "--days", "7", stdout=out)
    assert "50 bản ghi / 50 records archived (2 tệp / files)" in out.getvalue()
    assert verify_command("--archives")[1] is None
