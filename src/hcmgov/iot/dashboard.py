"""Reads of the IoT dashboard pages (``views_dashboard``): each sensor's current state — VN_AQI
for an air-quality station, the congestion level for a traffic detector — its last 24 hours, and
the aggregates per area. Everything comes from the rollups (never the raw readings), in a fixed
number of queries whatever the number of sensors.

- *Air quality*: the hourly VN_AQI of Decision 1459/QĐ-TCMT (§2.2.1, :func:`hcmgov.iot.aqi.hourly_aqi`)
  from the hourly rollups' means, for the latest hour the station measured PM2.5 or PM10 in — the
  hour in progress counts with its mean so far, as a live map should. Older than
  ``IOT_DASHBOARD_STALE_MINUTES``: no current value (grey), never an old colour shown as today's.
- *Traffic*: :func:`hcmgov.iot.traffic.traffic_state` of the latest 5-minute rollup (flow, speed,
  occupancy means); the segment's free-flow speed is the device's ``attributes["speed"]["free_flow"]``
  or ``IOT_TRAFFIC_FREE_FLOW_KMH``.
- *Areas*: wards (phường, xã, đặc khu). Since 1 July 2025 the city has two levels of local
  government (Resolution 202/2025/QH15, Law on Local Government 2025): no more districts, so the
  ward is the area; a device's ``ward_code`` is the statistics office's code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from hcmgov.iot import aqi, traffic
from hcmgov.iot.models import Device, DeviceKind, DeviceStatus, Rollup

HOUR = dt.timedelta(hours=1)
ICT = aqi.ICT
POLLUTANTS = tuple(p.value for p in aqi.Pollutant)
TRAFFIC_ATTRIBUTES = ("flow", "speed", "occupancy")
TRAFFIC_WINDOW = dt.timedelta(minutes=30)  # the latest 5-minute bucket is looked for this far back


@dataclass(frozen=True)
class Shade:
    """How a sensor is drawn: the colour of its level and the level's name (the legend's line)."""

    key: str
    label_vi: str
    label_en: str
    hex: str


NO_DATA = Shade("none", "Chưa có số liệu gần đây", "No recent data", "#9e9e9e")
AQI_SHADES = tuple(Shade(f"aqi-{lv.number}", lv.name_vi, lv.name_en, lv.hex) for lv in aqi.LEVELS)
TRAFFIC_SHADES = tuple(
    Shade(f"traffic-{s.level.value}", s.label_vi, s.label_en, s.hex) for s in traffic.STYLES.values()
)


def aqi_shade(level: aqi.Level) -> Shade:
    return AQI_SHADES[level.number - 1]


def traffic_shade(level: traffic.CongestionLevel) -> Shade:
    return next(s for s in TRAFFIC_SHADES if s.key == f"traffic-{level.value}")


@dataclass
class SensorState:
    """One sensor as the map and its table show it."""

    device: Device
    shade: Shade = NO_DATA
    aqi: aqi.AqiResult | None = None
    aqi_at: dt.datetime | None = None  # the end of the hour the AQI is for
    traffic: traffic.TrafficState | None = None
    traffic_at: dt.datetime | None = None  # the start of the 5-minute bucket
    means: dict[str, float] = field(default_factory=dict)  # what the state was computed from

    @property
    def is_air(self) -> bool:
        return self.device.kind == DeviceKind.AIR_QUALITY

    @property
    def value(self) -> int | None:
        """The AQI, or None (traffic sensors are graded by level, not by a number)."""
        return self.aqi.value if self.aqi is not None else None

    @property
    def at(self) -> dt.datetime | None:
        return self.aqi_at if self.is_air else self.traffic_at


def free_flow_kmh(device: Device) -> float:
    speed = device.attributes.get("speed") if isinstance(device.attributes, dict) else None
    value = speed.get("free_flow") if isinstance(speed, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return float(settings.IOT_TRAFFIC_FREE_FLOW_KMH)


def hour_floor(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _stale(now: dt.datetime) -> dt.timedelta:
    return dt.timedelta(minutes=settings.IOT_DASHBOARD_STALE_MINUTES)


def air_state(state: SensorState, hourly: dict[str, dict[dt.datetime, float]], *, now: dt.datetime) -> SensorState:
    """Fill ``state`` with the hourly AQI of the latest hour with PM in ``hourly`` (attribute →
    {hour end: mean})."""
    pm_hours = [at for p in ("pm25", "pm10") for at in hourly.get(p, {})]
    if not pm_hours:
        return state
    at = max(pm_hours)
    if at <= now - _stale(now):  # that hour ended too long ago to be "now"
        return state
    result = aqi.hourly_aqi(at=at, series={aqi.Pollutant(p): hourly[p] for p in POLLUTANTS if p in hourly})
    state.aqi, state.aqi_at = result, at
    state.means = {p: hourly[p][at] for p in POLLUTANTS if at in hourly.get(p, {})}
    if result.level is not None:
        state.shade = aqi_shade(result.level)
    return state


def traffic_fill(state: SensorState, means: dict[str, float], at: dt.datetime, *, now: dt.datetime) -> SensorState:
    if at < now - _stale(now):
        return state
    result = traffic.traffic_state(
        free_flow_speed_kmh=free_flow_kmh(state.device),
        flow_veh_h=means.get("flow"),
        speed_kmh=means.get("speed"),
        occupancy_pct=means.get("occupancy"),
    )
    state.traffic, state.traffic_at, state.means = result, at, means
    if result.level is not None:
        state.shade = traffic_shade(result.level)
    return state


def _hourly_means(rollups: Iterable[tuple[int, str, dt.datetime, float, int]]) -> dict[int, dict[str, dict]]:
    """(device, attribute, bucket, total, count) → device → attribute → {hour end: mean}."""
    out: dict[int, dict[str, dict[dt.datetime, float]]] = defaultdict(lambda: defaultdict(dict))
    for device_id, attribute, bucket, total, count in rollups:
        if count:
            out[device_id][attribute][bucket + HOUR] = total / count
    return out


def sensors_state(*, now: dt.datetime, kind: str | None = None, ward_code: str | None = None) -> list[SensorState]:
    """Every sensor in service or in maintenance (retired ones are not on the map) with its current
    state. Three queries: the devices, 13 hours of hourly rollups of the pollutants (NowCast reads
    12), the last half hour of 5-minute rollups of the traffic attributes."""
    query = Device.objects.exclude(status=DeviceStatus.RETIRED).order_by("code")
    if kind:
        query = query.filter(kind=kind)
    if ward_code is not None:
        query = query.filter(ward_code=ward_code)
    devices = list(query)
    states = {d.id: SensorState(device=d) for d in devices}
    air = [d.id for d in devices if d.kind == DeviceKind.AIR_QUALITY]
    road = [d.id for d in devices if d.kind == DeviceKind.TRAFFIC]
    if air:
        since = hour_floor(now) - 12 * HOUR - _stale(now)
        rows = Rollup.objects.filter(
            period=3600, bucket__gte=since, bucket__lte=now, attribute__in=POLLUTANTS, device_id__in=air
        ).values_list("device_id", "attribute", "bucket", "total", "count")
        for device_id, hourly in _hourly_means(rows).items():
            air_state(states[device_id], hourly, now=now)
    for device_id, (bucket, means) in _traffic_latest(road, now=now).items():
        traffic_fill(states[device_id], means, bucket, now=now)
    return list(states.values())


def _traffic_latest(device_ids: list[int], *, now: dt.datetime) -> dict[int, tuple[dt.datetime, dict[str, float]]]:
    """Each traffic detector's latest 5-minute bucket in the last half hour: (start, attribute → mean)."""
    if not device_ids:
        return {}
    rows = Rollup.objects.filter(
        period=300,
        bucket__gte=now - TRAFFIC_WINDOW,
        bucket__lte=now,
        attribute__in=TRAFFIC_ATTRIBUTES,
        device_id__in=device_ids,
    ).values_list("device_id", "attribute", "bucket", "total", "count")
    latest: dict[int, tuple[dt.datetime, dict[str, float]]] = {}
    for device_id, attribute, bucket, total, count in rows:
        if not count:
            continue
        seen = latest.get(device_id)
        if seen is None or bucket > seen[0]:
            latest[device_id] = (bucket, {attribute: total / count})
        elif bucket == seen[0]:
            seen[1][attribute] = total / count
    return latest


# --- one sensor -------------------------------------------------------------------------------------


@dataclass
class Series:
    """One attribute's last 24 hours, hour by hour (hour start, ICT label, mean, min, max, count)."""

    attribute: str
    unit: str
    hours: list[tuple[dt.datetime, str, float, float, float, int]]


@dataclass
class Latest:
    attribute: str
    unit: str
    value: float
    at: dt.datetime


@dataclass
class SensorDetail:
    state: SensorState
    latest: list[Latest]
    series: list[Series]
    aqi_hours: list[tuple[dt.datetime, str, aqi.AqiResult]]  # (hour end, ICT label, AQI), air quality only


def sensor_detail(*, device: Device, now: dt.datetime) -> SensorDetail:
    """A sensor's page: its current state, its latest value of each attribute, the last 24 hourly
    means of each (and, for air quality, the hourly AQI of each of those hours). Two queries of
    rollups (36 hours of hourly ones: the first of the 24 hours' NowCast reads 12 back; the latest
    5-minute bucket of a traffic detector)."""
    start = hour_floor(now) - 23 * HOUR
    rows = list(
        Rollup.objects.filter(device=device, period=3600, bucket__gte=start - 12 * HOUR, bucket__lte=now)
        .order_by("attribute", "bucket")
        .values_list("attribute", "bucket", "total", "count", "minimum", "maximum", "last_value", "last_at")
    )
    units = {a: str(spec.get("unit", "")) for a, spec in device.attributes.items() if isinstance(spec, dict)}
    hourly: dict[str, dict[dt.datetime, float]] = defaultdict(dict)
    series: dict[str, Series] = {}
    latest: dict[str, Latest] = {}
    for attribute, bucket, total, count, minimum, maximum, last_value, last_at in rows:
        if not count:
            continue
        hourly[attribute][bucket + HOUR] = total / count
        if bucket < start:
            continue
        label = bucket.astimezone(ICT).strftime("%H:%M")
        series.setdefault(attribute, Series(attribute, units.get(attribute, ""), [])).hours.append(
            (bucket, label, total / count, minimum, maximum, count)
        )
        if attribute not in latest or last_at > latest[attribute].at:
            latest[attribute] = Latest(attribute, units.get(attribute, ""), last_value, last_at)
    state = SensorState(device=device)
    aqi_hours: list[tuple[dt.datetime, str, aqi.AqiResult]] = []
    if device.kind == DeviceKind.AIR_QUALITY:
        air_state(state, hourly, now=now)
        pollutants = {aqi.Pollutant(p): hourly[p] for p in POLLUTANTS if p in hourly}
        if pollutants:
            for k in range(24):
                at = start + (k + 1) * HOUR
                result = aqi.hourly_aqi(at=at, series=pollutants)
                if result.ok:
                    aqi_hours.append((at, at.astimezone(ICT).strftime("%H:%M"), result))
    else:
        for bucket, means in _traffic_latest([device.pk], now=now).values():
            traffic_fill(state, means, bucket, now=now)
    order = list(device.attributes)
    ranked = sorted(series.values(), key=lambda s: order.index(s.attribute) if s.attribute in order else 99)
    latest_ranked = sorted(latest.values(), key=lambda v: order.index(v.attribute) if v.attribute in order else 99)
    return SensorDetail(state=state, latest=latest_ranked, series=ranked, aqi_hours=aqi_hours)


# --- areas ------------------------------------------------------------------------------------------


@dataclass
class Area:
    """One ward's sensors, now and over the last 24 hours."""

    ward_code: str
    air: int = 0
    road: int = 0
    aqi_values: list[int] = field(default_factory=list)
    worst: SensorState | None = None  # the air station with the highest AQI now
    congested: int = 0  # traffic detectors congested or jammed now
    graded: int = 0  # traffic detectors with a level now
    pm25_24h: float | None = None  # mean of the hourly means' readings over 24 h
    speed_24h: float | None = None

    @property
    def aqi_mean(self) -> int | None:
        # half up, as the decision rounds an AQI (§2.2.1.c), not Python's half to even
        return aqi.round_aqi(Decimal(sum(self.aqi_values)) / len(self.aqi_values)) if self.aqi_values else None

    @property
    def aqi_max(self) -> int | None:
        return max(self.aqi_values) if self.aqi_values else None

    @property
    def shade(self) -> Shade:
        level = self.worst.aqi.level if self.worst is not None and self.worst.aqi is not None else None
        return aqi_shade(level) if level is not None else NO_DATA


CONGESTED = {traffic.CongestionLevel.CONGESTED, traffic.CongestionLevel.JAMMED}


def areas_summary(*, now: dt.datetime) -> list[Area]:
    """Every ward with a sensor: counts, the AQI now (mean and worst of its stations), the traffic
    detectors congested now, and 24-hour means of PM2.5 and speed (weighted by readings). Four
    queries (those of :func:`sensors_state` and one sum over the hourly rollups)."""
    states = sensors_state(now=now)
    areas: dict[str, Area] = {}
    ward_of: dict[int, str] = {}
    for s in states:
        area = areas.setdefault(s.device.ward_code, Area(s.device.ward_code))
        ward_of[s.device.pk] = s.device.ward_code
        if s.is_air:
            area.air += 1
            if s.value is not None:
                area.aqi_values.append(s.value)
                if area.worst is None or s.value > (area.worst.value or -1):
                    area.worst = s
        else:
            area.road += 1
            if s.traffic is not None and s.traffic.level is not None:
                area.graded += 1
                area.congested += s.traffic.level in CONGESTED
    sums = (
        Rollup.objects.filter(
            period=3600, bucket__gte=hour_floor(now) - 23 * HOUR, bucket__lte=now, attribute__in=("pm25", "speed")
        )
        .values("device_id", "attribute")
        .annotate(t=Sum("total"), n=Sum("count"))
        .order_by()
    )
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in sums:
        ward = ward_of.get(row["device_id"])
        if ward is not None and row["n"]:
            pair = totals[(ward, row["attribute"])]
            pair[0] += row["t"]
            pair[1] += row["n"]
    for (ward, attribute), (total, count) in totals.items():
        if attribute == "pm25":
            areas[ward].pm25_24h = total / count
        else:
            areas[ward].speed_24h = total / count
    return sorted(areas.values(), key=lambda a: (a.ward_code == "", a.ward_code))
