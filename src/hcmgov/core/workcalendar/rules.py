"""Statutory public holidays of Vietnam, computed for years without a declared schedule.

Legal basis: Labour Code 2019 (Bộ luật Lao động số 45/2019/QH14)

* Art. 112(1): 11 paid holidays — Tết Dương lịch 1/1 (1 day); Tết Âm lịch (5 days); Victory Day
  30/4 (1); International Labour Day 1/5 (1); National Day 2/9 and the day before or after it (2);
  Hùng Kings' Commemoration Day 10/3 of the lunar calendar (1).
* Art. 112(3): the Prime Minister fixes the actual days off of Tết Âm lịch and National Day.
* Art. 111(3): a holiday falling on the weekly rest day is taken on the next working day (nghỉ bù).

These rules are only the *fallback* used for years that have no declared schedule in
``data/calendar/vn-civil-service.json``. Since the Prime Minister's choices are not known in
advance, the fallback assumes:

* Tết: the last day of the old lunar year plus the first four days of the new one, which is what
  the Government has given in every year from 2013 (e.g. 2021–2026);
* National Day: the neighbour of 2/9 chosen by the weekday pattern of the 2021–2026 decisions
  (Mon→Tue, Tue→Mon, Wed→Tue, Thu→Fri, Fri→Thu, Sat→Fri, Sun→Mon);
* Art. 111(3) for every holiday (no swaps: those are decided year by year).

Real schedules usually give more consecutive days (compensatory days placed around a weekend and
swaps with Saturdays), so a fallback year is a floor, not a forecast: add each year's notice to
the JSON data as soon as it is published.

Lunar dates come from ``lunar-vn`` (Hồ Ngọc Đức's astronomical algorithm at UTC+7, the Vietnamese
calendar; it gives Tết 1985 = 21/1, 2007 = 17/2 and 2030 = 2/2, where Chinese-calendar libraries
give 20/2, 18/2 and 3/2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from lunar_vn import LunarDate, lunar_to_solar

#: UTC offset of the Vietnamese lunar calendar (Vietnam time), in hours.
VIETNAM_LUNAR_UTC_OFFSET = 7.0

#: Monday=0 … Sunday=6, as ``date.weekday()``.
SATURDAY, SUNDAY = 5, 6


def lunar_to_gregorian(year: int, month: int, day: int) -> date:
    """Gregorian date of lunar ``day/month`` (non-leap month) of lunar ``year`` (Vietnam, UTC+7)."""
    return lunar_to_solar(LunarDate(day, month, year), time_zone=VIETNAM_LUNAR_UTC_OFFSET)


def lunar_new_year(year: int) -> date:
    """Gregorian date of Tết Nguyên Đán (1/1 lunar) of lunar ``year`` (in January or February)."""
    return lunar_to_gregorian(year, 1, 1)


class HolidayRule(Protocol):
    """A statutory holiday: the dates it gives in a Gregorian year, before Art. 111(3)."""

    @property
    def name(self) -> str: ...

    def dates(self, year: int) -> list[date]: ...


@dataclass(frozen=True)
class FixedHoliday:
    """A fixed Gregorian date; ``adjacent`` optionally adds a neighbouring day, chosen by weekday.

    ``adjacent`` has seven offsets indexed by the weekday of the holiday (Monday first); 0 = none.
    """

    month: int
    day: int
    name: str
    adjacent: tuple[int, ...] = ()

    def dates(self, year: int) -> list[date]:
        main = date(year, self.month, self.day)
        if not self.adjacent or not self.adjacent[main.weekday()]:
            return [main]
        return sorted([main, main + timedelta(days=self.adjacent[main.weekday()])])


@dataclass(frozen=True)
class LunarHoliday:
    """A lunar-calendar date, optionally with ``days_before`` and ``days_after`` around it."""

    month: int
    day: int
    name: str
    days_before: int = 0
    days_after: int = 0

    def dates(self, year: int) -> list[date]:
        # Tết (January–February) and Hùng Kings' day (March–May) always fall in the Gregorian
        # year carrying the same number as the lunar year, as does the day before Tết.
        main = lunar_to_gregorian(year, self.month, self.day)
        return [main + timedelta(days=i) for i in range(-self.days_before, self.days_after + 1)]


#: Offsets for the second National Day, by weekday of 2/9: the 2021–2026 decisions
#: (2024 Mon→3/9, 2025 Tue→1/9, 2026 Wed→1/9, 2021 Thu→3/9, 2022 Fri→1/9, 2023 Sat→1/9);
#: Sunday has no precedent since the second day came in (2021) and is assumed →3/9.
NATIONAL_DAY_ADJACENT = (+1, -1, -1, +1, -1, -1, +1)

#: Labour Code 2019, Art. 112(1).
STATUTORY_HOLIDAYS: tuple[HolidayRule, ...] = (
    FixedHoliday(1, 1, "Tết Dương lịch"),
    LunarHoliday(1, 1, "Tết Nguyên Đán", days_before=1, days_after=3),
    LunarHoliday(3, 10, "Giỗ Tổ Hùng Vương"),
    FixedHoliday(4, 30, "Ngày Chiến thắng"),
    FixedHoliday(5, 1, "Ngày Quốc tế Lao động"),
    FixedHoliday(9, 2, "Quốc khánh", adjacent=NATIONAL_DAY_ADJACENT),
)


def statutory_days_off(
    year: int,
    *,
    rules: Iterable[HolidayRule] = STATUTORY_HOLIDAYS,
    rest_weekdays: Sequence[int] | frozenset[int] = (SATURDAY, SUNDAY),
) -> dict[date, str]:
    """Days off of ``year`` under the statutory rules, with Art. 111(3) compensatory days.

    A holiday on a weekly rest day moves to the next day that is neither a rest day, a holiday
    nor an already-granted compensatory day (Labour Code 2019, Art. 111(3)). The result may hold
    a compensatory day in January of the next year if a rule gives a late-December holiday.
    """
    rest = frozenset(rest_weekdays)
    holidays: dict[date, str] = {}
    for rule in rules:
        for day in rule.dates(year):
            holidays.setdefault(day, rule.name)
    if len(rest) >= 7:  # no working day to move to
        return holidays
    days_off = dict(holidays)
    for day in sorted(holidays):
        if day.weekday() in rest:
            substitute = day + timedelta(days=1)
            while substitute.weekday() in rest or substitute in days_off:
                substitute += timedelta(days=1)
            days_off[substitute] = f"{holidays[day]} (nghỉ bù)"
    return days_off
