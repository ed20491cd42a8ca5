"""The :class:`WorkCalendar`: working days and office hours, built from data.

A day is decided in this order:

1. a declared day off (a schedule's ``days_off`` or the ``days_off`` argument) → not working;
2. a make-up working day (a Saturday worked back for a swapped weekday) → working;
3. a weekly rest day (Saturday and Sunday, see the note below) → not working;
4. a year with a declared schedule → working (the Government fixed that year's days off, so the
   statutory rules and Art. 111(3) of the Labour Code 2019 are not applied on top of it);
5. otherwise the statutory holidays of :mod:`.rules` with Art. 111(3) compensatory days.

The five-day week (Saturday and Sunday off) of state agencies goes back to Decision
188/1999/QĐ-TTg; that reference was not checked against the text here.

All date-time inputs must be timezone-aware; all date-time outputs are in the calendar's zone.
Arithmetic is done in UTC, so a zone with daylight saving would also count real elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

from .rules import STATUTORY_HOLIDAYS, HolidayRule, statutory_days_off

ONE_DAY = timedelta(days=1)
#: Give up after this many consecutive days without work: the calendar data must be wrong.
MAX_IDLE_DAYS = 3660

DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = (
    (time(7, 30), time(11, 30)),
    (time(13, 0), time(17, 0)),
)


@dataclass(frozen=True)
class DeclaredSchedule:
    """Days off and make-up working days the Government declared for one year.

    ``days_off`` includes the weekend days joined to a holiday block (harmless, they are rest days
    anyway) and may hold days of the previous December (e.g. 30/12/2023 in the 2024 schedule).
    ``make_up_days`` are rest days worked to pay back a swapped weekday off.
    """

    year: int
    days_off: Mapping[date, str] = field(default_factory=dict)
    make_up_days: Mapping[date, str] = field(default_factory=dict)
    source: str = ""


class WorkCalendar:
    """Working days and office hours of an administration, built only from data.

    Args:
        rest_weekdays: weekly rest days, ``date.weekday()`` numbers (Saturday 5, Sunday 6).
        statutory_rules: holiday rules for years without a declared schedule
            (Labour Code 2019, Art. 112; Art. 111(3) is applied to them).
        schedules: the declared schedules; a year that has one ignores ``statutory_rules``.
        days_off: further days off (e.g. a local closure), in any year.
        make_up_days: further working days on rest days, in any year.
        office_hours: the day's working periods, sorted and not overlapping.
        same_day_cutoff: latest receipt time for a same-day result (see :meth:`appointment_date`).
        timezone: zone of the office hours (an IANA name or a ``tzinfo``).
        name: label used in ``repr``.
    """

    def __init__(
        self,
        *,
        rest_weekdays: Iterable[int] = (5, 6),
        statutory_rules: Iterable[HolidayRule] = STATUTORY_HOLIDAYS,
        schedules: Iterable[DeclaredSchedule] = (),
        days_off: Iterable[date] | Mapping[date, str] = (),
        make_up_days: Iterable[date] | Mapping[date, str] = (),
        office_hours: Sequence[tuple[time, time]] = DEFAULT_OFFICE_HOURS,
        same_day_cutoff: time = time(15, 0),
        timezone: str | tzinfo = "Asia/Ho_Chi_Minh",
        name: str = "custom",
    ) -> None:
        self.name = name
        self.rest_weekdays = frozenset(rest_weekdays)
        if not self.rest_weekdays <= set(range(7)):
            raise ValueError(f"rest weekdays must be 0–6, got {sorted(self.rest_weekdays)}")
        self.statutory_rules = tuple(statutory_rules)
        self.schedules: dict[int, DeclaredSchedule] = {}
        self._days_off: dict[date, str] = {}
        self._make_up: dict[date, str] = {}
        for schedule in schedules:
            if schedule.year in self.schedules:
                raise ValueError(f"two schedules for {schedule.year}")
            self.schedules[schedule.year] = schedule
            self._days_off.update(schedule.days_off)
            self._make_up.update(schedule.make_up_days)
        self._days_off.update(_named(days_off, "ngày nghỉ"))
        self._make_up.update(_named(make_up_days, "ngày làm bù"))
        if clash := sorted(self._days_off.keys() & self._make_up.keys()):
            raise ValueError(f"days both off and make-up: {clash}")
        self.office_hours = tuple(office_hours)
        if not self.office_hours:
            raise ValueError("office hours are empty")
        ends = [time.min] + [t for period in self.office_hours for t in period]
        if any(a > b for a, b in pairwise(ends)) or any(start >= end for start, end in self.office_hours):
            raise ValueError(f"office hours must be sorted, disjoint periods: {self.office_hours}")
        self.same_day_cutoff = same_day_cutoff
        self.day_hours = sum(
            (datetime.combine(date.min, end) - datetime.combine(date.min, start) for start, end in self.office_hours),
            timedelta(0),
        )  # office time of one working day (8 hours by default)
        self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._statutory: dict[int, dict[date, str]] = {}

    def __repr__(self) -> str:
        years = f"{min(self.schedules)}–{max(self.schedules)}" if self.schedules else "none"
        return f"<WorkCalendar {self.name!r} declared years: {years}>"

    # -- days -----------------------------------------------------------------------------

    def _date(self, day: date) -> date:
        if isinstance(day, datetime):
            return self._aware(day).astimezone(self.tz).date()
        return day

    def _aware(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware datetime")
        return moment

    def _statutory_off(self, year: int) -> dict[date, str]:
        if year not in self._statutory:
            self._statutory[year] = statutory_days_off(
                year, rules=self.statutory_rules, rest_weekdays=self.rest_weekdays
            )
        return self._statutory[year]

    def day_off_reason(self, day: date) -> str | None:
        """Why ``day`` is not a working day (holiday name or "nghỉ hằng tuần"), or None."""
        d = self._date(day)
        if d in self._days_off:
            return self._days_off[d]
        if d in self._make_up:
            return None
        if d.weekday() in self.rest_weekdays:
            return "nghỉ hằng tuần"
        if d.year in self.schedules or not self.statutory_rules:
            return None
        return self._statutory_off(d.year).get(d) or self._statutory_off(d.year - 1).get(d)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (an aware datetime is taken at its local date).

        Weekly rest: Saturday and Sunday; holidays: Labour Code 2019, Art. 112, as declared by the
        Prime Minister for the year, or else computed with Art. 111(3) (see the module docstring).
        """
        return self.day_off_reason(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return self._step(self._date(day), ONE_DAY)

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before ``day``."""
        return self._step(self._date(day), -ONE_DAY)

    def _step(self, d: date, step: timedelta) -> date:
        for _ in range(MAX_IDLE_DAYS):
            d += step
            if self.is_working_day(d):
                return d
        raise ValueError(f"no working day within {MAX_IDLE_DAYS} days of {d}: check the data")

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself is never counted).

        ``n == 0`` returns ``start`` unchanged, even when it is not a working day; ``n < 0``
        counts back the same way (the ``-n``-th working day before ``start``). For ``n > 0``,
        ``working_days_between(start, result) == n`` always holds.
        """
        d = self._date(start)
        for _ in range(abs(n)):
            d = self._step(d, ONE_DAY if n > 0 else -ONE_DAY)
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days in ``(start, end]``; negative when ``end`` is before ``start``."""
        a, b = self._date(start), self._date(end)
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    # -- hours ----------------------------------------------------------------------------

    def _periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office periods of ``day`` as UTC instants (none on a day off)."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC),
            )
            for start, end in self.office_hours
        ]

    def _walk(self, moment: datetime) -> Iterable[tuple[datetime, datetime]]:
        """The office periods from the local day of ``moment`` on, for ever."""
        day = self._aware(moment).astimezone(self.tz).date()
        idle = 0
        while idle < MAX_IDLE_DAYS:
            periods = self._periods(day)
            idle = 0 if periods else idle + 1
            yield from periods
            day += ONE_DAY
        raise ValueError(f"no working day within {MAX_IDLE_DAYS} days of {day}: check the data")

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The moment ``hours`` of office time after ``start`` (aware), in the calendar's zone.

        A ``start`` outside office hours counts from the next opening. The result is always inside
        office hours (period ends included: 2 hours from 09:30 is 11:30, not 13:00), and
        ``working_hours_between(start, result)`` equals ``hours``.
        """
        remaining = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
        if remaining < timedelta(0):
            raise ValueError(f"hours must not be negative, got {hours!r}")
        t = self._aware(start).astimezone(UTC)
        for opens, closes in self._walk(t):
            if closes < t:
                continue
            begin = max(opens, t)
            if remaining <= closes - begin:
                return (begin + remaining).astimezone(self.tz)
            remaining -= closes - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def working_hours_between(self, start: datetime, end: datetime) -> timedelta:
        """Office time between two aware moments; negative when ``end`` is before ``start``.

        Returns a ``timedelta`` (exact); use ``.total_seconds() / 3600`` for hours.
        """
        a = self._aware(start).astimezone(UTC)
        b = self._aware(end).astimezone(UTC)
        if b < a:
            return -self.working_hours_between(b, a)
        total = timedelta(0)
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            for opens, closes in self._periods(day):
                total += max(timedelta(0), min(closes, b) - max(opens, a))
            day += ONE_DAY
        return total

    # -- dossiers -------------------------------------------------------------------------

    def effective_receipt(self, received_at: datetime) -> datetime:
        """When a dossier received at ``received_at`` counts as received, in the calendar's zone.

        Inside office hours: that moment. Otherwise (before opening, lunch break, after closing,
        rest day, holiday): the next opening. Closing time itself (17:00) is outside.
        """
        t = self._aware(received_at).astimezone(UTC)
        for opens, closes in self._walk(t):
            if t < closes:
                return max(opens, t).astimezone(self.tz)
        raise AssertionError("unreachable")  # pragma: no cover

    def close_of_business(self, day: date) -> datetime:
        """The end of the last office period of ``day``, aware, in the calendar's zone."""
        return datetime.combine(self._date(day), self.office_hours[-1][1], tzinfo=self.tz)

    def appointment_date(self, received_at: datetime, *, working_days: int) -> datetime:
        """Due moment (appointment on the receipt slip) of a dossier received at ``received_at``.

        * A dossier received outside office hours counts as received at the next opening
          (:meth:`effective_receipt`).
        * The time limit runs in working days from the day after receipt: the receipt day is not
          counted, so the due day is ``add_working_days(receipt day, working_days)``.
        * ``working_days == 0`` (result within the day): the receipt day if the dossier counts as
          received before ``same_day_cutoff`` (15:00), otherwise the next working day.
        * The result is the close of business (17:00) of the due day.

        Basis: Decree 61/2018/NĐ-CP on the one-stop-shop mechanism (amended by Decree
        107/2021/NĐ-CP): Art. 18 (receiving the dossier and issuing the receipt and appointment
        slip, Form 01 of the Decree) and Art. 19 (forwarding the dossier: as recalled, on the day
        of receipt, or at the start of the next working day for a dossier received after 15:00).

        Not confirmed here against the texts: the exact wording and numbering of Art. 18/19 as
        amended; that the time limit starts on the working day after receipt (as in the general
        rule of the Civil Code 2015, Art. 147: the first day of a period counted in days is not
        counted); the treatment of online dossiers filed out of hours (practice of the public
        service portals, Decree 45/2020/NĐ-CP). The 15:00 cut-off for same-day results is written
        into individual procedures (e.g. certification of copies, Decree 23/2015/NĐ-CP, Art. 21,
        per secondary sources); a procedure with another rule needs its own computation.
        """
        if working_days < 0:
            raise ValueError(f"working_days must not be negative, got {working_days}")
        received = self.effective_receipt(received_at)
        day = received.date()
        if working_days == 0:
            due = day if received.time() < self.same_day_cutoff else self.next_working_day(day)
        else:
            due = self.add_working_days(day, working_days)
        return self.close_of_business(due)


def _named(days: Iterable[date] | Mapping[date, str], label: str) -> dict[date, str]:
    if isinstance(days, Mapping):
        return dict(days)
    return dict.fromkeys(days, label)
