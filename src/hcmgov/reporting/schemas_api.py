"""The shapes of /api/v1/reporting (``api``): what a template, a period, a report, the index of
Decision 766 and the plan's targets look like on the wire. Names are given in both languages
(``name`` Vietnamese, ``name_en`` English, as the models keep them); messages of refusals follow
Accept-Language (RFC 9457 problems, ``hcmgov.api``).

No `from __future__ import annotations`: ninja and pydantic read the annotations at import."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from hcmgov.reporting import quality, selectors, targets
from hcmgov.reporting.models import Period, Report, ReportEvent, ReportStatus, ReportTemplate, TemplateIndicator

MAX_ID = 2**63 - 1
State = Literal["draft", "submitted", "returned", "approved", "reopened"]
Figure = int | str  # an integer as a number; a decimal, percent or text as a string (rules.py)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


# --- templates and periods ----------------------------------------------------------------------------


class ReportIndicatorOut(Schema):
    code: str
    name: str
    name_en: str
    type: Literal["integer", "decimal", "percent", "text"]
    unit: str = Field(description="Unit of measure (hồ sơ, %, đồng…)")
    aggregation: Literal["sum", "mean", "max", "ratio", "none"] = Field(
        description="How the figure is combined up the hierarchy; a ratio is computed, never typed"
    )
    min_value: str | None = Field(description="Lowest allowed value (exact decimal), or none")
    max_value: str | None = Field(description="Highest allowed value (exact decimal), or none")
    numerator: str = Field(description="A ratio's numerator (indicator code), else empty")
    denominator: str = Field(description="A ratio's denominator (indicator code), else empty")
    required: bool = Field(description="Must be given for the report to be submitted")
    prefill: str = Field(description="The platform's figure it is prefilled from, or empty")


def indicator_out(line: TemplateIndicator) -> dict[str, Any]:
    ind = line.indicator
    return {
        "code": ind.code, "name": ind.name, "name_en": ind.name_en, "type": ind.type, "unit": ind.unit,
        "aggregation": ind.aggregation, "min_value": _decimal(ind.min_value), "max_value": _decimal(ind.max_value),
        "numerator": ind.numerator, "denominator": ind.denominator, "required": line.required,
        "prefill": ind.prefill,
    }  # fmt: skip


class ReportTemplateOut(Schema):
    code: str
    name: str
    name_en: str
    period_kind: Literal["monthly", "quarterly", "half_year", "annual"]
    levels: list[str] = Field(description="Unit levels that report: commune, district, city")
    deadlines: dict[str, int] = Field(description="The template's own sending deadlines, days after the cut-off")
    rules: list[dict[str, Any]] = Field(
        description='Rules between indicators: {"kind": "sum", "total", "parts"} or {"kind": "lte", "left", "right"}'
    )
    legal_basis: str
    indicators: list[ReportIndicatorOut] = Field(description="In the template's order")

    @staticmethod
    def resolve_indicators(obj: ReportTemplate) -> list[dict[str, Any]]:
        return [indicator_out(line) for line in obj.lines.all()]  # prefetched in order (template_list)


class ReportPeriodOut(Schema):
    id: int
    template: str
    key: str = Field(description="2025-M03 (month), 2025-Q1, 2025-H1, 2025-Y")
    structure: str = Field(description="The administrative structure the period was opened in (2021, 2025)")
    cutoff_start: dt.date
    cutoff_end: dt.date
    opened_at: dt.datetime
    deadlines: dict[str, dt.date] = Field(description="Each reporting level's last sending day")

    @staticmethod
    def resolve_template(obj: Period) -> str:
        return obj.template.code

    @staticmethod
    def resolve_structure(obj: Period) -> str:
        return obj.structure_key

    @staticmethod
    def resolve_deadlines(obj: Period) -> dict[str, dt.date]:
        return selectors.period_deadlines(period=obj)


# --- reports ------------------------------------------------------------------------------------------


class ReportSummaryOut(Schema):
    id: int
    template: str
    period: int
    period_key: str
    unit_code: str
    unit_name: str
    level: str
    parent: int | None = Field(description="The report that reviews this one (none: the top report)")
    parent_unit: str | None
    status: State
    status_name: str
    status_name_en: str
    version: int = Field(description="1, then one more at each reopening")
    deadline: dt.date
    late: bool = Field(description="First sent after the deadline, or not sent and the deadline passed")
    first_submitted_at: dt.datetime | None
    submitted_at: dt.datetime | None
    approved_at: dt.datetime | None

    @staticmethod
    def resolve_template(obj: Report) -> str:
        return obj.period.template.code

    @staticmethod
    def resolve_period(obj: Report) -> int:
        return obj.period_id

    @staticmethod
    def resolve_period_key(obj: Report) -> str:
        return obj.period.key

    @staticmethod
    def resolve_parent(obj: Report) -> int | None:
        return obj.parent_id

    @staticmethod
    def resolve_parent_unit(obj: Report) -> str | None:
        return obj.parent.unit_code if obj.parent_id is not None and obj.parent else None

    @staticmethod
    def resolve_status_name(obj: Report) -> str:
        return str(ReportStatus(obj.status).label)

    @staticmethod
    def resolve_status_name_en(obj: Report) -> str:
        return selectors.STATUS_EN[ReportStatus(obj.status)]

    @staticmethod
    def resolve_late(obj: Report) -> bool:
        return selectors.report_late_now(report=obj)


class ReportEventOut(Schema):
    action: str
    action_name: str
    action_name_en: str
    actor: str
    reason: str
    version: int
    at: dt.datetime

    @staticmethod
    def resolve_action_name(obj: ReportEvent) -> str:
        return selectors.ACTION_LABELS.get(obj.action, (obj.action, obj.action))[0]

    @staticmethod
    def resolve_action_name_en(obj: ReportEvent) -> str:
        return selectors.ACTION_LABELS.get(obj.action, (obj.action, obj.action))[1]

    @staticmethod
    def resolve_actor(obj: ReportEvent) -> str:
        return obj.actor_label


class ReportActionsOut(Schema):
    edit: bool = Field(description="The caller may save values and submit (PUT …/values, POST …/submit)")
    decide: bool = Field(description="The caller may return or approve (POST …/return, …/approve)")
    reopen: bool = Field(description="The caller may reopen the approved report (POST …/reopen)")


class ReportOut(ReportSummaryOut):
    values: dict[str, Figure] = Field(description="The unit's own figures, by indicator code (ratios computed)")
    prefilled: list[str] = Field(description="Indicator codes whose figure is the platform's")
    totals: dict[str, Figure] = Field(
        description="The figures of the unit's branch (its own and the approved reports below), at submission"
    )
    coverage: dict[str, list[str]] = Field(description="counted / missing: the units below counted in the totals")
    events: list[ReportEventOut] = Field(description="The report's history, oldest first")
    actions: ReportActionsOut = Field(description="What the caller may do now")

    @staticmethod
    def resolve_events(obj: Report) -> list[ReportEvent]:
        return obj.api_events  # type: ignore[attr-defined]  # set by api._detail

    @staticmethod
    def resolve_actions(obj: Report) -> dict[str, bool]:
        return obj.api_actions  # type: ignore[attr-defined]  # set by api._detail


class ReportValuesIn(Schema):
    values: dict[str, Any] = Field(
        max_length=200,
        description='Indicator code → figure: a number (or its text: 12, "12", "80.5"), a text for a text '
        'indicator; null or "" clears it. Each code given is replaced; the others are kept. Ratios are computed.',
    )


class ReportReasonIn(Schema):
    reason: str = Field(max_length=4000, description="Why (required: a blank reason is refused)")


# --- the dashboards -----------------------------------------------------------------------------------


class IndexGroupScoreOut(Schema):
    group: int
    name: str
    name_en: str
    points: float = Field(description="Points earned over the measurable indicators")
    max_points: float = Field(description="The most the measurable indicators give (the Decision's total: see docs)")


class IndexAgencyScoreOut(Schema):
    agency: str
    name: str
    groups: list[IndexGroupScoreOut]
    points: float
    max_points: float


class IndexFigureOut(Schema):
    key: str
    group: int
    name: str
    name_en: str
    max_points: float
    formula: str
    formula_en: str
    confidence: Literal["official", "reconstructed"]
    measurable: bool
    reason: str = Field(description="Why it is not measurable (Vietnamese); empty when measurable")
    reason_en: str
    numerator: int | None
    denominator: int | None
    rate: float | None
    points: float | None


class QualityIndexOut(Schema):
    month: str | None = Field(description="The month shown (YYYY-MM); none while the warehouse holds no figures")
    months: list[str] = Field(description="The months with figures, newest first")
    agencies: list[IndexAgencyScoreOut] = Field(description="Each agency's group scores and total, by agency code")
    indicators: list[IndexFigureOut] | None = Field(
        None, description="With `agency`: its every indicator, with formula, counts and points, or why not measurable"
    )


def agency_score_out(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    groups = [
        {"group": g, "name": vi, "name_en": en, "points": row["groups"][g][0], "max_points": row["groups"][g][1]}
        for g, (en, vi, _) in quality.GROUPS.items()
    ]
    return {"agency": row["key"], "name": names.get(row["key"], ""), "groups": groups,
            "points": row["total"][0], "max_points": row["total"][1]}  # fmt: skip


def index_figure_out(ind: quality.IndexIndicator, row: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "key": ind.key, "group": ind.group, "name": ind.name_vi, "name_en": ind.name, "max_points": ind.points,
        "formula": ind.formula_vi, "formula_en": ind.formula, "confidence": ind.confidence,
        "measurable": ind.measurable, "reason": ind.reason_vi, "reason_en": ind.reason,
        "numerator": row["numerator"] if row else None, "denominator": row["denominator"] if row else None,
        "rate": row["rate"] if row else None, "points": row["points"] if row else None,
    }  # fmt: skip


class PlanTargetValueOut(Schema):
    scope: Literal["city", "agency", "level", "kind"]
    key: str = Field(description="Empty for the city; else the agency code, level or kind of account")
    month: str = Field(description="YYYY-MM; empty for data without a history (the current value)")
    numerator: int
    denominator: int
    rate: float | None
    goal: float
    met: bool | None


class PlanTargetOut(Schema):
    key: str
    name: str
    name_en: str
    target: float = Field(description="The plan's 2025 value, a share (0–1)")
    by_level: dict[str, float]
    at_least: bool
    source: str
    measurable: bool
    reason: str = Field(description="Why it is not measurable (Vietnamese); empty when measurable")
    reason_en: str
    values: list[PlanTargetValueOut]


def target_out(report: targets.TargetReport) -> dict[str, Any]:
    t = report.target
    values = [
        {"scope": v.scope, "key": v.key, "month": v.month, "numerator": v.numerator, "denominator": v.denominator,
         "rate": v.rate, "goal": v.goal, "met": v.met}
        for v in report.values
    ]  # fmt: skip
    return {
        "key": t.key, "name": t.name_vi, "name_en": t.name, "target": t.target, "by_level": t.by_level,
        "at_least": t.at_least, "source": t.source, "measurable": report.measurable,
        "reason": report.reason_vi, "reason_en": report.reason, "values": values,
    }  # fmt: skip
