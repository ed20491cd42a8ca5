"""The national database of administrative procedures (Cơ sở dữ liệu quốc gia về thủ tục hành
chính, csdl.dichvucong.gov.vn) as the catalogue reads it: the procedures a province publishes and,
for each, its publication decisions with their dates. JSON over HTTPS, an API key.

The database's integration specification is not public: **the paths and field names are ours**,
in the spirit of its public procedure pages (list by agency and by update date; one procedure by
code with its decision number and dates). ``hcmgov.simulators.tthc`` speaks the same protocol and
documents it. Every call returns the decoded answer or raises :class:`TthcError` (no answer, a
non-2xx, a body that is not the JSON expected); a redirect is not followed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from hcmgov.common import outbound

USER_AGENT = "hcmgov-catalog/1.0"
PAGE_SIZE = 100
MAX_PAGES = 1000  # 100 000 procedures: far above any province's catalogue; a server looping is stopped


class TthcError(Exception):
    """The national database gave no usable answer (``status`` None: no HTTP answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str
    agency: str
    timeout: float = 10.0


@dataclass(frozen=True)
class NationalPublication:
    """One publication decision of a procedure as the national database holds it."""

    national_id: str
    decision_number: str
    decision_date: dt.date
    signed_by: str
    reference_number: str
    reference_date: dt.date | None
    national_updated_on: dt.date | None


@dataclass(frozen=True)
class NationalProcedure:
    """One procedure as the national database holds it: its publication decisions and two parts of
    its published text (Decree 63/2010/NĐ-CP Art. 8) — the order of steps (trình tự thực hiện) and
    who may apply (đối tượng thực hiện); None when the answer does not carry the field."""

    code: str
    name: str
    publications: tuple[NationalPublication, ...]
    steps: tuple[str, ...] | None
    applicants: tuple[str, ...] | None


def _get(cfg: Config, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
    url = cfg.base_url.rstrip("/") + path + (("?" + urlencode(query)) if query else "")
    if urlsplit(url).scheme not in ("http", "https"):
        raise TthcError("Địa chỉ không phải http(s) / The URL is not http(s)")
    headers = {"Accept": "application/json", "X-Api-Key": cfg.api_key, "User-Agent": USER_AGENT}
    try:
        status, raw = outbound.request(url, headers=headers, timeout=cfg.timeout)
    except outbound.OutboundError as exc:
        raise TthcError(f"Không kết nối được CSDL quốc gia về TTHC / Could not reach the database: {exc}") from exc
    if not 200 <= status < 300:
        snippet = raw[:300].decode("utf-8", "replace").strip()
        raise TthcError(
            f"CSDL quốc gia về TTHC trả lời HTTP {status} / The national database answered HTTP {status}: {snippet}",
            status=status,
        )
    try:
        answer = json.loads(raw)
    except ValueError as exc:
        raise TthcError("Trả lời không phải JSON / The answer is not JSON", status=status) from exc
    if not isinstance(answer, dict):
        raise TthcError("Trả lời sai định dạng / The answer is malformed", status=status)
    return answer


def _date(value: Any, *, required: bool = False) -> dt.date | None:
    if value in (None, "") and not required:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise TthcError(f"Ngày không hợp lệ / Bad date: {value!r}") from exc


def procedure_codes(cfg: Config, *, updated_since: dt.date | None = None) -> Iterator[str]:
    """The codes of the procedures ``cfg.agency`` publishes (updated on or after ``updated_since``),
    page by page."""
    for page in range(1, MAX_PAGES + 1):
        query: dict[str, Any] = {"agency": cfg.agency, "page": page, "page_size": PAGE_SIZE}
        if updated_since is not None:
            query["updated_since"] = updated_since.isoformat()
        answer = _get(cfg, "/api/procedures", query)
        items = answer.get("items")
        if not isinstance(items, list):
            raise TthcError("Trả lời sai định dạng / The answer is malformed")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                raise TthcError("Trả lời sai định dạng / The answer is malformed")
            yield item["code"]
        if page * PAGE_SIZE >= int(answer.get("total") or 0) or not items:
            return
    raise TthcError("Quá nhiều trang / Too many pages")


def procedure_publications(cfg: Config, *, code: str) -> list[NationalPublication]:
    """The publication decisions the national database holds for procedure ``code``."""
    return list(procedure_record(cfg, code=code).publications)


def procedure_record(cfg: Config, *, code: str) -> NationalProcedure:
    """Procedure ``code`` as the national database holds it (one call)."""
    answer = _get(cfg, "/api/procedures/" + quote(code, safe=""), {"agency": cfg.agency})
    rows = answer.get("publications")
    if answer.get("code") != code or not isinstance(rows, list):
        raise TthcError("Trả lời sai định dạng / The answer is malformed")
    return NationalProcedure(
        code=code,
        name=str(answer.get("name") or "")[:400],
        publications=tuple(publication_from(row) for row in rows),
        steps=texts_from(answer.get("steps")),
        applicants=texts_from(answer.get("applicants")),
    )


MAX_TEXTS, MAX_TEXT_CHARS = 100, 2000  # far above a real procedure's steps; a runaway answer is cut


def texts_from(value: Any) -> tuple[str, ...] | None:
    """A list of texts of the answer, checked and trimmed (blank lines dropped); None when absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TthcError("Trả lời sai định dạng / The answer is malformed")
    return tuple(v.strip()[:MAX_TEXT_CHARS] for v in value if v.strip())[:MAX_TEXTS]


def publication_from(row: Any) -> NationalPublication:
    """One decision of the database's answer, checked."""
    if not isinstance(row, dict) or not str(row.get("decision_number") or "").strip():
        raise TthcError("Trả lời sai định dạng / The answer is malformed")
    return NationalPublication(
        national_id=str(row.get("id") or "")[:80],
        decision_number=str(row["decision_number"]).strip()[:60],
        decision_date=_date(row.get("decision_date"), required=True),  # type: ignore[arg-type]
        signed_by=str(row.get("signed_by") or "")[:150],
        reference_number=str(row.get("reference_number") or "")[:60],
        reference_date=_date(row.get("reference_date")),
        national_updated_on=_date(row.get("national_updated_on")),
    )
