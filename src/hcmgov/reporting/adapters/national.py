"""The national reporting system's report submission API as the city calls it (JSON over HTTPS,
a bearer token). The system's integration specification is not public: the path and field names
are ours (``hcmgov.simulators.reporting`` documents them).

Every call returns the decoded answer or raises :class:`NationalError`: no answer, a timeout, a
non-2xx or a body that is not the JSON expected are one error the caller can postpone. A
redirect is not followed."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from hcmgov.common.outbound import OPENER

USER_AGENT = "hcmgov-reporting/1.0"
MAX_BODY = 1024 * 1024
MAX_SNIPPET = 300


class NationalError(Exception):
    """The system gave no usable answer. ``status`` is None without an HTTP answer; ``retry`` is
    False when trying again cannot help (the system refused the report itself: 4xx but the
    authentication and throttling ones)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retry(self) -> bool:
        return self.status is None or self.status >= 500 or self.status < 400 or self.status in (401, 403, 408, 429)


def report_post(*, base_url: str, token: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Submit one approved report: ``{"id", "duplicate"}`` (the system keeps a ``key`` once)."""
    url = base_url.rstrip("/") + "/api/reports"
    if urlsplit(url).scheme not in ("http", "https"):
        raise NationalError("Địa chỉ không phải http(s) / The URL is not http(s)")
    headers = {
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": str(payload.get("key", "")),
    }
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with OPENER.open(request, timeout=timeout) as response:
            raw, status = response.read(MAX_BODY), response.status
    except urllib.error.HTTPError as exc:
        try:
            snippet = exc.read(MAX_SNIPPET).decode("utf-8", "replace").strip()
        except OSError:
            snippet = ""
        raise NationalError(
            f"Hệ thống báo cáo quốc gia trả lời HTTP {exc.code} / The national reporting system answered "
            f"HTTP {exc.code}{': ' + snippet if snippet else ''}",
            status=exc.code,
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NationalError(
            f"Không kết nối được hệ thống báo cáo quốc gia / Could not reach the national reporting system: "
            f"{str(reason)[:MAX_SNIPPET]}"
        ) from exc
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise NationalError("Trả lời không phải JSON / The answer is not JSON", status=status) from exc
    if not isinstance(answer, dict) or "id" not in answer:
        raise NationalError("Trả lời sai định dạng / The answer is malformed", status=status)
    return answer
