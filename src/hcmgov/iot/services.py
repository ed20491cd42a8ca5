"""Changes to the IoT platform: devices registered, their credentials and status; readings stored
with what was refused quarantined, in one transaction; storage upkeep."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from hcmgov.audit.services import audit_record
from hcmgov.common.errors import DomainError, Message
from hcmgov.iot import metrics, storage
from hcmgov.iot.models import URN_PREFIX, Device, DeviceKind, DeviceStatus, Quarantine
from hcmgov.iot.validation import ATTRIBUTES, KIND_ATTRIBUTES, Checked

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# mosquitto-go-auth's PBKDF2 format, so the broker's auth plugin can check the same hash
PBKDF2_ITERATIONS = 100_000


def password_hash(password: str, *, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``PBKDF2$sha512$<iterations>$<salt, base64>$<key, base64>`` (mosquitto-go-auth's format)."""
    salt = salt or secrets.token_bytes(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"PBKDF2$sha512${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def password_check(password: str, encoded: str) -> bool:
    try:
        scheme, algorithm, iterations, salt, key = encoded.split("$")
        if scheme != "PBKDF2" or algorithm != "sha512":
            return False
        found = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations), 64)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, base64.b64decode(key))


def _code(code: str) -> str:
    if not CODE_PATTERN.match(code or ""):
        raise DomainError(
            "iot_bad_code",
            Message(
                f"Mã thiết bị «{code}» không hợp lệ: chỉ gồm chữ, số, '-', '_' (tối đa 64 ký tự).",
                f"Device code {code!r} is not valid: letters, digits, '-', '_' only (at most 64).",
            ),
        )
    return code


def default_attributes(kind: str) -> dict[str, dict[str, Any]]:
    """The attributes a device of ``kind`` measures, with their units and ranges (the catalogue's)."""
    return {
        code: {"unit": ATTRIBUTES[code][0], "min": ATTRIBUTES[code][1], "max": ATTRIBUTES[code][2]}
        for code in KIND_ATTRIBUTES[kind]
    }


@transaction.atomic
def device_register(
    *,
    code: str,
    kind: str,
    name: str,
    name_en: str,
    latitude: float,
    longitude: float,
    ward_code: str = "",
    agency_id: int | None = None,
    attributes: dict[str, dict[str, Any]] | None = None,
    calibration: dict[str, dict[str, float]] | None = None,
    calibrated_on: dt.date | None = None,
) -> tuple[Device, str | None]:
    """Register a device, or update the one of that code. A new device gets its MQTT account
    (username: its code) with a generated password, returned once (None for an update)."""
    if kind not in DeviceKind.values:
        raise DomainError("iot_bad_kind", Message(f"Loại thiết bị «{kind}» không hợp lệ.", f"Unknown kind {kind!r}."))
    attributes = attributes if attributes is not None else default_attributes(kind)
    unknown = sorted(set(attributes) - set(ATTRIBUTES))
    if unknown:
        raise DomainError(
            "iot_bad_attribute",
            Message(
                f"Thuộc tính không hỗ trợ: {', '.join(unknown)}.", f"Unsupported attributes: {', '.join(unknown)}."
            ),
        )
    defaults = {
        "entity_id": URN_PREFIX + _code(code),
        "kind": kind,
        "name": name,
        "name_en": name_en,
        "latitude": latitude,
        "longitude": longitude,
        "ward_code": ward_code,
        "agency_id": agency_id,
        "attributes": attributes,
        "calibration": calibration or {},
        "calibrated_on": calibrated_on,
    }
    device, created = Device.objects.update_or_create(
        code=code, defaults=defaults, create_defaults={**defaults, "mqtt_username": code}
    )
    password = None
    if created:
        password = secrets.token_urlsafe(24)
        device.mqtt_password_hash = password_hash(password)
        device.save(update_fields=["mqtt_password_hash"])
    audit_record(action="iot.device_register", obj=device, after={"code": code, "created": created})
    return device, password


@transaction.atomic
def device_credentials_reset(*, device: Device, password: str | None = None) -> str:
    """A new MQTT/HTTP password for ``device`` (generated unless given); returned once, stored hashed."""
    password = password or secrets.token_urlsafe(24)
    device.mqtt_password_hash = password_hash(password)
    device.save(update_fields=["mqtt_password_hash", "updated_at"])
    _auth_cache.clear()
    audit_record(action="iot.device_credentials_reset", obj=device)
    return password


@transaction.atomic
def device_status_set(*, device: Device, status: str) -> Device:
    """Put a device in service, in maintenance (its readings refused) or retire it."""
    if status not in DeviceStatus.values:
        raise DomainError(
            "iot_bad_status", Message(f"Trạng thái «{status}» không hợp lệ.", f"Unknown status {status!r}.")
        )
    before = device.status
    device.status = status
    device.save(update_fields=["status", "updated_at"])
    audit_record(action="iot.device_status_set", obj=device, before={"status": before}, after={"status": status})
    return device


# device authentication (HTTP batches): a PBKDF2 check costs ~0.1 s, so a success is remembered
# for a few minutes, keyed by a digest of the password (never the password itself), with the
# stored hash it was checked against. Every use reads the device anyway and compares that hash: a
# password reset on any node is therefore refused at once on every node, though each process
# keeps its own memo (it saves CPU, it holds no state another node would need).
_auth_cache: dict[tuple[str, bytes], tuple[float, int, str]] = {}
AUTH_CACHE_SECONDS = 300.0


def device_authenticate(*, username: str, password: str) -> Device | None:
    """The active-or-not device whose MQTT credentials these are, or None."""
    digest = hashlib.sha256(password.encode()).digest()
    hit = _auth_cache.get((username, digest))
    if hit is not None and hit[0] > time.monotonic():
        device = Device.objects.filter(pk=hit[1]).first()
        if device is not None and device.mqtt_username == username and device.mqtt_password_hash == hit[2]:
            return device
    device = Device.objects.filter(mqtt_username=username).first()
    if device is None or not device.mqtt_password_hash or not password_check(password, device.mqtt_password_hash):
        return None
    if len(_auth_cache) > 10_000:
        _auth_cache.clear()
    _auth_cache[(username, digest)] = (time.monotonic() + AUTH_CACHE_SECONDS, device.pk, device.mqtt_password_hash)
    return device


# --- readings ------------------------------------------------------------------------------------


class QuarantineSampler:
    """At most ``IOT_QUARANTINE_MAX_PER_MINUTE`` quarantine rows per device and reason per minute:
    a flooding device is counted in full by the metrics, sampled here."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.minute = 0
        self.counts: dict[tuple[str, str], int] = {}

    def allow(self, device_code: str, reason: str) -> bool:
        minute = int(time.monotonic() // 60)
        with self.lock:
            if minute != self.minute:
                self.minute, self.counts = minute, {}
            n = self.counts.get((device_code, reason), 0)
            self.counts[(device_code, reason)] = n + 1
        return n < settings.IOT_QUARANTINE_MAX_PER_MINUTE


_sampler = QuarantineSampler()


@dataclass
class Received:
    """One message (MQTT) or batch (HTTP) as checked, with where it came from."""

    checked: Checked
    payload: bytes
    source: str
    device_code: str


@dataclass
class Stored:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    keys: set[storage.Key] = field(default_factory=set)


def readings_store(*, received: Sequence[Received], channel: str, now: dt.datetime, keys: bool = False) -> Stored:
    """Store the accepted readings of ``received`` and quarantine what was refused, in one
    transaction; count both in the metrics once it committed. With ``keys`` the answer names the
    readings that were new (the others were duplicates)."""
    rows = [row for item in received for row in item.checked.rows]
    quarantine = []
    result = Stored()
    limit = settings.IOT_QUARANTINE_PAYLOAD_BYTES
    rejected: dict[str, int] = {}
    for item in received:
        reasons: dict[str, list[str]] = {}
        for rejection in item.checked.rejections:
            rejected[rejection.reason] = rejected.get(rejection.reason, 0) + 1
            place = rejection.attribute or (f"#{rejection.index}" if rejection.index is not None else "")
            reasons.setdefault(rejection.reason, []).append(f"{place} {rejection.detail}".strip())
        for reason, details in reasons.items():  # one row per message and reason
            if _sampler.allow(item.device_code, reason):
                quarantine.append(
                    Quarantine(
                        received_at=now,
                        reason=reason,
                        channel=channel,
                        source=item.source[:200],
                        device_code=item.device_code[:64],
                        detail="; ".join(details)[:300].replace("\x00", "\\0"),  # PostgreSQL text has no NUL
                        payload=item.payload[:limit],
                    )
                )
    with transaction.atomic():
        written = storage.readings_write(rows, keys=keys)
        if quarantine:
            Quarantine.objects.bulk_create(quarantine)
    if isinstance(written, set):
        result.keys, result.stored = written, len(written)
    else:
        result.stored = written
    result.duplicates = len(rows) - result.stored
    result.rejected = sum(rejected.values())
    metrics.STORED.labels(channel).inc(result.stored)
    if result.duplicates:
        metrics.DUPLICATES.labels(channel).inc(result.duplicates)
    for reason, n in rejected.items():
        metrics.REJECTED.labels(channel, reason).inc(n)
    return result


def storage_maintain(*, now: dt.datetime) -> dict[str, int]:
    """Partitions made ahead, raw readings and rollups past their retention removed (hourly)."""
    return storage.storage_maintain(now=now)
