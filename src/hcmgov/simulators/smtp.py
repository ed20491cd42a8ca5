"""Simulator of the city's SMTP relay: a real SMTP server (RFC 5321, the subset a relay's client
uses) that keeps every message it accepts, and shows them over HTTP as JSON.

SMTP (``asyncio`` streams, no third-party package — aiosmtpd is not a dependency and the standard
library's ``smtpd`` is gone from Python 3.12):

- ``EHLO``/``HELO``; ``EHLO`` advertises ``8BITMIME`` (RFC 6152), ``SMTPUTF8`` (RFC 6531) and
  ``SIZE`` (RFC 1870), so Vietnamese subjects and bodies pass whether or not the client encodes them;
- ``MAIL FROM:<…>`` (parameters ``BODY=``, ``SMTPUTF8``, ``SIZE=``), ``RCPT TO:<…>`` (at most 100
  recipients, § 4.5.3.1.8), ``DATA`` ending with ``<CRLF>.<CRLF>``, with the leading dot of a
  dot-stuffed line removed (§ 4.5.2); ``RSET``, ``NOOP``, ``QUIT``, ``VRFY`` (252), ``HELP``;
- replies out of sequence with 503, syntax errors with 501, unknown commands with 500, a message
  over the size limit with 552; a fault set for tests (``POST /_sim/fault``) answers the greeting
  with that code (421: "service not available") and closes, as a relay that is shutting down.

HTTP (the package's WSGI helpers): ``GET /`` (where the SMTP server listens), ``GET /messages``
(every message kept, oldest first: envelope, headers, decoded subject and text), ``DELETE
/messages`` (forget them), ``POST /_sim/fault`` with ``{"code": 421}`` (``null``: none).

``hcmgov sim smtp`` serves HTTP on ``--port`` and SMTP on ``HCMGOV_SIM_SMTP_PORT`` (default 2525).
Tests use :func:`running_relay`, which starts both on free ports and stops both.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hcmgov.simulators import StartResponse, WSGIApp, _server
from hcmgov.simulators._http import Request, error_body, json_answer

HOSTNAME = "relay.sim.tphcm.gov.vn"
MAX_SIZE = 10 * 1024 * 1024
MAX_RECIPIENTS = 100  # RFC 5321 § 4.5.3.1.8: a server must accept at least 100
MAX_LINE = 4096  # command lines are 512 octets (§ 4.5.3.1.4); some slack for SMTPUTF8 addresses
TIMEOUT = 300  # § 4.5.3.2.7: the server waits 5 minutes for a command


@dataclass
class Envelope:
    mail_from: str = ""
    rcpt_to: list[str] = field(default_factory=list)
    smtputf8: bool = False
    body: str = "7BIT"


class Relay:
    """The SMTP server and the messages it keeps. :meth:`start` and :meth:`stop` may be called
    again (the same port again: a relay that went down and came back)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.messages: list[dict[str, Any]] = []
        self.fault: int | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- life cycle (from any thread) ---------------------------------------------------------

    def start(self) -> int:
        """Listen (on the port of the last run, if any); returns the port."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="sim-smtp", daemon=True)
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=10)
        return self.port

    def stop(self) -> None:
        """Stop listening and drop the open connections (the relay is down)."""
        if self._loop is not None and self._server is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)

    def shutdown(self) -> None:
        """Stop, and end the thread."""
        self.stop()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop.close()
            self._loop = None

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._session, self.host, self.port, limit=MAX_LINE)
        return int(self._server.sockets[0].getsockname()[1])

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with suppress(Exception):
            await self._server.wait_closed()
        self._server = None

    # --- what tests and the HTTP side read ----------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages]

    def clear(self) -> int:
        with self._lock:
            n = len(self.messages)
            self.messages.clear()
            return n

    def _keep(self, envelope: Envelope, data: bytes) -> str:
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        text = ""
        if "Content-Type" not in parsed:  # no MIME: 8-bit text as SMTPUTF8/8BITMIME clients send it, UTF-8
            text = data.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")
        else:
            part = parsed.get_body(preferencelist=("plain", "html")) if parsed.is_multipart() else parsed
            if part is not None:
                with suppress(Exception):
                    text = part.get_content()
        text = text.replace("\r\n", "\n")
        with self._lock:
            number = next(self._ids)
            self.messages.append(
                {
                    "id": number,
                    "mail_from": envelope.mail_from,
                    "rcpt_to": list(envelope.rcpt_to),
                    "smtputf8": envelope.smtputf8,
                    "body_type": envelope.body,
                    "subject": _utf8(parsed.get("Subject", "")),
                    "message_id": _utf8(parsed.get("Message-ID", "")),
                    "headers": {k: _utf8(v) for k, v in parsed.items()},
                    "text": text,
                    "data": data.decode("utf-8", "replace"),
                    "received_at": datetime.now(UTC).isoformat(),
                }
            )
        return f"sim-{number}"

    # --- one SMTP session ----------------------------------------------------------------------

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._converse(reader, writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with suppress(Exception):
                writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(*lines: str) -> None:
            writer.write(("".join(f"{line}\r\n" for line in lines)).encode("utf-8"))

        if self.fault:
            reply(f"{self.fault} {HOSTNAME} dịch vụ tạm ngừng / service not available")
            await writer.drain()
            return
        reply(f"220 {HOSTNAME} ESMTP hcmgov-sim")
        await writer.drain()
        greeted = False
        envelope: Envelope | None = None
        while True:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\n"), TIMEOUT)
            except asyncio.LimitOverrunError:
                reply("500 5.5.2 dòng quá dài / line too long")
                await writer.drain()
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO" or verb == "HELO":
                if not arg.strip():
                    reply(f"501 5.5.4 {verb} cần tên miền / needs a domain")
                elif verb == "EHLO":
                    greeted, envelope = True, None
                    reply(f"250-{HOSTNAME} xin chào / hello {arg.strip()}", "250-8BITMIME", "250-SMTPUTF8",
                          f"250-SIZE {MAX_SIZE}", "250 HELP")  # fmt: skip
                else:
                    greeted, envelope = True, None
                    reply(f"250 {HOSTNAME}")
            elif verb == "MAIL":
                envelope, answer = self._mail(arg, greeted, envelope)
                reply(answer)
            elif verb == "RCPT":
                reply(self._rcpt(arg, envelope))
            elif verb == "DATA":
                if arg:
                    reply("501 5.5.4 DATA không có tham số / DATA takes no argument")
                elif envelope is None or not envelope.rcpt_to:
                    reply("503 5.5.1 cần RCPT trước / RCPT first")
                else:
                    reply("354 kết thúc bằng <CRLF>.<CRLF> / end data with <CRLF>.<CRLF>")
                    await writer.drain()
                    data, too_big = await self._data(reader)
                    if too_big:
                        reply("552 5.3.4 thư quá lớn / message too big")
                    else:
                        reply(f"250 2.0.0 OK đã nhận / queued as {self._keep(envelope, data)}")
                    envelope = None
            elif verb == "RSET":
                envelope = None
                reply("250 2.0.0 OK")
            elif verb == "NOOP":
                reply("250 2.0.0 OK")
            elif verb == "VRFY":
                reply("252 2.1.5 không kiểm tra, cứ gửi / cannot verify, send anyway")
            elif verb == "HELP":
                reply("214 EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY")
            elif verb == "QUIT":
                reply(f"221 2.0.0 {HOSTNAME} tạm biệt / bye")
                await writer.drain()
                return
            else:
                reply("500 5.5.2 lệnh không hỗ trợ / command not recognised")
            await writer.drain()

    def _mail(self, arg: str, greeted: bool, envelope: Envelope | None) -> tuple[Envelope | None, str]:
        if not greeted:
            return envelope, "503 5.5.1 cần EHLO/HELO trước / EHLO or HELO first"
        if envelope is not None:
            return envelope, "503 5.5.1 đang có giao dịch / nested MAIL command"
        path, params = _path(arg, "FROM:")
        if path is None:
            return None, "501 5.5.4 cú pháp: MAIL FROM:<địa chỉ> / syntax: MAIL FROM:<address>"
        new = Envelope(mail_from=path)
        for param in params:
            key, _, value = param.partition("=")
            key = key.upper()
            if key == "BODY" and value.upper() in {"7BIT", "8BITMIME"}:
                new.body = value.upper()
            elif key == "SMTPUTF8" and not value:
                new.smtputf8 = True
            elif key == "SIZE" and value.isdigit():
                if int(value) > MAX_SIZE:
                    return None, "552 5.3.4 thư quá lớn / message too big"
            else:
                return None, f"555 5.5.4 tham số không hỗ trợ / unsupported parameter {key}"
        if not new.smtputf8 and not path.isascii():
            return None, "553 5.6.7 địa chỉ không ASCII cần SMTPUTF8 / non-ASCII address needs SMTPUTF8"
        return new, "250 2.1.0 OK"

    def _rcpt(self, arg: str, envelope: Envelope | None) -> str:
        if envelope is None:
            return "503 5.5.1 cần MAIL trước / MAIL first"
        path, params = _path(arg, "TO:")
        if not path or params:
            return "501 5.5.4 cú pháp: RCPT TO:<địa chỉ> / syntax: RCPT TO:<address>"
        if len(envelope.rcpt_to) >= MAX_RECIPIENTS:
            return "452 4.5.3 quá nhiều người nhận / too many recipients"
        if not envelope.smtputf8 and not path.isascii():
            return "553 5.6.7 địa chỉ không ASCII cần SMTPUTF8 / non-ASCII address needs SMTPUTF8"
        envelope.rcpt_to.append(path)
        return "250 2.1.5 OK"

    async def _data(self, reader: asyncio.StreamReader) -> tuple[bytes, bool]:
        """The message up to the line holding one dot, dot-unstuffed (RFC 5321 § 4.5.2)."""
        lines: list[bytes] = []
        size = 0
        while True:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\n"), TIMEOUT)
            except asyncio.LimitOverrunError as exc:  # an over-long line: take it in pieces
                raw = await reader.readexactly(exc.consumed)
            if raw in (b".\r\n", b".\n"):
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            size += len(raw)
            if size <= MAX_SIZE:
                lines.append(raw)
        return b"".join(lines), size > MAX_SIZE


def _utf8(value: Any) -> str:
    """A header's text: RFC 2047 words decoded by the parser, raw 8-bit (SMTPUTF8) as UTF-8."""
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()


def _path(arg: str, prefix: str) -> tuple[str | None, list[str]]:
    """The address inside ``<…>`` after ``FROM:``/``TO:``, and the parameters after it."""
    if not arg.upper().startswith(prefix):
        return None, []
    rest = arg[len(prefix) :].strip()
    if not rest.startswith("<") or ">" not in rest:
        return None, []
    inside, _, params = rest[1:].partition(">")
    return inside.strip(), params.split()


# --- HTTP -----------------------------------------------------------------------------------------


def http_app(relay: Relay) -> WSGIApp:
    """The JSON view of ``relay``: its messages, and a fault to inject."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        if request.path in ("", "/"):
            return json_answer(start_response, "200 OK", {"smtp": {"host": relay.host, "port": relay.port},
                                                           "messages": len(relay.messages)})  # fmt: skip
        if request.path == "/messages":
            if request.method == "GET":
                return json_answer(start_response, "200 OK", {"messages": relay.snapshot()})
            if request.method == "DELETE":
                return json_answer(start_response, "200 OK", {"deleted": relay.clear()})
        elif request.path == "/_sim/fault" and request.method == "POST":
            code = request.json().get("code")
            if code is not None and not (isinstance(code, int) and 400 <= code < 600):
                return json_answer(start_response, "400 Bad Request", error_body("invalid", {}))
            relay.fault = code
            return json_answer(start_response, "200 OK", {"fault": code})
        else:
            return json_answer(start_response, "404 Not Found", error_body("not_found", {}))
        return json_answer(start_response, "405 Method Not Allowed", error_body("method_not_allowed", {}))

    return app


def make_app(*, smtp_host: str = "127.0.0.1", smtp_port: int | None = None) -> WSGIApp:
    """The HTTP app of a relay started now, for ``hcmgov sim smtp`` (SMTP on ``smtp_port``, else
    ``HCMGOV_SIM_SMTP_PORT``, else 2525); the relay runs as long as the process."""
    port = smtp_port if smtp_port is not None else int(os.environ.get("HCMGOV_SIM_SMTP_PORT", "2525"))
    relay = Relay(smtp_host, port)
    relay.start()
    print(f"SMTP: smtp://{smtp_host}:{relay.port}", file=sys.stderr, flush=True)
    return http_app(relay)


@contextmanager
def running_relay(*, port: int = 0) -> Iterator[tuple[Relay, str]]:
    """Start a relay on a free loopback port (or ``port``) and its HTTP view on another; yield
    (the relay, the HTTP base URL); stop both on exit."""
    relay = Relay("127.0.0.1", port)
    relay.start()
    server = _server(http_app(relay), "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield relay, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        relay.shutdown()
