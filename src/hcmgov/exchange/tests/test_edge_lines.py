"""The edge's message-log lines into records, without nginx: the fields nginx writes (escaped as
JSON strings' bodies, separated by tabs) come back as the values it was given, and the record's
hash over them is the one ``logchain.record_hash`` computes — which ``hcmgov exchange verify``
recomputes from the stored row. Over generated values (hypothesis): any text in any field, any
instant, status and duration."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcmgov.exchange import logchain
from hcmgov.exchange.edge import config, control
from hcmgov.exchange.gateway.logwriter import LogWriter, _link_row
from hcmgov.exchange.models import MessageLogRecord

# what nginx's escape=json does to a variable's bytes: '"' and '\' and the control characters escaped
# (\n \r \t \b \f short, the others \u00XX with upper-case hex digits), everything else as it is
_SHORT = {0x22: b'\\"', 0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x08: b"\\b", 0x0C: b"\\f"}


def nginx_escape(value: str) -> bytes:
    out = bytearray()
    for b in value.encode("utf-8", "surrogatepass"):
        if b in _SHORT:
            out += _SHORT[b]
        elif b < 0x20:
            out += b"\\u00%02X" % b
        else:
            out.append(b)
    return bytes(out)


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
hexes = st.text("0123456789abcdef", min_size=64, max_size=64)


def line(fields: dict[str, str]) -> bytes:
    return b"\t".join(nginx_escape(fields[name]) for name, _var in config.LOG_FIELDS)


@settings(max_examples=300, deadline=None)
@given(
    ms=st.integers(0, 4_102_444_800_000),
    rid=text,
    client=text,
    consumer=text,
    service=text,
    path=text,
    end_user=text,
    status=st.integers(100, 599),
    error=text,
    seconds=st.integers(0, 10**7),
    sizes=st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)),
    hashes=st.tuples(hexes, hexes),
)
def test_a_line_comes_back_as_its_values_and_hashes_as_record_hash(
    ms, rid, client, consumer, service, path, end_user, status, error, seconds, sizes, hashes
):
    fields = {
        "at": f"{ms // 1000}.{ms % 1000:03d}",
        "request_id": rid,
        "client_id": client,
        "consumer": consumer,
        "service": service,
        "method": "GET",
        "path": path,
        "end_user": end_user,
        "status": str(status),
        "error": error,
        "seconds": f"{seconds // 1000}.{seconds % 1000:03d}",
        "request_bytes": str(sizes[0]),
        "response_bytes": str(sizes[1]),
        "request_sha256": hashes[0],
        "response_sha256": hashes[1],
        "upstream": "127.0.0.1:9000",
    }
    ((values, at_text, second),) = control.Lines().rows(line(fields) + b"\n")
    entry = control.entry_from_row(values)
    at = dt.datetime.fromtimestamp(ms // 1000, dt.UTC).replace(microsecond=(ms % 1000) * 1000)
    assert entry["at"] == at_text == logchain.at_text(at)
    assert second == ms // 1000
    nul = lambda text: text.replace("\x00", "\ufffd")  # noqa: E731 - PostgreSQL's text holds no NUL
    assert (entry["request_id"], entry["client_id"]) == (nul(rid)[:64], nul(client)[:100])
    assert entry["consumer"] == nul(consumer)[:200]
    assert (entry["path"], entry["end_user"], entry["error"]) == (
        nul(path)[:2000],
        nul(end_user)[:200],
        nul(error)[:60],
    )
    assert (entry["status"], entry["duration_ms"]) == (status, round(seconds / 1000 * 1000, 3))
    assert (entry["request_bytes"], entry["response_bytes"]) == sizes
    chain = logchain.Chain("edge:1:abc")
    row = _link_row(chain, (values, at_text))
    stored = {**entry, "node": "edge:1:abc", "seq": 1, "bodies_sha256": ""}
    assert row[-1] == logchain.record_hash(stored, logchain.GENESIS)


def test_bytes_that_are_not_utf8_are_kept_as_replacement_characters_not_dropped():
    fields = dict.fromkeys((name for name, _ in config.LOG_FIELDS), "")
    fields.update({"at": "1764300000.5", "status": "404", "seconds": "0.002", "path": "PATH"})
    raw = line(fields).replace(b"PATH", b"/x/a/\xff\xfe", 1)  # the path: bytes nginx decoded from %FF%FE
    ((values, _at, _second),) = control.Lines().rows(raw + b"\n")
    assert control.entry_from_row(values)["path"] == "/x/a/\ufffd\ufffd"


def test_a_line_of_the_wrong_shape_is_counted_and_the_others_are_kept():
    fields = dict.fromkeys((name for name, _ in config.LOG_FIELDS), "")
    fields.update({"at": "1764300000.5", "status": "200", "seconds": "0.002"})
    good = line(fields)
    rows = control.Lines().rows(good + b"\n" + b"not\ta\tline\n" + good.replace(b"200", b"2x0", 1) + b"\n" + good)
    assert len(rows) == 2
    assert json.dumps(control.entry_from_row(rows[0][0]), default=str)


@pytest.mark.django_db(transaction=True)
def test_the_rows_are_stored_as_they_were_read_and_the_chain_verifies():
    """Through the writer into the database (COPY's text format on PostgreSQL: tabs, newlines,
    backslashes and a literal \\N in the values come back as they were)."""
    odd = ["a\tb", "x\ny", "back\\slash", "\\N", "Nguyễn Văn Đức", "r\rn", ""]
    fields = dict.fromkeys((name for name, _ in config.LOG_FIELDS), "")
    writer = LogWriter(node="edge-lines:1:a", interval=0.01)
    writer.start()
    try:
        for i, text in enumerate(odd):
            fields.update({"at": f"1764300000.{i:03d}", "status": "200", "seconds": "0.012", "request_id": f"r{i}"})
            fields.update({"path": "/x/" + text, "end_user": text, "consumer": text, "response_bytes": "17"})
            ((values, at_text, _second),) = control.Lines().rows(line(fields) + b"\n")
            writer.append_row(values, at_text)
        assert writer.flush(timeout=10)
    finally:
        writer.stop()
    records = list(MessageLogRecord.objects.filter(node="edge-lines:1:a").order_by("seq"))
    assert [(r.path, r.end_user, r.consumer) for r in records] == [("/x/" + t, t, t) for t in odd]
    assert records[3].at == dt.datetime(2025, 11, 28, 3, 20, 0, 3000, tzinfo=dt.UTC)
    assert all(r.duration_ms == 12.0 and r.response_bytes == 17 for r in records)
    report = logchain.chain_verify(node="edge-lines:1:a")
    assert report.ok, report.problems
    assert len(report.nodes) == 1
