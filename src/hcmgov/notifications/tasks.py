from __future__ import annotations

from celery import shared_task

from hcmgov.notifications import services


@shared_task(name="notifications.send_pending", ignore_result=True)
def send_pending() -> int:
    return services.notifications_send_pending()
