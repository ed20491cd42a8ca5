"""Reads of the IoT platform: devices (and what the ingestion needs of them), readings, rollups and
the quarantine."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet

from hcmgov.iot.models import Device, Quarantine, Reading, Rollup
from hcmgov.iot.validation import DeviceInfo, device_info


def device_get(*, code: str) -> Device | None:
    return Device.objects.filter(code=code).first()


def device_list(*, kind: str | None = None) -> QuerySet[Device]:
    devices = Device.objects.all()
    return devices.filter(kind=kind) if kind else devices


def devices_info(*, codes: list[str] | None = None) -> dict[str, DeviceInfo]:
    """What the ingestion checks, for the devices of ``codes`` (all of them without)."""
    devices = Device.objects.only("id", "code", "status", "attributes", "calibration")
    if codes is not None:
        devices = devices.filter(code__in=codes)
    return {d.code: device_info(d) for d in devices}


def readings_list(
    *, device: Device, attribute: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> QuerySet[Reading]:
    """One device's readings of one attribute, oldest first (the partitions outside the range are
    pruned on PostgreSQL)."""
    readings = Reading.objects.filter(device=device, attribute=attribute)
    if since is not None:
        readings = readings.filter(observed_at__gte=since)
    if until is not None:
        readings = readings.filter(observed_at__lt=until)
    return readings.order_by("observed_at")


def rollups_list(
    *, device: Device, attribute: str, period: int, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> QuerySet[Rollup]:
    rollups = Rollup.objects.filter(device=device, attribute=attribute, period=period)
    if since is not None:
        rollups = rollups.filter(bucket__gte=since)
    if until is not None:
        rollups = rollups.filter(bucket__lt=until)
    return rollups.order_by("bucket")


def quarantine_counts(*, since: dt.datetime | None = None) -> dict[str, int]:
    """Quarantine rows by reason (sampled: the metrics count every refusal)."""
    rows = Quarantine.objects.all()
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    return {r["reason"]: r["n"] for r in rows.values("reason").annotate(n=Count("id")).order_by()}
