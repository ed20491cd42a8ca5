"""Periodic jobs of the worker (Celery beat schedule in settings)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.core import services


@shared_task(name="core.outbox_deliver", ignore_result=True)
def outbox_deliver() -> int:
    return services.outbox_drain()


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    services.heartbeat_beat(process="worker")
