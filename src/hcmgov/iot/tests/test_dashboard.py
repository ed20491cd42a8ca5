"""The IoT dashboard's pages against hand-built readings stored through the real write path: the
colours and values each page shows, computed by hand (VN_AQI of Decision 1459/QĐ-TCMT, Table 2;
congestion levels of ``iot.traffic``), and the queries each read costs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from hcmgov.iot import dashboard, storage
from hcmgov.iot.models import DeviceKind
from hcmgov.iot.tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 28, 3, 20, tzinfo=UTC)  # 10:20 in Ho Chi Minh City
ORANGE, GREEN, GREY = "#ff7e00", "#00e400", "#9e9e9e"  # VN_AQI levels 3 and 1 (aqi.LEVELS); no data
JAMMED, FREE = "#800000", "#00aa00"  # traffic.STYLES


def _at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 28, hour, minute, tzinfo=UTC)


def _store(device, readings):
    received = NOW
    storage.readings_write([(device.id, attr, when, float(value), received) for attr, when, value in readings])


@pytest.fixture
def city():
    """Two stations and a stale one in ward 26734, two traffic detectors in ward 26740.

    Station A — PM2.5: 60 (01:xx), 60 (02:xx), 50 and 70 (03:xx) → hourly means 60, 60, 60; NowCast
    60 (w = 1); AQI(PM2.5) = 50/30 × (60 − 50) + 100 = 116.7 → 117, level 3 (Kém, orange).
    PM10 100 → 50/100 × (100 − 50) + 50 = 75. AQI = max = 117, PM2.5 dominant.
    Station B — PM2.5 means 10, 10 (8 and 12), 10 → NowCast 10 → 50/25 × 10 = 20, level 1 (Tốt, green).
    Station C — last reading five hours ago: no current value (grey).
    T1 — 03:15 bucket: speed 10 km/h, flow 1200 veh/h; free flow 40 (the setting): ratio 0.25 →
    LOS F → jammed. T2 — speed 45 km/h, free flow 60 (its attributes): 0.75 → LOS B → free flow.
    """
    a = DeviceFactory(code="aq-a", name="Trạm A", ward_code="26734", latitude=10.78, longitude=106.70)
    b = DeviceFactory(code="aq-b", name="Trạm B", ward_code="26734", latitude=10.80, longitude=106.66)
    c = DeviceFactory(code="aq-c", name="Trạm C", ward_code="26734", latitude=10.75, longitude=106.68)
    t1 = DeviceFactory(code="tf-1", kind=DeviceKind.TRAFFIC, ward_code="26740", latitude=10.77, longitude=106.69)
    attributes = {**dashboard_attributes(), "speed": {"unit": "km/h", "min": 0, "max": 200, "free_flow": 60}}
    t2 = DeviceFactory(
        code="tf-2", kind=DeviceKind.TRAFFIC, ward_code="26740", latitude=10.79, longitude=106.72, attributes=attributes
    )
    _store(a, [("pm25", _at(1, 10), 60), ("pm25", _at(2, 10), 60), ("pm25", _at(3, 5), 50), ("pm25", _at(3, 15), 70)])
    _store(a, [("pm10", _at(1, 10), 100), ("pm10", _at(2, 10), 100), ("pm10", _at(3, 5), 100)])
    _store(b, [("pm25", _at(1, 10), 10), ("pm25", _at(2, 5), 8), ("pm25", _at(2, 35), 12), ("pm25", _at(3, 10), 10)])
    _store(c, [("pm25", NOW - dt.timedelta(hours=5), 300)])
    _store(t1, [("speed", _at(3, 16), 10), ("flow", _at(3, 16), 1200)])
    _store(t2, [("speed", _at(3, 17), 45), ("flow", _at(3, 17), 900)])
    return {"a": a, "b": b, "c": c, "t1": t1, "t2": t2}


def dashboard_attributes():
    from hcmgov.iot.services import default_attributes

    return default_attributes(DeviceKind.TRAFFIC)


def _row(html: str, code: str) -> str:
    match = re.search(rf'<tr data-device="{code}" data-shade="[^"]*">.*?</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def test_current_states_computed_by_hand(city, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(3):
        states = {s.device.code: s for s in dashboard.sensors_state(now=NOW)}
    a, b, c = states["aq-a"], states["aq-b"], states["aq-c"]
    assert (a.value, a.shade.hex, a.aqi.dominant, a.aqi_at) == (117, ORANGE, ("pm25",), _at(4, 0))
    assert a.aqi.sub_indices["pm10"].value == 75
    assert (b.value, b.shade.hex) == (20, GREEN)
    assert (c.value, c.shade.key) == (None, "none")
    assert (states["tf-1"].traffic.los, states["tf-1"].shade.hex) == ("F", JAMMED)
    assert (states["tf-2"].traffic.los, states["tf-2"].shade.hex) == ("B", FREE)


def test_map_colours_each_sensor_and_lists_it(city, client):
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("iot:map")).content.decode()
    # the SVG's markers, linked to the sensor pages
    for code, colour in {"aq-a": ORANGE, "aq-b": GREEN, "aq-c": GREY, "tf-1": JAMMED, "tf-2": FREE}.items():
        marker = re.search(rf'<a href="/iot/cam-bien/{code}/" data-device="{code}">.*?</a>', html, re.S)
        assert marker, code
        assert f'fill="{colour}"' in marker.group(0), code
    assert '<circle class="iot-marker"' in html
    assert '<rect class="iot-marker"' in html
    # the table: the same sensors, level named, AQI shown
    row = _row(html, "aq-a")
    assert 'data-shade="aqi-3"' in row
    assert "Kém" in row
    assert '<td class="iot-aqi">117</td>' in row
    assert "PM25 60,0 µg/m³" in row or "PM25 60.0 µg/m³" in row
    assert "Tốt" in _row(html, "aq-b")
    assert '<td class="iot-aqi">20</td>' in _row(html, "aq-b")
    assert "Chưa có số liệu gần đây" in _row(html, "aq-c")
    assert "Kẹt xe nghiêm trọng" in _row(html, "tf-1")
    assert "LOS F" in _row(html, "tf-1")
    assert "Thông thoáng" in _row(html, "tf-2")
    # the legend carries the six official colours
    for colour in ("#00e400", "#ffff00", "#ff7e00", "#ff0000", "#8f3f97", "#7e0023"):
        assert f"background: {colour}" in html


def test_map_filters_by_kind_and_shows_the_whole_city(city, client):
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("iot:map"), {"loai": "giao-thong", "vung": "thanh-pho"}).content.decode()
    assert 'data-device="tf-1"' in html
    assert 'data-device="aq-a"' not in html
    assert 'data-legend="air"' not in html
    assert 'data-legend="traffic"' in html
    assert "106.350–107.650°E" in html


def test_sensor_page_shows_latest_values_and_24_hours(city, client):
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("iot:sensor", args=["aq-a"]))
    html = response.content.decode()
    assert 'data-shade="aqi-3"' in html
    assert '<strong class="iot-aqi">117</strong>' in html
    latest = re.search(r'<tr data-attribute="pm25"><th scope="row">pm25</th><td class="iot-value">([^<]*)</td>', html)
    assert latest
    assert latest.group(1) == "70"
    table = re.search(r'<table id="chart-pm25-table".*?</table>', html, re.S).group(0)
    # the hours 08:00, 09:00, 10:00 ICT: means 60, 60, 60; the last from 50 and 70 (two readings)
    assert table.count("<tr><td>") == 3
    assert "<td>50</td><td>70</td><td>2</td>" in table
    assert 'aria-labelledby="chart-pm25-title chart-pm25-desc"' in html
    # hourly AQI over the hours: the first hour has only one PM hour (NowCast needs 2 of 3)
    aqi = re.search(r'<table id="chart-aqi-table".*?</table>', html, re.S).group(0)
    assert aqi.count("<tr><td>") == 2
    assert "<td>117</td>" in aqi
    # the AQI bars in their levels' colours
    assert 'class="bar" x=' in html
    assert 'style="fill: #ff7e00"' in html


def test_sensor_page_of_a_traffic_detector(city, client):
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("iot:sensor", args=["tf-2"])).content.decode()
    assert 'data-shade="traffic-free_flow"' in html
    assert "LOS B" in html
    assert "tốc độ / tốc độ tự do 0,75" in html  # 45 / 60


def test_unknown_sensor_is_404(client):
    assert client.get(reverse("iot:sensor", args=["no-such"])).status_code == 404


def test_areas_aggregate_by_ward(city, client, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(4):
        areas = {a.ward_code: a for a in dashboard.areas_summary(now=NOW)}
    air, road = areas["26734"], areas["26740"]
    # AQI now: (117 + 20) / 2 = 68.5 → 69 (half up); the worst is A (orange). C has none.
    assert (air.air, air.aqi_mean, air.aqi_max, air.shade.hex, air.worst.device.code) == (3, 69, 117, ORANGE, "aq-a")
    # PM2.5 over 24 h, weighted by readings: A 60+60+50+70, B 10+8+12+10; C's 300 five hours ago
    # too: (240 + 40 + 300) / 9
    assert air.pm25_24h == pytest.approx(580 / 9)
    assert (road.road, road.congested, road.graded, road.speed_24h) == (2, 1, 2, pytest.approx(27.5))
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("iot:areas")).content.decode()
    row = re.search(r'<tr data-ward="26734" data-shade="aqi-3">.*?</tr>', html, re.S).group(0)
    assert '<td class="iot-aqi-mean">69</td>' in row
    assert "117" in row
    assert "Kém" in row
    assert "1 / 2" in re.search(r'<tr data-ward="26740".*?</tr>', html, re.S).group(0)


def test_pages_in_english(city, client):
    client.cookies["django_language"] = "en"  # Vietnamese first whatever the browser says; English on request
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("iot:map")).content.decode()
    assert "Poor" in _row(html, "aq-a")
    assert "Jammed" in _row(html, "tf-1")
