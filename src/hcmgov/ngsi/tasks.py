"""The NGSI-LD broker's worker jobs: sending queued notifications (beat: every 2 s, and right after
a change queued some)."""

from __future__ import annotations

from celery import shared_task

from hcmgov.ngsi import notify as sending


@shared_task(name="ngsi.notify", ignore_result=True)
def notify() -> int:
    return sending.deliveries_send()
