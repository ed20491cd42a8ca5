"""Reads of the reporting cycle: templates, periods, reports, who is late, the state of a period;
who may read a report (the officials' pages and the API alike); and the reads of the leaders'
dashboards that the API gives too (the index of Decision 766 per agency, the plan's targets).
Pages and the API call these, so both answer the same."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.core.cache import cache
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from hcmgov.common.errors import DomainError, FieldError, Message, NotFound
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity
from hcmgov.reporting import quality, targets
from hcmgov.reporting.access import KEEP, PEOPLES_COMMITTEES, REVIEW, REVIEWERS, report_may
from hcmgov.reporting.models import (
    EDITABLE,
    NationalExport,
    Period,
    Report,
    ReportEvent,
    ReportStatus,
    ReportTemplate,
    TemplateIndicator,
)
from hcmgov.reporting.periods import DEFAULT_DEADLINE_DAYS
from hcmgov.warehouse import selectors as warehouse

STATUS_EN = {
    ReportStatus.DRAFT: "Draft",
    ReportStatus.SUBMITTED: "Submitted",
    ReportStatus.RETURNED: "Returned",
    ReportStatus.APPROVED: "Approved",
    ReportStatus.REOPENED: "Reopened",
}
# a report's history, named (Vietnamese, English)
ACTION_LABELS = {
    "opened": ("Mở kỳ báo cáo", "Period opened"),
    "saved": ("Lưu nháp", "Draft saved"),
    "refilled": ("Lấy lại số liệu từ hệ thống", "Figures read again"),
    "submitted": ("Gửi báo cáo", "Submitted"),
    "returned": ("Trả lại", "Returned"),
    "approved": ("Phê duyệt", "Approved"),
    "reopened": ("Mở lại", "Reopened"),
}


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


def period_list(*, template: ReportTemplate | None = None) -> QuerySet[Period]:
    qs = Period.objects.select_related("template").order_by("-cutoff_end", "template__code")
    return qs.filter(template=template) if template is not None else qs


def period_deadlines(*, period: Period) -> dict[str, dt.date]:
    """The last sending day of each level that reports in ``period`` (as ``period_open`` set each
    report's: ``PeriodDates.deadline`` over the period's cut-off end)."""
    offsets = {**DEFAULT_DEADLINE_DAYS, **(period.template.deadlines or {})}
    return {
        level: period.cutoff_end + dt.timedelta(days=offsets[level])
        for level in period.template.levels
        if level in offsets
    }


def template_list() -> QuerySet[ReportTemplate]:
    """The templates with their indicators in order (two queries whatever their number)."""
    lines = TemplateIndicator.objects.select_related("indicator").order_by("position")
    return ReportTemplate.objects.prefetch_related(Prefetch("lines", queryset=lines)).order_by("code")


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


def report_list_visible(
    *, user: Any, period_id: int | None = None, unit_code: str = "", status: str = ""
) -> QuerySet[Report]:
    """Every report ``user`` may read (``report_may_read``): those they keep and those they review,
    in any status; latest periods first."""
    kept = _committee_windows(user=user, roles=None, field="unit_code")
    qs = Report.objects.select_related("period__template", "parent")
    if kept is None:
        return qs.none()
    below = _committee_windows(user=user, roles=REVIEWERS, field="parent__unit_code")
    top = _committee_windows(user=user, roles=REVIEWERS, field="unit_code")
    where = kept
    if below is not None and top is not None:
        where |= below | (top & Q(parent__isnull=True))
    qs = qs.filter(where)
    if period_id is not None:
        qs = qs.filter(period_id=period_id)
    if unit_code:
        qs = qs.filter(unit_code=unit_code)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-period__cutoff_end", "period__template__code", "level", "unit_code", "pk")


def report_may_read(*, user: Any, report: Report) -> bool:
    """Whether ``user`` keeps or reviews ``report`` (``access.report_may``): who may read it."""
    return report_may(user=user, report=report, action=KEEP) or report_may(user=user, report=report, action=REVIEW)


def _readable(user: Any, report: Report, missing: NotFound) -> Report:
    if not report_may_read(user=user, report=report):
        raise missing  # the same answer as a report that does not exist: its existence is not revealed
    return report


def report_for(*, user: Any, template_code: str, period_key: str, unit_code: str) -> Report:
    """The report of ``unit_code`` in a period, when ``user`` may read it; ``NotFound`` otherwise."""
    found = report_get(period=period_get(template_code=template_code, key=period_key), unit_code=unit_code)
    return _readable(user, found, NotFound(f"báo cáo của đơn vị {unit_code}", f"The report of unit {unit_code}"))


def report_by_id(*, user: Any, report_id: int) -> Report:
    """Report ``report_id``, when ``user`` may read it; ``NotFound`` otherwise (the API's routes)."""
    missing = NotFound(f"báo cáo {report_id}", f"Report {report_id}")
    try:
        found = Report.objects.select_related("period__template", "parent").get(pk=report_id)
    except Report.DoesNotExist:
        raise missing from None
    return _readable(user, found, missing)


def report_late_now(*, report: Report, today: dt.date | None = None) -> bool:
    """Late: first sent after the deadline, or not sent and the deadline passed (``today``: Ho
    Chi Minh City's day)."""
    today = today or timezone.localdate()
    return bool(report.late or (report.first_submitted_at is None and report.deadline < today))


def report_actions(*, user: Any, report: Report) -> dict[str, bool]:
    """What ``user`` may do to ``report`` now: ``edit`` (save, submit), ``decide`` (return,
    approve) and ``reopen``; the services check again when asked."""
    may_keep = report_may(user=user, report=report, action=KEEP)
    may_review = report_may(user=user, report=report, action=REVIEW)
    return {
        "edit": may_keep and report.status in EDITABLE,
        "decide": may_review and report.status == ReportStatus.SUBMITTED,
        "reopen": may_review and report.status == ReportStatus.APPROVED,
    }


def template_lines(*, template: ReportTemplate) -> list[TemplateIndicator]:
    """The template's indicators in order, with their unit of measure and prefill source."""
    return list(TemplateIndicator.objects.filter(template=template).select_related("indicator").order_by("position"))


# --- the leaders' dashboards (views_dashboard) and the API -----------------------------------------

TARGETS_SECONDS = 300  # the targets read counts from the database too: at most five minutes old
INDEX_LABEL = {"month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"), "quarter": re.compile(r"^(\d{4})-Q([1-4])$")}


# The reports of the current figures, as objects, with the token the shared cache holds for them:
# the cache hands back a pickled copy, and unpickling the whole city's values on every page (under
# the local-memory cache's lock) was most of the dashboard's time under load (bench/pages.py,
# py-spy: p95 189 ms → 32 ms without it). Each read still asks the cache for the small token, so a
# cleared cache or figures computed again by another node are seen at once.
_plan_memo: dict[str, tuple[str, list[targets.TargetReport]]] = {}


def plan_targets_cached() -> list[targets.TargetReport]:
    """``targets.plan_targets()`` from the cache while no warehouse file of the dossiers changed,
    for at most ``TARGETS_SECONDS`` (accounts, officials and systems are counted in the database)."""
    files = warehouse.warehouse_partition_files(table="dossiers") or []
    stamp = quality._signature(files)  # the index's own signature of the files
    key = f"dash:targets:{stamp}:{int(timezone.now().timestamp() // TARGETS_SECONDS)}"
    token = cache.get(key)
    held = _plan_memo.get("current")
    if token is not None and held is not None and held[0] == token:
        return held[1]
    found: list[targets.TargetReport] | None = cache.get(f"{key}:reports") if token is not None else None
    if found is None or token is None:
        found = targets.plan_targets()
        token = secrets.token_hex(8)
        cache.set_many({key: token, f"{key}:reports": found}, TARGETS_SECONDS)
    _plan_memo["current"] = (token, found)
    return found


def _index_refusal(code: str, status: int, field: str, vi: str, en: str) -> DomainError:
    return DomainError(code, Message(vi, en), status, [FieldError(field, code, Message(vi, en))])


def index_read(
    *, kind: str, label: str = "", field: str = "p", table_of: Callable[[str], pa.Table] | None = None
) -> tuple[pa.Table, str, list[str]]:
    """The cached index of Decision 766 for ``kind`` of period (month, quarter), the period
    ``label`` checked (none: the latest there is; "" when there are no figures at all) and the
    periods it holds, newest first. ``field``: the input's name in a refusal."""
    if kind not in INDEX_LABEL:
        raise _index_refusal("index_period_kind", 400, "period",
                             f"Kỳ không hợp lệ: {kind!r} (tháng: month, quý: quarter).",
                             f"Unknown kind of period {kind!r}: month or quarter.")  # fmt: skip
    if label and not INDEX_LABEL[kind].match(label):
        # checked before the index is read: a malformed label costs no counting
        raise _index_refusal("index_period_label", 400, field,
                             f"Kỳ {label!r} không đúng dạng (2026-03 hoặc 2026-Q1).",
                             f"Period {label!r} is not well formed (2026-03 or 2026-Q1).")  # fmt: skip
    table = (table_of or (lambda k: quality.service_index_cached(period=k)))(kind)  # type: ignore[arg-type]
    periods = sorted(set(table.column("period").to_pylist()), reverse=True)
    label = label or (periods[0] if periods else "")
    if label and periods and label not in periods:
        raise _index_refusal("index_no_figures", 404, field, f"Không có số liệu cho kỳ {label}.",
                             f"There are no figures for {label}.")  # fmt: skip
    return table, label, periods


def _period_rows(table: pa.Table, label: str) -> list[dict[str, Any]]:
    return table.filter(pc.equal(table.column("period"), label)).to_pylist()


def index_scores(*, table: pa.Table, label: str) -> list[dict[str, Any]]:
    """Per agency of the period: each group's (earned, measurable maximum) and the total, as
    ``quality.IndexRow.group_points`` counts them (indicators without a figure leave both)."""
    out: dict[str, dict[str, Any]] = {}
    for r in _period_rows(table, label):
        row = out.setdefault(r["key"], {"key": r["key"], "groups": {g: [0.0, 0.0] for g in quality.GROUPS}})
        if r["points"] is not None:
            row["groups"][r["group"]][0] += r["points"]
            row["groups"][r["group"]][1] += r["max_points"]
    for row in out.values():
        row["groups"] = {g: (round(e, 4), m) for g, (e, m) in row["groups"].items()}
        row["total"] = (round(sum(e for e, _ in row["groups"].values()), 4), sum(m for _, m in row["groups"].values()))
    return list(out.values())


def agency_names() -> dict[str, str]:
    """Every agency's code → name (the index names the agencies by code)."""
    return dict(core.agency_list().values_list("code", "name"))


def index_agency_rows(*, table: pa.Table, label: str, code: str, names: dict[str, str]) -> list[dict[str, Any]]:
    """The agency's figures of the period (none: no dossier of it counted then); an agency the
    platform does not know (not in ``names``) is a 404."""
    if code not in names:
        raise _index_refusal("agency_unknown", 404, "agency", f"Không có cơ quan mã {code!r}.",
                             f"There is no agency with the code {code!r}.")  # fmt: skip
    return [r for r in _period_rows(table, label) if r["key"] == code] if label else []
