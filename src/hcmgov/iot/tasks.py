"""Periodic jobs of the IoT platform (Celery beat schedule in settings)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task

from hcmgov.common import context
from hcmgov.iot import services


@shared_task(name="iot.storage_maintain", ignore_result=True)
def storage_maintain() -> dict[str, int]:
    """Hourly: the readings' daily partitions for the days ahead, and the retention of each level
    (raw partitions dropped whole, rollups deleted). Idempotent."""
    return services.storage_maintain(now=dt.datetime.now(dt.UTC))


@shared_task(name="iot.observe", ignore_result=True)
def observe() -> dict[str, int]:
    """Every minute: changed devices and the 5-minute interval closed last mirrored to the NGSI-LD
    broker, then the alert rules evaluated over the intervals closed since. Idempotent (cursors
    locked and moved with what they did): a retry or a second worker writes nothing twice."""
    from hcmgov.iot import alerts, mirror

    now = dt.datetime.now(dt.UTC)
    with context.acting_as(context.Actor.system("worker")):
        devices = mirror.devices_sync(now=now)
        observations = mirror.observations_sync(now=now)
        evaluated = alerts.alerts_evaluate(now=now)
    return {"devices": devices, "observations": observations, **evaluated}


@shared_task(name="iot.opendata_daily", ignore_result=True)
def opendata_daily() -> dict[str, Any]:
    """Nightly: the daily air quality and traffic aggregates of the last closed days, and their
    open data datasets republished."""
    from hcmgov.iot import opendata

    with context.acting_as(context.Actor.system("worker")):
        return opendata.opendata_daily(now=dt.datetime.now(dt.UTC))
