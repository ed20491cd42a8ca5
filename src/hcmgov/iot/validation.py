"""What a device may send, and the checks every message passes before its readings are stored
(the same for MQTT and HTTP).

The message format (JSON, UTF-8) — one observation, several attributes measured at one time::

    {"observedAt": "2026-11-28T08:00:00+07:00", "values": {"pm25": 35.2, "pm10": 51.0},
     "units": {"pm25": "ug/m3"}}

or a small batch of one device's observations (at most ``IOT_MESSAGE_MAX_OBSERVATIONS``)::

    {"device": "hcm-aq-0001", "readings": [{"observedAt": ..., "values": {...}}, ...]}

``observedAt`` is ISO 8601 with its offset (or ``Z``), or Unix seconds. ``device`` is optional; when
present it must be the topic's device (MQTT) or the authenticated one (HTTP). ``units`` (per
observation or per message) is optional; when given it must be the device's unit of that attribute.
Values are numbers; the device's calibration (factor, offset) is applied, then its valid range is
checked on the calibrated value.

Each refusal has a reason (:class:`~hcmgov.iot.models.QuarantineReason`): a message that cannot be
read is refused whole; otherwise each reading is accepted or refused on its own.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

from hcmgov.common.errors import Message
from hcmgov.common.ratelimit import RateLimiter, SharedRateLimiter

# attribute code → (canonical unit, smallest and largest plausible value): the defaults a device
# gets for what it measures; concentrations in µg/m³ as VN_AQI takes them (Decision 1459/QĐ-TCMT)
ATTRIBUTES: dict[str, tuple[str, float, float]] = {
    "pm25": ("ug/m3", 0.0, 1000.0),
    "pm10": ("ug/m3", 0.0, 2000.0),
    "no2": ("ug/m3", 0.0, 4000.0),
    "o3": ("ug/m3", 0.0, 2000.0),
    "co": ("ug/m3", 0.0, 200000.0),
    "so2": ("ug/m3", 0.0, 3000.0),
    "temperature": ("Cel", -10.0, 60.0),
    "humidity": ("%", 0.0, 100.0),
    "flow": ("veh/h", 0.0, 20000.0),
    "speed": ("km/h", 0.0, 200.0),
    "occupancy": ("%", 0.0, 100.0),
}
KIND_ATTRIBUTES = {
    "air-quality": ("pm25", "pm10", "no2", "o3", "co", "so2", "temperature", "humidity"),
    "traffic": ("flow", "speed", "occupancy"),
}
# spellings of the same unit (UN/CEFACT codes as the Smart Data Models use them, and common text)
UNIT_ALIASES = {
    "ug/m3": "ug/m3",
    "µg/m3": "ug/m3",
    "µg/m³": "ug/m3",
    "ug/m³": "ug/m3",
    "gq": "ug/m3",
    "cel": "Cel",
    "°c": "Cel",
    "c": "Cel",
    "%": "%",
    "p1": "%",
    "veh/h": "veh/h",
    "vehicles/h": "veh/h",
    "e50": "veh/h",
    "km/h": "km/h",
    "kmh": "km/h",
}

MESSAGES: dict[str, Message] = {
    "malformed": Message("Dữ liệu không phải JSON UTF-8 hợp lệ.", "The payload is not valid UTF-8 JSON."),
    "invalid_payload": Message(
        "Sai cấu trúc: cần {observedAt, values} hoặc {readings: [...]}.",
        "Wrong structure: {observedAt, values} or {readings: [...]} expected.",
    ),
    "too_large": Message("Thông điệp quá lớn.", "The message is too large."),
    "unknown_device": Message("Thiết bị không tồn tại.", "Unknown device."),
    "device_inactive": Message(
        "Thiết bị đang bảo trì hoặc đã ngừng sử dụng.", "The device is under maintenance or retired."
    ),
    "device_mismatch": Message(
        "Mã thiết bị trong dữ liệu không khớp với chủ đề hoặc tài khoản.",
        "The device in the payload is not the topic's or the account's.",
    ),
    "unknown_attribute": Message("Thiết bị không đo thuộc tính này.", "The device does not measure this attribute."),
    "unit_mismatch": Message("Sai đơn vị đo của thuộc tính.", "Wrong unit for this attribute."),
    "invalid_value": Message("Giá trị phải là số hữu hạn.", "The value must be a finite number."),
    "out_of_range": Message("Giá trị nằm ngoài ngưỡng hợp lệ của thiết bị.", "The value is outside the valid range."),
    "invalid_time": Message(
        "Thời điểm đo không hợp lệ (ISO 8601 có múi giờ, hoặc giây Unix).",
        "Invalid observation time (ISO 8601 with an offset, or Unix seconds).",
    ),
    "future_time": Message("Thời điểm đo ở tương lai.", "The observation time is in the future."),
    "too_old": Message("Thời điểm đo đã quá thời hạn lưu trữ.", "The observation is older than the retention."),
    "rate_limited": Message(
        "Thiết bị gửi quá nhiều dữ liệu; hãy giảm tần suất.", "The device sends too much; slow down."
    ),
}


@dataclass(frozen=True, slots=True)
class Spec:
    """How one attribute of a device is checked and corrected."""

    unit: str
    minimum: float
    maximum: float
    factor: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the ingestion needs to know of a device (cached by the ingester)."""

    id: int
    code: str
    active: bool
    specs: dict[str, Spec]


def device_info(device: Any) -> DeviceInfo:
    """The :class:`DeviceInfo` of a :class:`~hcmgov.iot.models.Device`."""
    specs = {}
    calibration = device.calibration or {}
    for code, declared in (device.attributes or {}).items():
        if code not in ATTRIBUTES:  # only the catalogue's codes are stored (COPY's text needs no escaping)
            continue
        unit, low, high = ATTRIBUTES[code]
        fix = calibration.get(code) or {}
        specs[code] = Spec(
            unit=normal_unit(str(declared.get("unit") or unit)),
            minimum=float(declared.get("min", low)),
            maximum=float(declared.get("max", high)),
            factor=float(fix.get("factor", 1.0)),
            offset=float(fix.get("offset", 0.0)),
        )
    return DeviceInfo(id=device.id, code=device.code, active=device.status == "active", specs=specs)


def normal_unit(unit: str) -> str:
    return UNIT_ALIASES.get(unit.strip().lower(), unit.strip())


@dataclass(slots=True)
class Rejection:
    reason: str
    detail: str = ""
    index: int | None = None  # the observation's place in the message
    attribute: str | None = None
    observed_at: str | None = None


@dataclass(slots=True)
class Checked:
    """One message after the checks: its readings to store, what was refused, and for the HTTP
    answer each reading's place (observation index, attribute)."""

    device: DeviceInfo | None = None
    rows: list[tuple[int, str, dt.datetime, float, dt.datetime]] = field(default_factory=list)
    places: list[tuple[int, str]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def parse_time(raw: Any) -> dt.datetime | None:
    if isinstance(raw, str):
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            return None
        return value.astimezone(dt.UTC) if value.tzinfo is not None else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        try:
            return dt.datetime.fromtimestamp(raw, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def check_message(
    payload: bytes,
    *,
    device: DeviceInfo | None,
    device_code: str,
    received_at: dt.datetime,
    oldest: dt.datetime,
    max_future: dt.timedelta,
    max_bytes: int,
    max_observations: int,
    limiter: RateLimiter | SharedRateLimiter | None,
) -> Checked:
    """Check one message of ``device_code`` (the topic's device, or the authenticated one);
    ``device`` is its :class:`DeviceInfo` when it is known. Never raises on any input."""
    out = Checked(device=device)
    if len(payload) > max_bytes:
        out.rejections.append(Rejection("too_large", f"{len(payload)} bytes > {max_bytes}"))
        return out
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        out.rejections.append(Rejection("malformed", str(exc)[:200]))
        return out
    if not isinstance(data, dict):
        out.rejections.append(Rejection("invalid_payload", "not an object"))
        return out
    named = data.get("device")
    if named is not None and named != device_code:
        out.rejections.append(Rejection("device_mismatch", f"{str(named)[:64]} != {device_code}"))
        return out
    if device is None:
        out.rejections.append(Rejection("unknown_device", device_code[:64]))
        return out
    if not device.active:
        out.rejections.append(Rejection("device_inactive", device_code))
        return out
    if "readings" in data:
        observations = data["readings"]
        if not isinstance(observations, list) or not observations or len(observations) > max_observations:
            out.rejections.append(Rejection("invalid_payload", f"readings: a list of 1 to {max_observations}"))
            return out
    else:
        observations = [data]
    message_units = data.get("units") if isinstance(data.get("units"), dict) else {}
    newest = received_at + max_future
    specs = device.specs
    for index, obs in enumerate(observations):
        values = obs.get("values") if isinstance(obs, dict) else None
        if not isinstance(values, dict) or not values:
            out.rejections.append(Rejection("invalid_payload", "values: an object of numbers", index))
            continue
        raw_time = obs.get("observedAt")
        observed_at = parse_time(raw_time)
        shown = str(raw_time)[:40]
        if observed_at is None:
            out.rejections.append(Rejection("invalid_time", shown, index, observed_at=shown))
            continue
        if observed_at > newest:
            out.rejections.append(Rejection("future_time", shown, index, observed_at=shown))
            continue
        if observed_at < oldest:
            out.rejections.append(Rejection("too_old", shown, index, observed_at=shown))
            continue
        units = obs.get("units") if isinstance(obs.get("units"), dict) else message_units
        for attribute, value in values.items():
            spec = specs.get(attribute)
            if spec is None:
                out.rejections.append(Rejection("unknown_attribute", str(attribute)[:16], index, str(attribute)[:16]))
                continue
            unit = units.get(attribute) if units else None
            if unit is not None and (not isinstance(unit, str) or normal_unit(unit) != spec.unit):
                out.rejections.append(
                    Rejection("unit_mismatch", f"{str(unit)[:16]} != {spec.unit}", index, attribute, shown)
                )
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                out.rejections.append(Rejection("invalid_value", str(value)[:40], index, attribute, shown))
                continue
            corrected = value * spec.factor + spec.offset
            if not spec.minimum <= corrected <= spec.maximum:
                out.rejections.append(
                    Rejection(
                        "out_of_range", f"{corrected:g} not in [{spec.minimum:g}, {spec.maximum:g}]", index, attribute
                    )
                )
                continue
            out.rows.append((device.id, attribute, observed_at, float(corrected), received_at))
            out.places.append((index, attribute))
    if out.rows and limiter is not None and not limiter.take(device.id, len(out.rows)):
        for (index, attribute), row in zip(out.places, out.rows, strict=True):
            out.rejections.append(Rejection("rate_limited", "", index, attribute, row[2].isoformat()))
        out.rows, out.places = [], []
    return out
