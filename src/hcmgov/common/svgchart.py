"""Charts drawn on the server as SVG: bars, or a line for a series in time. No library and no
script (docs/decisions/0020-open-data-portal-pages.md); the page puts a table of the same figures
beside each chart as its text alternative. Used by the open data portal (a datastore preview:
``chart_for``) and the leaders' dashboards (``draw``). Moved here from ``opendata/portal_chart.py``."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

NUMERIC = {"int", "int4", "int8", "numeric", "float8"}
DATES = {"date", "timestamp"}
WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 72  # room for the value ticks and the slanted labels
LABEL_CHARS = 16


@dataclass(frozen=True)
class Mark:
    """One value: a bar (``x``, ``y``, ``width``, ``height``) or a point of the line (``cx``, ``cy``)."""

    label: str
    short: str  # the label under the axis (the whole one is the mark's title)
    value: str
    x: float
    y: float
    width: float
    height: float
    cx: float
    cy: float
    label_x: float


@dataclass(frozen=True)
class Chart:
    kind: str  # "bar" or "line"
    x_field: str
    y_field: str
    marks: list[Mark]
    ticks: list[tuple[float, str]]  # (y, text) of the value axis
    baseline: float  # y of zero
    points: str = ""  # the line's points
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    label_y: int = HEIGHT - BOTTOM + 14
    goal: float | None = None  # y of a goal line (a plan's target), None: none
    goal_value: str = ""


def number(value: float) -> str:
    """A value as a short label: integers whole, others with at most two decimals."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", " ")
    return f"{value:,.2f}".rstrip("0").rstrip(".").replace(",", " ")


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def pick_columns(fields: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """The value column (the first numeric one) and the label column (the first text or date one,
    None: the row number), or None when nothing is numeric."""
    shown = [f for f in fields if f["id"] != "_id"]
    values = next((f for f in shown if f["type"] in NUMERIC), None)
    if values is None:
        return None
    labels = next((f for f in shown if f["type"] == "text" or f["type"] in DATES), None)
    return values, labels


def chart_for(fields: list[dict[str, Any]], records: list[dict[str, Any]]) -> Chart | None:
    """The chart of a datastore preview's rows, or None when there is no sensible one (no numeric
    column, fewer than two rows with a value)."""
    picked = pick_columns(fields)
    if picked is None:
        return None
    y_field, x_field = picked
    rows: list[tuple[str, float]] = []
    for n, record in enumerate(records, start=1):
        value = record.get(y_field["id"])
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        label = record.get(x_field["id"]) if x_field else n
        rows.append(("" if label is None else str(label), float(value)))
    if len(rows) < 2:
        return None
    # a line only through dates that follow each other (a series in time); bars otherwise (two
    # stations read on the same day are two bars, not a zigzag)
    labels = [label for label, _ in rows]
    in_time = x_field is not None and x_field["type"] in DATES and all(a < b for a, b in itertools.pairwise(labels))
    return draw(rows, kind="line" if in_time else "bar", x_field=x_field["id"] if x_field else "#",
                y_field=y_field["id"])  # fmt: skip


def draw(
    rows: list[tuple[str, float]], *, kind: str, x_field: str, y_field: str, high: float | None = None,
    goal: float | None = None,
) -> Chart:  # fmt: skip
    """The chart of ``rows`` (label, value) as ``kind`` ("bar" or "line"). ``high``: the top of the
    value axis at least (100 for percentages); ``goal``: a value drawn as a line across (a target)."""
    values = [v for _, v in rows]
    low = min(0.0, *values) if values else 0.0
    high = max(0.0, high or 0.0, goal or 0.0, *values)
    span = (high - low) or 1.0
    plot_h, plot_w = HEIGHT - TOP - BOTTOM, WIDTH - LEFT - RIGHT

    def y_of(v: float) -> float:
        return round(TOP + (high - v) / span * plot_h, 1)

    step = plot_w / max(len(rows), 1)
    marks = []
    for i, (label, value) in enumerate(rows):
        top, zero = y_of(max(value, 0.0)), y_of(min(value, 0.0))
        centre = LEFT + step * (i + 0.5)
        marks.append(Mark(label=label, short=_short(label), value=number(value),
                          x=round(LEFT + step * i + step * 0.15, 1), y=top, width=round(step * 0.7, 1),
                          height=round(max(zero - top, 0.5), 1), cx=round(centre, 1), cy=y_of(value),
                          label_x=round(centre, 1)))  # fmt: skip
    ticks = [(y_of(v), number(v)) for v in sorted({low, 0.0, (low + high) / 2, high})]
    points = " ".join(f"{m.cx},{m.cy}" for m in marks) if kind == "line" else ""
    return Chart(kind=kind, x_field=x_field, y_field=y_field, marks=marks, ticks=ticks, baseline=y_of(0.0),
                 points=points, goal=None if goal is None else y_of(goal),
                 goal_value="" if goal is None else number(goal))  # fmt: skip
