"""Simulator of the city's IoT sensors: ``hcmgov sim iot --sensors N`` publishes, over MQTT, the
readings of N sensors placed across Ho Chi Minh City, as the real stations would — not an HTTP
simulator like the others of this package (it has no ``make_app``), a publisher.

Each sensor publishes one observation every ``--interval`` seconds to
``hcmgov/iot/<code>/readings`` (QoS 1), in the ingestion's message format
(:mod:`hcmgov.iot.validation`)::

    {"observedAt": "2026-11-28T07:30:00+07:00", "values": {"pm25": 48.2, "pm10": 71.5, ...}}

What the values do (local time, Asia/Ho_Chi_Minh):

- air quality (even-numbered sensors, ``hcm-aq-NNNN``): PM2.5 has a night floor, a morning peak
  around 07:30 and a higher evening one around 19:00 (traffic, and the shallow boundary layer of the
  evening); PM10 follows at about 1.5×, NO2 and CO with the traffic, O3 with the midday sun.
  Rain (afternoon showers, more likely from May to November, the rainy season) washes PM out: the
  values fall to about half while it rains and recover over the following hours. Humidity rises
  and temperature drops with rain.
- traffic (odd-numbered, ``hcm-tf-NNNN``): flow with rush hours 07:00–09:00 and 16:30–18:30 on
  working days, lower on weekends; speed falls as flow approaches the segment's capacity;
  occupancy follows flow/speed.

Sensors sit at random (seeded) points of the inner city and the near suburbs; each has its own
baseline so the map is not uniform. The devices are registered (``hcmgov.iot.services``) when
missing, so the ingester accepts what is published.
"""

# ruff: noqa: S311 - simulated sensor data, not secrets
from __future__ import annotations

import datetime as dt
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

VN = dt.timezone(dt.timedelta(hours=7))
# the inner districts and the near suburbs (lat, lon)
BOX = ((10.70, 10.88), (106.60, 106.82))


@dataclass(frozen=True)
class Sensor:
    code: str
    kind: str  # "air-quality" | "traffic"
    latitude: float
    longitude: float
    baseline: float  # the site's own level (1.0: the city's average)
    capacity: float  # traffic: vehicles/hour the segment carries at best


def city_sensors(n: int, *, seed: int = 1459) -> list[Sensor]:
    """``n`` sensors, alternately air quality and traffic, at seeded random points of the city."""
    rng = random.Random(seed)
    sensors = []
    for i in range(n):
        kind = "air-quality" if i % 2 == 0 else "traffic"
        prefix = "hcm-aq" if kind == "air-quality" else "hcm-tf"
        sensors.append(
            Sensor(
                code=f"{prefix}-{i:04d}",
                kind=kind,
                latitude=round(rng.uniform(*BOX[0]), 5),
                longitude=round(rng.uniform(*BOX[1]), 5),
                baseline=rng.uniform(0.7, 1.4),
                capacity=rng.choice([1200.0, 2400.0, 3600.0, 4800.0]),
            )
        )
    return sensors


class Weather:
    """Afternoon showers: more likely in the rainy season; ``washout`` is 1 when dry and falls
    towards 0.5 while it rains, recovering in a few hours."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.raining_until: dt.datetime | None = None
        self.washout = 1.0
        self.last: dt.datetime | None = None

    def at(self, when: dt.datetime) -> tuple[bool, float]:
        local = when.astimezone(VN)
        step = (when - self.last).total_seconds() if self.last else 0.0
        self.last = when
        raining = self.raining_until is not None and when < self.raining_until
        if not raining and step > 0:
            season = 0.6 if 5 <= local.month <= 11 else 0.1
            afternoon = 1.0 if 13 <= local.hour < 18 else 0.15
            # chance per hour of a shower starting, spread over the step
            if self.rng.random() < season * afternoon * 0.35 * step / 3600:
                self.raining_until = when + dt.timedelta(minutes=self.rng.uniform(20, 90))
                raining = True
        # toward 0.5 within ~20 minutes of rain, back to 1 over ~3 hours after
        target, tau = (0.5, 1200.0) if raining else (1.0, 10800.0)
        if step > 0:
            self.washout += (target - self.washout) * (1 - math.exp(-step / tau))
        return raining, self.washout


def _peak(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def air_quality(
    sensor: Sensor, when: dt.datetime, raining: bool, washout: float, rng: random.Random
) -> dict[str, float]:
    local = when.astimezone(VN)
    hour = local.hour + local.minute / 60
    traffic = 0.35 + _peak(hour, 7.5, 1.3) + 1.2 * _peak(hour, 19.0, 2.0)
    pm25 = sensor.baseline * washout * (14 + 22 * traffic) * rng.lognormvariate(0, 0.12)
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12)) if 6 <= hour <= 18 else 0.0
    return {
        "pm25": round(pm25, 1),
        "pm10": round(pm25 * rng.uniform(1.35, 1.7), 1),
        "no2": round(sensor.baseline * (18 + 40 * traffic) * rng.lognormvariate(0, 0.15), 1),
        "co": round(sensor.baseline * (700 + 1500 * traffic) * rng.lognormvariate(0, 0.15), 0),
        "o3": round((25 + 95 * sun) * (0.7 if raining else 1.0) * rng.lognormvariate(0, 0.12), 1),
        "so2": round(sensor.baseline * 12 * rng.lognormvariate(0, 0.2), 1),
        "temperature": round(26 + 6 * sun - (3 if raining else 0) + rng.gauss(0, 0.3), 1),
        "humidity": round(min(100.0, 70 - 15 * sun + (20 if raining else 0) + rng.gauss(0, 2)), 1),
    }


def traffic(sensor: Sensor, when: dt.datetime, raining: bool, rng: random.Random) -> dict[str, float]:
    local = when.astimezone(VN)
    hour = local.hour + local.minute / 60
    weekend = local.weekday() >= 5
    rush = 0.0 if weekend else _peak(hour, 8.0, 0.9) + _peak(hour, 17.5, 1.0)
    day = 0.15 + 0.55 * (_peak(hour, 13.0, 5.0)) + 0.5 * rush
    load = min(1.05, day * (0.8 if weekend else 1.0) * (1.1 if raining else 1.0) * rng.lognormvariate(0, 0.08))
    flow = sensor.capacity * load
    free = 45.0 if sensor.capacity <= 2400 else 60.0
    speed = max(4.0, free * (1 - 0.85 * load**4) * (0.85 if raining else 1.0) * rng.lognormvariate(0, 0.05))
    occupancy = min(100.0, 100 * (flow / sensor.capacity) * (free / speed) * 0.25)
    return {"flow": round(flow), "speed": round(speed, 1), "occupancy": round(occupancy, 1)}


def observation(sensor: Sensor, when: dt.datetime, weather: Weather, rng: random.Random) -> dict[str, object]:
    raining, washout = weather.at(when)
    values = (
        air_quality(sensor, when, raining, washout, rng)
        if sensor.kind == "air-quality"
        else traffic(sensor, when, raining, rng)
    )
    return {"observedAt": when.astimezone(VN).isoformat(timespec="seconds"), "values": values}


def devices_ensure(sensors: list[Sensor]) -> int:
    """Register the sensors the platform does not know yet (Django's services; the command runs in
    Django). Returns how many were made."""
    from hcmgov.iot import selectors, services

    known = selectors.devices_info(codes=[s.code for s in sensors])
    made = 0
    for sensor in sensors:
        if sensor.code in known:
            continue
        aq = sensor.kind == "air-quality"
        services.device_register(
            code=sensor.code,
            kind=sensor.kind,
            name=("Trạm quan trắc không khí " if aq else "Điểm đo giao thông ") + sensor.code,
            name_en=("Air quality station " if aq else "Traffic counter ") + sensor.code,
            latitude=sensor.latitude,
            longitude=sensor.longitude,
        )
        made += 1
    return made


def run(
    *,
    sensors: int,
    url: str,
    interval: float = 10.0,
    duration: float | None = None,
    ensure: bool = True,
    say: Callable[[str], None] = print,
) -> int:
    """Publish until interrupted (or ``duration`` seconds); returns the messages published."""
    from hcmgov.iot.ingester import connect, make_client

    fleet = city_sensors(sensors)
    if ensure:
        made = devices_ensure(fleet)
        say(f"simulator iot: {len(fleet)} sensors ({made} registered now)")
    client = make_client(f"hcmgov-sim-iot-{random.getrandbits(32):08x}", manual_ack=False)
    client.max_inflight_messages_set(1000)
    connect(client, url, persistent=False)
    client.loop_start()
    weather, rng = Weather(), random.Random(11)
    say(f"simulator iot: publishing to {url} every {interval:g} s (Ctrl-C dừng / stops)")
    sent = 0
    started = time.monotonic()
    try:
        tick = 0
        while duration is None or time.monotonic() - started < duration:
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            for sensor in fleet:
                body = json.dumps(observation(sensor, now, weather, rng))
                client.publish(f"hcmgov/iot/{sensor.code}/readings", body, qos=1)
                sent += 1
            tick += 1
            time.sleep(max(0.0, started + tick * interval - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    say(f"simulator iot: {sent} messages published")
    return sent
