"""The dashboards' breakdowns: the index of Decision 766 by administrative unit (with the dossiers
behind each figure) and by field of procedures, the map of units coloured by a chosen figure, and
the register of periodic reporting regimes with the plan's target read from it.

Pages only: the figures come from ``quality`` (the index by unit, cached), ``breakdowns`` (by field,
and dossiers online by unit, cached), ``unitmap`` (where each unit is drawn) and ``regimes``. The
period is chosen with the same GET form as the index by agency (``views_dashboard.parse_choice``).
Exports of the tables: ``views_breakdowns_export``. Docs: docs/reporting/breakdowns.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from hcmgov.common.access import leader_or_staff_required
from hcmgov.reporting import breakdowns, quality, regimes, selectors, targets, unitmap
from hcmgov.reporting.views_dashboard import (
    DRILLABLE,
    KEY_NAMES,
    BadRequestError,
    Choice,
    error_page,
    parse_choice,
    percent,
    points_text,
)

LEVEL_FILTERS = {"": ("Tất cả", "All"), "district": ("Cấp huyện", "District level"),
                 "commune": ("Cấp xã", "Commune level")}  # fmt: skip


def unit_table(kind: quality.Period) -> pa.Table:
    return quality.service_index_cached(period=kind, by="unit")


def field_table(kind: quality.Period) -> pa.Table:
    return breakdowns.cached("field_index", period=kind)


def unit_indicators() -> list[quality.IndexIndicator]:
    """The indicators the index gives by unit (those addressed to agencies, as feedback, are not)."""
    agencies_only = getattr(quality, "UNIT_NOT_APPLICABLE", {"5.2": None, "5.3": None})
    return [i for i in quality.INDICATORS if i.measurable and i.key not in agencies_only]


def field_indicators() -> list[quality.IndexIndicator]:
    return [i for i in quality.INDICATORS if i.key in breakdowns.FIELD_INDICATORS]


def _cell(r: dict[str, Any] | None) -> dict[str, Any]:
    if r is None:
        return {"rate": "—", "counts": "", "drill": False, "value": None, "n": 0, "ok": 0}
    return {"rate": percent(r["rate"]), "counts": f"{r['numerator']}/{r['denominator']}", "value": r["rate"],
            "drill": r["indicator"] in DRILLABLE and r["denominator"] > 0, "key": r["indicator"],
            "n": r["denominator"], "ok": r["numerator"]}  # fmt: skip


def _by_key(table: pa.Table, label: str) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in breakdowns.rows_of(table, label):
        out.setdefault(r["key"], {})[r["indicator"]] = r
    return out


@dataclass
class UnitRows:
    """The index by unit of one period, ready for the page and the files."""

    choice: Choice
    periods: list[str]
    indicators: list[quality.IndexIndicator]
    rows: list[dict[str, Any]]
    level: str


def unit_rows(request: HttpRequest) -> UnitRows:
    """The period chosen, the level filter (``cap``), and one row per unit: its name, level, each
    indicator's cell and the total score."""
    choice, table, periods = parse_choice(request, table_of=unit_table)
    level = request.GET.get("cap", "")
    if level not in LEVEL_FILTERS:
        raise BadRequestError(400, f"Cấp không hợp lệ: {level!r}.", f"Unknown level {level!r}.")
    place = unitmap.layout(day=choice.start if choice.label else None)
    totals = {r["key"]: r["total"] for r in selectors.index_scores(table=table, label=choice.label)}
    indicators = unit_indicators()
    rows = []
    for key, figures in sorted(_by_key(table, choice.label).items()):
        if level and place.levels.get(key) != level:
            continue
        earned, most = totals.get(key, (0.0, 0.0))
        rows.append({
            "key": key, "name": place.names.get(key, ""), "level": place.levels.get(key, ""),
            "known": key in place.names, "cells": [_cell(figures.get(i.key)) for i in indicators],
            "total": f"{points_text(earned)} / {points_text(most)}", "earned": earned, "most": most,
        })  # fmt: skip
    return UnitRows(choice, periods, indicators, rows, level)


@leader_or_staff_required
def unit_index_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/chi-so-766/don-vi/``: each unit's indicators (the unit that received the
    dossiers) for one period, each figure a link to the dossiers behind it."""
    try:
        data = unit_rows(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    return render(request, "reporting/dashboard_units.html", {
        "data": data, "choice": data.choice, "levels": LEVEL_FILTERS.items(),
        "query": data.choice.query(cap=data.level), "extra": "&" + urlencode({"cap": data.level}) if data.level else "",
    })  # fmt: skip


@leader_or_staff_required
def unit_drill_page(request: HttpRequest, code: str, indicator: str) -> HttpResponse:
    """The dossiers behind one unit's figure: by default those that miss it, ``?meeting=1`` those
    that meet it (``quality.index_dossiers`` by unit: the same rules as the figure)."""
    try:
        if indicator not in DRILLABLE:
            raise BadRequestError(404, f"Chỉ tiêu {indicator!r} không có danh sách hồ sơ.",
                                  f"Indicator {indicator!r} has no list of dossiers.")  # fmt: skip
        choice, table, _ = parse_choice(request, table_of=unit_table)
        names = unitmap.layout(day=choice.start if choice.label else None).names
        if code not in names:
            raise BadRequestError(404, f"Không có đơn vị hành chính mã {code!r}.",
                                  f"There is no administrative unit with the code {code!r}.")  # fmt: skip
    except BadRequestError as exc:
        return error_page(request, exc)
    row = _by_key(table, choice.label).get(code, {}).get(indicator) if choice.label else None
    meeting = request.GET.get("meeting") == "1"
    codes = []
    if row is not None and row["denominator"]:  # nothing counted: no dossier behind it, no query
        codes = quality.index_dossiers(indicator=indicator, key=code, period_start=choice.start,
                                       period=choice.kind, by="unit", meeting=meeting)  # fmt: skip
    return render(request, "reporting/dashboard_unit_drill.html", {
        "choice": choice, "code": code, "name": names.get(code, ""), "ind": quality.BY_KEY[indicator],
        "row": row, "meeting": meeting, "codes": codes,
    })  # fmt: skip


@dataclass
class FieldRows:
    choice: Choice
    periods: list[str]
    indicators: list[quality.IndexIndicator]
    rows: list[dict[str, Any]]


def field_rows(request: HttpRequest) -> FieldRows:
    """One row per field of the period: its dossier counts and the index's dossier-based figures."""
    choice, table, periods = parse_choice(request, table_of=field_table)
    counts = {r["key"]: r for r in breakdowns.rows_of(breakdowns.cached("field_counts", period=choice.kind),
                                                     choice.label)}  # fmt: skip
    names = breakdowns.field_names()
    figures = _by_key(table, choice.label)
    indicators = field_indicators()
    rows = []
    for key in sorted(set(figures) | set(counts)):
        c = counts.get(key) or {"submitted": 0, "online": 0, "finished": 0, "finished_on_time": 0}
        rows.append({
            "key": key, "name_en": names.get(key, ""), "submitted": c["submitted"], "online": c["online"],
            "online_rate": percent(c["online"] / c["submitted"] if c["submitted"] else None),
            "finished": c["finished"], "on_time": c["finished_on_time"],
            "on_time_rate": percent(c["finished_on_time"] / c["finished"] if c["finished"] else None),
            "cells": [_cell(figures.get(key, {}).get(i.key)) for i in indicators],
        })  # fmt: skip
    return FieldRows(choice, periods, indicators, rows)


@leader_or_staff_required
def field_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/chi-so-766/linh-vuc/``: per field of procedures, the dossiers of the period and
    the index's dossier-based figures."""
    try:
        data = field_rows(request)
    except BadRequestError as exc:
        return error_page(request, exc)
    return render(request, "reporting/dashboard_fields.html", {"data": data, "choice": data.choice})


# --- the map of units --------------------------------------------------------------------------------

TOTAL = "766:total"
ONLINE = "kh:dossiers_online"


def map_choices() -> list[tuple[str, str, str]]:
    """(value, Vietnamese, English) of the figures the map can show."""
    out = [(TOTAL, "Chỉ số 766: tổng điểm (% điểm tối đa đo được)", "Index 766: total (% of the measurable maximum)")]
    out += [(f"766:{i.key}", f"Chỉ số 766 — {i.key} {i.name_vi}", f"Index 766 — {i.key} {i.name}")
            for i in unit_indicators()]  # fmt: skip
    t = targets.BY_KEY["dossiers_online"]
    out.append((ONLINE, f"Chỉ tiêu KH: {t.name_vi} (≥ {percent(t.target)})", f"Plan target: {t.name}"))
    return out


@leader_or_staff_required
def unit_map_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/ban-do/``: the units coloured by the figure chosen (``chi-tieu``) for a period,
    a legend in colour and words, and the same figures in a table."""
    try:
        choice, table, periods = parse_choice(request, table_of=unit_table)
        shown = request.GET.get("chi-tieu", TOTAL)
        choices = map_choices()
        if shown not in {c[0] for c in choices}:
            raise BadRequestError(400, f"Không có chỉ tiêu {shown!r} để tô bản đồ.",
                                  f"There is no figure {shown!r} to colour the map by.")  # fmt: skip
    except BadRequestError as exc:
        return error_page(request, exc)
    place = unitmap.layout(day=choice.start if choice.label else None)
    values = map_values(shown, choice, table)
    view = unitmap.draw_map(values, place)
    rows = []
    for code, (rate, text, href) in sorted(values.items()):
        number, fill, _ink = unitmap.shade(rate)
        where = place.places.get(code)
        tile = place.tiles.get(where.tile, ("", "")) if where else ("", "")
        rows.append({"code": code, "name": place.names.get(code, ""), "tile": tile, "value": text, "href": href,
                     "number": number, "fill": fill, "placed": where is not None})  # fmt: skip
    label = next(c for c in choices if c[0] == shown)
    return render(request, "reporting/dashboard_map.html", {
        "choice": choice, "periods": periods, "choices": choices, "shown": shown, "shown_label": label,
        "view": view, "legend": unitmap.legend(), "rows": rows, "extra": "&" + urlencode({"chi-tieu": shown}),
    })  # fmt: skip


def map_values(shown: str, choice: Choice, table: pa.Table) -> dict[str, tuple[float | None, str, str]]:
    """Unit code → (share, the figure as text, a link to what is behind it) of the figure chosen."""
    if not choice.label:
        return {}
    query = choice.query()
    if shown == ONLINE:
        counts = breakdowns.rows_of(breakdowns.cached("unit_counts", period=choice.kind), choice.label)
        return {
            r["key"]: (r["online"] / r["submitted"] if r["submitted"] else None,
                       f"{percent(r['online'] / r['submitted'] if r['submitted'] else None)} "
                       f"({r['online']}/{r['submitted']})", "")
            for r in counts if r["key"]
        }  # fmt: skip
    if shown == TOTAL:
        units = reverse("dashboard_units")
        return {
            r["key"]: (r["total"][0] / r["total"][1] if r["total"][1] else None,
                       f"{points_text(r['total'][0])} / {points_text(r['total'][1])}",
                       f"{units}?{query}#unit-{r['key']}")
            for r in selectors.index_scores(table=table, label=choice.label) if r["key"]
        }  # fmt: skip
    key = shown.split(":", 1)[1]
    out = {}
    for code, figures in _by_key(table, choice.label).items():
        r = figures.get(key)
        if not code or r is None:
            continue
        href = ""
        if key in DRILLABLE and r["denominator"]:
            href = f"{reverse('dashboard_unit_drill', args=[code, key])}?{query}"
        out[code] = (r["rate"], f"{percent(r['rate'])} ({r['numerator']}/{r['denominator']})", href)
    return out


# --- the register of reporting regimes ---------------------------------------------------------------


@leader_or_staff_required
def regimes_page(request: HttpRequest) -> HttpResponse:
    """``/dashboard/che-do-bao-cao/``: the periodic reporting regimes in force, which are made on the
    reporting system, the plan's target read from them, and per period the reports due and sent."""
    today = timezone.localdate()
    found = list(regimes.regime_list())
    in_force = {r.pk for r in regimes.regime_list(day=today)}
    shares = [
        {"s": s, "rate": percent(s.on_system / s.in_force if s.in_force else None), "name": _level_name(s.key)}
        for s in regimes.regime_shares(day=today)
    ]
    return render(request, "reporting/dashboard_regimes.html", {
        "regimes": [{"r": r, "on_system": regimes.regime_on_system(r), "in_force": r.pk in in_force} for r in found],
        "shares": shares, "goal": percent(targets.BY_KEY["reports_online"].target),
        "periods": [{"p": p, "rate": percent(p.rate)} for p in regimes.report_submissions(today=today)],
        "sample": any(r.sample for r in found),
    })  # fmt: skip


def _level_name(level: str) -> str:
    return KEY_NAMES.get(level, level) if level else "Toàn thành phố / city"
