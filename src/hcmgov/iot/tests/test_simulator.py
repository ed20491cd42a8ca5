"""``hcmgov sim iot``: realistic patterns, its devices registered, its messages accepted."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics

import pytest

from hcmgov.iot import selectors
from hcmgov.iot.validation import check_message, device_info
from hcmgov.simulators import iot as sim

VN = sim.VN


def _at(hour: int, minute: int = 0, day: int = 25) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=VN)  # 25 Nov 2026: a Wednesday


def _mean(fn, when, n=200):
    rng = random.Random(3)
    return statistics.mean(fn(when, rng) for _ in range(n))


def test_pm25_peaks_morning_and_evening_and_rain_washes_it_out():
    aq = sim.city_sensors(2)[0]

    def pm25(when, rng, washout=1.0, raining=False):
        return sim.air_quality(aq, when, raining, washout, rng)["pm25"]

    night, morning, noon, evening = (_mean(pm25, _at(h)) for h in (3, 7, 13, 19))
    assert morning > 1.5 * night
    assert evening > morning > noon
    assert _mean(lambda w, r: pm25(w, r, 0.5, True), _at(19)) < 0.6 * evening


def test_traffic_has_rush_hours_on_working_days():
    tf = sim.city_sensors(2)[1]

    def flow(when, rng):
        return sim.traffic(tf, when, False, rng)["flow"]

    def speed(when, rng):
        return sim.traffic(tf, when, False, rng)["speed"]

    assert _mean(flow, _at(8)) > 2 * _mean(flow, _at(2))
    assert _mean(speed, _at(17, 30)) < _mean(speed, _at(2))
    assert _mean(flow, _at(8, day=28)) < _mean(flow, _at(8))  # Saturday


def test_weather_rains_in_the_afternoon_of_the_rainy_season():
    weather = sim.Weather(seed=1)
    start = dt.datetime(2026, 9, 1, 6, tzinfo=VN)
    states = [weather.at(start + dt.timedelta(minutes=5 * i)) for i in range(12 * 24 * 10)]
    assert any(raining for raining, _ in states)
    assert min(w for _, w in states) < 0.8


@pytest.mark.django_db
def test_devices_are_registered_and_their_messages_pass_the_checks():
    fleet = sim.city_sensors(6)
    assert sim.devices_ensure(fleet) == 6
    assert sim.devices_ensure(fleet) == 0
    infos = selectors.devices_info(codes=[s.code for s in fleet])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    weather, rng = sim.Weather(), random.Random(1)
    for sensor in fleet:
        body = json.dumps(sim.observation(sensor, now, weather, rng)).encode()
        checked = check_message(
            body,
            device=infos[sensor.code],
            device_code=sensor.code,
            received_at=now,
            oldest=now - dt.timedelta(days=1),
            max_future=dt.timedelta(minutes=5),
            max_bytes=65536,
            max_observations=10,
            limiter=None,
        )
        assert checked.rejections == []
        assert len(checked.rows) == (8 if sensor.kind == "air-quality" else 3)
    assert device_info  # the checks the ingester uses
