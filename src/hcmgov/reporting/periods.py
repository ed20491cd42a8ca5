"""Reporting periods and their dates under Decree 09/2019/NĐ-CP (the reporting regime of state
administrative agencies): a period's data cut-off window and each level's sending deadline,
computable by code. ``docs/reporting/periods.md`` lists each fact with its source and how sure
we are of it; the deadlines below the city's are ours until checked against the city's own
reporting regime (see there).

A period is named by a key: ``2025-M03`` (month), ``2025-Q1`` (quarter), ``2025-H1`` (first
half-year), ``2025-Y`` (year).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MONTHLY, QUARTERLY, HALF_YEAR, ANNUAL = "monthly", "quarterly", "half_year", "annual"
KINDS = (MONTHLY, QUARTERLY, HALF_YEAR, ANNUAL)
KIND_LABELS = {
    MONTHLY: ("Hằng tháng", "Monthly"),
    QUARTERLY: ("Hằng quý", "Quarterly"),
    HALF_YEAR: ("6 tháng", "Half-year"),
    ANNUAL: ("Hằng năm", "Annual"),
}
CUTOFF_DAY = 14  # Decree 09/2019/NĐ-CP Art. 12: windows run from the 15th to the 14th

# Days after the end of the cut-off window by which a unit of each level sends its report to the
# level above. City (province) → Government: the 20th of the last month of the period, Decree
# 09/2019/NĐ-CP (confidence: medium, from memory of the text; see docs/reporting/periods.md).
# Commune and district: the 16th and 18th — OUR ASSUMPTION (low confidence), leaving each level
# two days to review and aggregate; templates may set their own (``ReportTemplate.deadlines``).
DEFAULT_DEADLINE_DAYS = {"commune": 2, "district": 4, "city": 6}

_KEY = re.compile(r"^(?P<year>\d{4})-(?:M(?P<month>\d{2})|Q(?P<quarter>[1-4])|H(?P<half>[12])|(?P<year_only>Y))$")


@dataclass(frozen=True)
class PeriodDates:
    """A period: its key and kind, the calendar span it is named after, and the data cut-off
    window (both ends included) of Decree 09/2019/NĐ-CP Art. 12."""

    key: str
    kind: str
    start: dt.date
    end: dt.date
    cutoff_start: dt.date
    cutoff_end: dt.date

    def deadline(self, level: str, days: dict[str, int] | None = None) -> dt.date:
        """The last day a unit of ``level`` may send its report (``days``: the template's own)."""
        offsets = {**DEFAULT_DEADLINE_DAYS, **(days or {})}
        return self.cutoff_end + dt.timedelta(days=offsets[level])


def _window_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, CUTOFF_DAY)


def _window_start(year: int, month: int) -> dt.date:
    """The 15th of the month before ``month`` of ``year``."""
    if month == 1:
        return dt.date(year - 1, 12, CUTOFF_DAY + 1)
    return dt.date(year, month - 1, CUTOFF_DAY + 1)


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def period_dates(key: str) -> PeriodDates:
    """The dates of period ``key``; ``ValueError`` for a key that names no period.

    Decree 09/2019/NĐ-CP Art. 12: monthly from the 15th of the previous month to the 14th of the
    month; quarterly from the 15th of the month before the quarter to the 14th of its last month;
    half-year from 15 December of the previous year to 14 June; annual from 15 December of the
    previous year to 14 December."""
    found = _KEY.match(key)
    if not found:
        raise ValueError(f"not a period key: {key!r} (e.g. 2025-M03, 2025-Q1, 2025-H1, 2025-Y)")
    year = int(found["year"])
    if found["month"]:
        month = int(found["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"not a month: {key!r}")
        kind, first, last = MONTHLY, month, month
    elif found["quarter"]:
        quarter = int(found["quarter"])
        kind, first, last = QUARTERLY, 3 * quarter - 2, 3 * quarter
    elif found["half"]:
        half = int(found["half"])
        kind, first, last = HALF_YEAR, 6 * half - 5, 6 * half
    else:
        kind, first, last = ANNUAL, 1, 12
    return PeriodDates(
        key=key,
        kind=kind,
        start=dt.date(year, first, 1),
        end=_month_end(year, last),
        cutoff_start=_window_start(year, first),
        cutoff_end=_window_end(year, last),
    )


def period_key(*, kind: str, day: dt.date) -> str:
    """The key of the period of ``kind`` whose calendar span holds ``day``."""
    if kind == MONTHLY:
        return f"{day.year}-M{day.month:02d}"
    if kind == QUARTERLY:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if kind == HALF_YEAR:
        return f"{day.year}-H{1 if day.month <= 6 else 2}"
    if kind == ANNUAL:
        return f"{day.year}-Y"
    raise ValueError(f"unknown period kind: {kind!r}")


def period_containing(*, kind: str, day: dt.date) -> str:
    """The key of the period of ``kind`` whose cut-off window holds ``day``: from the 15th, a
    day's data count in the next month's period (Decree 09/2019/NĐ-CP Art. 12)."""
    if day.day > CUTOFF_DAY:
        day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return period_key(kind=kind, day=day)
