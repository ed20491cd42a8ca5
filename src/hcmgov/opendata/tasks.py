"""Periodic jobs of the open data catalogue (Celery beat schedule in settings)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.common import context
from hcmgov.opendata import harvest


@shared_task(name="opendata.harvest_due", ignore_result=True)
def harvest_due() -> int:
    """Harvest the sources that are due (``HarvestSource.frequency_hours`` since their last run; the
    beat ticks every 10 minutes). Each run is recorded in its source's ``last_report``, failed or not."""
    with context.acting_as(context.Actor.system("worker")):
        return len(harvest.harvest_sources_due())


@shared_task(name="opendata.publish_figures", ignore_result=True)
def publish_figures() -> int:
    """Refresh the platform's own figures published as open data (daily)."""
    from hcmgov.opendata import publish

    return len(publish.publish_all())
