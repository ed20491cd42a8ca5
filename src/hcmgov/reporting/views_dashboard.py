"""The leaders' dashboards (``/dashboard/``): the plan's targets against live figures, and the
service-quality index of Decision 766/QĐ-TTg by agency with its drill-down to the dossiers.

Pages only: the figures come from ``reporting.targets`` and ``reporting.quality``; the index is
read from ``service_index_cached`` (Arrow bytes in the cache) and the targets are kept in the cache
under the warehouse's file signatures, so a page does no counting of its own. The reads the API
gives too (the index's periods and scores, the cached targets) are in ``selectors``. Exports (XLSX, PDF)
are in ``views_dashboard_export``. Docs: docs/reporting/index-766.md, docs/reporting/plan-targets.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from hcmgov.common.access import leader_or_staff_required
from hcmgov.common.errors import DomainError
from hcmgov.common.svgchart import draw
from hcmgov.reporting import quality, selectors, targets
from hcmgov.reporting import quality_catalogue as catalogue

SORTS = {"agency", "total", "g1", "g2", "g3", "g4", "g5"}
DRILLABLE = quality.DRILLABLE  # the dossier-based figures (quality.index_dossiers)
PROCEDURE_DRILLABLE = catalogue.KEYS  # the procedure-level figures (quality_catalogue.catalogue_procedures)


class BadRequestError(Exception):
    """Input the dashboards cannot answer: shown as a bilingual error page, never a 500."""

    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.vi, self.en = status, vi, en


def error_page(request: HttpRequest, exc: BadRequestError) -> HttpResponse:
    return render(request, "reporting/dashboard_error.html", {"vi": exc.vi, "en": exc.en}, status=exc.status)


def percent(rate: float | None) -> str:
    """A share as a percentage with one decimal, Vietnamese style (``66,7 %``); "—" when none."""
    return "—" if rate is None else f"{rate * 100:.1f}".replace(".", ",") + " %"


def points_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")


# --- the plan's targets ----------------------------------------------------------------------------


@dataclass
class TargetCard:
    """What the page shows of one target."""

    report: targets.TargetReport
    city: targets.TargetValue | None  # the latest city value
    goal_text: str
    bar: float  # width of the bar, % of the scale (0–100)
    goal_at: float  # where the goal mark stands on the bar
    chart: Any  # the monthly trend (svgchart.Chart) or None
    months: list[tuple[str, str, str]]  # the trend as a table: (month, value, n/d)
    tables: list[tuple[str, str, list[dict[str, Any]]]]  # (scope vi, scope en, rows)
    city_text: str = ""
    city_counts: str = ""


SCOPES = {"agency": ("Theo cơ quan", "By agency"), "level": ("Theo cấp", "By level"),
          "kind": ("Theo loại tài khoản", "By kind of account")}  # fmt: skip


# the keys of the level and kind scopes, named (Vietnamese / English)
KEY_NAMES = {"city": "Cấp thành phố / city", "district": "Cấp huyện / district", "commune": "Cấp xã / commune",
             "citizen": "Công dân / citizens", "business": "Doanh nghiệp / businesses"}  # fmt: skip


def _row(value: targets.TargetValue, names: dict[str, str]) -> dict[str, Any]:
    name = KEY_NAMES.get(value.key, "") if value.scope in ("level", "kind") else names.get(value.key, "")
    return {"key": value.key, "name": name, "rate": percent(value.rate),
            "counts": f"{value.numerator:,} / {value.denominator:,}".replace(",", "."), "goal": percent(value.goal),
            "met": value.met}  # fmt: skip


TREND_MONTHS = 12  # the chart shows the last twelve months with a value; the table below it, every month


def target_card(report: targets.TargetReport, names: dict[str, str]) -> TargetCard:
    t = report.target
    goal_text = ("≥ " if t.at_least else "") + percent(t.target)
    if t.by_level:
        goal_text = "; ".join(f"{KEY_NAMES.get(level, level)} {percent(goal)}" for level, goal in t.by_level.items())
    city_values = sorted((v for v in report.values if v.scope == "city"), key=lambda v: v.month)
    city = city_values[-1] if city_values else None
    latest = city.month if city else ""
    chart, months = None, []
    series = [v for v in city_values if v.month and v.rate is not None][-TREND_MONTHS:]
    if len(series) >= 2:  # a trend needs two points
        chart = draw([(v.month, round((v.rate or 0) * 100, 1)) for v in series], kind="line",
                     x_field="tháng / month", y_field="%", high=100, goal=t.target * 100)  # fmt: skip
    months = [(v.month, percent(v.rate), f"{v.numerator} / {v.denominator}") for v in city_values if v.month]
    tables = []
    for scope, (vi, en) in SCOPES.items():
        rows = [_row(v, names) for v in report.values if v.scope == scope and v.month == latest]
        if rows:
            tables.append((vi, en, sorted(rows, key=lambda r: r["key"])))
    rate = city.rate if city else None
    return TargetCard(report=report, city=city, goal_text=goal_text, bar=round(min(rate or 0.0, 1.0) * 100, 1),
                      goal_at=round(min(t.target, 1.0) * 100, 1), chart=chart, months=months,
                      tables=tables, city_text=percent(rate),
                      city_counts=_row(city, names)["counts"] if city else "")  # fmt: skip


def _agency_names() -> dict[str, str]:
    return selectors.agency_names()


@leader_or_staff_required
def targets_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/``: each target of the plan, its 2025 goal, the live city value against it."""
    names = _agency_names()
    cards = [target_card(report, names) for report in selectors.plan_targets_cached()]
    return render(request, "reporting/dashboard.html", {"cards": cards, "percent": percent})


# --- the index of Decision 766 ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The index's period asked for: ``kind`` month or quarter, ``label`` (2026-03, 2026-Q1)."""

    kind: quality.Period
    label: str
    sort: str
    descending: bool

    @property
    def start(self) -> dt.date:
        """The period's first day (``index_dossiers``' ``period_start``)."""
        year, part = self.label.split("-")
        month = int(part) if self.kind == "month" else (int(part[1:]) - 1) * 3 + 1
        return dt.date(int(year), month, 1)

    def query(self, **changes: Any) -> str:
        order = "desc" if self.descending else "asc"
        values = {"period": self.kind, "p": self.label, "sort": self.sort, "order": order}
        values.update(changes)
        return urlencode(values)


def index_table(kind: quality.Period) -> pa.Table:
    return quality.service_index_cached(period=kind)


def parse_choice(request: HttpRequest, table_of: Any = index_table) -> tuple[Choice, pa.Table, list[str]]:
    """The period, sort and order of the GET form, checked; the cached index of that kind of period
    and the periods it holds (newest first) — ``selectors.index_read``, as the API reads it."""
    kind = request.GET.get("period", "month")
    sort = request.GET.get("sort", "total")
    if kind in selectors.INDEX_LABEL and sort not in SORTS:
        raise BadRequestError(400, f"Không sắp xếp được theo {sort!r}.", f"Cannot sort by {sort!r}.")
    order = request.GET.get("order", "asc" if sort == "agency" else "desc")
    if kind in selectors.INDEX_LABEL and order not in ("asc", "desc"):
        raise BadRequestError(400, f"Thứ tự không hợp lệ: {order!r} (asc, desc).", f"Unknown order {order!r}.")
    try:
        table, label, periods = selectors.index_read(kind=kind, label=request.GET.get("p") or "", table_of=table_of)
    except DomainError as exc:
        raise BadRequestError(exc.status, exc.message.vi, exc.message.en) from None
    return Choice(kind, label, sort, order == "desc"), table, periods  # type: ignore[arg-type]


def agency_scores(table: pa.Table, label: str) -> list[dict[str, Any]]:
    return selectors.index_scores(table=table, label=label)


def _sort_key(row: dict[str, Any], sort: str) -> Any:
    if sort == "agency":
        return row["key"]
    earned, most = row["total"] if sort == "total" else row["groups"][int(sort[1])]
    return (earned / most if most else -1.0, earned)  # compared on the share of what is measurable


def sorted_scores(table: pa.Table, choice: Choice) -> list[dict[str, Any]]:
    rows = agency_scores(table, choice.label)
    return sorted(rows, key=lambda r: (_sort_key(r, choice.sort), r["key"]), reverse=choice.descending)


def _score_cells(row: dict[str, Any]) -> list[str]:
    return [f"{points_text(e)} / {points_text(m)}" for e, m in (*row["groups"].values(), row["total"])]


@leader_or_staff_required
def index_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/chi-so-766/``: the agencies' five group scores and total for one period."""
    try:
        choice, table, periods = parse_choice(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    names = _agency_names()
    rows = [{**r, "name": names.get(r["key"], ""), "cells": _score_cells(r)} for r in sorted_scores(table, choice)]
    headers = [("agency", "Cơ quan", "Agency")] + [
        (f"g{g}", vi, en) for g, (en, vi, _) in quality.GROUPS.items()
    ] + [("total", "Tổng điểm", "Total")]  # fmt: skip
    sort_links = [
        (key, vi, en, choice.query(sort=key, order="asc" if choice.sort == key and choice.descending else "desc"))
        for key, vi, en in headers
    ]
    return render(request, "reporting/dashboard_index.html", {
        "choice": choice, "periods": periods, "rows": rows, "sort_links": sort_links,
        "not_measurable": [i for i in quality.INDICATORS if not i.measurable],
    })  # fmt: skip


def _agency_rows(table: pa.Table, choice: Choice, code: str, names: dict[str, str]) -> list[dict[str, Any]]:
    try:
        return selectors.index_agency_rows(table=table, label=choice.label, code=code, names=names)
    except DomainError as exc:
        raise BadRequestError(exc.status, exc.message.vi, exc.message.en) from None


@leader_or_staff_required
def agency_page(request: HttpRequest, code: str) -> HttpResponse:
    """One agency's index for a period: every indicator with its formula, counts, rate and points,
    or why it is not measurable, and a link to the dossiers behind each dossier-based figure."""
    try:
        choice, table, periods = parse_choice(request)
        names = _agency_names()
        found = {r["indicator"]: r for r in _agency_rows(table, choice, code, names)}
    except BadRequestError as exc:
        return error_page(request, exc)
    items = []
    for ind in quality.INDICATORS:
        r = found.get(ind.key)
        items.append({
            "ind": ind, "row": r, "reason": ind.reason, "reason_vi": ind.reason_vi,
            "rate": percent(r["rate"]) if r else "",
            "points": points_text(r["points"]) if r else "", "max": points_text(ind.points),
            "drill": ind.key in (*DRILLABLE, *PROCEDURE_DRILLABLE) and r is not None and r["denominator"] > 0,
            "missing": (r["denominator"] - r["numerator"]) if r else 0,
        })  # fmt: skip
    mine = table.filter(pc.equal(table.column("key"), code))
    total = next(iter(agency_scores(mine, choice.label)), None) or {
        "groups": dict.fromkeys(quality.GROUPS, (0.0, 0.0)), "total": (0.0, 0.0)}  # fmt: skip
    history = [(p, agency_scores(mine, p)) for p in sorted(periods)]
    series = [(p, rows[0]["total"]) for p, rows in history if rows and rows[0]["total"][1]]
    chart = None
    if len(series) >= 2:  # a trend needs two points
        chart = draw([(p, round(e / m * 100, 1)) for p, (e, m) in series], kind="line", x_field="kỳ / period",
                     y_field="%", high=100)  # fmt: skip
    trend = [(p, f"{points_text(e)} / {points_text(m)}") for p, (e, m) in series]
    return render(request, "reporting/dashboard_agency.html", {
        "choice": choice, "code": code, "name": names.get(code, ""), "items": items, "counted": bool(found),
        "groups": [(g, vi, en, total["groups"][g]) for g, (en, vi, _) in quality.GROUPS.items()],
        "total": f"{points_text(total['total'][0])} / {points_text(total['total'][1])}", "chart": chart,
        "trend": trend,
    })  # fmt: skip


@leader_or_staff_required
def drill_page(request: HttpRequest, code: str, indicator: str) -> HttpResponse:
    """What is behind one figure: by default what misses it, ``?meeting=1`` what meets it — the
    dossiers of a dossier-based figure (``quality.index_dossiers``), the procedures (for 1.1 and
    1.2 their publication decisions) of a procedure-level one (``catalogue.catalogue_procedures``,
    with what each misses); the same rules as the figure."""
    try:
        if indicator not in DRILLABLE and indicator not in PROCEDURE_DRILLABLE:
            raise BadRequestError(404, f"Chỉ tiêu {indicator!r} không có danh sách hồ sơ.",
                                  f"Indicator {indicator!r} has no list of dossiers.")  # fmt: skip
        choice, table, _ = parse_choice(request)
        names = _agency_names()
        rows = _agency_rows(table, choice, code, names)
    except BadRequestError as exc:
        return error_page(request, exc)
    row = next((r for r in rows if r["indicator"] == indicator), None)
    meeting = request.GET.get("meeting") == "1"
    codes: list[str] = []
    procedures: list[catalogue.CatalogueItem] = []
    if row is not None and row["denominator"]:  # nothing counted: nothing behind it, no query
        if indicator in PROCEDURE_DRILLABLE:
            procedures = catalogue.catalogue_procedures(indicator=indicator, key=code, period_start=choice.start,
                                                        period=choice.kind, meeting=meeting)  # fmt: skip
        else:
            codes = quality.index_dossiers(indicator=indicator, key=code, period_start=choice.start,
                                           period=choice.kind, meeting=meeting)  # fmt: skip
    return render(request, "reporting/dashboard_drill.html", {
        "choice": choice, "code": code, "name": names.get(code, ""), "ind": quality.BY_KEY[indicator],
        "row": row, "meeting": meeting, "codes": codes, "procedures": procedures,
        "by_procedure": indicator in PROCEDURE_DRILLABLE, "decisions": indicator in ("1.1", "1.2"),
        "count": len(procedures) if indicator in PROCEDURE_DRILLABLE else len(codes),
    })  # fmt: skip
