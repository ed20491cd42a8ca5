"""The city's approved reports sent to the national reporting system (Hệ thống thông tin báo cáo
quốc gia; Decree 09/2019/NĐ-CP: provinces report to the Government through it).

An approved report at the top of the hierarchy publishes ``reporting.report_approved`` in the
transaction that approves it; the outbox handler (``handlers``) queues one :class:`NationalExport`
per approved version, keyed (template, period, unit, version) — a second delivery of the event
finds the key and queues nothing. :func:`national_export_send` (the worker, every minute) sends
what is due with exponential back-off; the system keeps a key once, so a send repeated after a
crash, or a duplicate, changes nothing there. A refusal of the report itself is dead at once."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from hcmgov.reporting.adapters import national as api
from hcmgov.reporting.models import ExportState, NationalExport, Report

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # 30 s doubling, capped at 6 h: about a day and a half of trying
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=6)
BATCH = 50


def national_enabled() -> bool:
    """On when the system's URL is configured (``HCMGOV_REPORTING_NATIONAL_URL``)."""
    return bool(settings.REPORTING_NATIONAL_URL)


def export_key(report: Report) -> str:
    return f"{report.period.template.code}:{report.period.key}:{report.unit_code}:v{report.version}"


def export_payload(report: Report) -> dict[str, Any]:
    """What the system receives: the report's totals for its whole part of the hierarchy."""
    return {
        "key": export_key(report),
        "template_code": report.period.template.code,
        "period": report.period.key,
        "cutoff_start": report.period.cutoff_start.isoformat(),
        "cutoff_end": report.period.cutoff_end.isoformat(),
        "unit_code": report.unit_code,
        "version": report.version,
        "values": report.totals,
        "units_counted": len(report.coverage.get("counted", [])),
        "units_missing": report.coverage.get("missing", []),
        "approved_at": report.approved_at.isoformat() if report.approved_at else None,
    }


def national_export_queue(*, report_id: int, version: int, now: dt.datetime | None = None) -> NationalExport | None:
    """Queue the approved ``version`` of a report (idempotent: the key once). None when the
    report has since been reopened (that version is no longer the approved one) or the connector
    is off."""
    if not national_enabled():
        return None
    report = Report.objects.select_related("period__template").get(pk=report_id)
    if report.version != version or report.status != "approved":
        return None
    now = now or timezone.now()
    export, _ = NationalExport.objects.get_or_create(
        key=export_key(report),
        defaults={"report": report, "payload": export_payload(report), "next_at": now, "created_at": now},
    )
    return export


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    duplicates: int = 0


def _backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def national_export_send(*, now: dt.datetime | None = None, batch: int = BATCH) -> SendReport:
    """Send the exports that are due. A failure postpones one with back-off up to
    :data:`MAX_ATTEMPTS` (then dead, logged); a refusal of the report is dead at once. The
    first failure that says the system is unreachable ends the run (one call per tick)."""
    result = SendReport()
    if not national_enabled():
        return result
    now = now or timezone.now()
    base_url, token = str(settings.REPORTING_NATIONAL_URL), str(settings.REPORTING_NATIONAL_TOKEN)
    timeout = float(settings.REPORTING_NATIONAL_TIMEOUT)
    due = NationalExport.objects.filter(state=ExportState.PENDING, next_at__lte=now).order_by("next_at", "id")[:batch]
    for export in list(due):
        try:
            answer = api.report_post(base_url=base_url, token=token, payload=export.payload, timeout=timeout)
        except api.NationalError as exc:
            attempts = export.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "last_error": str(exc)[:2000]}
            if not exc.retry or attempts >= MAX_ATTEMPTS:
                values["state"] = ExportState.DEAD
                result.dead += 1
                log.error("reporting: export %s not delivered after %s attempts: %s", export.key, attempts, exc)
            else:
                values["next_at"] = now + _backoff(attempts)
                result.failed += 1
            NationalExport.objects.filter(pk=export.pk).update(**values)
            if exc.retry:
                break  # the system is unwell: the others wait for the next tick
            continue
        NationalExport.objects.filter(pk=export.pk).update(
            state=ExportState.SENT,
            sent_at=timezone.now(),
            attempts=export.attempts + 1,
            last_error="",
            remote_id=str(answer.get("id", ""))[:64],
        )
        result.sent += 1
        result.duplicates += bool(answer.get("duplicate"))
    return result


def national_export_stats() -> dict[str, int]:
    counts = dict(NationalExport.objects.order_by().values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in ExportState.values}
