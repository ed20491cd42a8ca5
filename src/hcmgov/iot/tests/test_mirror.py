"""Devices and their latest observations mirrored to the NGSI-LD broker: a reading batch becomes,
once its 5-minute interval closed, an AirQualityObserved or TrafficFlowObserved with the right
attributes (validated against the Smart Data Models' schemas), NGSI-LD subscriptions fire on it,
and a second run writes nothing."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from hcmgov.core.services import outbox_deliver
from hcmgov.exchange.tests.subscriber_support import Subscriber
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.iot import mirror, services, storage
from hcmgov.iot.tests.factories import PASSWORD, DeviceFactory
from hcmgov.ngsi import notify

pytestmark = pytest.mark.django_db

UTC = dt.UTC
DATA = Path(__file__).resolve().parent / "data"
T = dt.datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City
M = dt.timedelta(minutes=1)
AFTER = T + 5 * M + dt.timedelta(seconds=61)  # the interval 03:00–03:05 is closed (grace 60 s)


def _write(device, values):
    received = dt.datetime.now(UTC)
    storage.readings_write([(device.pk, attr, when, value, received) for attr, when, value in values])


def _validator(model: str) -> Draft202012Validator:
    common = json.loads((DATA / "common-schema.json").read_text(encoding="utf-8"))
    # not in the reference data (see data/SOURCE.md): the level is a string
    environment = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                   "definitions": {"airQualityLevel": {"type": "string"}}}  # fmt: skip
    registry = Registry().with_resources(
        [
            (common["$id"], Resource.from_contents(common)),
            (
                "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/Environment-schema.json",
                Resource.from_contents(environment),
            ),
        ]
    )
    schema = json.loads((DATA / model / "schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=registry)


class Broker:
    """/ngsi-ld/v1 over HTTP with an official's bearer token (what a client of the broker sees)."""

    def __init__(self) -> None:
        token = api_token_issue(user=UserFactory(official=True), name="iot").raw
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def get(self, path: str, **params: str) -> Any:
        response = self.client.get("/ngsi-ld/v1" + path, params)
        assert response.status_code == 200, response.content
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        return self.client.post("/ngsi-ld/v1" + path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def broker() -> Broker:
    return Broker()


def test_a_registered_device_becomes_a_device_entity_and_follows_its_changes(broker):
    device, _ = services.device_register(
        code="hcm-aq-q1-001", kind="air-quality", name="Trạm Quận 1", name_en="District 1 station",
        latitude=10.7769, longitude=106.7009, ward_code="26734", calibrated_on=dt.date(2026, 11, 1),
    )  # fmt: skip
    assert mirror.devices_sync(now=AFTER) == 1
    got = broker.get(f"/entities/{device.entity_id}", options="keyValues")
    assert got["type"] == "Device"
    assert got["name"] == "Trạm Quận 1"
    assert got["controlledProperty"] == ["airPollution", "humidity", "temperature"]
    assert got["deviceState"] == "active"
    assert got["dateLastCalibration"] == "2026-11-01"
    assert got["location"] == {"type": "Point", "coordinates": [106.7009, 10.7769]}
    assert mirror.devices_sync(now=AFTER) == 0  # nothing changed since
    services.device_status_set(device=device, status="maintenance")
    assert mirror.devices_sync(now=AFTER) == 1
    assert broker.get(f"/entities/{device.entity_id}", options="keyValues")["deviceState"] == "maintenance"


def test_a_reading_batch_becomes_an_air_quality_observed_once_its_interval_closed(broker):
    station = DeviceFactory(code="hcm-aq-0100")
    _write(station, [
        # the two hours before: PM2.5 40 and PM10 50 each → NowCast 40 and 50 at 10:00
        ("pm25", T - 90 * M, 40.0), ("pm10", T - 90 * M, 50.0),
        ("pm25", T - 30 * M, 40.0), ("pm10", T - 30 * M, 50.0),
        # the interval 10:00–10:05
        ("pm25", T + M, 30.0), ("pm25", T + 3 * M, 40.0), ("pm10", T + 2 * M, 52.5),
        ("no2", T + 2 * M, 41.0), ("humidity", T + 2 * M, 60.0), ("temperature", T + 2 * M, 31.5),
    ])  # fmt: skip
    assert mirror.observations_sync(now=AFTER - 2 * M) == 0  # not closed yet: the interval before, empty
    assert mirror.observations_sync(now=AFTER) == 1
    entity_id = "urn:ngsi-ld:AirQualityObserved:hcm-aq-0100"
    got = broker.get(f"/entities/{entity_id}")
    assert got["type"] == "AirQualityObserved"
    assert got["pm25"] == {"type": "Property", "value": 35.0, "unitCode": "GQ", "observedAt": "2026-11-28T03:05:00Z"}
    assert got["pm10"]["value"] == 52.5
    assert got["no2"]["value"] == 41.0
    assert got["relativeHumidity"]["value"] == 0.6
    assert got["temperature"]["unitCode"] == "CEL"
    # the hourly VN_AQI of the hour ending 10:00: PM2.5 NowCast 40 → 50 + 50/25·(40 − 25) = 80 (level 2)
    assert got["airQualityIndex"] == {"type": "Property", "value": 80, "observedAt": "2026-11-28T03:00:00Z"}
    assert got["airQualityLevel"]["value"] == "moderate"
    assert got["refDevice"] == {"type": "Relationship", "object": station.entity_id}
    key_values = broker.get(f"/entities/{entity_id}", options="keyValues")
    assert list(_validator("AirQualityObserved").iter_errors(key_values)) == []
    # a retry, or the next run within the same interval, writes nothing
    assert mirror.observations_sync(now=AFTER) == 0
    assert mirror.observations_sync(now=AFTER + 3 * M) == 0


def test_a_traffic_batch_becomes_a_traffic_flow_observed_with_its_congestion(broker):
    segment = DeviceFactory(traffic=True, code="hcm-tf-0100")
    # free flow 40 km/h (the default): 10 km/h is a ratio of 0.25 → LOS F, jammed (HCM 2010)
    _write(segment, [("flow", T + M, 1100.0), ("flow", T + 3 * M, 1300.0),
                     ("speed", T + M, 10.0), ("occupancy", T + M, 30.0)])  # fmt: skip
    assert mirror.observations_sync(now=AFTER) == 1
    got = broker.get("/entities/urn:ngsi-ld:TrafficFlowObserved:hcm-tf-0100", options="keyValues")
    assert got["intensity"] == 100.0  # 1200 veh/h over 5 minutes
    assert got["averageVehicleSpeed"] == 10.0
    assert got["occupancy"] == 0.3
    assert got["congested"] is True
    assert (got["congestionLevel"], got["levelOfService"]) == ("jammed", "F")
    assert got["dateObservedFrom"] == "2026-11-28T03:00:00Z"
    assert got["dateObservedTo"] == "2026-11-28T03:05:00Z"
    assert list(_validator("TrafficFlowObserved").iter_errors(got)) == []


def test_subscriptions_fire_on_the_mirrored_entity(broker, settings):
    settings.NGSI_LD_NOTIFY_ALLOWED = ["127.0.0.0/8"]
    hook = Subscriber(path="/notify", status=204)
    try:
        subscription = {
            "id": "urn:ngsi-ld:Subscription:aqi-moderate",
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved"}],
            "watchedAttributes": ["airQualityIndex"],
            "q": "airQualityIndex>50",
            "notification": {
                "attributes": ["airQualityIndex", "airQualityLevel"],
                "format": "keyValues",
                "endpoint": {"uri": hook.url, "accept": "application/json"},
            },
        }
        assert broker.post("/subscriptions", subscription).status_code == 201
        clean, dirty = DeviceFactory(code="hcm-aq-0101"), DeviceFactory(code="hcm-aq-0102")
        for device, pm25 in ((clean, 10.0), (dirty, 40.0)):
            _write(device, [("pm25", T - 90 * M, pm25), ("pm25", T - 30 * M, pm25), ("pm25", T + M, pm25)])
        assert mirror.observations_sync(now=AFTER) == 2
        assert hook.events == []  # nothing is sent from the transaction
        outbox_deliver()
        assert notify.deliveries_send() == 1
        [note] = hook.events
        assert note["subscriptionId"] == "urn:ngsi-ld:Subscription:aqi-moderate"
        # the clean station's index is 10 / 25 · 50 = 20: q does not match it
        assert note["data"] == [
            {"id": "urn:ngsi-ld:AirQualityObserved:hcm-aq-0102", "type": "AirQualityObserved",
             "airQualityIndex": 80, "airQualityLevel": "moderate"}
        ]  # fmt: skip
    finally:
        hook.stop()


def test_a_batch_sent_over_http_reaches_the_broker(broker, client):
    station = DeviceFactory(code="hcm-aq-0103")
    start = storage.bucket_start(dt.datetime.now(UTC) - 10 * M, 300)
    body = {
        "device": station.code,
        "readings": [
            {"observedAt": (start + M).isoformat(), "values": {"pm25": 20.0, "pm10": 41.0}},
            {"observedAt": (start + 2 * M).isoformat(), "values": {"pm25": 30.0}, "units": {"pm25": "µg/m³"}},
        ],
    }
    auth = base64.b64encode(f"{station.code}:{PASSWORD}".encode()).decode()
    response = client.post(
        "/iot/v1/readings", data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Basic {auth}"
    )
    assert response.status_code == 200, response.content
    assert mirror.observations_sync(now=start + 5 * M + dt.timedelta(seconds=61)) == 1
    got = broker.get("/entities/urn:ngsi-ld:AirQualityObserved:hcm-aq-0103", options="keyValues")
    assert (got["pm25"], got["pm10"]) == (25.0, 41.0)
    assert got["dateObserved"] == mirror.iso(start + 5 * M)
