"""Working-day calendar of the Vietnamese civil service (pure Python, no Django).

* :class:`WorkCalendar` — working days and office hours built from data;
* :func:`default_calendar` — the calendar of ``data/calendar/vn-civil-service.json``: weekly rest
  on Saturday and Sunday, office hours 07:30–11:30 and 13:00–17:00 Asia/Ho_Chi_Minh, the
  schedules the Government declared for 2021–2026, and for other years the statutory holidays of
  the Labour Code 2019, Art. 112, with Art. 111(3) compensatory days (see :mod:`.rules`);
* module-level shortcuts using the default calendar (or the one passed as ``calendar=``).

Example::

    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> received = datetime(2025, 1, 22, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    >>> appointment_date(received, working_days=5).isoformat()  # across Tết 2025
    '2025-02-05T17:00:00+07:00'
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

from .engine import DEFAULT_OFFICE_HOURS, DeclaredSchedule, WorkCalendar
from .loader import DATA_FILE, load_calendar
from .rules import (
    STATUTORY_HOLIDAYS,
    FixedHoliday,
    HolidayRule,
    LunarHoliday,
    lunar_new_year,
    lunar_to_gregorian,
    statutory_days_off,
)

__all__ = [
    "DATA_FILE",
    "DEFAULT_OFFICE_HOURS",
    "STATUTORY_HOLIDAYS",
    "DeclaredSchedule",
    "FixedHoliday",
    "HolidayRule",
    "LunarHoliday",
    "WorkCalendar",
    "add_working_days",
    "add_working_hours",
    "appointment_date",
    "default_calendar",
    "is_working_day",
    "load_calendar",
    "lunar_new_year",
    "lunar_to_gregorian",
    "next_working_day",
    "statutory_days_off",
    "working_days_between",
    "working_hours_between",
]


@cache
def default_calendar() -> WorkCalendar:
    """The civil-service calendar shipped with the platform, loaded once per process."""
    return load_calendar(DATA_FILE)


def is_working_day(day: date, *, calendar: WorkCalendar | None = None) -> bool:
    """See :meth:`WorkCalendar.is_working_day`."""
    return (calendar or default_calendar()).is_working_day(day)


def next_working_day(day: date, *, calendar: WorkCalendar | None = None) -> date:
    """See :meth:`WorkCalendar.next_working_day`."""
    return (calendar or default_calendar()).next_working_day(day)


def add_working_days(start: date, n: int, *, calendar: WorkCalendar | None = None) -> date:
    """See :meth:`WorkCalendar.add_working_days`."""
    return (calendar or default_calendar()).add_working_days(start, n)


def working_days_between(start: date, end: date, *, calendar: WorkCalendar | None = None) -> int:
    """See :meth:`WorkCalendar.working_days_between`."""
    return (calendar or default_calendar()).working_days_between(start, end)


def add_working_hours(start: datetime, hours: float | timedelta, *, calendar: WorkCalendar | None = None) -> datetime:
    """See :meth:`WorkCalendar.add_working_hours`."""
    return (calendar or default_calendar()).add_working_hours(start, hours)


def working_hours_between(start: datetime, end: datetime, *, calendar: WorkCalendar | None = None) -> timedelta:
    """See :meth:`WorkCalendar.working_hours_between`."""
    return (calendar or default_calendar()).working_hours_between(start, end)


def appointment_date(received_at: datetime, *, working_days: int, calendar: WorkCalendar | None = None) -> datetime:
    """See :meth:`WorkCalendar.appointment_date` (Decree 61/2018/NĐ-CP, Art. 18–19)."""
    return (calendar or default_calendar()).appointment_date(received_at, working_days=working_days)
