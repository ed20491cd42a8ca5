"""Periodic jobs of the data sharing platform (Celery beat schedule in settings)."""

from __future__ import annotations

import logging

from celery import shared_task

from hcmgov.common import context
from hcmgov.common.errors import DomainError
from hcmgov.exchange import events, logchain

log = logging.getLogger(__name__)


@shared_task(name="exchange.deliveries_send", ignore_result=True)
def deliveries_send() -> int:
    """Send the event deliveries that are due (the beat's tick, every few seconds); dead ones are
    audited as the worker's doing."""
    with context.acting_as(context.Actor.system("worker")):
        return events.deliveries_send()


@shared_task(name="exchange.log_seal", ignore_result=True)
def log_seal() -> int:
    """Seal the head of every chain of the message log with an RFC 3161 time stamp (every 5
    minutes: the most of a chain's tail that could be cut off unseen). Without a time-stamping
    authority configured there is nothing to do; when it is down, the next tick tries again."""
    try:
        return len(logchain.log_seal())
    except DomainError as exc:
        if exc.code == "tsa_not_configured":
            log.warning("exchange: no time-stamping authority configured, the message log is not sealed")
            return 0
        raise


@shared_task(name="exchange.log_archive", ignore_result=True)
def log_archive() -> int:
    """Move sealed records past their retention (``EXCHANGE_LOG_RETENTION_DAYS``) to archives."""
    return len(logchain.log_archive(older_than=logchain.log_retention()))


@shared_task(name="exchange.portal_push", ignore_result=True)
def portal_push() -> int:
    """Send the dossiers' status changes that are due to the National Public Service Portal (the
    beat's tick, every half minute); a portal that is down costs one call, tried again next tick."""
    import time

    from hcmgov.exchange import portal

    # batch after batch while changes go out, for most of the tick: one batch of 100 per half
    # minute would cap the portal at ~3 changes/s, far below a city's day
    deadline = time.monotonic() + 25.0
    sent = 0
    while True:
        report = portal.portal_push_send()
        sent += report.sent
        if report.portal_down or report.sent == 0 or time.monotonic() >= deadline:
            return sent
