"""The National Public Service Portal simulator over real HTTP: the token, the paged catalogue and
its switches, status changes validated and kept once per (dossier, sequence), the records and the
list for reconciliation, and the misbehaviour modes (down, slow, garbage)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hcmgov import simulators
from hcmgov.simulators.portal import TOKEN, validate

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def base() -> Iterator[str]:
    with simulators.running("portal") as url:
        yield url


def call(
    base: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = TOKEN, api_key: bool = False
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers.update({"X-Api-Key": token} if api_key else {"Authorization": f"Bearer {token}"})
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the simulator's http URL
        base + path, data=data, headers=headers, method="POST" if data else "GET"
    )
    try:
        with _OPENER.open(request, timeout=5) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def change(sequence: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "dossier_code": "000.00.01.H29-260302-0001",
        "procedure_code": "1.000656",
        "agency_code": "000.00.01.H29",
        "status": 1,
        "channel": 2,
        "received_at": None,
        "appointment_at": None,
        "finished_at": None,
        "result_url": "",
        "fee_required": False,
        "fee_paid": False,
        "fee_paid_online": False,
        "changed_at": f"2026-03-02T08:0{sequence}:00+07:00",
        "sequence": sequence,
        **extra,
    }


def test_the_api_wants_the_token(base):
    assert call(base, "/api/catalog/procedures", token=None)[0] == 401
    assert call(base, "/api/catalog/procedures", token="wrong")[0] == 401
    assert call(base, "/api/catalog/procedures", api_key=True)[0] == 200


def test_the_catalogue_is_paged_and_seeded_from_the_city_definitions(base):
    status, first = call(base, "/api/catalog/procedures?page=1&page_size=10")
    assert status == 200
    assert first["total"] >= 30
    assert len(first["items"]) == 10
    death = next(p for p in call(base, "/api/catalog/procedures?page_size=200")[1]["items"] if p["code"] == "1.000656")
    assert death["name"] == "Đăng ký khai tử"
    assert (death["level"], death["agency_level"], death["processing_days"]) == ("commune", "commune", 0)
    assert {fee["code"] for fee in death["fees"]} >= {"LEPHI"}
    second = call(base, "/api/catalog/procedures?page=2&page_size=10")[1]
    assert {p["code"] for p in first["items"]}.isdisjoint(p["code"] for p in second["items"])


def test_the_catalogue_switch_adds_changes_and_removes(base):
    status, _ = call(
        base,
        "/_sim/catalog",
        {
            "upsert": [
                {"code": "9.999999", "name": "Thủ tục mới", "processing_days": 5},
                {"code": "1.000656", "name": "X"},
            ],
            "remove": ["1.000894"],
        },
    )
    assert status == 200
    items = {p["code"]: p for p in call(base, "/api/catalog/procedures?page_size=200")[1]["items"]}
    assert items["9.999999"]["processing_days"] == 5
    assert items["1.000656"]["name"] == "X"
    assert items["1.000656"]["level"] == "commune"
    assert "1.000894" not in items


def test_a_status_change_is_kept_once_per_dossier_and_sequence(base):
    assert call(base, "/api/dossiers/status", change(1)) == (200, {"id": 1, "duplicate": False})
    status, again = call(base, "/api/dossiers/status", change(1, status=2))
    assert status == 200
    assert again["duplicate"] is True
    call(base, "/api/dossiers/status", change(2, status=2, received_at="2026-03-02T09:00:00+07:00"))
    status, held = call(base, "/api/dossiers/000.00.01.H29-260302-0001")
    assert status == 200
    assert [c["status"] for c in held["history"]] == [1, 2]
    assert held["latest"]["sequence"] == 2
    assert held["latest"]["received_at"].startswith("2026-03-02T09")
    stats = call(base, "/_sim/stats")[1]
    assert (stats["accepted"], stats["duplicates"], stats["out_of_order"]) == (2, 1, 0)
    assert stats["dossiers"] == {"000.00.01.H29-260302-0001": [1, 2]}
    assert call(base, "/api/dossiers/unknown")[0] == 404


def test_a_sequence_out_of_turn_is_counted(base):
    call(base, "/api/dossiers/status", change(2))
    assert call(base, "/_sim/stats")[1]["out_of_order"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", 11),
        ("status", True),
        ("channel", 4),
        ("sequence", 0),
        ("changed_at", "yesterday"),
        ("fee_paid", "yes"),
        ("dossier_code", ""),
    ],
)
def test_a_bad_field_is_a_400_naming_it(base, field, value):
    status, body = call(base, "/api/dossiers/status", {**change(1), field: value})
    assert status == 400
    assert field in body["fields"]
    assert " / " in body["message"]
    assert validate(change(1)) == []


def test_the_list_since_a_moment(base):
    call(base, "/api/dossiers/status", change(1))
    call(base, "/api/dossiers/status", change(1, dossier_code="B", changed_at="2026-04-01T00:00:00+07:00"))
    items = call(base, "/api/dossiers?since=2026-03-15T00:00:00%2B07:00")[1]["items"]
    assert [i["dossier_code"] for i in items] == ["B"]
    assert len(call(base, "/api/dossiers")[1]["items"]) == 2
    assert call(base, "/api/dossiers?since=never")[0] == 400


def test_the_modes(base):
    assert call(base, "/_sim/mode", {"mode": "down"})[0] == 200
    assert call(base, "/api/catalog/procedures")[0] == 503
    call(base, "/_sim/mode", {"mode": "garbage"})
    status, body = call(base, "/api/dossiers/status", change(1))
    assert status == 200
    assert isinstance(body, str)
    assert call(base, "/_sim/stats")[1]["accepted"] == 0
    call(base, "/_sim/mode", {"mode": "slow", "delay": 0.2})
    assert call(base, "/api/catalog/procedures")[0] == 200
    assert call(base, "/_sim/mode", {"mode": "sideways"})[0] == 400
    assert "portal" in simulators.names()
