"""Test harness of the gateway: the real ASGI application served by granian (embedded, in a thread
with its own event loop) on a free port, and a department's service (a small threaded HTTP server)
behind it. Everything goes over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from granian.constants import Interfaces
from granian.server.embed import Server

from hcmgov.exchange.gateway.app import Gateway


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gateway_running(gateway: Gateway) -> Iterator[str]:
    port = free_port()
    holder: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = Server(
            gateway, address="127.0.0.1", port=port, interface=Interfaces.ASGI, websockets=False, log_enabled=False
        )
        holder["server"], holder["loop"] = server, loop
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=run, name="gateway", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()  # noqa: S310 - http://127.0.0.1
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        holder["loop"].call_soon_threadsafe(holder["server"].stop)
        thread.join(10)


class Department:
    """A department's information system publishing a service: records by id, an echo of what it
    was sent (with the headers it saw), a slow answer, a large streamed answer, a failing mode."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.fail_with = 0  # answer this status to everything when set
        department = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        line = self.rfile.readline().strip()
                        if not line:  # the gateway gave up mid-stream (a body over the limit)
                            return bytes(out)
                        size = int(line, 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Department", "so-tnmt")
                if "set-cookie" in self.path:
                    self.send_header("Set-Cookie", "sid=secret-of-the-first-caller; Path=/")
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self._body() if self.command in ("POST", "PUT", "PATCH") else b""
                department.seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                if department.fail_with:
                    self._send(department.fail_with, b'{"error":"down"}')
                elif self.path.startswith("/records/"):
                    rid = self.path.split("/")[2].split("?")[0]
                    self._send(200, json.dumps({"id": rid, "ten": "Thửa đất số " + rid}, ensure_ascii=False).encode())
                elif self.path.startswith("/echo"):
                    answer = {
                        "path": self.path,
                        "sha256": hashlib.sha256(body).hexdigest(),
                        "length": len(body),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                    self._send(200, json.dumps(answer).encode())
                elif self.path.startswith("/slow"):
                    time.sleep(float(self.path.split("=")[-1]))
                    self._send(200, b'{"slow":true}')
                elif self.path.startswith("/big"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = bytes(range(256)) * 256  # 64 KiB
                    for _ in range(40):
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self._send(404, b'{"error":"not found"}')

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Department:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def call(
    url: str, *, method: str = "GET", token: str = "", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP call: status, headers (lower-case names), body — errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))  # noqa: S310
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the test's own URL
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
