"""The IoT platform's devices and their latest observations as NGSI-LD entities (Smart Data Models
``Device``, ``AirQualityObserved``, ``TrafficFlowObserved``), upserted into the broker through
:mod:`hcmgov.ngsi.services` — never over HTTP from inside the process.

When: the periodic task ``iot.observe`` (every minute) mirrors the devices changed since its last
run, then the **5-minute rollup that closed last**: a 5-minute interval is closed
``IOT_OBSERVE_GRACE_SECONDS`` after its end (late readings within the grace count). Why the
rollup rather than each reading batch: a station sends a batch every few seconds, a gateway many;
the interval bounds the broker's load to one update per device per 5 minutes whatever the device
sends (3,000 devices → 10 updates/s, far below the broker's measured 3,300/s), subscribers see
values that no longer change (a mean over a whole interval, not a partial one), and an interval's
values are the same ones the alerts and the dashboard use. The cost is up to 5 minutes plus the grace
of delay, acceptable for air quality (hourly index) and for congestion (an alert needs several
intervals anyway). A run that finds nothing newly closed does nothing: retries and a second worker
(the cursor row is locked) duplicate nothing.

The @context is the core context alone (the entities' terms fall in the broker's default vocabulary,
as the broker's tests and Smart Data Models' examples without their remote context do), so that a
client querying ``type=AirQualityObserved`` with no @context finds them. Values follow the models'
units: concentrations µg/m³ (``GQ``), ``relativeHumidity`` and ``occupancy`` as fractions of one,
speeds km/h (``KMH``), ``intensity`` the vehicles counted in the interval. Extensions (not in the
models) are marked in docs/iot/README.md: ``airQualityLevel`` holds the VN_AQI level's code,
``congestionLevel`` and ``levelOfService`` the state from :mod:`hcmgov.iot.traffic`.

This module also holds what the alerts and the open data read of the rollups: the hourly VN_AQI of
a station and the traffic state of a segment's interval.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery

from hcmgov.iot import aqi, traffic
from hcmgov.iot.models import Cursor, Device, DeviceKind, MirroredDevice, Rollup
from hcmgov.iot.storage import bucket_start
from hcmgov.ngsi import jsonld
from hcmgov.ngsi import services as ngsi

FIVE_MINUTES = dt.timedelta(seconds=300)
HOUR = dt.timedelta(hours=1)
POLLUTANTS = tuple(p.value for p in aqi.Pollutant)
TRAFFIC_ATTRIBUTES = ("flow", "speed", "occupancy")
AQO_PREFIX = "urn:ngsi-ld:AirQualityObserved:"
TFO_PREFIX = "urn:ngsi-ld:TrafficFlowObserved:"
# UN/CEFACT common codes, as the Smart Data Models use them
UNIT_CODES = {"ug/m3": "GQ", "Cel": "CEL", "km/h": "KMH", "veh/h": "E50", "%": "P1"}
# what a device measures, as Smart Data Models' Device.controlledProperty names it
CONTROLLED = {
    "pm25": "airPollution",
    "pm10": "airPollution",
    "no2": "airPollution",
    "o3": "airPollution",
    "co": "airPollution",
    "so2": "airPollution",
    "temperature": "temperature",
    "humidity": "humidity",
    "flow": "trafficFlow",
    "speed": "averageVelocity",
    "occupancy": "occupancy",
}
LEVEL_CODES = {1: "good", 2: "moderate", 3: "poor", 4: "bad", 5: "veryBad", 6: "hazardous"}
CONGESTED = (traffic.CongestionLevel.CONGESTED, traffic.CongestionLevel.JAMMED)


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- cursors ---------------------------------------------------------------------------------------


def cursor_lock(*, name: str, default: dt.datetime) -> Cursor:
    """The cursor ``name`` (made at ``default`` when missing), locked until the caller's
    transaction ends: a second worker waits, then sees how far the first went."""
    Cursor.objects.get_or_create(name=name, defaults={"position": default})
    query = Cursor.objects.filter(name=name)
    if transaction.get_connection().features.has_select_for_update:
        query = query.select_for_update()
    return query.get()


def closed_end(*, now: dt.datetime, period: int) -> dt.datetime:
    """The end of the last interval of ``period`` seconds closed at ``now`` (its end plus the grace
    for late readings is past)."""
    return bucket_start(now - dt.timedelta(seconds=settings.IOT_OBSERVE_GRACE_SECONDS), period)


# --- what the rollups say --------------------------------------------------------------------------


def hourly_series(
    *, device_ids: Iterable[int], since: dt.datetime, until: dt.datetime
) -> dict[int, dict[str, dict[dt.datetime, float]]]:
    """Hourly means of the pollutants of ``device_ids`` for the hours in [since, until), keyed by
    the hour's *end* (the label Decision 1459 gives an hour): device → pollutant → end → mean."""
    out: dict[int, dict[str, dict[dt.datetime, float]]] = defaultdict(lambda: defaultdict(dict))
    rows = Rollup.objects.filter(
        period=3600, device_id__in=list(device_ids), attribute__in=POLLUTANTS, bucket__gte=since, bucket__lt=until
    ).values_list("device_id", "attribute", "bucket", "total", "count")
    for device_id, attribute, bucket, total, count in rows:
        if count:
            out[device_id][attribute][bucket + HOUR] = total / count
    return out


def hourly_aqi_at(*, device_ids: Iterable[int], hour_end: dt.datetime) -> dict[int, aqi.AqiResult]:
    """The hourly VN_AQI (Decision 1459/QĐ-TCMT §2.2.1: NowCast of 12 hours for PM, the hour's
    mean for the gases) of the hour ending at ``hour_end``, for the stations that have an index."""
    series = hourly_series(device_ids=device_ids, since=hour_end - 12 * HOUR, until=hour_end)
    results = {}
    for device_id, by_pollutant in series.items():
        result = aqi.hourly_aqi(at=hour_end, series={aqi.Pollutant(p): s for p, s in by_pollutant.items()})
        if result.ok:
            results[device_id] = result
    return results


@dataclass(frozen=True)
class SegmentInterval:
    """A traffic device's 5-minute interval: the means of what it measured, and the state."""

    means: dict[str, float]
    state: traffic.TrafficState

    @property
    def congested(self) -> bool:
        return self.state.level in CONGESTED


def free_flow_speed(device: Device) -> float:
    """The segment's free-flow speed: ``attributes.speed.free_flow_kmh`` of the device, else
    ``IOT_TRAFFIC_FREE_FLOW_KMH``."""
    declared = (device.attributes or {}).get("speed") or {}
    return float(declared.get("free_flow_kmh") or settings.IOT_TRAFFIC_FREE_FLOW_KMH)


def segment_state(device: Device, means: dict[str, float]) -> traffic.TrafficState:
    capacity = ((device.attributes or {}).get("flow") or {}).get("capacity_veh_h")
    return traffic.traffic_state(
        free_flow_speed_kmh=free_flow_speed(device),
        flow_veh_h=means.get("flow"),
        speed_kmh=means.get("speed"),
        occupancy_pct=means.get("occupancy"),
        capacity_veh_h=float(capacity) if capacity else None,
    )


def segment_intervals(
    *, devices: dict[int, Device], since: dt.datetime, until: dt.datetime
) -> dict[dt.datetime, dict[int, SegmentInterval]]:
    """The 5-minute intervals starting in [since, until) of the traffic ``devices``: bucket →
    device id → interval (only those with a level or a flow)."""
    means: dict[dt.datetime, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    rows = Rollup.objects.filter(
        period=300, device_id__in=list(devices), attribute__in=TRAFFIC_ATTRIBUTES, bucket__gte=since, bucket__lt=until
    ).values_list("bucket", "device_id", "attribute", "total", "count")
    for bucket, device_id, attribute, total, count in rows:
        if count:
            means[bucket][device_id][attribute] = total / count
    return {
        bucket: {d: SegmentInterval(m, segment_state(devices[d], m)) for d, m in by_device.items()}
        for bucket, by_device in means.items()
    }


# --- entities --------------------------------------------------------------------------------------


def _prop(value: Any, *, unit: str | None = None, observed: dt.datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    if unit:
        out["unitCode"] = unit
    if observed is not None:
        out["observedAt"] = iso(observed)
    return out


def _location(device: Device) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [device.longitude, device.latitude]}}


def device_entity(device: Device) -> dict[str, Any]:
    """The Smart Data Models ``Device`` of a device."""
    measured = list(device.attributes or {})
    body: dict[str, Any] = {
        "id": device.entity_id,
        "type": "Device",
        "name": _prop(device.name),
        "description": _prop(device.name_en),
        "category": _prop(["sensor"]),
        "controlledProperty": _prop(sorted({CONTROLLED[a] for a in measured if a in CONTROLLED})),
        "deviceState": _prop(device.status),
        "location": _location(device),
        "source": _prop("hcmgov"),
    }
    if device.calibrated_on:
        body["dateLastCalibration"] = _prop(device.calibrated_on.isoformat())
    if device.ward_code:
        body["areaServed"] = _prop(device.ward_code)
    return body


def air_quality_entity(
    device: Device, means: dict[str, float], *, end: dt.datetime, index: aqi.AqiResult | None, hour_end: dt.datetime
) -> dict[str, Any]:
    """The station's ``AirQualityObserved``: the means of the 5-minute interval ending at ``end``
    (each attribute observed at ``end``), and the hourly VN_AQI of the hour ending at ``hour_end``."""
    body: dict[str, Any] = {
        "id": AQO_PREFIX + device.code,
        "type": "AirQualityObserved",
        "dateObserved": _prop(iso(end)),
        "location": _location(device),
        "refDevice": {"type": "Relationship", "object": device.entity_id},
        "typeofLocation": _prop("outdoor"),
    }
    for pollutant in POLLUTANTS:
        if pollutant in means:
            body[pollutant] = _prop(round(means[pollutant], 3), unit="GQ", observed=end)
    if "temperature" in means:
        body["temperature"] = _prop(round(means["temperature"], 2), unit="CEL", observed=end)
    if "humidity" in means:
        body["relativeHumidity"] = _prop(round(means["humidity"] / 100, 4), observed=end)
    if index is not None and index.value is not None and index.level is not None:
        body["airQualityIndex"] = _prop(index.value, observed=hour_end)
        body["airQualityLevel"] = _prop(LEVEL_CODES[index.level.number], observed=hour_end)
    return body


def traffic_entity(device: Device, interval: SegmentInterval, *, start: dt.datetime) -> dict[str, Any]:
    """The segment's ``TrafficFlowObserved`` of the 5-minute interval starting at ``start``."""
    end = start + FIVE_MINUTES
    means, state = interval.means, interval.state
    body: dict[str, Any] = {
        "id": TFO_PREFIX + device.code,
        "type": "TrafficFlowObserved",
        "dateObserved": _prop(f"{iso(start)}/{iso(end)}"),
        "dateObservedFrom": _prop(iso(start)),
        "dateObservedTo": _prop(iso(end)),
        "location": _location(device),
        "refDevice": {"type": "Relationship", "object": device.entity_id},
    }
    if "flow" in means:  # veh/h over the interval → vehicles counted in it
        body["intensity"] = _prop(round(means["flow"] * FIVE_MINUTES.total_seconds() / 3600, 1), observed=end)
    if "speed" in means:
        body["averageVehicleSpeed"] = _prop(round(means["speed"], 2), unit="KMH", observed=end)
    if "occupancy" in means:
        body["occupancy"] = _prop(round(means["occupancy"] / 100, 4), observed=end)
    if state.level is not None and state.los is not None:
        body["congested"] = _prop(interval.congested, observed=end)
        body["congestionLevel"] = _prop(state.level.value, observed=end)
        body["levelOfService"] = _prop(state.los.value, observed=end)
    return body


def _upsert(bodies: list[dict[str, Any]], *, replace: bool) -> int:
    if not bodies:
        return 0
    result = ngsi.batch_upsert(bodies=bodies, ctx=jsonld.context_for(None), replace=replace)
    if result.errors:  # our own bodies: a refusal is a bug here, not bad input
        raise RuntimeError(f"NGSI-LD upsert refused: {result.errors[:3]}")
    return len(result.success)


# --- synchronisation -------------------------------------------------------------------------------


def device_upsert(*, device: Device) -> None:
    """Upsert ``device``'s ``Device`` entity now (for callers that changed it and want the broker
    current before the next ``iot.observe`` run)."""
    _upsert([device_entity(device)], replace=True)


@transaction.atomic
def devices_sync(*, now: dt.datetime) -> int:
    """The ``Device`` entities of the devices registered or changed since they were last mirrored
    (their ``updated_at`` is not the version mirrored: one indexed comparison per device)."""
    cursor_lock(name="mirror.devices", default=now)  # one worker at a time
    mirrored = MirroredDevice.objects.filter(device=OuterRef("pk")).values("version")
    changed = list(
        Device.objects.annotate(mirrored=Subquery(mirrored))
        .filter(Q(mirrored__isnull=True) | ~Q(mirrored=F("updated_at")))
        .order_by("pk")
    )
    if not changed:
        return 0
    count = _upsert([device_entity(d) for d in changed], replace=True)
    MirroredDevice.objects.bulk_create(
        [MirroredDevice(device=d, version=d.updated_at) for d in changed],
        update_conflicts=True,
        unique_fields=["device"],
        update_fields=["version"],
    )
    return count


@transaction.atomic
def observations_sync(*, now: dt.datetime) -> int:
    """The ``AirQualityObserved`` and ``TrafficFlowObserved`` of every device that measured in the
    5-minute interval closed last; nothing when it was mirrored already. Returns the entities
    upserted."""
    end = closed_end(now=now, period=300)
    cursor = cursor_lock(name="mirror.observations", default=end - FIVE_MINUTES)
    if cursor.position >= end:
        return 0
    start = end - FIVE_MINUTES
    means: dict[int, dict[str, float]] = defaultdict(dict)
    for device_id, attribute, total, count in Rollup.objects.filter(period=300, bucket=start).values_list(
        "device_id", "attribute", "total", "count"
    ):
        if count:
            means[device_id][attribute] = total / count
    devices = {d.pk: d for d in Device.objects.filter(pk__in=list(means))}
    stations = [d for d in devices.values() if d.kind == DeviceKind.AIR_QUALITY]
    hour_end = bucket_start(end, 3600)
    indices = hourly_aqi_at(device_ids=[d.pk for d in stations], hour_end=hour_end) if stations else {}
    bodies = [air_quality_entity(d, means[d.pk], end=end, index=indices.get(d.pk), hour_end=hour_end) for d in stations]
    for device in devices.values():
        if device.kind == DeviceKind.TRAFFIC:
            interval = SegmentInterval(means[device.pk], segment_state(device, means[device.pk]))
            bodies.append(traffic_entity(device, interval, start=start))
    count = _upsert(bodies, replace=False)  # merged: an attribute not measured this time keeps its last value
    cursor.position = end
    cursor.save(update_fields=["position"])
    return count
