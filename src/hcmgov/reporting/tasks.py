"""Periodic jobs of the reporting app (add ``reporting.national_export_send`` to the Celery beat
schedule in settings: every minute)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.common import context
from hcmgov.reporting import national


@shared_task(name="reporting.national_export_send", ignore_result=True)
def national_export_send() -> dict[str, int]:
    """Send the approved city reports that are due to the national reporting system."""
    with context.acting_as(context.Actor.system("worker")):
        done = national.national_export_send()
    return {"sent": done.sent, "failed": done.failed, "dead": done.dead}
