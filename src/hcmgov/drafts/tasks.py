"""Periodic job of the drafts app (Celery beat schedule in settings)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.drafts import services


@shared_task(name="drafts.purge", ignore_result=True)
def purge() -> int:
    return services.drafts_purge()
