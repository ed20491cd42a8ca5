"""The audit trail's proofs: every event is recorded unlinked and linked into one hash chain just
after its transaction commits (on_commit; here through Django's capture of the on_commit callbacks,
which runs them as the commit would);
``chain_verify`` (and ``hcmgov audit verify``) names the first altered, missing, reordered or
rewritten event and an anchor or time stamp that does not match; ``chain_anchor`` time-stamps the
head over HTTP with the TSA simulator; the migration links the events written before the chain.

Events are written through ``audit_record``, as every service writes them; an event left unlinked
(its process died after the commit) is linked by the periodic task, and named by verification
once older than the grace."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import urllib.request
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from hcmgov import simulators
from hcmgov.audit import chain
from hcmgov.audit.models import AuditAnchor, AuditEvent, AuditHead
from hcmgov.audit.services import audit_chain_anchor, audit_chain_verify, audit_record
from hcmgov.common import context
from hcmgov.common.errors import DomainError

pytestmark = pytest.mark.django_db
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CITIZEN = context.Actor(7, "Nguyễn Văn An", context.AuthMethod.EID, 2, "ref-1")


def record(i: int) -> AuditEvent:
    """One audited transaction, committed: its on_commit callbacks (the linker) run at the end."""
    with TestCase.captureOnCommitCallbacks(execute=True), context.acting_as(CITIZEN):
        return audit_record(
            action="dossier.submit",
            obj=None,
            object_type="dossiers.dossier",
            object_id=str(i),
            before={"status": "draft", "fee": 50_000, "ratio": 0.25, "big": 1e20} if i % 2 else None,
            after={"status": "submitted", "tags": ["a", "b"], "nested": {"z": 1, "a": "Quận 1"}},
        )


@pytest.fixture(autouse=True)
def _empty_trail() -> None:
    """A trail of the test's own (the city loaded once per test database wrote events): rolled back after."""
    AuditEvent.objects.all().delete()
    AuditHead.objects.update(seq=0, hash=chain.GENESIS)


@pytest.fixture
def events() -> list[AuditEvent]:
    return [record(i) for i in range(1, 11)]


def verify_command() -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("audit", "verify", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def problem() -> chain.Problem:
    report = audit_chain_verify()
    assert report.problem is not None
    return report.problem


# --- the chain as it is written --------------------------------------------------------------------


def test_events_are_chained_in_order_and_the_command_says_so(events):
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in stored] == list(range(1, 11))
    assert stored[0].prev_hash == chain.GENESIS
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    for event in stored:  # the hash of what was written is the hash of what reads back (jsonb, floats)
        assert event.hash == chain.event_hash(chain.stored_fields(event), event.prev_hash)
    head = AuditHead.objects.get()
    assert (head.seq, head.hash) == (10, stored[-1].hash)
    report = audit_chain_verify()
    assert (report.ok, report.events, report.anchors) == (True, 10, 0)
    out, error = verify_command()
    assert error is None
    assert "10 bản ghi / events, 0 neo / anchors — Chuỗi nhật ký toàn vẹn / audit chain intact" in out


def test_a_rolled_back_event_gives_its_place_back(events):
    def failed_change() -> None:
        with transaction.atomic():
            record(99)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failed_change()
    assert record(100).seq == 11
    assert audit_chain_verify().ok


def test_the_hash_covers_every_field_but_the_id():
    columns = {f.name for f in AuditEvent._meta.concrete_fields}
    assert set(chain.HASHED) <= columns
    assert columns - set(chain.HASHED) == {"id", "prev_hash", "hash"}


def test_the_transaction_only_inserts_and_links_once_after_commit(django_assert_num_queries):
    """Three events in one transaction: three INSERTs and no lock on the head inside it; one linker
    registered; after commit the three are linked in one batch."""
    with TestCase.captureOnCommitCallbacks() as callbacks, context.acting_as(CITIZEN):
        with transaction.atomic(), django_assert_num_queries(3) as inside:
            written = [
                audit_record(action="dossier.act", obj=None, object_type="dossiers.dossier", object_id=str(i))
                for i in range(3)
            ]
        assert all(q["sql"].startswith("INSERT") for q in inside.captured_queries)
        assert [e.seq for e in written] == [None] * 3
        assert list(AuditEvent.objects.values_list("seq", "prev_hash", "hash")) == [(None, "", "")] * 3
    assert [type(c) for c in callbacks] == [chain._Linker]
    callbacks[0]()  # the commit
    assert [e.seq for e in written] == [1, 2, 3]  # the caller's events filled in
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == [1, 2, 3]
    assert AuditHead.objects.get().seq == 3
    assert audit_chain_verify().ok


def test_a_rolled_back_savepoint_drops_its_linker_and_the_next_event_registers_one():
    def failed_change() -> None:
        with transaction.atomic():
            audit_record(action="x", obj=None, object_type="t", object_id="gone")
            raise RuntimeError("the change failed")

    with (
        TestCase.captureOnCommitCallbacks(execute=True) as callbacks,
        context.acting_as(CITIZEN),
        transaction.atomic(),
    ):
        with pytest.raises(RuntimeError):
            failed_change()
        kept = audit_record(action="x", obj=None, object_type="t", object_id="kept")
    assert len(callbacks) == 1
    assert kept.seq == 1
    assert list(AuditEvent.objects.values_list("object_id", flat=True)) == ["kept"]


def test_the_periodic_task_links_an_event_left_unlinked():
    """A process that died between its commit and its linking left an event unlinked: young, it
    is no problem; past the grace verification names it by id; the task links it."""
    from hcmgov.audit.tasks import link

    first = record(1)
    with context.acting_as(CITIZEN):  # the INSERT alone, as audit_record writes it: no linker ran
        left = chain.fast_create(
            AuditEvent,
            {**chain.stored_fields(first), "object_id": "2", "seq": None, "prev_hash": "", "hash": ""},
        )
    assert audit_chain_verify().ok  # just committed: being linked
    late = timezone.now() + dt.timedelta(seconds=301)
    found = chain.chain_verify(now=late).problem
    assert found is not None
    assert (found.kind, found.seq, found.found) == ("unlinked", None, str(left.pk))
    assert f"Event id {left.pk}" in found.message.en
    assert "after 300 seconds" in found.message.en
    assert link() == 1
    assert AuditEvent.objects.get(pk=left.pk).seq == 2
    assert AuditHead.objects.get().seq == 2
    assert chain.chain_verify(now=late).ok
    assert link() == 0


def test_the_command_names_an_event_unlinked_past_the_grace(settings):
    record(1)
    with context.acting_as(CITIZEN):
        fields = chain.stored_fields(AuditEvent.objects.get())
        left = chain.fast_create(AuditEvent, {**fields, "object_id": "x", "seq": None, "prev_hash": "", "hash": ""})
    AuditEvent.objects.filter(pk=left.pk).update(at=timezone.now() - dt.timedelta(minutes=10))
    out, error = verify_command()
    assert error is not None
    assert error.returncode == 1
    assert f"LỖI / PROBLEM [unlinked]: Bản ghi id {left.pk}" in out
    assert f"thấy / found:   {left.pk}" in out
    assert f"the audit trail has a problem at id {left.pk}" in str(error)
    settings.AUDIT_LINK_GRACE_SECONDS = 3600.0
    assert verify_command()[1] is None
    text = io.StringIO()
    call_command("audit", "link", stdout=text)
    assert "1 event(s) linked" in text.getvalue()
    settings.AUDIT_LINK_GRACE_SECONDS = 300.0
    out, error = verify_command()
    assert error is None, out
    assert "2 bản ghi / events" in out


# --- what verification finds ----------------------------------------------------------------------


def test_an_altered_field_is_named_with_its_seq_and_both_hashes(events):
    AuditEvent.objects.filter(seq=5).update(actor_label="Kẻ gian")
    found = problem()
    stored = AuditEvent.objects.get(seq=5)
    assert (found.kind, found.seq) == ("altered", 5)
    assert found.found == stored.hash
    assert found.expected == chain.event_hash(chain.stored_fields(stored), stored.prev_hash) != stored.hash
    assert audit_chain_verify().events == 4  # the walk stops at the first problem
    out, error = verify_command()
    assert error is not None
    assert error.returncode == 1
    assert "LỖI / PROBLEM [altered]: Bản ghi #5" in out
    assert "/ Event #5" in out
    assert "was altered" in out
    assert f"thấy / found:   {stored.hash}" in out
    assert "tại #5 / the audit trail has a problem at #5" in str(error)


def test_an_altered_json_value_is_found(events):
    event = AuditEvent.objects.get(seq=3)
    event.after = {**event.after, "status": "approved"}
    AuditEvent.objects.filter(pk=event.pk).update(after=event.after)
    assert (problem().kind, problem().seq) == ("altered", 3)


def test_a_deleted_event_is_named_as_missing(events):
    AuditEvent.objects.filter(seq=4).delete()
    found = problem()
    assert (found.kind, found.seq, found.expected, found.found) == ("missing", 4, "4", "5")
    assert "Thiếu bản ghi #4" in found.message.vi
    assert "Event(s) #4 missing" in found.message.en


def test_deleted_events_are_named_as_a_span(events):
    AuditEvent.objects.filter(seq__in=[6, 7, 8]).delete()
    assert "#6–#8" in str(problem())


def test_a_cut_off_tail_is_found_by_the_head(events):
    AuditEvent.objects.filter(seq__gte=9).delete()
    found = problem()
    assert (found.kind, found.seq) == ("missing", 9)
    assert "#9–#10" in found.message.en


def test_reordered_events_are_named(events):
    a, b = AuditEvent.objects.get(seq=6), AuditEvent.objects.get(seq=7)
    AuditEvent.objects.filter(pk=a.pk).update(seq=10**9)
    AuditEvent.objects.filter(pk=b.pk).update(seq=6)
    AuditEvent.objects.filter(pk=a.pk).update(seq=7)
    found = problem()
    assert (found.kind, found.seq) == ("order", 6)
    assert "linked after the event now at #7" in found.message.en
    assert (found.expected, found.found) == (AuditEvent.objects.get(seq=5).hash, b.prev_hash)


def test_an_event_rewritten_hash_and_all_breaks_the_next_link(events):
    event = AuditEvent.objects.get(seq=5)
    event.actor_label = "Kẻ gian"
    event.hash = chain.event_hash(chain.stored_fields(event), event.prev_hash)
    event.save()
    found = problem()
    assert (found.kind, found.seq) == ("link", 6)
    assert found.expected == event.hash


def test_a_tail_rewritten_with_the_head_is_found_only_by_an_anchor(events, tsa):
    """Someone who rewrites the last event, hash and head row too, leaves a consistent chain: the
    anchor over the old head is what proves it."""
    anchor = audit_chain_anchor()
    assert anchor is not None
    assert anchor.seq == 10
    event = AuditEvent.objects.get(seq=10)
    event.actor_label = "Kẻ gian"
    event.hash = chain.event_hash(chain.stored_fields(event), event.prev_hash)
    event.save()
    AuditHead.objects.update(hash=event.hash)
    found = problem()
    assert (found.kind, found.seq, found.expected, found.found) == ("anchor", 10, anchor.head_hash, event.hash)


def test_events_removed_past_an_anchor_are_named(events, tsa):
    audit_chain_anchor()
    AuditEvent.objects.filter(seq__gte=8).delete()
    AuditHead.objects.update(seq=7, hash=AuditEvent.objects.get(seq=7).hash)  # the head moved back too
    found = problem()
    assert (found.kind, found.seq) == ("missing", 8)
    assert "anchor #10" in found.message.en


# --- anchors --------------------------------------------------------------------------------------


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
    monkeypatch.setenv("HCMGOV_TRUSTED_ROOTS", root)
    _OPENER.open(urllib.request.Request(url + "/_sim/faults", method="DELETE"))  # noqa: S310 - the simulator
    return url


def test_the_head_is_anchored_over_http_and_the_anchors_verify(events, tsa):
    from hcmgov.exchange.timestamps import token_check

    anchor = audit_chain_anchor()
    assert anchor is not None
    assert (anchor.seq, anchor.head_hash) == (10, AuditEvent.objects.get(seq=10).hash)
    stored = AuditAnchor.objects.get()
    assert token_check(token=bytes(stored.token), data=bytes.fromhex(stored.head_hash)) == stored.stamped_at
    assert audit_chain_anchor() is None  # nothing grew
    record(11)
    record(12)
    out = io.StringIO()
    call_command("audit", "anchor", stdout=out)
    assert "chain head #12 anchored" in out.getvalue()
    report = audit_chain_verify()
    assert (report.ok, report.events, report.anchors) == (True, 12, 2)
    text, error = verify_command()
    assert error is None
    assert "12 bản ghi / events, 2 neo / anchors (neo cuối / last anchor #12 @" in text


def test_a_forged_or_changed_anchor_is_found(events, tsa):
    anchor = audit_chain_anchor()
    assert anchor is not None
    token = bytes(anchor.token)  # its last byte changed (the signature's): flipped, so never the same
    AuditAnchor.objects.filter(pk=anchor.pk).update(token=token[:-1] + bytes([token[-1] ^ 0xFF]))
    assert (problem().kind, problem().seq) == ("token", 10)
    AuditAnchor.objects.filter(pk=anchor.pk).update(token=anchor.token, stamped_at=anchor.stamped_at.replace(year=2020))
    assert (problem().kind, problem().seq) == ("anchor", 10)


def test_without_a_tsa_nothing_is_anchored(events, monkeypatch):
    from hcmgov.audit.tasks import anchor

    monkeypatch.setenv("HCMGOV_TSA_URL", "")
    with pytest.raises(DomainError) as refused:
        audit_chain_anchor()
    assert refused.value.code == "tsa_not_configured"
    assert anchor() == 0  # the periodic task: a warning, no failure
    monkeypatch.setenv("HCMGOV_TSA_URL", "http://127.0.0.1:9/tsa")  # discard port: nothing listens
    with pytest.raises(DomainError) as down:
        audit_chain_anchor()
    assert down.value.code == "tsa_unavailable"
    assert not AuditAnchor.objects.exists()


def test_the_periodic_task_anchors(events, tsa):
    from hcmgov.audit.tasks import anchor

    assert anchor() == 1
    assert anchor() == 0
