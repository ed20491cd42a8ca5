"""The national reporting system's simulator over HTTP: authentication, validation, idempotency
on the key, the latest version held, the down and garbage modes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from hcmgov import simulators
from hcmgov.simulators.reporting import TOKEN

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
REPORT = {
    "key": "T:2025-M01:79:v1",
    "template_code": "T",
    "period": "2025-M01",
    "unit_code": "79",
    "version": 1,
    "values": {"a": 1, "r": "50.00"},
    "approved_at": "2025-01-20T09:00:00+07:00",
}


def call(url: str, path: str, body: dict[str, Any] | None = None, token: str = TOKEN) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url + path, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=5) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


@pytest.fixture
def url():
    with simulators.running("reporting") as base:
        yield base


def test_reports_are_kept_once_per_key(url):
    assert call(url, "/api/reports", REPORT, token="wrong")[0] == 401
    status, first = call(url, "/api/reports", REPORT)
    assert status == 200
    assert first["duplicate"] is False
    status, again = call(url, "/api/reports", REPORT)
    assert again == {"id": first["id"], "duplicate": True}
    call(url, "/api/reports", {**REPORT, "key": "T:2025-M01:79:v2", "version": 2, "values": {"a": 2}})
    status, held = call(url, "/api/reports/T/2025-M01/79")
    assert status == 200
    assert held["version"] == 2
    assert held["versions"] == [1, 2]
    assert held["values"] == {"a": 2}
    assert call(url, "/api/reports/T/2025-M02/79")[0] == 404
    stats = call(url, "/_sim/stats")[1]
    assert (stats["accepted"], stats["duplicates"]) == (2, 1)


def test_bad_reports_are_refused_with_the_fields_named(url):
    status, body = call(url, "/api/reports", {**REPORT, "version": 0, "values": {"a": True}, "approved_at": "x"})
    assert status == 400
    assert body["fields"] == ["version", "values", "approved_at"]
    status, body = call(url, "/api/reports", {"key": "k"})
    assert status == 400
    assert "template_code" in body["fields"]


def test_down_and_garbage(url):
    call(url, "/_sim/mode", {"mode": "down"})
    assert call(url, "/api/reports", REPORT)[0] == 503
    call(url, "/_sim/mode", {"mode": "garbage"})
    status, body = call(url, "/api/reports", REPORT)
    assert status == 200
    assert isinstance(body, bytes)
    call(url, "/_sim/mode", {"mode": "ok"})
    assert call(url, "/api/reports", REPORT)[1]["duplicate"] is False  # nothing was kept meanwhile
    assert call(url, "/_sim/mode", {"mode": "slow"})[0] == 400


def test_the_simulator_is_known_to_the_sim_command():
    assert "reporting" in simulators.names()
