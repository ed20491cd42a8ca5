"""Calling a WSGI layer as granian does, for the fast paths' tests (``common.fastpath``): the
layer around Django's handler, which counts the requests handed to it (what the layer did not
answer itself)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from wsgiref.util import setup_testing_defaults

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


class Counting:
    """Django's WSGI handler, counting the requests it was handed."""

    def __init__(self) -> None:
        self.django = WSGIHandler()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.django(environ, start_response)


class WsgiServer:
    """Django's per-request connection closing is off while a request runs, as Django's own test
    client does (the test's transaction must survive)."""

    def __init__(self, layer: Callable[[Any], Any]) -> None:
        self.inner = Counting()
        self.app = layer(self.inner)

    def call(
        self, method: str, path: str, data: bytes = b"", *, token: str | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path.encode().decode("latin-1"),
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
        }
        setup_testing_defaults(environ)  # the rest of a WSGI environ, as the standard library fills it
        if token:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        for name, value in headers.items():
            key = name.upper()
            environ[key if key in ("CONTENT_TYPE", "QUERY_STRING") else "HTTP_" + key] = value
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer["status"], answer["headers"] = int(status[:3]), dict(headers)

        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = self.app(environ, start_response)
            content = b"".join(result)
            if hasattr(result, "close"):
                result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return answer["status"], answer["headers"], content
