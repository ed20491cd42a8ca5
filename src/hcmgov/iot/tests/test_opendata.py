"""The daily aggregates published as open data: after a day of readings the datasets' DataStore
tables hold the day's rows, with values computed by hand; a second night changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from hcmgov.iot import opendata, storage, tasks
from hcmgov.iot.models import AirQualityDay
from hcmgov.iot.tests.factories import DeviceFactory
from hcmgov.opendata.models import Dataset, Resource

pytestmark = pytest.mark.django_db

ICT = dt.timezone(dt.timedelta(hours=7))
DAY = dt.date(2026, 11, 27)
START = dt.datetime(2026, 11, 27, tzinfo=ICT)  # 26 Nov 17:00 UTC
M = dt.timedelta(minutes=1)
NIGHT = dt.datetime(2026, 11, 28, 1, 30, tzinfo=ICT)


def _write(device, values):
    received = dt.datetime.now(dt.UTC)
    storage.readings_write([(device.pk, attr, when, value, received) for attr, when, value in values])


def _records(client, name: str) -> list[dict]:
    dataset = Dataset.objects.get(name=name)
    resource = Resource.objects.get(dataset=dataset)
    response = client.get("/api/3/action/datastore_search", {"resource_id": str(resource.pk), "sort": "station_code"})
    assert response.status_code == 200, response.content
    return response.json()["result"]["records"]


@pytest.fixture
def day_of_readings():
    station = DeviceFactory(code="hcm-aq-0300", name="Trạm Quận 3", ward_code="27139")
    # one reading at half past each hour: PM2.5 30 µg/m³ until noon, 60 after; PM10 100 all day
    hours = [START + n * 60 * M + 30 * M for n in range(24)]
    _write(station, [("pm25", t, 30.0 if n < 12 else 60.0) for n, t in enumerate(hours)]
           + [("pm10", t, 100.0) for t in hours])  # fmt: skip
    segment = DeviceFactory(traffic=True, code="hcm-tf-0300")
    # every 5 minutes: 1,200 veh/h, occupancy 10 %, 36 km/h but 10 km/h from 08:00 to 09:00 (12 intervals)
    slots = [START + n * 5 * M + M for n in range(288)]
    _write(segment, [("flow", t, 1200.0) for t in slots] + [("occupancy", t, 10.0) for t in slots]
           + [("speed", t, 10.0 if 96 <= n < 108 else 36.0) for n, t in enumerate(slots)]
           + [("speed", START + 24 * 60 * M + M, 5.0)])  # fmt: skip  # the next day: not counted
    return station, segment


def test_a_day_of_readings_is_published_with_the_values_computed_by_hand(client, day_of_readings):
    report = opendata.opendata_daily(now=NIGHT)
    assert report["station_days"] == 1  # the day before had no reading
    assert report["segment_days"] == 1
    assert report["published"] == {opendata.AIR_QUALITY.name: 1, opendata.TRAFFIC.name: 1}

    [air] = _records(client, opendata.AIR_QUALITY.name)
    assert air["day"].startswith("2026-11-27")
    assert (air["station_code"], air["station_name"], air["ward_code"]) == ("hcm-aq-0300", "Trạm Quận 3", "27139")
    # PM2.5 24-hour mean (12·30 + 12·60)/24 = 45 → 50 + 50/25·(45 − 25) = 90; PM10 100 → 50 + 50/100·50 = 75
    assert float(air["pm25_24h"]) == 45.0
    assert float(air["pm10_24h"]) == 100.0
    assert (air["aqi"], air["level"], air["dominant"]) == (90, 2, "pm25")
    assert air["level_name"] == "Trung bình / Moderate"
    # the last hour's NowCast is 60 (12 hours of 60) → 100 + 50/30·(60 − 50) = 116.7 → 117, the day's highest
    assert air["hourly_aqi_max"] == 117
    assert air["hours"] == 24
    assert air["no2_1h_max"] is None

    [road] = _records(client, opendata.TRAFFIC.name)
    assert road["station_code"] == "hcm-tf-0300"
    assert road["vehicles"] == 28800  # 1,200 veh/h · 24 h
    assert float(road["flow_mean"]) == 1200.0
    assert float(road["speed_mean"]) == 34.92  # (12·10 + 276·36) / 288 = 34.9166…
    assert float(road["occupancy_mean"]) == 10.0
    # 10 / 40 km/h free flow = 0.25 ≤ 0.30 → LOS F (HCM 2010), jammed
    assert (road["intervals"], road["congested_intervals"], road["worst_level"]) == (288, 12, "jammed")

    dataset = Dataset.objects.get(name=opendata.AIR_QUALITY.name)
    shown = client.get("/api/3/action/package_show", {"id": dataset.name}).json()["result"]
    assert shown["resources"][0]["datastore_active"] is True

    # the next night (same day recomputed): the same rows, the same resource
    opendata.opendata_daily(now=NIGHT + dt.timedelta(minutes=5))
    assert AirQualityDay.objects.count() == 1
    assert [r["aqi"] for r in _records(client, opendata.AIR_QUALITY.name)] == [90]
    assert Resource.objects.filter(dataset=dataset).count() == 1


def test_the_last_closed_day_is_the_city_s_day():
    assert opendata.last_closed_day(now=dt.datetime(2026, 11, 27, 17, 0, 30, tzinfo=dt.UTC)) == dt.date(2026, 11, 26)
    assert opendata.last_closed_day(now=dt.datetime(2026, 11, 27, 17, 1, 1, tzinfo=dt.UTC)) == DAY


def test_the_nightly_task_publishes(day_of_readings, settings):
    assert settings.CELERY_BEAT_SCHEDULE["iot-opendata"]["task"] == tasks.opendata_daily.name
    with time_machine.travel(NIGHT, tick=False):
        report = tasks.opendata_daily()
    assert report["published"] == {opendata.AIR_QUALITY.name: 1, opendata.TRAFFIC.name: 1}
