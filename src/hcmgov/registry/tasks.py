"""Periodic jobs of the shared data store (Celery beat schedule in settings)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.common import context
from hcmgov.registry import services


@shared_task(name="registry.lookups_retry", ignore_result=True)
def lookups_retry() -> dict[str, int]:
    """Try again the national lookups that failed and are due (every minute, with back-off per
    record): an applicant whose form opened while a source was down gets verified facts later."""
    with context.acting_as(context.Actor.system("worker")):
        return services.lookups_retry()
