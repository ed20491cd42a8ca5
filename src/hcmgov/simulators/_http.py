"""Small WSGI helpers the simulators share: read a request, answer JSON, an HTML page, a redirect."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from hcmgov.simulators import StartResponse

MAX_BODY = 64 * 1024


@dataclass
class Request:
    """A request as a simulator needs it: query, form fields (urlencoded POST), raw body, headers."""

    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def read(cls, environ: dict[str, Any]) -> Request:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        request = cls(environ, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""), query)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY:
            request.body = environ["wsgi.input"].read(length)
            if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
                parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
                request.form = {k: v[0] for k, v in parsed.items()}
        return request

    def param(self, name: str) -> str:
        return (self.form if self.method == "POST" else self.query).get(name, "")

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def header(self, name: str) -> str:
        return str(self.environ.get("HTTP_" + name.upper().replace("-", "_"), ""))


def json_answer(start_response: StartResponse, status: str, body: Any, **headers: str) -> Iterable[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    extra = [(name.replace("_", "-").title(), value) for name, value in headers.items()]
    start_response(
        status, [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data))), *extra]
    )
    return [data]


def page(start_response: StartResponse, status: str, title: str, body: str) -> Iterable[bytes]:
    """A small HTML page; ``body`` is HTML the caller has escaped."""
    data = (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    ).encode()
    start_response(status, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))])
    return [data]


def redirect(start_response: StartResponse, location: str) -> Iterable[bytes]:
    start_response("302 Found", [("Location", location), ("Content-Length", "0"), ("Cache-Control", "no-store")])
    return [b""]


def text_answer(
    start_response: StartResponse, status: str, body: str, content_type: str, disposition: str = ""
) -> Iterable[bytes]:
    """A text body (CSV, plain text) in UTF-8; ``disposition``: an optional Content-Disposition."""
    data = body.encode("utf-8")
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    if disposition:
        headers.append(("Content-Disposition", disposition))
    start_response(status, headers)
    return [data]


# the errors the JSON simulators share: code → (Vietnamese, English); each adds its own
ERRORS = {
    "unauthorized": ("Cần mã truy cập", "An access token is required"),
    "invalid": ("Dữ liệu không hợp lệ", "Invalid data"),
    "not_found": ("Không tìm thấy", "Not found"),
    "method_not_allowed": ("Phương thức không được hỗ trợ", "Method not allowed"),
}


def error_body(code: str, messages: dict[str, tuple[str, str]], **extra: Any) -> dict[str, Any]:
    """A JSON simulator's error: its code and a bilingual message (from ``messages``, then
    :data:`ERRORS`; the code itself when neither knows it), with ``extra`` fields."""
    vi, en = messages.get(code) or ERRORS.get(code) or (code, code)
    return {"error": code, "message": f"{vi} / {en}", **extra}
