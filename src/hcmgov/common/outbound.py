"""Synchronous outgoing HTTP to addresses the platform was given (the NGSI-LD broker's
notifications and remote @contexts, the national reporting system): the standard library's client
with redirects refused (a redirect could lead past the SSRF guard that checked the first address)
and no proxy from the environment. Production installs carry no other synchronous HTTP client."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))


class OutboundError(Exception):
    """No answer: refused, unreachable, timed out."""


def request(
    url: str, *, method: str = "GET", data: bytes | None = None, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    """The status and body of one call (any status: a 4xx/5xx is an answer, not an error)."""
    call = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - checked by netguard
    try:
        with OPENER.open(call, timeout=timeout) as answer:
            return answer.status, answer.read(10 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(64 * 1024)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise OutboundError(f"{type(exc).__name__}: {exc}") from exc
