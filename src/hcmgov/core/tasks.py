"""Periodic jobs of the worker (Celery beat schedule in settings)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.core import services


@shared_task(name="core.outbox_deliver", ignore_result=True)
def outbox_deliver() -> int:
    """The beat's tick (every 2 s), and its continuations: a drain that ends with a backlog left
    queues one more drain at once, so that while the backlog lasts every tick adds a worker to it
    and as many worker processes as the city runs share it (each claims its own rows), instead of
    one drain per tick on one process. A drain that finds the outbox empty ends its chain."""
    delivered, backlog = services.outbox_drain_report()
    if backlog and services.outbox_parallel() and not outbox_deliver.app.conf.task_always_eager:
        outbox_deliver.apply_async()
    return delivered


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    services.heartbeat_beat(process="worker")
