"""Periodic job of the analytics warehouse (Celery beat schedule in settings: hourly)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.common import context


@shared_task(name="warehouse.refresh", ignore_result=True)
def refresh() -> int:
    """Refresh every warehouse table incrementally; returns how many tables failed (each failure is
    recorded in its run, and the next run reads the same changes again)."""
    from hcmgov.warehouse import services

    with context.acting_as(context.Actor.system("warehouse-refresh")):
        reports = services.warehouse_refresh()
    return sum(r.status == "failed" for r in reports)
