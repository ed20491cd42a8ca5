"""Periodic jobs of the IoT platform (Celery beat schedule in settings)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from hcmgov.iot import services


@shared_task(name="iot.storage_maintain", ignore_result=True)
def storage_maintain() -> dict[str, int]:
    """Hourly: the readings' daily partitions for the days ahead, and the retention of each level
    (raw partitions dropped whole, rollups deleted). Idempotent."""
    return services.storage_maintain(now=dt.datetime.now(dt.UTC))
