"""Simulator of the National Public Service Portal (Cổng Dịch vụ công quốc gia, DVCQG), as the
city's connector (``hcmgov.exchange.portal``) reaches it: the national procedure catalogue, and the
dossiers' status changes that provinces push to it (Decree 61/2018/NĐ-CP, 107/2021/NĐ-CP).

The portal's integration specification is not public: **the paths, field names and error bodies
below are ours**; the status codes (1–10) and channels (1 in person, 2 online, 3 public postal
service) are the national ones (``/work/shared/DOMAIN.md``). Check everything against the portal's
integration documents before production.

**Authentication.** Every ``/api/…`` request carries ``Authorization: Bearer <token>`` (or
``X-Api-Key: <token>``); the well-known test account is :data:`TOKEN`. Without it: 401.
Errors are ``{"error": code, "message": "Tiếng Việt / English"}`` (``fields`` lists bad fields).

* ``GET /api/catalog/procedures?page=1&page_size=50`` — the catalogue, by code:
  ``{"items": [{"code", "name", "level", "agency_level", "processing_days", "fees": [{"code",
  "name", "amount"}]}], "page", "page_size", "total"}``; seeded from the city's procedure
  definitions (``hcmgov/catalog/data/procedures/*.yaml``).
* ``POST /api/dossiers/status`` — one status change: ``dossier_code``, ``procedure_code``,
  ``agency_code``, ``status`` (1–10), ``channel`` (1/2/3), ``received_at``, ``appointment_at``,
  ``finished_at`` (ISO 8601 or null), ``result_url``, ``fee_required``, ``fee_paid``,
  ``fee_paid_online`` (booleans), ``changed_at`` (ISO 8601), ``sequence`` (1, 2, … per dossier).
  200 ``{"id", "duplicate"}``; idempotent on (dossier_code, sequence): the same pair again is
  ``"duplicate": true`` and changes nothing. 400 on a bad field.
* ``GET /api/dossiers/{code}`` — what the portal holds: ``{"dossier_code", "latest": {…},
  "history": [{…}…]}`` (history in the order received), 404 when unknown.
* ``GET /api/dossiers?since=ISO`` — ``{"items": [{"dossier_code", "status", "sequence",
  "changed_at"}]}``: dossiers whose latest change is at or after ``since`` (all without it).

**Test endpoints** (not the portal's): ``GET /_sim/stats`` ``{"requests", "by_status",
"accepted", "duplicates", "rejected", "out_of_order", "dossiers", "mode", "delay"}``
(``DELETE`` forgets the dossiers and counters); ``POST /_sim/mode`` ``{"mode":
"ok"|"down"|"slow"|"garbage", "delay": s}`` — ``down``: 503 to every ``/api`` request; ``slow``:
each waits ``delay`` seconds; ``garbage``: 200 with a body that is not JSON, nothing kept;
``POST /_sim/catalog`` ``{"upsert": [procedure…], "remove": [code…]}`` changes the catalogue;
``POST /_sim/dossiers`` ``{"dossier_code", "status", …}`` plants a record as if pushed
(reconciliation tests). ``out_of_order`` counts changes whose sequence was not the dossier's
last + 1.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._http import Request, error_body, json_answer, text_answer

TOKEN = "sim-portal-token-0123456789"  # noqa: S105 - the simulator's well-known test account
MODES = ("ok", "down", "slow", "garbage")
MAX_DELAY = 120.0
MAX_PAGE_SIZE = 200
CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog" / "data" / "procedures"
AGENCY_LEVEL = {"city": "province", "district": "district", "commune": "commune"}
REQUIRED = ("dossier_code", "procedure_code", "agency_code", "status", "channel", "changed_at", "sequence")
DATES = ("received_at", "appointment_at", "finished_at", "changed_at")
FLAGS = ("fee_required", "fee_paid", "fee_paid_online")

MESSAGES = {
    "unavailable": ("Cổng đang gián đoạn, vui lòng thử lại sau", "The portal is unavailable, try again later")
}  # and _http.ERRORS


def _error(code: str, **extra: Any) -> dict[str, Any]:
    return error_body(code, MESSAGES, **extra)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: much faster


@functools.cache
def _seed(directory: Path) -> dict[str, dict[str, Any]]:
    catalog: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
        code = str(spec["code"])
        catalog[code] = {
            "code": code,
            "name": spec["name"],
            "level": spec["level"],
            "agency_level": AGENCY_LEVEL.get(spec["level"], spec["level"]),
            "processing_days": int(spec["statutory_days"]),
            "fees": [
                {"code": f.get("code", ""), "name": f.get("name", ""), "amount": f.get("amount")}
                for f in spec.get("fees") or []
            ],
        }
    return catalog


def seed_catalog(directory: Path = CATALOG_DIR) -> dict[str, dict[str, Any]]:
    """The national catalogue as the simulator starts with it: the city's procedure definitions
    (read once per process; each simulator gets its own copy)."""
    return copy.deepcopy(_seed(directory))


def _date(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def validate(body: dict[str, Any]) -> list[str]:
    """The names of the fields of a status change that are missing or wrong."""
    bad = [name for name in REQUIRED if body.get(name) in (None, "")]
    for name in ("dossier_code", "procedure_code", "agency_code"):
        if name not in bad and not isinstance(body[name], str):
            bad.append(name)
    status, channel, sequence = body.get("status"), body.get("channel"), body.get("sequence")
    if "status" not in bad and (isinstance(status, bool) or status not in range(1, 11)):
        bad.append("status")
    if "channel" not in bad and (isinstance(channel, bool) or channel not in (1, 2, 3)):
        bad.append("channel")
    if "sequence" not in bad and (isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1):
        bad.append("sequence")
    bad += [name for name in DATES if name not in bad and not _date(body.get(name))]
    bad += [name for name in FLAGS if not isinstance(body.get(name, False), bool)]
    if not isinstance(body.get("result_url", "") or "", str):
        bad.append("result_url")
    return bad


class Portal:
    """The portal's state: catalogue, dossiers received, the misbehaviour mode, the counters."""

    def __init__(self, *, token: str = TOKEN, catalog: dict[str, dict[str, Any]] | None = None) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.catalog = dict(catalog) if catalog is not None else seed_catalog()
        self.mode, self.delay = "ok", 2.0
        self._reset()

    def _reset(self) -> None:
        self.dossiers: dict[str, dict[str, Any]] = {}
        self.next_id = 1
        self.requests = self.accepted = self.duplicates = self.rejected = self.out_of_order = 0
        self.by_status: Counter[str] = Counter()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.read(environ)
        if request.path.startswith("/_sim/"):
            return self._sim(request, start_response)
        with self.lock:
            mode, delay = self.mode, self.delay
            self.requests += 1
        if mode == "down":
            status, body = "503 Service Unavailable", _error("unavailable")
        else:
            if mode == "slow":
                time.sleep(delay)
            if mode == "garbage":
                return text_answer(start_response, "200 OK", "<html>502 upstream proxy error", "application/json")
            status, body = self._api(request)
        with self.lock:
            self.by_status[status.split()[0]] += 1
        return json_answer(start_response, status, body)

    def _authorized(self, request: Request) -> bool:
        scheme, _, value = request.header("Authorization").partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else request.header("X-Api-Key")
        return bool(given) and given == self.token

    def _api(self, request: Request) -> tuple[str, Any]:
        if not self._authorized(request):
            return "401 Unauthorized", _error("unauthorized")
        path = request.path.rstrip("/")
        if path == "/api/catalog/procedures" and request.method == "GET":
            return "200 OK", self._catalog_page(request)
        if path == "/api/dossiers/status":
            if request.method != "POST":
                return "405 Method Not Allowed", _error("method_not_allowed")
            return self._status(request.json())
        if path == "/api/dossiers" and request.method == "GET":
            return self._since(request.query.get("since", ""))
        if path.startswith("/api/dossiers/") and request.method == "GET":
            record = self._held(unquote(path.removeprefix("/api/dossiers/")))
            return ("200 OK", record) if record else ("404 Not Found", _error("not_found"))
        return "404 Not Found", _error("not_found")

    def _catalog_page(self, request: Request) -> dict[str, Any]:
        try:
            number = max(1, int(request.query.get("page", "1")))
            size = min(MAX_PAGE_SIZE, max(1, int(request.query.get("page_size", "50"))))
        except ValueError:
            number, size = 1, 50
        with self.lock:
            items = [self.catalog[code] for code in sorted(self.catalog)]
        return {
            "items": items[(number - 1) * size : number * size],
            "page": number,
            "page_size": size,
            "total": len(items),
        }

    def _status(self, body: dict[str, Any]) -> tuple[str, Any]:
        bad = validate(body)
        if bad:
            with self.lock:
                self.rejected += 1
            return "400 Bad Request", _error("invalid", fields=bad)
        return "200 OK", self.store(body)

    def store(self, body: dict[str, Any]) -> dict[str, Any]:
        """Keep one status change (idempotent on dossier code and sequence)."""
        with self.lock:
            held = self.dossiers.setdefault(body["dossier_code"], {"history": []})
            for change in held["history"]:
                if change["sequence"] == body["sequence"]:
                    self.duplicates += 1
                    return {"id": change["id"], "duplicate": True}
            last = held["history"][-1]["sequence"] if held["history"] else 0
            if body["sequence"] != last + 1:
                self.out_of_order += 1
            change = {**body, "id": self.next_id, "received": dt.datetime.now(dt.UTC).isoformat()}
            self.next_id += 1
            held["history"].append(change)
            self.accepted += 1
            return {"id": change["id"], "duplicate": False}

    def _held(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            held = self.dossiers.get(code)
            if held is None or not held["history"]:
                return None
            latest = max(held["history"], key=lambda c: c["sequence"])
            return {"dossier_code": code, "latest": latest, "history": list(held["history"])}

    def _since(self, since: str) -> tuple[str, Any]:
        try:
            bound = dt.datetime.fromisoformat(since) if since else None
        except ValueError:
            return "400 Bad Request", _error("invalid", fields=["since"])
        if bound is not None and bound.tzinfo is None:
            bound = bound.replace(tzinfo=dt.UTC)
        items = []
        with self.lock:
            for code, held in sorted(self.dossiers.items()):
                if not held["history"]:
                    continue
                latest = max(held["history"], key=lambda c: c["sequence"])
                changed = dt.datetime.fromisoformat(latest["changed_at"])
                if changed.tzinfo is None:
                    changed = changed.replace(tzinfo=dt.UTC)
                if bound is None or changed >= bound:
                    items.append(
                        {
                            "dossier_code": code,
                            "status": latest["status"],
                            "sequence": latest["sequence"],
                            "changed_at": latest["changed_at"],
                        }
                    )
        return "200 OK", {"items": items}

    def _sim(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.path == "/_sim/stats":
            with self.lock:
                if request.method == "DELETE":
                    self._reset()
                stats = {
                    "requests": self.requests,
                    "by_status": dict(self.by_status),
                    "accepted": self.accepted,
                    "duplicates": self.duplicates,
                    "rejected": self.rejected,
                    "out_of_order": self.out_of_order,
                    "dossiers": {code: [c["sequence"] for c in h["history"]] for code, h in self.dossiers.items()},
                    "mode": self.mode,
                    "delay": self.delay,
                }
            return json_answer(start_response, "200 OK", stats)
        if request.path == "/_sim/mode" and request.method == "POST":
            wanted = request.json()
            mode, delay = wanted.get("mode"), wanted.get("delay", 2.0)
            if (
                mode not in MODES
                or not isinstance(delay, int | float)
                or isinstance(delay, bool)
                or not 0 <= delay <= MAX_DELAY
            ):
                return json_answer(
                    start_response, "400 Bad Request", {"error": f"mode: {'|'.join(MODES)}; delay: 0–{MAX_DELAY:g} s"}
                )
            with self.lock:
                self.mode, self.delay = str(mode), float(delay)
            return json_answer(start_response, "200 OK", {"mode": self.mode, "delay": self.delay})
        if request.path == "/_sim/catalog" and request.method == "POST":
            wanted = request.json()
            upsert, remove = wanted.get("upsert") or [], wanted.get("remove") or []
            if not all(isinstance(p, dict) and p.get("code") for p in upsert) or not all(
                isinstance(c, str) for c in remove
            ):
                return json_answer(start_response, "400 Bad Request", _error("invalid"))
            with self.lock:
                for procedure in upsert:
                    code = str(procedure["code"])
                    self.catalog[code] = {**self.catalog.get(code, {}), **procedure, "code": code}
                for code in remove:
                    self.catalog.pop(code, None)
                total = len(self.catalog)
            return json_answer(start_response, "200 OK", {"total": total})
        if request.path == "/_sim/dossiers" and request.method == "POST":
            body = request.json()
            if not body.get("dossier_code") or not isinstance(body.get("sequence"), int):
                return json_answer(start_response, "400 Bad Request", _error("invalid"))
            return json_answer(start_response, "200 OK", self.store(body))
        return json_answer(start_response, "404 Not Found", _error("not_found"))


def make_app(**options: Any) -> WSGIApp:
    """The portal with the well-known token and the seeded catalogue, unless ``options`` say otherwise."""
    return Portal(**options)
