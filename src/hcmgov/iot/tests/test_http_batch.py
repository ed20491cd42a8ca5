"""HTTP batch ingestion: per-device credentials, the same checks as MQTT, a result per reading,
Vietnamese first, never a 500."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.test import Client

from hcmgov.iot.models import Quarantine, Reading, Rollup
from hcmgov.iot.tests.factories import PASSWORD, DeviceFactory

pytestmark = pytest.mark.django_db
URL = "/iot/v1/readings"


def _auth(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _post(client: Client, body, device, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **_auth(device.code), **headers)


def test_mixed_items_each_get_their_result(client):
    device = DeviceFactory()
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    first = {"observedAt": t0.isoformat(), "values": {"pm25": 12.5}}
    assert _post(client, first, device).json()["accepted"] == 1
    body = {
        "device": device.code,
        "readings": [
            {"observedAt": t0.isoformat(), "values": {"pm25": 12.5, "pm10": 40}},  # duplicate + new
            {"observedAt": (t0 + dt.timedelta(minutes=1)).isoformat(), "values": {"pm25": -3, "flow": 2}},
            {"observedAt": "2099-01-01T00:00:00Z", "values": {"pm25": 1}},
            {"observedAt": (t0 + dt.timedelta(minutes=2)).timestamp(), "values": {"o3": 80}, "units": {"o3": "µg/m³"}},
        ],
    }
    response = _post(client, body, device)
    assert response.status_code == 200
    data = response.json()
    assert (data["accepted"], data["duplicates"], data["rejected"]) == (2, 1, 3)
    by_place = {(r["index"], r["attribute"]): r for r in data["results"]}
    assert by_place[(0, "pm25")]["status"] == "duplicate"
    assert by_place[(0, "pm10")]["status"] == "accepted"
    assert by_place[(1, "pm25")]["reason"] == "out_of_range"
    assert by_place[(1, "pm25")]["message"] == "Giá trị nằm ngoài ngưỡng hợp lệ của thiết bị."
    assert by_place[(1, "flow")]["reason"] == "unknown_attribute"
    assert by_place[(2, None)]["reason"] == "future_time"
    assert by_place[(3, "o3")]["status"] == "accepted"
    assert Reading.objects.filter(device=device).count() == 3
    assert sum(Rollup.objects.filter(device=device, period=3600).values_list("count", flat=True)) == 3
    assert set(Quarantine.objects.filter(channel="http").values_list("reason", flat=True)) == {
        "out_of_range",
        "unknown_attribute",
        "future_time",
    }


def test_english_on_request(client):
    device = DeviceFactory()
    response = _post(client, b"{oops", device, HTTP_ACCEPT_LANGUAGE="en-GB")
    assert response.status_code == 400
    assert response.json() == {
        "code": "malformed",
        "message": "The payload is not valid UTF-8 JSON.",
        "detail": response.json()["detail"],
    }


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer x",
        "Basic !!!",
        "Basic " + base64.b64encode(b"nobody").decode(),
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
    ],
)
def test_credentials_are_required(client, header):
    device = DeviceFactory()
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(URL, data="{}", content_type="application/json", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response.json()["message"].startswith("Cần xác thực")
    wrong = client.post(URL, data="{}", content_type="application/json", **_auth(device.code, "wrong"))
    assert wrong.status_code == 401


def test_whole_body_refusals(client, settings):
    device = DeviceFactory()
    resting = DeviceFactory(maintenance=True)
    now = dt.datetime.now(dt.UTC).isoformat()
    assert _post(client, {"device": "other", "observedAt": now, "values": {"pm25": 1}}, device).status_code == 400
    assert _post(client, {"observedAt": now, "values": {"pm25": 1}}, resting).status_code == 403
    assert _post(client, [], device).status_code == 400
    settings.IOT_MESSAGE_MAX_BYTES = 50
    assert _post(client, {"observedAt": now, "values": {"pm25": 1, "pm10": 2, "no2": 3}}, device).status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"1e999999",
        b'{"readings": "x"}',
        b'{"readings": [1, null, {}]}',
        b'{"observedAt": {}, "values": []}',
        b'{"observedAt": 1e300, "values": {"pm25": 1}}',
        b'{"observedAt": "NaN", "values": {"pm25": NaN}}',
        b'{"observedAt": "2026-01-01T00:00:00+00:00", "values": {"pm25": 1}, "units": {"pm25": 5}}',
        '{"observedAt": "\u0000", "values": {"\u0000": 1}}'.encode(),
        b"[" * 100_000,
        b'{"observedAt": "\\u0000", "values": {"pm25": 1}}',
        b'{"observedAt": "2026-11-28T00:00:00Z", "values": {"\\u0000": 1}}',
    ],
)
def test_no_input_gives_a_500(client, body):
    device = DeviceFactory()
    response = _post(client, body, device)
    assert response.status_code in {200, 400, 413}, response.content


def test_get_is_refused_with_405(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
