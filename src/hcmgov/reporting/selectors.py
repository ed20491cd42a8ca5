"""Reads of the reporting cycle: periods, reports, who is late, the state of a period."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import Q, QuerySet
from django.utils import timezone

from hcmgov.common.errors import NotFound
from hcmgov.reporting.models import NationalExport, Period, Report, ReportEvent, ReportStatus, ReportTemplate


def template_get(*, code: str) -> ReportTemplate:
    try:
        return ReportTemplate.objects.get(code=code)
    except ReportTemplate.DoesNotExist:
        raise NotFound(f"mẫu báo cáo {code}", f"Report template {code}") from None


def period_get(*, template_code: str, key: str) -> Period:
    try:
        return Period.objects.select_related("template").get(template__code=template_code, key=key)
    except Period.DoesNotExist:
        raise NotFound(f"kỳ báo cáo {template_code} {key}", f"Reporting period {template_code} {key}") from None


def period_list() -> QuerySet[Period]:
    return Period.objects.select_related("template").order_by("-cutoff_end", "template__code")


def report_get(*, period: Period, unit_code: str) -> Report:
    try:
        return Report.objects.select_related("period__template", "parent").get(period=period, unit_code=unit_code)
    except Report.DoesNotExist:
        raise NotFound(f"báo cáo của đơn vị {unit_code}", f"The report of unit {unit_code}") from None


def report_list(*, period: Period, status: str | None = None, parent: Report | None = None) -> QuerySet[Report]:
    """The reports of a period (those a report reviews, with ``parent``)."""
    qs = Report.objects.filter(period=period).select_related("parent")
    if status:
        qs = qs.filter(status=status)
    if parent is not None:
        qs = qs.filter(parent=parent)
    return qs.order_by("level", "unit_code")


def late_reports(*, period: Period, today: dt.date | None = None) -> QuerySet[Report]:
    """The period's late reports: first sent after their deadline, or not sent by it (``today``
    past the deadline, Ho Chi Minh City's day)."""
    today = today or timezone.localdate()
    never_sent = Q(first_submitted_at=None, deadline__lt=today)
    return report_list(period=period).filter(Q(late=True) | never_sent)


def period_status(*, period: Period) -> dict[str, int]:
    """How many of the period's reports are in each status."""
    counts = Counter(Report.objects.filter(period=period).values_list("status", flat=True))
    return {status: counts.get(status, 0) for status in ReportStatus.values}


def report_history(*, report: Report) -> list[ReportEvent]:
    return list(report.events.order_by("id"))  # the order things happened in (times may be given)


def export_list(*, state: str | None = None) -> QuerySet[NationalExport]:
    qs = NationalExport.objects.select_related("report__period__template")
    return qs.filter(state=state) if state else qs
