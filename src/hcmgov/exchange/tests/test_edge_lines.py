"""The edge's message-log records as ``gateway.lua`` makes them (each worker links its calls onto
its own chain and writes each record as a row of PostgreSQL's COPY text format): over generated
values (hypothesis) — any bytes in any text field, valid UTF-8 or not, any instant, status,
duration and sizes — the row comes back as the values it was given (made valid UTF-8, clipped to
the column) and its hash is the one ``logchain.record_hash`` computes again from the stored
values, which is what ``hcmgov exchange verify`` does. The Lua functions run in a small nginx of
their own (``/row``), as they run in the edge."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from hcmgov.exchange import logchain
from hcmgov.exchange.edge import config, control
from hcmgov.exchange.gateway.logwriter import COLUMNS, LogWriter, row_from_line
from hcmgov.exchange.models import MessageLogRecord
from hcmgov.exchange.tests.gateway_support import free_port

# the columns' lengths (exchange.models.MessageLogRecord)
CLIPS = {"request_id": 64, "client_id": 100, "consumer": 140, "service": 220, "method": 10, "path": 2000}
CLIPS |= {"end_user": 200, "error": 40}
TEXTS = tuple(CLIPS)


@pytest.fixture(scope="module")
def lua(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An nginx running gateway.lua with one location: the record of the fields posted."""
    d = tmp_path_factory.mktemp("lua")
    port = free_port()
    body = """
        ngx.req.read_body()
        local f = require("cjson").decode(ngx.req.get_body_data())
        local d = ngx.decode_base64
        local c = gw.chain(d(f.node))
        c.seq, c.last = f.seq, f.prev
        ngx.print(gw.row(c, gw.at_text(f.now), d(f.request_id), d(f.client_id), d(f.consumer), d(f.service),
            d(f.method), d(f.path), d(f.end_user), f.status, d(f.error), f.ms, f.request_bytes, f.response_bytes,
            f.request_sha256, f.response_sha256))
    """
    conf = "\n".join(
        [
            *(f"load_module {m};" for m in django_settings.EXCHANGE_EDGE_MODULES.split()),
            "worker_processes 1;",
            "daemon off;",
            f"pid {d / 'nginx.pid'};",
            f"error_log {d / 'error.log'} warn;",
            "events { worker_connections 64; }",
            "http {",
            "    access_log off;",
            *(f"    {kind}_temp_path {d / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
            f'    lua_package_path "{config.LUA.parent}/?.lua;/usr/share/lua/5.1/?.lua;;";',
            "    lua_shared_dict gw_quota 1m;",
            "    init_by_lua_block { gw = require('gateway') }",
            f"    server {{ listen 127.0.0.1:{port}; client_body_buffer_size 1m; client_max_body_size 1m;",
            f"        location = /row {{ content_by_lua_block {{ {body} }} }}",
            "    }",
            "}",
        ]
    )
    (d / "nginx.conf").write_text(conf)
    process = subprocess.Popen(  # noqa: S603
        [django_settings.EXCHANGE_EDGE_NGINX, "-c", str(d / "nginx.conf"), "-p", str(d)], stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/row"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError:
                break  # it answers (404)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"nginx: {err}") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def lua_row(url: str, fields: dict[str, bytes | str | int], *, node: str, seq: int, prev: str) -> str:
    payload = {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in fields.items()} | {
        "node": base64.b64encode(node.encode()).decode(),
        "seq": seq,
        "prev": prev,
    }
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return answer.read().decode("utf-8")


def well_formed(data: bytes) -> str:
    """What the record holds of a field's bytes (the rule gateway.lua follows): valid UTF-8 as it
    is; a NUL, and each byte that does not begin a well-formed sequence, U+FFFD."""
    out, i = [], 0
    while i < len(data):
        b = data[i]
        n = 1 if b < 0x80 else 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
        try:
            char = data[i : i + n].decode("utf-8") if n else ""
        except UnicodeDecodeError:
            char = ""
        if not char or char == "\x00":
            out.append("\ufffd")
            i += 1
        else:
            out.append(char)
            i += n
    return "".join(out)


texts = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).map(str.encode),
    st.binary(max_size=40),
    st.text("abc/.-_", min_size=2000, max_size=2100).map(str.encode),  # longer than the column
    st.text("đườngĐ", min_size=190, max_size=230).map(str.encode),  # clipped by characters, not bytes
)
hexes = st.text("0123456789abcdef", min_size=64, max_size=64)


@settings(max_examples=300, deadline=None)
@given(
    ms=st.integers(0, 4_102_444_800_000),
    text=st.fixed_dictionaries(dict.fromkeys(TEXTS, texts)),
    status=st.integers(100, 599),
    duration=st.integers(0, 10**9),
    sizes=st.tuples(st.integers(0, 10**12), st.integers(0, 10**12)),
    hashes=st.tuples(st.one_of(st.just(""), hexes), st.one_of(st.just(""), hexes)),
    seq=st.integers(0, 10**12),
    prev=hexes,
)
def test_a_record_comes_back_as_its_values_and_hashes_as_record_hash(
    lua, ms, text, status, duration, sizes, hashes, seq, prev
):
    fields = {
        **text,
        "now": ms / 1000,
        "status": str(status),
        "ms": duration,
        "request_bytes": str(sizes[0]),
        "response_bytes": str(sizes[1]),
        "request_sha256": hashes[0],
        "response_sha256": hashes[1],
    }
    line = lua_row(lua, fields, node="edge:1:abc:42:19a", seq=seq, prev=prev)
    values = dict(zip(COLUMNS, row_from_line(line), strict=True))
    assert (values["node"], values["seq"], values["prev_hash"], values["bodies"]) == (
        "edge:1:abc:42:19a",
        seq + 1,
        prev,
        None,
    )
    at = dt.datetime.fromtimestamp(ms // 1000, dt.UTC).replace(microsecond=(ms % 1000) * 1000)
    assert values["at"] == at
    for name, clip in CLIPS.items():
        assert values[name] == well_formed(text[name])[:clip], name
    assert (values["status"], values["duration_ms"]) == (status, float(duration))
    assert (values["request_bytes"], values["response_bytes"]) == sizes
    assert values["request_sha256"] == hashes[0]
    assert values["response_sha256"] == (hashes[1] or hashlib.sha256(b"").hexdigest())
    stored = {**values, "bodies_sha256": ""}
    assert values["hash"] == logchain.record_hash(stored, prev)


def test_the_clips_are_the_columns_lengths():
    for name, clip in CLIPS.items():
        assert MessageLogRecord._meta.get_field(name).max_length == clip, name


def test_a_line_of_the_wrong_shape_is_counted_and_the_others_are_kept(lua):
    good = lua_row(
        lua,
        dict.fromkeys(TEXTS, b"") | {"now": 1764300000.5, "status": "200", "ms": 2},
        node="e:1:a",
        seq=0,
        prev=logchain.GENESIS,
    )
    lines = [good, "-", "not\ta\tline", good.replace("\t200\t", "\t2x0\t", 1), good]
    records = control.Lines().records(("\n".join(lines) + "\n").encode())
    assert [r[0] for r in records] == [good, good]
    assert (records[0][6], records[0][8], records[0][3]) == (200, 0.002, 1764300000)


@pytest.mark.django_db(transaction=True)
def test_the_records_are_stored_as_they_were_made_and_the_chain_verifies(lua):
    """Through the writer into the database (COPY's text format on PostgreSQL: tabs, newlines,
    backslashes and a literal \\N in the values come back as they were)."""
    odd = ["a\tb", "x\ny", "back\\slash", "\\N", "Nguyễn Văn Đức", "r\rn", "", "nul\x00", "quote\"'"]
    writer = LogWriter(node="edge-lines:1:a", interval=0.01)
    node, prev = "edge-lines:1:a:7:1", logchain.GENESIS
    writer.start()
    try:
        for i, value in enumerate(odd):
            fields = dict.fromkeys(TEXTS, b"") | {"now": 1764300000 + i / 1000, "status": "200", "ms": 12}
            fields |= {"request_id": f"r{i}".encode(), "response_bytes": "17"}
            fields |= {"path": ("/x/" + value).encode(), "end_user": value.encode(), "consumer": value.encode()}
            line = lua_row(lua, fields, node=node, seq=i, prev=prev)
            prev = line.rsplit("\t", 1)[1]
            writer.append_line(line)
        assert writer.flush(timeout=10)
    finally:
        writer.stop()
    records = list(MessageLogRecord.objects.filter(node=node).order_by("seq"))
    clean = [v.replace("\x00", "\ufffd") for v in odd]
    assert [(r.path, r.end_user, r.consumer) for r in records] == [("/x/" + t, t, t) for t in clean]
    assert records[3].at == dt.datetime(2025, 11, 28, 3, 20, 0, 3000, tzinfo=dt.UTC)
    assert all(r.duration_ms == 12.0 and r.response_bytes == 17 for r in records)
    assert logchain.chain_verify(node=node).ok
