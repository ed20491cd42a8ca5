"""Writes of the reporting cycle: templates, opening a period, a unit's report from draft to
approval (and back: returned, reopened), aggregation up the hierarchy, and the approved city
report queued for the national reporting system (through the outbox: ``handlers``, ``national``).

The cycle (Decree 09/2019/NĐ-CP: each level reports to the one directly above): a unit fills its
report (the figures the platform knows are prefilled), submits it; the report of the level above
reviews it, returns it with a reason or approves it; a report above the lowest level carries, at
submission, the totals of its own figures and those of the approved reports below it. Changing an
approved report needs an explicit reopening with a reason; it then counts as a new version."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common import context
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.core import selectors as core
from hcmgov.core.services import event_publish
from hcmgov.reporting import prefill, rules
from hcmgov.reporting.access import KEEP, REVIEW, report_check
from hcmgov.reporting.models import (
    EDITABLE,
    Aggregation,
    Indicator,
    Period,
    Report,
    ReportEvent,
    ReportStatus,
    ReportTemplate,
    TemplateIndicator,
)
from hcmgov.reporting.periods import KINDS, period_dates

TOPIC_APPROVED = "reporting.report_approved"
AUDIT_FIELDS = ("status", "version", "values", "totals", "late")
LEVELS = ("commune", "district", "city")


def _refuse(code: str, vi: str, en: str, status: int = 400, errors: list[FieldError] | None = None) -> DomainError:
    return DomainError(code, Message(vi, en), status, errors or [])


# --- templates -----------------------------------------------------------------------------------


def indicator_upsert(*, code: str, **fields: Any) -> Indicator:
    """Create or update an indicator (loaders, the demo). A ratio names its numerator and
    denominator, which must exist."""
    if fields.get("aggregation") == Aggregation.RATIO:
        missing = [
            c
            for c in (fields.get("numerator"), fields.get("denominator"))
            if not c or not Indicator.objects.filter(code=c).exists()
        ]
        if missing:
            raise ValueError(f"ratio {code}: numerator and denominator must be existing indicators")
    indicator, _ = Indicator.objects.update_or_create(code=code, defaults=fields)
    return indicator


@audited("reporting.template_upsert", fields=("code", "period_kind", "rules", "levels", "deadlines"))
def template_upsert(
    *,
    code: str,
    name: str,
    name_en: str,
    period_kind: str,
    indicators: list[str],
    rules_data: list[dict[str, Any]] | None = None,
    levels: list[str] | None = None,
    agency_kinds: list[str] | None = None,
    deadlines: dict[str, int] | None = None,
    legal_basis: str = "",
    optional: list[str] | None = None,
) -> ReportTemplate:
    """Create or update a template with its indicators in the order given (``optional``: those
    that may be left empty). Rules must name
    indicators of the template; ``ValueError`` otherwise (a loader's mistake, not a user's)."""
    if period_kind not in KINDS:
        raise ValueError(f"period kind: one of {KINDS}")
    levels = levels or list(LEVELS)
    if not set(levels) <= set(LEVELS) or not set(deadlines or {}) <= set(LEVELS):
        raise ValueError(f"levels: {LEVELS}")
    found = {i.code: i for i in Indicator.objects.filter(code__in=indicators)}
    if len(found) != len(set(indicators)):
        raise ValueError(f"unknown indicators: {sorted(set(indicators) - set(found))}")
    for rule in rules_data or []:
        named = [rule.get("total"), rule.get("left"), rule.get("right"), *rule.get("parts", [])]
        if rule.get("kind") not in ("sum", "lte") or not {n for n in named if n} <= set(indicators):
            raise ValueError(f"rule {rule!r}: kind sum|lte over the template's indicators")
    for code_ in indicators:
        ind = found[code_]
        if ind.aggregation == Aggregation.RATIO and not {ind.numerator, ind.denominator} <= set(indicators):
            raise ValueError(f"ratio {code_}: its numerator and denominator must be in the template")
    template, _ = ReportTemplate.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "name_en": name_en,
            "period_kind": period_kind,
            "rules": rules_data or [],
            "levels": levels,
            "agency_kinds": agency_kinds or [],
            "deadlines": deadlines or {},
            "legal_basis": legal_basis,
        },
    )
    TemplateIndicator.objects.filter(template=template).delete()
    TemplateIndicator.objects.bulk_create(
        [
            TemplateIndicator(template=template, indicator=found[c], position=n, required=c not in (optional or []))
            for n, c in enumerate(indicators, start=1)
        ]
    )
    return template


def template_specs(*, template: ReportTemplate) -> list[rules.Spec]:
    """The template's indicators, in order, as the rules read them."""
    lines = TemplateIndicator.objects.filter(template=template).select_related("indicator").order_by("position")
    return [
        rules.Spec(
            code=line.indicator.code,
            name=line.indicator.name,
            name_en=line.indicator.name_en,
            type=line.indicator.type,
            aggregation=line.indicator.aggregation,
            min_value=line.indicator.min_value,
            max_value=line.indicator.max_value,
            numerator=line.indicator.numerator,
            denominator=line.indicator.denominator,
            required=line.required,
        )
        for line in lines
    ]


# --- a period ------------------------------------------------------------------------------------


def _event(report: Report, action: str, actor: Any, reason: str = "", now: dt.datetime | None = None) -> None:
    label = getattr(actor, "get_username", lambda: "")() if actor is not None else context.get_actor().label
    ReportEvent.objects.create(
        report=report,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=label,
        reason=reason,
        version=report.version,
        at=now or timezone.now(),
    )


@audited("reporting.period_open", fields=("key", "structure_key", "cutoff_start", "cutoff_end"))
def period_open(
    *,
    template: ReportTemplate,
    key: str,
    structure: str | None = None,
    unit_codes: list[str] | None = None,
    actor: Any = None,
    now: dt.datetime | None = None,
) -> Period:
    """Open period ``key`` of ``template``: one report per unit that must report, in the
    administrative structure in force at the end of the cut-off window (or ``structure``), each
    under the report of the nearest unit above it that reports (ward → district → city in the
    structure of 2021; commune → city in the two-tier structure from 1 Jul 2025), with its
    deadline and the figures the platform knows prefilled. ``unit_codes`` limits the units (a
    pilot, a test). A period is opened once."""
    now = now or timezone.now()
    try:
        dates = period_dates(key)
    except ValueError as exc:
        raise _refuse("period_key", f"Kỳ báo cáo không hợp lệ: {key}.", f"Not a reporting period: {key}.",
                      errors=[FieldError("period", "invalid", Message(str(exc), str(exc)))]) from exc  # fmt: skip
    if dates.kind != template.period_kind:
        raise _refuse(
            "period_kind",
            f"Mẫu {template.code} báo cáo theo kỳ {template.period_kind}, không theo kỳ {dates.kind}.",
            f"Template {template.code} reports {template.period_kind}, not {dates.kind}.",
            errors=[FieldError("period", "kind", Message("Sai loại kỳ.", "Wrong period kind."))],
        )
    if Period.objects.filter(template=template, key=key).exists():
        raise _refuse("period_open", f"Kỳ {key} đã được mở.", f"Period {key} is already open.", 409)
    structure = structure or core.structure_at(day=dates.cutoff_end).key
    units = list(core.unit_list(structure=structure).filter(level__in=template.levels))
    if unit_codes is not None:
        unknown = sorted(set(unit_codes) - {u.code for u in units})
        if unknown:
            raise _refuse(
                "period_units",
                f"Không có đơn vị báo cáo theo mẫu này trong cơ cấu {structure}: {', '.join(unknown)}.",
                f"No unit reporting on this template in structure {structure}: {', '.join(unknown)}.",
                errors=[FieldError("unit_codes", "unknown", Message("Đơn vị không hợp lệ.", "Unknown units."))],
            )
        units = [u for u in units if u.code in set(unit_codes)]
    period = Period.objects.create(
        template=template,
        key=key,
        structure_key=structure,
        cutoff_start=dates.cutoff_start,
        cutoff_end=dates.cutoff_end,
        opened_at=now,
    )
    known = prefill.figures(
        template=template,
        structure=structure,
        start=dates.cutoff_start,
        end=dates.cutoff_end,
        unit_codes=[u.code for u in units],
    )
    by_code: dict[str, Report] = {}
    # one insert per level, parents first (city, district, commune), so each report finds its parent
    for level in ("city", "district", "commune"):
        rows = []
        for unit in (u for u in units if u.level == level):
            parent = unit.parent
            while parent is not None and parent.code not in by_code:
                parent = parent.parent
            values = known.get(unit.code, {})
            rows.append(
                Report(
                    period=period,
                    unit_code=unit.code,
                    unit_name=unit.name,
                    level=unit.level,
                    parent=by_code[parent.code] if parent is not None else None,
                    values=values,
                    prefilled=sorted(values),
                    deadline=dates.deadline(unit.level, template.deadlines),
                )
            )
        by_code.update({report.unit_code: report for report in Report.objects.bulk_create(rows)})
    label = getattr(actor, "get_username", lambda: "")() if actor is not None else context.get_actor().label
    ReportEvent.objects.bulk_create(
        [
            ReportEvent(
                report=report,
                action="opened",
                actor=actor if getattr(actor, "pk", None) else None,
                actor_label=label,
                version=1,
                at=now,
            )
            for report in by_code.values()
        ]
    )
    return period


# --- one report ----------------------------------------------------------------------------------


def _locked(report: Report) -> DomainError:
    if report.status == ReportStatus.APPROVED:
        return _refuse(
            "report_approved",
            "Báo cáo đã được duyệt; muốn sửa phải mở lại kèm lý do.",
            "The report is approved: reopen it, with a reason, to change it.",
            409,
        )
    return _refuse(
        "report_not_editable",
        f"Báo cáo đang ở trạng thái {report.get_status_display()}, không sửa được.",
        f"The report is {report.status}: it cannot be changed now.",
        409,
    )


def _invalid(errors: list[FieldError]) -> DomainError:
    first = errors[0]
    return _refuse(
        "report_invalid",
        f"Báo cáo chưa hợp lệ: {first.message.vi}",
        f"The report is not valid: {first.message.en}",
        errors=errors,
    )


@audited("reporting.report_save", target="report", fields=AUDIT_FIELDS)
def report_save(*, report: Report, values: dict[str, Any], actor: Any = None) -> Report:
    """Keep typed figures in a report being drafted (returned, or reopened): each given code is
    replaced (``None`` or ``""`` clears it); types and ranges are checked now, required figures
    and the rules between them at submission. A figure typed over a prefilled one is no longer
    marked prefilled."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    report_check(user=actor, report=report, action=KEEP)
    if report.status not in EDITABLE:
        raise _locked(report)
    specs = template_specs(template=report.period.template)
    merged = {**report.values, **values}
    kept, errors = rules.check(specs, merged, report.period.template.rules, final=False)
    if errors:
        raise _invalid(errors)
    # compared as read (a page posts "0" for the prefilled 0): an unchanged figure stays the platform's
    report.prefilled = [c for c in report.prefilled if c not in values or kept.get(c) == report.values.get(c)]
    report.values = kept
    report.save(update_fields=["values", "prefilled"])
    _event(report, "saved", actor)
    return report


@audited("reporting.report_refill", target="report", fields=AUDIT_FIELDS)
def report_refill(*, report: Report, actor: Any = None) -> Report:
    """Read again the figures the platform knows for a report being drafted (dossiers finished
    since the period was opened), for the indicators still marked prefilled: a figure the unit
    typed over is left as typed."""
    report = Report.objects.select_for_update().select_related("period__template").get(pk=report.pk)
    report_check(user=actor, report=report, action=KEEP)
    if report.status not in EDITABLE:
        raise _locked(report)
    period = report.period
    known = prefill.figures(
        template=period.template,
        structure=period.structure_key,
        start=period.cutoff_start,
        end=period.cutoff_end,
        unit_codes=[report.unit_code],
    ).get(report.unit_code, {})
    fresh = {code: value for code, value in known.items() if code in report.prefilled or code not in report.values}
    report.values = {**report.values, **fresh}
    report.prefilled = sorted(set(report.prefilled) | set(fresh))
    report.save(update_fields=["values", "prefilled"])
    _event(report, "refilled", actor)
    return report


def _subtree_figures(report: Report) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The own figures of ``report`` and of every approved report below it, reached through
    approved reports only; with the codes counted and the codes below not (yet) approved."""
    figures, counted, missing = [report.values], [report.unit_code], []
    stack = [report]
    while stack:
        current = stack.pop()
        for child in Report.objects.filter(parent=current).order_by("unit_code"):
            if child.status == ReportStatus.APPROVED:
                figures.append(child.values)
                counted.append(child.unit_code)
                stack.append(child)
            else:
                missing.append(child.unit_code)
    return figures, counted, missing


def report_totals(*, report: Report) -> tuple[dict[str, Any], dict[str, Any]]:
    """The totals of ``report``'s part of the hierarchy (its own figures and those of the approved
    reports below it) by each indicator's rule, and the coverage (``counted``, ``missing``)."""
    specs = template_specs(template=report.period.template)
    figures, counted, missing = _subtree_figures(report)
    return rules.combine(specs, figures), {"counted": sorted(counted), "missing": sorted(missing)}


@audited("reporting.report_submit", target="report", fields=AUDIT_FIELDS)
def report_submit(*, report: Report, actor: Any = None, now: dt.datetime | None = None) -> Report:
    """Send the report to the level above (the top report goes to its own reviewers). Refused,
    with every field named, when a figure breaks the template (type, required, range, a total
    that is not the sum of its parts). The totals are computed now from the approved reports
    below. Late when first sent after the deadline (Ho Chi Minh City's day)."""
    now = now or timezone.now()
    report = Report.objects.select_for_update().select_related("period__template").get(pk=report.pk)
    report_check(user=actor, report=report, action=KEEP)
    if report.status not in EDITABLE:
        raise _locked(report)
    template = report.period.template
    kept, errors = rules.check(template_specs(template=template), report.values, template.rules, final=True)
    if errors:
        raise _invalid(errors)
    report.values = kept
    report.totals, report.coverage = report_totals(report=report)
    report.status = ReportStatus.SUBMITTED
    report.submitted_at = now
    if report.first_submitted_at is None:
        report.first_submitted_at = now
        report.late = timezone.localtime(now).date() > report.deadline
    report.save()
    _event(report, "submitted", actor, now=now)
    return report


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise _refuse(
            "reason_required",
            "Cần nêu lý do.",
            "A reason is required.",
            errors=[FieldError("reason", "required", Message("Cần nêu lý do.", "A reason is required."))],
        )
    return reason


def _submitted(report: Report) -> None:
    if report.status != ReportStatus.SUBMITTED:
        raise _refuse(
            "report_not_submitted",
            "Chỉ xem xét được báo cáo đã gửi.",
            f"Only a submitted report can be reviewed (this one is {report.status}).",
            409,
        )


@audited("reporting.report_return", target="report", fields=AUDIT_FIELDS)
def report_return(*, report: Report, reason: str, actor: Any = None, now: dt.datetime | None = None) -> Report:
    """The level above sends a submitted report back to its unit, with a reason."""
    reason = _reason(reason)
    report = Report.objects.select_for_update().get(pk=report.pk)
    report_check(user=actor, report=report, action=REVIEW)
    _submitted(report)
    report.status = ReportStatus.RETURNED
    report.save(update_fields=["status"])
    _event(report, "returned", actor, reason, now)
    return report


@audited("reporting.report_approve", target="report", fields=AUDIT_FIELDS)
def report_approve(*, report: Report, actor: Any = None, now: dt.datetime | None = None) -> Report:
    """The level above approves a submitted report. An approved report at the top of the
    hierarchy (the city's) is queued for the national reporting system (outbox event)."""
    now = now or timezone.now()
    report = Report.objects.select_for_update().get(pk=report.pk)
    report_check(user=actor, report=report, action=REVIEW)
    _submitted(report)
    report.status = ReportStatus.APPROVED
    report.approved_at = now
    report.save(update_fields=["status", "approved_at"])
    _event(report, "approved", actor, now=now)
    if report.parent_id is None:
        event_publish(
            topic=TOPIC_APPROVED, key=str(report.pk), payload={"report_id": report.pk, "version": report.version}
        )
    return report


@audited("reporting.report_reopen", target="report", fields=AUDIT_FIELDS)
def report_reopen(*, report: Report, reason: str, actor: Any = None, now: dt.datetime | None = None) -> Report:
    """Reopen an approved report to change it: only with a reason; it becomes a new version,
    to be submitted and approved again (the city's goes to the national system again)."""
    reason = _reason(reason)
    report = Report.objects.select_for_update().get(pk=report.pk)
    report_check(user=actor, report=report, action=REVIEW)
    if report.status != ReportStatus.APPROVED:
        raise _refuse(
            "report_not_approved",
            "Chỉ mở lại được báo cáo đã duyệt.",
            f"Only an approved report can be reopened (this one is {report.status}).",
            409,
        )
    report.status = ReportStatus.REOPENED
    report.version += 1
    report.approved_at = None
    report.save(update_fields=["status", "version", "approved_at"])
    _event(report, "reopened", actor, reason, now)
    return report
