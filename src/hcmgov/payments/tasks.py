"""Periodic jobs of the payments app (Celery beat schedule in settings)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from hcmgov.payments import reconciliation, selectors, services
from hcmgov.payments.adapters import vnpay

log = logging.getLogger(__name__)


@shared_task(name="payments.transactions_expire", ignore_result=True)
def transactions_expire() -> int:
    return services.transactions_expire()


@shared_task(name="payments.refunds_run", ignore_result=True)
def refunds_run() -> int:
    """Send the requested refunds to the gateway; one that cannot be reached is tried next time."""
    done = 0
    for refund in list(selectors.refunds_pending()[:50]):
        try:
            services.refund_run(refund_id=refund.pk)
            done += 1
        except vnpay.GatewayError as exc:
            log.warning("payments: refund not sent", extra={"refund_id": refund.pk, "error": str(exc)})
    return done


@shared_task(name="payments.reconcile", ignore_result=True)
def reconcile_yesterday() -> int:
    """Compare yesterday's statement (GMT+7) with the books; returns the mismatches found."""
    day = (timezone.now().astimezone(vnpay.GMT7) - dt.timedelta(days=1)).date()
    try:
        run = reconciliation.reconcile_fetch(day=day)
    except vnpay.GatewayError as exc:
        log.warning("payments: no statement", extra={"day": str(day), "error": str(exc)})
        return 0
    return run.mismatched
