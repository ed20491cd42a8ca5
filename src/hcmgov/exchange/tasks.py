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


@shared_task(name="exchange.portal_catalog_sync", ignore_result=True)
def portal_catalog_sync() -> int:
    """Pull the national procedure catalogue (daily), bring the city's procedures in line where the
    national side decides, and log the report: a summary line, and the report itself as JSON
    (added, changed, removed; applied to the city's catalogue, still different) at WARNING when the
    national catalogue changed or the city's was changed, so the catalogue's editors are told. Nothing while the
    connector is off; a portal that is down is tried again the next day (or by hand: ``hcmgov
    portal sync-catalog``). Returns how many procedures were added, changed or removed."""
    import json
    from dataclasses import asdict

    from hcmgov.exchange import portal, portal_catalog

    if not portal.portal_enabled():
        return 0
    with context.acting_as(context.Actor.system("worker")):
        try:
            report = portal_catalog.portal_catalog_sync()
        except DomainError as exc:
            log.warning("portal: catalogue sync failed, tried again tomorrow: %s", exc.message.en)
            return 0
    changes = len(report.added) + len(report.changed) + len(report.removed)
    log.log(
        logging.WARNING if changes or report.applied else logging.INFO,
        "portal: catalogue synced, %s procedures: %s added, %s changed, %s removed; %s applied to the city's, %s"
        " differ from it: %s",
        report.total,
        len(report.added),
        len(report.changed),
        len(report.removed),
        len(report.applied),
        len(report.city_differences),
        json.dumps(asdict(report), ensure_ascii=False, default=str),
    )
    return changes


@shared_task(name="exchange.portal_reconcile", ignore_result=True)
def portal_reconcile() -> int:
    """Compare what the national portal holds with the dossiers changed in the last two days
    (daily: each day checked twice, so a change made around the run is not missed) and log the
    report: a summary line, and the report as JSON at WARNING when something differs. Nothing
    while the connector is off. Returns how many dossiers differ (missing, different, unknown)."""
    import datetime as dt
    import json
    from dataclasses import asdict

    from django.utils import timezone

    from hcmgov.exchange import portal

    if not portal.portal_enabled():
        return 0
    try:
        report = portal.portal_reconcile(since=timezone.now() - dt.timedelta(days=2))
    except DomainError as exc:
        log.warning("portal: reconciliation failed, tried again tomorrow: %s", exc.message.en)
        return 0
    differ = len(report.missing) + len(report.different) + len(report.unknown)
    log.log(
        logging.WARNING if differ else logging.INFO,
        "portal: reconciled %s dossiers: %s missing there, %s different, %s unknown here, %s in flight: %s",
        report.checked,
        len(report.missing),
        len(report.different),
        len(report.unknown),
        len(report.in_flight),
        json.dumps(asdict(report), ensure_ascii=False, default=str),
    )
    return differ
