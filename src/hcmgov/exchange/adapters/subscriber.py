"""A subscriber's callback, as the platform calls it: one HTTP POST of a CloudEvents 1.0 envelope in
structured content mode (CloudEvents HTTP protocol binding 1.0, ``application/cloudevents+json``),
signed ``X-Hcmgov-Signature: sha256=<hex HMAC-SHA256 of the body>`` with the subscription's secret.

A redirect is not followed: urllib would repeat a POST as a GET without its body, and a 2xx to that
GET would count as delivered. A 3xx is an answer like any other non-2xx, tried again later.
The proxies of the environment (``https_proxy``…) apply, as for the platform's other adapters.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hcmgov.common import netguard

SIGNATURE_HEADER = "X-Hcmgov-Signature"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "hcmgov-exchange/1.0"
MAX_SNIPPET = 300  # bytes of an error answer kept for the operator


@dataclass(frozen=True)
class Answer:
    """What came back: ``status`` is None when no HTTP answer came (refused, reset, name not
    resolved, timed out); ``error`` says what went wrong, Vietnamese first, empty on a 2xx."""

    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def subscriber_down(self) -> bool:
        """The subscriber as a whole is unwell (no answer, 5xx, 408, 429), not this one event."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx becomes an HTTPError: an answer, not followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def sign(*, secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_event(
    *, url: str, body: bytes, event_id: str, secret: str, timeout: float, allowed: Iterable[str] = ()
) -> Answer:
    """POST ``body`` (the envelope's JSON) to ``url``; never raises for the subscriber's faults. An
    address that now resolves inside the platform's networks (``common.netguard``; ``allowed``
    the operator's exceptions) is not called."""
    if urlsplit(url).scheme not in ("http", "https"):
        return Answer(None, "Địa chỉ nhận không phải http(s) / The callback URL is not http(s)")
    refused = netguard.url_refusal(url, allowed=allowed)
    if refused:
        return Answer(None, refused)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) above
        url,
        data=body,
        headers={
            "Content-Type": CONTENT_TYPE,
            "ce-id": event_id,
            SIGNATURE_HEADER: sign(secret=secret, body=body),
            "User-Agent": USER_AGENT,
        },
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_SNIPPET)  # the answer's body is not used; read a little so the server is not cut off
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        return Answer(
            exc.code, f"Bên nhận trả lời HTTP {exc.code} / The subscriber answered HTTP {exc.code}{_snippet(exc)}"
        )
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)  # refused, reset, DNS, timeout (TimeoutError is an OSError)
        return Answer(
            None, f"Không gửi được đến bên nhận / Could not reach the subscriber: {str(reason)[:MAX_SNIPPET]}"
        )


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(MAX_SNIPPET).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f": {text}" if text else ""
