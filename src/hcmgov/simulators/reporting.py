"""Simulator of the national reporting system (Hệ thống thông tin báo cáo quốc gia, Decree
09/2019/NĐ-CP), as the city's connector (``hcmgov.reporting.national``) reaches it: approved
periodic reports submitted by a province.

The system's integration specification is not public: **the paths and field names below are
ours**. Check them against the system's integration documents before production.

**Authentication.** Every ``/api/…`` request carries ``Authorization: Bearer <token>``; the
well-known test account is :data:`TOKEN`. Without it: 401. Errors are ``{"error": code,
"message": "Tiếng Việt / English"}`` (``fields`` lists bad fields).

* ``POST /api/reports`` — one report: ``key`` (the idempotency key), ``template_code``,
  ``period``, ``unit_code``, ``version`` (1, 2, … after reopenings), ``values`` (an object of
  indicator code → number or string), ``approved_at`` (ISO 8601) and optional ``cutoff_start``,
  ``cutoff_end``, ``units_counted``, ``units_missing``. 200 ``{"id", "duplicate"}``; idempotent on
  ``key``: the same key again is ``"duplicate": true`` and changes nothing. 400 on a bad field.
* ``GET /api/reports/{template_code}/{period}/{unit_code}`` — the latest version held, with
  ``versions`` (the versions received), 404 when none.

**Test endpoints** (not the system's): ``GET /_sim/stats`` ``{"requests", "accepted",
"duplicates", "rejected", "reports", "mode"}`` (``DELETE`` forgets everything); ``POST
/_sim/mode`` ``{"mode": "ok"|"down"|"garbage"}`` — ``down``: 503 to every ``/api`` request;
``garbage``: 200 with a body that is not JSON, nothing kept.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._http import Request, error_body, json_answer, text_answer

TOKEN = "sim-reporting-token-0123456789"  # noqa: S105 - the simulator's well-known test account
MODES = ("ok", "down", "garbage")
REQUIRED = ("key", "template_code", "period", "unit_code", "version", "values", "approved_at")
MESSAGES = {
    "unavailable": ("Hệ thống đang gián đoạn, vui lòng thử lại sau", "The system is unavailable, try again later")
}  # and _http.ERRORS


def _error(code: str, **extra: Any) -> dict[str, Any]:
    return error_body(code, MESSAGES, **extra)


def validate(body: dict[str, Any]) -> list[str]:
    """The names of the fields of a report that are missing or wrong."""
    bad = [name for name in REQUIRED if body.get(name) in (None, "")]
    for name in ("key", "template_code", "period", "unit_code", "approved_at"):
        if name not in bad and not isinstance(body[name], str):
            bad.append(name)
    version = body.get("version")
    if "version" not in bad and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        bad.append("version")
    values = body.get("values")
    if "values" not in bad and (
        not isinstance(values, dict)
        or not all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in values.values())
    ):
        bad.append("values")
    if "approved_at" not in bad:
        try:
            dt.datetime.fromisoformat(body["approved_at"])
        except ValueError:
            bad.append("approved_at")
    return bad


class National:
    """The system's state: reports received by key, the misbehaviour mode, the counters."""

    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.mode = "ok"
        self._reset()

    def _reset(self) -> None:
        self.by_key: dict[str, dict[str, Any]] = {}
        self.next_id = 1
        self.requests = self.accepted = self.duplicates = self.rejected = 0

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
        scheme, _, value = request.header("Authorization").partition(" ")
        if scheme.lower() != "bearer" or value.strip() != self.token:
            return "401 Unauthorized", _error("unauthorized")
        path = request.path.rstrip("/")
        if path == "/api/reports" and request.method == "POST":
            body = request.json()
            bad = validate(body)
            if bad:
                with self.lock:
                    self.rejected += 1
                return "400 Bad Request", _error("invalid", fields=bad)
            return "200 OK", self.store(body)
        parts = [unquote(p) for p in path.removeprefix("/api/reports/").split("/")]
        if path.startswith("/api/reports/") and len(parts) == 3 and request.method == "GET":
            held = self.latest(*parts)
            return ("200 OK", held) if held else ("404 Not Found", _error("not_found"))
        return "404 Not Found", _error("not_found")

    def store(self, body: dict[str, Any]) -> dict[str, Any]:
        """Keep one report (idempotent on its key)."""
        with self.lock:
            held = self.by_key.get(body["key"])
            if held is not None:
                self.duplicates += 1
                return {"id": held["id"], "duplicate": True}
            kept = {**body, "id": str(self.next_id), "received": dt.datetime.now(dt.UTC).isoformat()}
            self.next_id += 1
            self.by_key[body["key"]] = kept
            self.accepted += 1
            return {"id": kept["id"], "duplicate": False}

    def latest(self, template_code: str, period: str, unit_code: str) -> dict[str, Any] | None:
        with self.lock:
            mine = [
                r
                for r in self.by_key.values()
                if (r["template_code"], r["period"], r["unit_code"]) == (template_code, period, unit_code)
            ]
        if not mine:
            return None
        latest = max(mine, key=lambda r: r["version"])
        return {**latest, "versions": sorted(r["version"] for r in mine)}

    def _sim(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        if request.path == "/_sim/stats":
            with self.lock:
                if request.method == "DELETE":
                    self._reset()
                stats = {
                    "requests": self.requests,
                    "accepted": self.accepted,
                    "duplicates": self.duplicates,
                    "rejected": self.rejected,
                    "reports": sorted(self.by_key),
                    "mode": self.mode,
                }
            return json_answer(start_response, "200 OK", stats)
        if request.path == "/_sim/mode" and request.method == "POST":
            mode = request.json().get("mode")
            if mode not in MODES:
                return json_answer(start_response, "400 Bad Request", {"error": f"mode: {'|'.join(MODES)}"})
            with self.lock:
                self.mode = str(mode)
            return json_answer(start_response, "200 OK", {"mode": self.mode})
        return json_answer(start_response, "404 Not Found", _error("not_found"))


def make_app(**options: Any) -> WSGIApp:
    """The national reporting system with the well-known token, unless ``options`` say otherwise."""
    return National(**options)
