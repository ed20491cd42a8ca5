"""Reads of the reporting cycle: periods, reports, who is late, the state of a period."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from hcmgov.common.errors import NotFound
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity
from hcmgov.reporting.access import PEOPLES_COMMITTEES, REVIEWERS
from hcmgov.reporting.models import (
    NationalExport,
    Period,
    Report,
    ReportEvent,
    ReportStatus,
    ReportTemplate,
    TemplateIndicator,
)


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


# --- the officials' pages (views_reports) ----------------------------------------------------------


def _committee_windows(*, user: Any, roles: set[str] | None, field: str) -> Q | None:
    """Reports whose ``field`` (a unit code path) names a unit of a People's Committee where
    ``user`` holds one of ``roles`` today, for the periods whose cut-off end falls while that
    committee stood (as ``access.report_may`` reads it); None when there is none."""
    agency_ids = identity.user_agency_ids(user=user, roles=roles)
    if not agency_ids:
        return None
    found = core.agency_list().filter(pk__in=agency_ids, kind__in=PEOPLES_COMMITTEES, unit__isnull=False)
    where: Q | None = None
    for agency in found:
        if agency.unit is None:  # excluded by the query; for the type checker
            continue
        window = Q(**{field: agency.unit.code}, period__cutoff_end__gte=agency.valid_from)
        if agency.valid_to is not None:
            window &= Q(period__cutoff_end__lte=agency.valid_to)
        where = window if where is None else where | window
    return where


def report_list_kept(*, user: Any) -> QuerySet[Report]:
    """The reports ``user`` keeps (their units' People's Committees), latest periods first."""
    where = _committee_windows(user=user, roles=None, field="unit_code")
    qs = Report.objects.select_related("period__template", "parent")
    if where is None:
        return qs.none()
    return qs.filter(where).order_by("-period__cutoff_end", "period__template__code", "level", "unit_code")


def report_list_to_review(*, user: Any, status: str | None = ReportStatus.SUBMITTED) -> QuerySet[Report]:
    """The reports ``user`` reviews as a head or leader of the unit above (the top report: of its
    own unit), in ``status`` (submitted: waiting for a decision)."""
    below = _committee_windows(user=user, roles=REVIEWERS, field="parent__unit_code")
    top = _committee_windows(user=user, roles=REVIEWERS, field="unit_code")
    qs = Report.objects.select_related("period__template", "parent")
    if below is None or top is None:
        return qs.none()
    qs = qs.filter(below | (top & Q(parent__isnull=True)))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-period__cutoff_end", "period__template__code", "level", "unit_code")


def template_lines(*, template: ReportTemplate) -> list[TemplateIndicator]:
    """The template's indicators in order, with their unit of measure and prefill source."""
    return list(TemplateIndicator.objects.filter(template=template).select_related("indicator").order_by("position"))
