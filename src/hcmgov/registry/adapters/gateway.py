"""The national databases as the store reaches them: through the city's own exchange gateway
(``/x/{member}/{system}/{service}/...``, a bearer token of the city's OpenID provider), which
forwards to the national platform (NDXP) with the city's account there and logs the call. The
store is one more information system of the city, with its rights granted like any other.

Every call returns the decoded record, None when the source has no such key (404), or raises
:class:`SourceError`: no answer, a timeout, a 5xx, a body that is not a JSON object. ``retry`` says
whether trying later can help (a malformed key cannot).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

USER_AGENT = "hcmgov-registry/1.0"
MAX_BODY = 1024 * 1024


class SourceError(Exception):
    def __init__(self, message: str, *, status: int | None = None, retry: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retry = retry


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def record_fetch(
    *, gateway_url: str, service: str, key: str, token: str, timeout: float, request_id: str = "", end_user: str = ""
) -> dict[str, Any] | None:
    """GET ``{gateway_url}/x/{service}/{key}``: the source's record of ``key``."""
    url = f"{gateway_url.rstrip('/')}/x/{service.strip('/')}/{quote(key, safe='')}"
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - http(s): the gateway URL is a setting
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    request.add_header("User-Agent", USER_AGENT)
    if request_id:
        request.add_header("X-Request-Id", request_id)
    if end_user:
        request.add_header("X-Hcmgov-End-User", end_user)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, body = response.status, response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(MAX_BODY + 1)
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        raise SourceError(f"no answer from {url}: {exc}") from exc
    if len(body) > MAX_BODY:
        raise SourceError(f"answer of {url} larger than {MAX_BODY} bytes", status=status)
    code = _problem(body) if status != 200 else ""
    if status == 404:
        if code == "not_found":
            return None
        raise SourceError(f"{url}: 404 {code}", status=404, retry=False)  # e.g. the gateway does not know the service
    if status == 400:
        raise SourceError(f"{url}: the source refused the key (400 {code})", status=400, retry=False)
    if status != 200:
        raise SourceError(
            f"{url}: HTTP {status} {code}".rstrip(), status=status, retry=status >= 500 or status in (401, 403, 429)
        )
    try:
        record = json.loads(body)
    except ValueError as exc:
        raise SourceError(f"{url}: the answer is not JSON", status=status) from exc
    if not isinstance(record, dict):
        raise SourceError(f"{url}: the answer is not a JSON object", status=status)
    return record


def _problem(body: bytes) -> str:
    """The error code of an error body: the gateway's problem document (``code``) or the national
    platform's (``error``); "" when there is none."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("error") or data.get("code") or "")[:80]
