"""The National Public Service Portal's API as the connector calls it (JSON over HTTPS, a bearer
token). The paths and field names are our rendering (``hcmgov.simulators.portal`` documents them):
the portal's integration specification is not public.

Every call returns the decoded JSON or raises :class:`PortalError`, never anything else: no answer,
a timeout, a non-2xx or a body that is not the JSON expected all come back as one error the
caller can postpone. A redirect is not followed (see ``adapters.subscriber``).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

USER_AGENT = "hcmgov-portal/1.0"
MAX_BODY = 8 * 1024 * 1024
MAX_SNIPPET = 300


class PortalError(Exception):
    """The portal did not give a usable answer. ``status`` is None without an HTTP answer;
    ``retry`` is False when trying again cannot help (the portal refused the data itself)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retry(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in (401, 403, 408, 429) or self.status < 400

    @property
    def portal_down(self) -> bool:
        """The portal as a whole is unwell or refuses us (no answer, 5xx, garbage, our token, too
        many calls): stop calling it for now, whatever the change."""
        return self.status is None or self.status >= 500 or self.status < 400 or self.status in (401, 403, 429)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _call(
    *, base_url: str, token: str, method: str, path: str, timeout: float, body: dict[str, Any] | None = None
) -> Any:
    url = base_url.rstrip("/") + path
    if urlsplit(url).scheme not in ("http", "https"):
        raise PortalError("Địa chỉ Cổng không phải http(s) / The portal URL is not http(s)")
    data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
    headers = {"Accept": "application/json", "Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}
    if data is not None:
        headers["Content-Type"] = "application/json; charset=utf-8"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - scheme checked
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            raw = response.read(MAX_BODY)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise PortalError(
            f"Cổng trả lời HTTP {exc.code} / The portal answered HTTP {exc.code}{_snippet(exc)}", status=exc.code
        ) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)  # refused, reset, DNS, timeout (TimeoutError is an OSError)
        raise PortalError(f"Không kết nối được Cổng / Could not reach the portal: {str(reason)[:MAX_SNIPPET]}") from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise PortalError(
            "Cổng trả về dữ liệu không phải JSON / The portal answered with something that is not JSON",
            status=status,
        ) from exc


def _snippet(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(MAX_SNIPPET).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f": {text}" if text else ""


def _malformed(what: str) -> PortalError:
    return PortalError(f"Cổng trả về {what} sai định dạng / The portal's {what} is malformed", status=200)


def catalog_page(*, base_url: str, token: str, page: int, page_size: int, timeout: float) -> dict[str, Any]:
    """One page of the national procedure catalogue: ``{"items": [...], "total": n}``."""
    query = urlencode({"page": page, "page_size": page_size})
    answer = _call(
        base_url=base_url, token=token, method="GET", path=f"/api/catalog/procedures?{query}", timeout=timeout
    )
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise _malformed("danh mục / catalogue")
    if not all(isinstance(item, dict) and isinstance(item.get("code"), str) for item in answer["items"]):
        raise _malformed("danh mục / catalogue")
    return answer


def status_post(*, base_url: str, token: str, payload: dict[str, Any], timeout: float) -> str:
    """Push one status change; returns the portal's id for it."""
    answer = _call(
        base_url=base_url, token=token, method="POST", path="/api/dossiers/status", body=payload, timeout=timeout
    )
    if not isinstance(answer, dict) or "id" not in answer:
        raise _malformed("trả lời / answer")
    return str(answer["id"])


def dossier_get(*, base_url: str, token: str, code: str, timeout: float) -> dict[str, Any] | None:
    """What the portal holds about one dossier (None when it knows nothing of it)."""
    try:
        answer = _call(
            base_url=base_url, token=token, method="GET", path=f"/api/dossiers/{quote(code, safe='')}", timeout=timeout
        )
    except PortalError as exc:
        if exc.status == 404:
            return None
        raise
    if not isinstance(answer, dict):
        raise _malformed("hồ sơ / dossier")
    return answer


def dossiers_since(*, base_url: str, token: str, since: str, timeout: float) -> list[dict[str, Any]]:
    """The dossiers whose latest change on the portal is at or after ``since`` (ISO 8601)."""
    answer = _call(
        base_url=base_url,
        token=token,
        method="GET",
        path=f"/api/dossiers?{urlencode({'since': since})}",
        timeout=timeout,
    )
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("dossier_code"), str) and isinstance(i.get("status"), int)
        for i in items
    ):
        raise _malformed("danh sách hồ sơ / dossier list")
    return items
