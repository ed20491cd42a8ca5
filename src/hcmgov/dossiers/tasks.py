"""Periodic jobs of the dossiers app (Celery beat schedule in settings)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.dossiers import services


@shared_task(name="dossiers.step_timers", ignore_result=True)
def step_timers() -> tuple[int, int]:
    """Reminders before steps fall due and escalations after; safe to run twice (see the service)."""
    return services.step_timers_run()


@shared_task(name="dossiers.stats_compact", ignore_result=True)
def stats_compact() -> int:
    """Fold past days' appended statistics rows into one per key (see ProcessingStat)."""
    return services.processing_stats_compact()
