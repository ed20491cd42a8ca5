"""The IoT pilot's daily aggregates as open data: per station, the daily VN_AQI and its
concentrations; per road segment, the vehicles counted, mean speed and occupancy and the congested
intervals. Each is a dataset of the catalogue (CKAN API, DCAT-AP) with one DataStore resource,
republished every night by ``iot.opendata_daily`` through :func:`hcmgov.opendata.publish.publish`
(the platform's path for its own figures: licence, organisation, privacy guard — no column here is
personal, none counts people).

The aggregates are computed once per closed day (Asia/Ho_Chi_Minh) into :class:`AirQualityDay` and
:class:`TrafficDay` from the hourly and 5-minute rollups, and the last ``IOT_OPENDATA_RECOMPUTE_DAYS``
days again each night (late readings): an idempotent upsert. The DataStore table is then replaced
whole from those rows, a few hundred per day for the pilot; past ~10^6 rows the step to take is
``datastore_upsert`` of the recomputed days only.

The daily VN_AQI follows Decision 1459/QĐ-TCMT §2.2.2 (:func:`hcmgov.iot.aqi.daily_aqi`): the day's
24 hourly means, 01:00 to 00:00, with the platform's 18-of-24 completeness rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction

from hcmgov.iot import aqi, mirror, traffic
from hcmgov.iot.models import AirQualityDay, Device, DeviceKind, Rollup, TrafficDay
from hcmgov.opendata import publish

ICT = aqi.ICT
DAY = dt.timedelta(days=1)


def day_start(day: dt.date) -> dt.datetime:
    """00:00 of ``day`` in Ho Chi Minh City, as an aware UTC datetime."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ICT).astimezone(dt.UTC)


def last_closed_day(*, now: dt.datetime) -> dt.date:
    """The latest day of the city that is over (and its grace for late readings)."""
    closed = now - dt.timedelta(seconds=settings.IOT_OBSERVE_GRACE_SECONDS)
    return closed.astimezone(ICT).date() - DAY


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def air_quality_day_compute(*, device: Device, day: dt.date, now: dt.datetime) -> AirQualityDay | None:
    """The station's :class:`AirQualityDay` of ``day`` (upserted), or None if it measured nothing."""
    start = day_start(day)
    # 12 hours before the day: the NowCast of its first hours; the O3 8-hour means reach back 8
    series = mirror.hourly_series(device_ids=[device.pk], since=start - 12 * mirror.HOUR, until=start + DAY).get(
        device.pk
    )
    if not series:
        return None
    by_pollutant = {aqi.Pollutant(p): s for p, s in series.items()}
    daily = aqi.daily_aqi(day=day, series=by_pollutant, tz=ICT)
    hours = aqi.day_hours(day, ICT)
    hourly = [aqi.hourly_aqi(at=h, series=by_pollutant).value for h in hours]
    present = [v for v in hourly if v is not None]
    pm_hours = sum(1 for h in hours if any(h in series.get(p, {}) for p in ("pm25", "pm10")))

    def measured(pollutant: str, how: str) -> float | None:
        values = [series[pollutant][h] for h in hours if h in series.get(pollutant, {})]
        if len(values) < 18:  # as daily_aqi: 18 of 24 hours
            return None
        return sum(values) / len(values) if how == "mean" else max(values)

    row, _ = AirQualityDay.objects.update_or_create(
        device=device,
        day=day,
        defaults={
            "aqi": daily.value,
            "level": daily.level.number if daily.level else None,
            "dominant": ",".join(p.value for p in daily.dominant),
            "pm25_24h": _r(measured("pm25", "mean")),
            "pm10_24h": _r(measured("pm10", "mean")),
            "no2_1h_max": _r(measured("no2", "max")),
            "so2_1h_max": _r(measured("so2", "max")),
            "co_1h_max": _r(measured("co", "max")),
            "o3_1h_max": _r(measured("o3", "max")),
            "hourly_aqi_max": max(present) if present else None,
            "hours": pm_hours,
            "computed_at": now,
        },
    )
    return row


def traffic_day_compute(*, device: Device, day: dt.date, now: dt.datetime) -> TrafficDay | None:
    """The segment's :class:`TrafficDay` of ``day`` (upserted), or None if it measured nothing."""
    start = day_start(day)
    intervals = mirror.segment_intervals(devices={device.pk: device}, since=start, until=start + DAY)
    if not intervals:
        return None
    daily = {
        r.attribute: r
        for r in Rollup.objects.filter(
            device=device, period=86400, bucket=start, attribute__in=mirror.TRAFFIC_ATTRIBUTES
        )
    }
    cells = [by_device[device.pk] for by_device in intervals.values() if device.pk in by_device]
    levels = [c.state.level for c in cells if c.state.level is not None]
    flows = [c.means["flow"] for c in cells if "flow" in c.means]
    order = list(traffic.CongestionLevel)
    row, _ = TrafficDay.objects.update_or_create(
        device=device,
        day=day,
        defaults={
            "vehicles": round(sum(flows) * 300 / 3600) if flows else None,
            "flow_mean": _r(daily["flow"].mean) if "flow" in daily else None,
            "speed_mean": _r(daily["speed"].mean) if "speed" in daily else None,
            "occupancy_mean": _r(daily["occupancy"].mean) if "occupancy" in daily else None,
            "intervals": len(levels),
            "congested_intervals": sum(1 for level in levels if level in mirror.CONGESTED),
            "worst_level": max(levels, key=order.index).value if levels else "",
            "computed_at": now,
        },
    )
    return row


def days_compute(*, days: list[dt.date], now: dt.datetime) -> dict[str, int]:
    """The aggregates of every device for ``days``, in one transaction."""
    stations = segments = 0
    with transaction.atomic():
        for device in Device.objects.all():
            for day in days:
                if device.kind == DeviceKind.AIR_QUALITY:
                    stations += air_quality_day_compute(device=device, day=day, now=now) is not None
                elif device.kind == DeviceKind.TRAFFIC:
                    segments += traffic_day_compute(device=device, day=day, now=now) is not None
    return {"station_days": stations, "segment_days": segments}


# --- the publications ------------------------------------------------------------------------------

C = publish.Column
_PLACE = (
    C("station_code", "text", "Mã trạm / Station code"),
    C("station_name", "text", "Tên trạm / Station"),
    C("ward_code", "text", "Mã phường / Ward code"),
    C("latitude", "numeric", "Vĩ độ / Latitude"),
    C("longitude", "numeric", "Kinh độ / Longitude"),
)


def _place(device: Device) -> dict[str, Any]:
    return {
        "station_code": device.code,
        "station_name": device.name,
        "ward_code": device.ward_code,
        "latitude": device.latitude,
        "longitude": device.longitude,
    }


def _air_rows() -> list[dict[str, Any]]:
    out = []
    for r in AirQualityDay.objects.select_related("device").order_by("day", "device__code"):
        level = aqi.LEVELS[r.level - 1] if r.level else None
        out.append(
            {
                "day": r.day.isoformat(),
                **_place(r.device),
                "aqi": r.aqi,
                "level": r.level,
                "level_name": f"{level.name_vi} / {level.name_en}" if level else None,
                "dominant": r.dominant or None,
                "hourly_aqi_max": r.hourly_aqi_max,
                "pm25_24h": r.pm25_24h,
                "pm10_24h": r.pm10_24h,
                "no2_1h_max": r.no2_1h_max,
                "so2_1h_max": r.so2_1h_max,
                "co_1h_max": r.co_1h_max,
                "o3_1h_max": r.o3_1h_max,
                "hours": r.hours,
            }
        )
    return out


def _traffic_rows() -> list[dict[str, Any]]:
    out = []
    for r in TrafficDay.objects.select_related("device").order_by("day", "device__code"):
        out.append(
            {
                "day": r.day.isoformat(),
                **_place(r.device),
                "vehicles": r.vehicles,
                "flow_mean": r.flow_mean,
                "speed_mean": r.speed_mean,
                "occupancy_mean": r.occupancy_mean,
                "intervals": r.intervals,
                "congested_intervals": r.congested_intervals,
                "worst_level": r.worst_level or None,
            }
        )
    return out


AIR_QUALITY = publish.Publication(
    name="chat-luong-khong-khi-vn-aqi-theo-ngay",
    title="Chất lượng không khí theo ngày (VN_AQI) tại các trạm quan trắc",
    title_en="Daily air quality (VN_AQI) at the monitoring stations",
    notes="Chỉ số chất lượng không khí Việt Nam theo ngày (Quyết định 1459/QĐ-TCMT), mức, chất ô nhiễm chính và "
    "nồng độ trung bình 24 giờ (bụi) hoặc lớn nhất 1 giờ (khí), µg/m³, theo ngày (giờ Việt Nam) và trạm. Cập nhật "
    "hằng ngày. / Daily Vietnam air quality index (Decision 1459/QĐ-TCMT), level, dominant pollutant and the "
    "24-hour mean (particles) or 1-hour maximum (gases) concentrations, µg/m³, by day (Vietnam time) and station. "
    "Updated daily.",
    resource="Bảng số liệu theo ngày / Daily table",
    columns=(
        C("day", "date", "Ngày / Day"),
        *_PLACE,
        C("aqi", "int", "VN_AQI ngày / Daily VN_AQI"),
        C("level", "int", "Mức (1–6) / Level (1–6)"),
        C("level_name", "text", "Tên mức / Level name"),
        C("dominant", "text", "Chất quyết định / Dominant pollutant"),
        C("hourly_aqi_max", "int", "VN_AQI giờ cao nhất / Highest hourly VN_AQI"),
        C("pm25_24h", "numeric", "PM2.5 trung bình 24 giờ / PM2.5 24-hour mean"),
        C("pm10_24h", "numeric", "PM10 trung bình 24 giờ / PM10 24-hour mean"),
        C("no2_1h_max", "numeric", "NO2 lớn nhất 1 giờ / NO2 1-hour maximum"),
        C("so2_1h_max", "numeric", "SO2 lớn nhất 1 giờ / SO2 1-hour maximum"),
        C("co_1h_max", "numeric", "CO lớn nhất 1 giờ / CO 1-hour maximum"),
        C("o3_1h_max", "numeric", "O3 lớn nhất 1 giờ / O3 1-hour maximum"),
        C("hours", "int", "Số giờ có số liệu bụi / Hours with particle data"),
    ),
    primary_key=("day", "station_code"),
    rows=_air_rows,
    tags=("môi trường", "chất lượng không khí", "IoT"),
)

TRAFFIC = publish.Publication(
    name="luu-luong-giao-thong-theo-ngay",
    title="Lưu lượng và tình trạng giao thông theo ngày tại các đoạn đường có cảm biến",
    title_en="Daily traffic flow and congestion on the road segments with sensors",
    notes="Số xe đếm được, lưu lượng trung bình (xe/giờ), tốc độ trung bình (km/giờ), độ chiếm dụng trung bình (%) "
    "và số khoảng 5 phút ùn tắc, theo ngày (giờ Việt Nam) và đoạn đường. Cập nhật hằng ngày. / Vehicles counted, "
    "mean flow (veh/h), mean speed (km/h), mean occupancy (%) and the congested 5-minute intervals, by day (Vietnam "
    "time) and road segment. Updated daily.",
    resource="Bảng số liệu theo ngày / Daily table",
    columns=(
        C("day", "date", "Ngày / Day"),
        *_PLACE,
        C("vehicles", "int", "Số xe / Vehicles"),
        C("flow_mean", "numeric", "Lưu lượng trung bình (xe/giờ) / Mean flow (veh/h)"),
        C("speed_mean", "numeric", "Tốc độ trung bình (km/giờ) / Mean speed (km/h)"),
        C("occupancy_mean", "numeric", "Độ chiếm dụng trung bình (%) / Mean occupancy (%)"),
        C("intervals", "int", "Số khoảng 5 phút có số liệu / 5-minute intervals measured"),
        C("congested_intervals", "int", "Số khoảng 5 phút ùn tắc / Congested 5-minute intervals"),
        C("worst_level", "text", "Mức xấu nhất / Worst level"),
    ),
    primary_key=("day", "station_code"),
    rows=_traffic_rows,
    tags=("giao thông", "IoT"),
)


def opendata_daily(*, now: dt.datetime) -> dict[str, Any]:
    """Compute the last closed days' aggregates, then republish both datasets (nightly)."""
    last = last_closed_day(now=now)
    days = [last - n * DAY for n in range(max(1, settings.IOT_OPENDATA_RECOMPUTE_DAYS))]
    computed = days_compute(days=days, now=now)
    reports = [publish.publish(AIR_QUALITY), publish.publish(TRAFFIC)]
    return {**computed, "published": {r["dataset"]: r["rows"] for r in reports}}
