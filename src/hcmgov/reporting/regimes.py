"""Reads of the register of the city's periodic reporting regimes (``ReportingRegime``): which are
in force, which are made on this reporting system, and how many of the reports due on the system
were sent. The plan's target "periodic reports made on the reporting system" (``targets``) and the
register's page read these. Docs: docs/reporting/regimes.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from hcmgov.reporting.models import Period, RegimeChannel, ReportingRegime, ReportTemplate

LEVELS = ("city", "district", "commune")


def regime_list(*, day: dt.date | None = None) -> QuerySet[ReportingRegime]:
    """The regimes in force on ``day`` (all when None), each annotated ``on_system``: made on the
    system (channel ``system``) with a template of that code the platform holds."""
    has_template = Exists(ReportTemplate.objects.filter(code=OuterRef("template_code")))
    qs = ReportingRegime.objects.annotate(has_template=has_template).order_by("code")
    if day is not None:
        qs = qs.filter(valid_from__lte=day).exclude(valid_to__lt=day)
    return qs


def regime_on_system(regime: ReportingRegime) -> bool:
    """Made on the system: its channel says so and its template exists (``regime_list`` annotates it)."""
    return regime.channel == RegimeChannel.SYSTEM and bool(getattr(regime, "has_template", False))


@dataclass(frozen=True)
class RegimeShare:
    """Regimes in force and those made on the system, for the city or one level."""

    scope: str  # city / level
    key: str  # "" or the level
    on_system: int
    in_force: int


def regime_shares(*, day: dt.date | None = None) -> list[RegimeShare]:
    """Regimes made on the system ÷ regimes in force on ``day`` (today), for the city (each regime
    once) and per level that reports under it (a regime reported at three levels counts at each)."""
    regimes = list(regime_list(day=day or timezone.localdate()))
    shares = [RegimeShare("city", "", sum(regime_on_system(r) for r in regimes), len(regimes))]
    for level in LEVELS:
        at_level = [r for r in regimes if level in (r.levels or [])]
        if at_level:
            shares.append(RegimeShare("level", level, sum(regime_on_system(r) for r in at_level), len(at_level)))
    return shares


@dataclass(frozen=True)
class PeriodSubmissions:
    """One period of a template on the system: the reports due by ``today`` and those sent."""

    template: str
    period: str
    cutoff_end: dt.date
    due: int  # reports whose deadline has passed
    sent: int  # of those, sent (first submitted) at all
    sent_on_time: int  # of those, first sent by the deadline

    @property
    def rate(self) -> float | None:
        return self.sent / self.due if self.due else None


def report_submissions(*, today: dt.date | None = None) -> list[PeriodSubmissions]:
    """Per period of the templates the register links (regimes made on the system): the reports
    whose deadline passed before ``today`` (the city's day) and, of them, those sent on the system
    (late or not) and those sent on time. A period with no report due yet is left out. One query."""
    today = today or timezone.localdate()
    codes = [r.template_code for r in regime_list(day=today) if regime_on_system(r)]
    due = Q(reports__deadline__lt=today)
    rows = (
        Period.objects.filter(template__code__in=codes)
        .annotate(
            due=Count("reports", filter=due),
            sent=Count("reports", filter=due & Q(reports__first_submitted_at__isnull=False)),
            late=Count("reports", filter=due & Q(reports__first_submitted_at__isnull=False, reports__late=True)),
        )
        .filter(due__gt=0)
        .select_related("template")
        .order_by("-cutoff_end", "template__code")
    )
    return [PeriodSubmissions(p.template.code, p.key, p.cutoff_end, p.due, p.sent, p.sent - p.late) for p in rows]
