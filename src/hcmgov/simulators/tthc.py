"""Simulator of the national database of administrative procedures (Cơ sở dữ liệu quốc gia về thủ
tục hành chính, csdl.dichvucong.gov.vn; Decree 63/2010/NĐ-CP Art. 24–25 as amended by Decree
92/2017/NĐ-CP), as the catalogue's adapter (``hcmgov.catalog.adapters.tthc``) reads it: the
procedures a province publishes and their publication decisions.

The database's integration specification is not public: **the paths and field names below are
ours**, shaped after its public procedure pages. Check them before production.

**Authentication.** Every ``/api/…`` request carries ``X-Api-Key: <key>``; the well-known test key
is :data:`API_KEY`. Without it: 401. Errors are ``{"error": code, "message": "Tiếng Việt / English"}``.

* ``GET /api/procedures?agency=H29&updated_since=YYYY-MM-DD&page=1&page_size=100`` — the
  procedures ``agency`` publishes whose record was last updated on or after ``updated_since``,
  by code: ``{"items": [{"code", "name", "updated_on"}], "page", "page_size", "total"}``.
* ``GET /api/procedures/{code}?agency=H29`` — one procedure: ``{"code", "name", "agency",
  "steps": [text…], "applicants": [text…], "publications": [{"id", "decision_number",
  "decision_date", "signed_by", "reference_number", "reference_date", "national_updated_on"}]}``
  (dates ``YYYY-MM-DD``; ``reference_*``: the ministry's decision the city's implements;
  ``national_updated_on`` null while not put on the database; ``steps``: the order of steps
  (trình tự thực hiện), ``applicants``: who may apply (đối tượng thực hiện) — two parts of the
  procedure's published text, Decree 63/2010/NĐ-CP Art. 8, as the database's procedure page shows
  them; an empty list: the database publishes none). 404 when unknown.

Seeded from the city's procedure definitions (``hcmgov/catalog/data/procedures/*.yaml``): one
decision per procedure, the ministry's decision number from ``announced_by``, and dates drawn from
the code (stable across runs; some published or updated late, as in life). The steps and who may
apply are the definition's own when it has them, else written from its facts (channels, time,
result; individuals and organisations) — and, drawn from the code, about one procedure in six
publishes no applicants, as records in the real database are sometimes incomplete. They are not
real.

**Test endpoints** (not the database's): ``GET /_sim/stats`` ``{"requests", "procedures", "mode"}``
(``DELETE``: back to the seed); ``POST /_sim/procedures`` ``{"upsert": [procedure…], "remove":
[code…]}``; ``POST /_sim/mode`` ``{"mode": "ok"|"down"|"garbage"}`` — ``down``: 503 to every
``/api`` request; ``garbage``: 200 with a body that is not JSON.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._http import Request, error_body, json_answer, text_answer

API_KEY = "sim-tthc-key-0123456789"
AGENCY = "H29"  # Ho Chi Minh City
MODES = ("ok", "down", "garbage")
MAX_PAGE_SIZE = 200
CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog" / "data" / "procedures"
SIGNER = "Chủ tịch Ủy ban nhân dân Thành phố Hồ Chí Minh"
MESSAGES = {
    "unavailable": ("CSDL đang gián đoạn, vui lòng thử lại sau", "The database is unavailable, try again later")
}  # and _http.ERRORS
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _error(code: str, **extra: Any) -> dict[str, Any]:
    return error_body(code, MESSAGES, **extra)


def seed_steps(spec: dict[str, Any]) -> list[str]:
    """The order of steps of a definition: its own ``steps``, else written from its facts."""
    if spec.get("steps"):
        return [str(s) for s in spec["steps"]]
    channels = "tại Bộ phận Một cửa hoặc qua dịch vụ bưu chính công ích"
    if spec.get("online_level") in ("full", "partial"):
        channels += ", hoặc trực tuyến trên Cổng Dịch vụ công"
    days = int(spec.get("statutory_days") or 0)
    within = "trong ngày" if days == 0 else f"trong {days} ngày làm việc kể từ ngày nhận đủ hồ sơ hợp lệ"
    return [
        "Bước 1: Người yêu cầu chuẩn bị hồ sơ theo quy định.",
        f"Bước 2: Nộp hồ sơ {channels}.",
        f"Bước 3: Cơ quan có thẩm quyền tiếp nhận, xem xét và giải quyết {within}.",
        f"Bước 4: Nhận kết quả: {str(spec.get('result') or 'kết quả giải quyết').strip()}.",
    ]


def seed_applicants(spec: dict[str, Any]) -> list[str]:
    """Who may apply, per a definition: its own ``applicants``, else individuals and organisations —
    and none for about one procedure in six (drawn from the code: stable)."""
    if spec.get("applicants"):
        return [str(a) for a in spec["applicants"]]
    h = int(hashlib.sha256(str(spec["code"]).encode()).hexdigest()[:12], 16)
    return [] if (h >> 28) % 6 == 0 else ["Cá nhân", "Tổ chức"]


def seed_record(
    code: str, name: str, announced_by: str, valid_from: dt.date, *, steps: list[str] | None = None,
    applicants: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The seeded record of one procedure: the ministry's decision 10–39 days before the version
    takes effect (``valid_from``), the other dates drawn from its code (stable)."""
    h = int(hashlib.sha256(code.encode()).hexdigest()[:12], 16)
    reference = valid_from - dt.timedelta(days=10 + h % 30)
    decided = reference + dt.timedelta(days=(h >> 12) % 12)  # 0–11 days: some beyond 5 working days
    updated = decided + dt.timedelta(days=(h >> 20) % 10)
    return {
        "code": code,
        "name": name,
        "agency": AGENCY,
        "steps": list(steps or []),
        "applicants": list(applicants or []),
        "publications": [
            {
                "id": f"{AGENCY}-{code}-1",
                "decision_number": f"{1000 + h % 4000}/QĐ-UBND",
                "decision_date": decided.isoformat(),
                "signed_by": SIGNER,
                "reference_number": announced_by,
                "reference_date": reference.isoformat(),
                "national_updated_on": updated.isoformat(),
            }
        ],
    }


@functools.cache
def _seed(directory: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
        code = str(spec["code"])
        valid_from = dt.date.fromisoformat(str(spec.get("valid_from") or "2021-01-01"))
        found[code] = seed_record(
            code, spec["name"], str(spec.get("announced_by") or ""), valid_from,
            steps=seed_steps(spec), applicants=seed_applicants(spec),
        )  # fmt: skip
    return found


def seed_records(directory: Path = CATALOG_DIR) -> list[dict[str, Any]]:
    """The seeded records (a copy), by code."""
    return [copy.deepcopy(r) for _, r in sorted(_seed(directory).items())]


def _updated_on(record: dict[str, Any]) -> str:
    dates = [p.get("national_updated_on") or p.get("decision_date") or "" for p in record["publications"]]
    return max(dates, default="")


class Database:
    """The database's state: the procedures by code, the misbehaviour mode, the counters."""

    def __init__(self, *, api_key: str = API_KEY, directory: Path = CATALOG_DIR) -> None:
        self.api_key = api_key
        self.directory = directory
        self.lock = threading.Lock()
        self.mode = "ok"
        self._reset()

    def _reset(self) -> None:
        self.procedures = {r["code"]: r for r in seed_records(self.directory)}
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        if request.path.startswith("/_sim/"):
            return self._sim(request, start_response)
        with self.lock:
            self.requests += 1
            mode = self.mode
        if mode == "down":
            return json_answer(start_response, "503 Service Unavailable", _error("unavailable"))
        if mode == "garbage":
            return text_answer(start_response, "200 OK", "<html>502 upstream proxy error", "application/json")
        status, body = self._api(request)
        return json_answer(start_response, status, body)

    def _api(self, request: Request) -> tuple[str, Any]:
        if request.header("X-Api-Key") != self.api_key:
            return "401 Unauthorized", _error("unauthorized")
        if request.method != "GET":
            return "405 Method Not Allowed", _error("method_not_allowed")
        agency = request.query.get("agency", AGENCY)
        path = request.path.rstrip("/")
        if path == "/api/procedures":
            return self._list(request, agency)
        if path.startswith("/api/procedures/"):
            code = unquote(path.removeprefix("/api/procedures/"))
            with self.lock:
                record = copy.deepcopy(self.procedures.get(code))
            if record is None or record.get("agency") != agency:
                return "404 Not Found", _error("not_found")
            return "200 OK", record
        return "404 Not Found", _error("not_found")

    def _list(self, request: Request, agency: str) -> tuple[str, Any]:
        since = request.query.get("updated_since", "")
        try:
            page = int(request.query.get("page") or 1)
            size = int(request.query.get("page_size") or 50)
            if since:
                dt.date.fromisoformat(since)
        except ValueError:
            return "400 Bad Request", _error("invalid", fields=["page", "page_size", "updated_since"])
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return "400 Bad Request", _error("invalid", fields=["page", "page_size"])
        with self.lock:
            rows = [
                {"code": r["code"], "name": r["name"], "updated_on": _updated_on(r)}
                for _, r in sorted(self.procedures.items())
                if r.get("agency") == agency
            ]
        rows = [r for r in rows if not since or r["updated_on"] >= since]
        start = (page - 1) * size
        return "200 OK", {"items": rows[start : start + size], "page": page, "page_size": size, "total": len(rows)}

    def _sim(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.path == "/_sim/stats":
            with self.lock:
                if request.method == "DELETE":
                    self._reset()
                stats = {"requests": self.requests, "procedures": len(self.procedures), "mode": self.mode}
            return json_answer(start_response, "200 OK", stats)
        if request.path == "/_sim/procedures" and request.method == "POST":
            body = request.json()
            upsert, remove = body.get("upsert") or [], body.get("remove") or []
            if not all(isinstance(r, dict) and isinstance(r.get("code"), str) for r in upsert):
                return json_answer(start_response, "400 Bad Request", _error("invalid", fields=["upsert"]))
            with self.lock:
                for record in upsert:
                    self.procedures[record["code"]] = {"agency": AGENCY, "name": "", "publications": [], **record}
                for code in remove:
                    self.procedures.pop(str(code), None)
                count = len(self.procedures)
            return json_answer(start_response, "200 OK", {"procedures": count})
        if request.path == "/_sim/mode" and request.method == "POST":
            mode = request.json().get("mode")
            if mode not in MODES:
                return json_answer(start_response, "400 Bad Request", {"error": f"mode: {'|'.join(MODES)}"})
            with self.lock:
                self.mode = str(mode)
            return json_answer(start_response, "200 OK", {"mode": self.mode})
        return json_answer(start_response, "404 Not Found", _error("not_found"))


def make_app(**options: Any) -> WSGIApp:
    """The national database of procedures with the well-known key and the seeded records."""
    return Database(**options)
