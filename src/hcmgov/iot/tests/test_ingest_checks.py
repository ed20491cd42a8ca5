"""Every refusal of the ingestion has its reason, is quarantined (sampled) and counted, and never
stops the ingester; duplicates are dropped; calibration is applied."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from prometheus_client import REGISTRY

from hcmgov.iot.ingester import Ingester, Pending, topic_device
from hcmgov.iot.models import Quarantine, Reading
from hcmgov.iot.tests.factories import DeviceFactory
from hcmgov.iot.validation import RateLimiter

pytestmark = pytest.mark.django_db


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _msg(code: str, payload, mid: int = 1) -> Pending:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Pending(mid, 1, f"hcmgov/iot/{code}/readings", body)


def _rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("hcmgov_iot_rejected_total", {"channel": "mqtt", "reason": reason}) or 0.0


@pytest.fixture
def ingester():
    return Ingester(client_id="test-checks")


def test_topic_device():
    assert topic_device("hcmgov/iot/hcm-aq-1/readings") == "hcm-aq-1"
    assert topic_device("hcmgov/iot//readings") is None
    assert topic_device("other/iot/x/readings") is None


def test_a_good_message_is_stored_with_calibration(ingester):
    device = DeviceFactory(calibration={"pm25": {"factor": 2.0, "offset": 1.0}})
    now = _now()
    result = ingester.store([_msg(device.code, {"observedAt": now, "values": {"pm25": 10, "pm10": 20.5}})])
    assert (result.stored, result.rejected) == (2, 0)
    values = dict(Reading.objects.filter(device=device).values_list("attribute", "value"))
    assert values == {"pm25": 21.0, "pm10": 20.5}


def test_a_batch_message_and_a_redelivery(ingester):
    device = DeviceFactory()
    base = dt.datetime.now(dt.UTC).replace(microsecond=0)
    body = {
        "device": device.code,
        "readings": [
            {"observedAt": (base - dt.timedelta(seconds=i)).isoformat(), "values": {"o3": i}} for i in range(5)
        ],
    }
    assert ingester.store([_msg(device.code, body)]).stored == 5
    again = ingester.store([_msg(device.code, body), _msg(device.code, body)])
    assert (again.stored, again.duplicates) == (0, 10)
    assert Reading.objects.filter(device=device).count() == 5


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"[1, 2]", "invalid_payload"),
        ({"observedAt": "now"}, "invalid_payload"),
        ({"readings": []}, "invalid_payload"),
        ({"observedAt": "yesterday", "values": {"pm25": 1}}, "invalid_time"),
        ({"observedAt": "2026-11-28T01:00:00", "values": {"pm25": 1}}, "invalid_time"),  # no offset
        ({"observedAt": "2099-01-01T00:00:00Z", "values": {"pm25": 1}}, "future_time"),
        ({"observedAt": "2001-01-01T00:00:00Z", "values": {"pm25": 1}}, "too_old"),
        ({"observedAt": "NOW", "values": {"flow": 1}}, "unknown_attribute"),
        ({"observedAt": "NOW", "values": {"pm25": 1}, "units": {"pm25": "mg/m3"}}, "unit_mismatch"),
        ({"observedAt": "NOW", "values": {"pm25": "12"}}, "invalid_value"),
        ({"observedAt": "NOW", "values": {"pm25": True}}, "invalid_value"),
        ({"observedAt": "NOW", "values": {"pm25": -5}}, "out_of_range"),
        ({"observedAt": "NOW", "values": {"humidity": 140}}, "out_of_range"),
        ({"device": "someone-else", "observedAt": "NOW", "values": {"pm25": 1}}, "device_mismatch"),
    ],
)
def test_refusals_have_their_reason(ingester, payload, reason):
    device = DeviceFactory()
    if isinstance(payload, dict):
        payload = json.loads(json.dumps(payload).replace('"NOW"', json.dumps(_now())))
    before = _rejected(reason)
    result = ingester.store([_msg(device.code, payload)])
    assert result.stored == 0
    row = Quarantine.objects.get()
    assert (row.reason, row.channel, row.device_code) == (reason, "mqtt", device.code)
    assert bytes(row.payload)[:10] == (payload if isinstance(payload, bytes) else json.dumps(payload).encode())[:10]
    assert _rejected(reason) == before + 1


def test_unknown_inactive_and_oversized(ingester, settings):
    settings.IOT_MESSAGE_MAX_BYTES = 200
    resting = DeviceFactory(maintenance=True)
    good = {"observedAt": _now(), "values": {"pm25": 1}}
    ingester.store([_msg("no-such-device", good), _msg(resting.code, good), _msg(resting.code, b"x" * 500)])
    assert sorted(Quarantine.objects.values_list("reason", flat=True)) == [
        "device_inactive",
        "too_large",
        "unknown_device",
    ]
    assert len(bytes(Quarantine.objects.get(reason="too_large").payload)) <= settings.IOT_QUARANTINE_PAYLOAD_BYTES


def test_a_mixed_message_keeps_its_good_readings(ingester):
    device = DeviceFactory()
    result = ingester.store([_msg(device.code, {"observedAt": _now(), "values": {"pm25": 12, "pm10": 99999}})])
    assert (result.stored, result.rejected) == (1, 1)
    assert Quarantine.objects.get().detail.startswith("pm10")


def test_a_flood_is_rate_limited_and_sampled(ingester, settings):
    settings.IOT_QUARANTINE_MAX_PER_MINUTE = 3
    ingester.limiter = RateLimiter(rate=1.0, burst=10)
    device = DeviceFactory()
    base = dt.datetime.now(dt.UTC)
    flood = [
        _msg(device.code, {"observedAt": (base - dt.timedelta(seconds=i)).isoformat(), "values": {"pm25": 5}}, i)
        for i in range(50)
    ]
    before = _rejected("rate_limited")
    result = ingester.store(flood)
    assert result.stored == 10
    assert _rejected("rate_limited") == before + 40
    assert Quarantine.objects.filter(reason="rate_limited").count() == 3  # sampled


def test_the_rate_limiter_refills():
    limiter = RateLimiter(rate=10.0, burst=20)
    assert limiter.take(1, 20, now=0.0)
    assert not limiter.take(1, 1, now=0.0)
    assert limiter.take(1, 10, now=1.0)
