"""A subscriber's callback on loopback, for the tests of event delivery (the exchange's, and those
of modules that publish through it): keeps each request with the status it answered (``status``,
200 unless told); ``stop`` takes it down, ``start`` brings it back on its port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Subscriber:
    def __init__(self, *, path: str = "/events", status: int = 200) -> None:
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.status = status
        self.path = path
        self.port = 0
        self._lock = threading.Lock()
        self.start()

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = owner.status
                with owner._lock:
                    owner.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events it answered 2xx to (CloudEvents, parsed), in order."""
        with self._lock:
            return [json.loads(body) for _, body, status in self.requests if 200 <= status < 300]

    def accepted(self) -> list[str]:
        """The ids of the events it answered 2xx to, in order."""
        return [event["id"] for event in self.events]
