"""Tests of hcmgov.core.workcalendar against the declared 2025 and 2026 schedules.

Expected dates are worked out by hand in the comments (weekday names checked on a calendar);
the property tests then check the arithmetic on random moments and random synthetic calendars.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcmgov.core.workcalendar import (
    DeclaredSchedule,
    WorkCalendar,
    add_working_days,
    add_working_hours,
    appointment_date,
    default_calendar,
    is_working_day,
    load_calendar,
    lunar_new_year,
    lunar_to_gregorian,
    next_working_day,
    statutory_days_off,
    working_days_between,
    working_hours_between,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = ZoneInfo("UTC")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


def due(y: int, m: int, d: int) -> datetime:
    return at(y, m, d, 17, 0)


# -- the lunar calendar (Vietnamese, UTC+7) ------------------------------------------------


@pytest.mark.parametrize(
    ("year", "tet"),
    [
        (1985, date(1985, 1, 21)),  # Vietnam 21/1; China 20/2 (lunardate gives 20/2)
        (2007, date(2007, 2, 17)),  # Vietnam 17/2; China 18/2
        (2030, date(2030, 2, 2)),  # Vietnam 2/2; China 3/2
        (2025, date(2025, 1, 29)),
        (2026, date(2026, 2, 17)),
    ],
)
def test_lunar_new_year_follows_the_vietnamese_calendar(year: int, tet: date) -> None:
    assert lunar_new_year(year) == tet


def test_hung_kings_day() -> None:
    assert lunar_to_gregorian(2025, 3, 10) == date(2025, 4, 7)  # Monday
    assert lunar_to_gregorian(2026, 3, 10) == date(2026, 4, 26)  # Sunday → off Mon 27/4


# -- the declared data ---------------------------------------------------------------------


def test_every_declared_year_grants_the_11_statutory_days_net_of_swaps() -> None:
    # Labour Code 2019, Art. 112: 11 paid days. A declared schedule shows them as weekdays off
    # (compensatory days included); each swapped weekday is paid back by a make-up Saturday.
    cal = default_calendar()
    assert sorted(cal.schedules) == [2021, 2022, 2023, 2024, 2025, 2026]
    for year, schedule in cal.schedules.items():
        weekdays_off = [d for d in schedule.days_off if d.weekday() < 5]
        assert len(weekdays_off) - len(schedule.make_up_days) == 11, year
        assert schedule.source, year


def test_declared_days_off_contain_the_statutory_holidays() -> None:
    cal = default_calendar()
    for year, schedule in cal.schedules.items():
        statutory = [d for rule in cal.statutory_rules for d in rule.dates(year)]
        assert set(statutory) <= set(schedule.days_off), year


def test_loader_rejects_a_make_up_day_on_a_weekday(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"office_hours": [["07:30", "11:30"]], "years": {"2025": {"days_off":'
        ' [{"from": "2025-05-02"}], "make_up_days": [{"date": "2025-04-25",'
        ' "replaces": "2025-05-02"}]}}}',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="make-up day"):
        load_calendar(bad)


# -- working days --------------------------------------------------------------------------


def test_make_up_saturdays_are_working_days() -> None:
    assert is_working_day(date(2025, 4, 26))  # Sat, pays back Fri 2/5/2025
    assert not is_working_day(date(2025, 5, 2))
    assert is_working_day(date(2026, 1, 10))  # Sat, pays back Fri 2/1/2026
    assert is_working_day(date(2026, 8, 22))  # Sat, pays back Mon 31/8/2026
    assert not is_working_day(date(2026, 8, 31))
    assert not is_working_day(date(2025, 4, 19))  # an ordinary Saturday


def test_the_2_january_2026_swap() -> None:
    # 1/1/2026 Thu holiday, Fri 2/1 off, Sat 3 and Sun 4 rest; Sat 10/1 worked instead.
    assert [is_working_day(date(2026, 1, d)) for d in range(1, 12)] == [
        False, False, False, False,  # Thu 1 – Sun 4
        True, True, True, True, True,  # Mon 5 – Fri 9
        True,  # Sat 10: make-up day
        False,  # Sun 11
    ]  # fmt: skip
    assert next_working_day(date(2025, 12, 31)) == date(2026, 1, 5)
    # Mon 5 (1), Tue 6 (2), Wed 7 (3), Thu 8 (4), Fri 9 (5), Sat 10 (6)
    assert add_working_days(date(2025, 12, 31), 6) == date(2026, 1, 10)
    assert working_days_between(date(2026, 1, 9), date(2026, 1, 12)) == 2  # Sat 10, Mon 12


def test_fallback_year_uses_the_statutory_rules() -> None:
    # 2027 is not declared. Tết 2027 = Sat 6/2: 29 Tết Fri 5/2 … mùng 4 Tue 9/2; Sat 6 and
    # Sun 7 are rest days → compensatory Wed 10/2 and Thu 11/2 (Art. 111(3)).
    off = statutory_days_off(2027)
    assert {d for d in off if date(2027, 2, 1) <= d <= date(2027, 2, 28)} == {date(2027, 2, d) for d in range(5, 12)}
    assert next_working_day(date(2027, 2, 4)) == date(2027, 2, 12)
    assert not is_working_day(date(2027, 5, 3))  # 1/5/2027 is a Saturday → Mon 3/5
    assert not is_working_day(date(2027, 9, 3))  # 2/9 Thu + Fri 3/9
    assert is_working_day(date(2027, 9, 1))
    assert default_calendar().day_off_reason(date(2027, 4, 16)) == "Giỗ Tổ Hùng Vương"


# -- appointment dates ---------------------------------------------------------------------


def test_deadline_across_tet_2025() -> None:
    # Received Wed 22/1/2025 10:00, 5 working days. Off Sat 25/1 – Sun 2/2.
    # Thu 23/1 (1), Fri 24/1 (2), Mon 3/2 (3), Tue 4/2 (4), Wed 5/2 (5).
    assert appointment_date(at(2025, 1, 22, 10), working_days=5) == due(2025, 2, 5)


def test_deadline_across_tet_2026() -> None:
    # Received Thu 12/2/2026 09:00, 3 working days. Off Sat 14/2 – Sun 22/2.
    # Fri 13/2 (1), Mon 23/2 (2), Tue 24/2 (3).
    assert appointment_date(at(2026, 2, 12, 9), working_days=3) == due(2026, 2, 24)
    # 15 working days from Mon 9/2/2026: 10–13/2 (4), 23–27/2 (9), 2–6/3 (14), Mon 9/3 (15).
    assert appointment_date(at(2026, 2, 9, 8), working_days=15) == due(2026, 3, 9)


def test_deadline_across_30_april_2025() -> None:
    # Received Fri 25/4/2025 14:00, 3 days: Sat 26/4 make-up (1), Mon 28/4 (2), Tue 29/4 (3).
    assert appointment_date(at(2025, 4, 25, 14), working_days=3) == due(2025, 4, 29)
    # Received Tue 29/4/2025 10:00, 2 days: off Wed 30/4 – Sun 4/5 → Mon 5/5 (1), Tue 6/5 (2).
    assert appointment_date(at(2025, 4, 29, 10), working_days=2) == due(2025, 5, 6)


def test_deadline_across_30_april_2026() -> None:
    # Received Fri 24/4/2026 10:00, 4 days. Off Sat 25 – Mon 27/4 (Hùng Kings, Sun 26/4 → 27/4)
    # and Thu 30/4 – Sun 3/5. Tue 28/4 (1), Wed 29/4 (2), Mon 4/5 (3), Tue 5/5 (4).
    assert appointment_date(at(2026, 4, 24, 10), working_days=4) == due(2026, 5, 5)


def test_deadline_across_national_day_2026_swap() -> None:
    # Received Fri 21/8/2026 09:00, 2 days: Sat 22/8 make-up (1), Mon 24/8 (2).
    assert appointment_date(at(2026, 8, 21, 9), working_days=2) == due(2026, 8, 24)
    # Received Fri 28/8/2026 09:00, 1 day: off Sat 29/8 – Wed 2/9 → Thu 3/9.
    assert appointment_date(at(2026, 8, 28, 9), working_days=1) == due(2026, 9, 3)


def test_same_day_procedures_and_the_15h_cutoff() -> None:
    assert appointment_date(at(2025, 6, 9, 14, 59), working_days=0) == due(2025, 6, 9)
    assert appointment_date(at(2025, 6, 9, 15, 0), working_days=0) == due(2025, 6, 10)
    # Fri 29/8/2025 15:30: next working day after Sat 30/8 – Tue 2/9 is Wed 3/9.
    assert appointment_date(at(2025, 8, 29, 15, 30), working_days=0) == due(2025, 9, 3)
    # Lunch break counts from 13:00, before the cut-off: same day.
    assert appointment_date(at(2025, 6, 9, 12, 0), working_days=0) == due(2025, 6, 9)
    # A make-up Saturday is a normal working day.
    assert appointment_date(at(2026, 1, 10, 10, 0), working_days=0) == due(2026, 1, 10)


def test_receipt_outside_office_hours() -> None:
    cal = default_calendar()
    # Sat 7/6/2025 09:00 counts as Mon 9/6 07:30; 1 day → Tue 10/6.
    assert cal.effective_receipt(at(2025, 6, 7, 9)) == at(2025, 6, 9, 7, 30)
    assert appointment_date(at(2025, 6, 7, 9), working_days=1) == due(2025, 6, 10)
    assert appointment_date(at(2025, 6, 7, 9), working_days=0) == due(2025, 6, 9)
    # Mon 9/6 18:00 counts as Tue 10/6 07:30 → Wed 11/6; 17:00 sharp is already closed.
    assert appointment_date(at(2025, 6, 9, 18), working_days=1) == due(2025, 6, 11)
    assert cal.effective_receipt(at(2025, 6, 9, 17)) == at(2025, 6, 10, 7, 30)
    # Mon 9/6 06:00 counts as the same day's opening → Tue 10/6.
    assert appointment_date(at(2025, 6, 9, 6), working_days=1) == due(2025, 6, 10)
    # Filed online on Tết eve 28/1/2025 20:00 → received Mon 3/2 07:30; 1 day → Tue 4/2.
    assert appointment_date(at(2025, 1, 28, 20), working_days=1) == due(2025, 2, 4)
    # A UTC moment is read in Vietnam time: 01:00Z = 08:00 on Mon 9/6.
    assert appointment_date(datetime(2025, 6, 9, 1, tzinfo=UTC), working_days=0) == due(2025, 6, 9)


def test_naive_datetimes_and_negative_values_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        appointment_date(datetime(2025, 6, 9, 9), working_days=1)
    with pytest.raises(ValueError, match="negative"):
        appointment_date(at(2025, 6, 9, 9), working_days=-1)
    with pytest.raises(ValueError, match="negative"):
        add_working_hours(at(2025, 6, 9, 9), -1)


# -- working hours -------------------------------------------------------------------------


def test_working_hours_across_lunch() -> None:
    # Mon 9/6/2025 10:30 + 2 h: 10:30–11:30 (1 h), 13:00–14:00 (1 h).
    assert add_working_hours(at(2025, 6, 9, 10, 30), 2) == at(2025, 6, 9, 14)
    assert add_working_hours(at(2025, 6, 9, 9, 30), 2) == at(2025, 6, 9, 11, 30)
    assert working_hours_between(at(2025, 6, 9, 11), at(2025, 6, 9, 13, 30)) == timedelta(hours=1)
    assert add_working_hours(at(2025, 6, 9, 12), 0.5) == at(2025, 6, 9, 13, 30)


def test_working_hours_across_a_weekend() -> None:
    # Fri 6/6/2025 16:00 + 3 h: 16:00–17:00 (1 h), Mon 9/6 07:30–09:30 (2 h).
    assert add_working_hours(at(2025, 6, 6, 16), 3) == at(2025, 6, 9, 9, 30)
    assert working_hours_between(at(2025, 6, 6, 16), at(2025, 6, 9, 9, 30)) == timedelta(hours=3)
    assert working_hours_between(at(2025, 6, 9, 9, 30), at(2025, 6, 6, 16)) == -timedelta(hours=3)
    # Across Tết 2026: Fri 13/2 16:00 + 2 h → Mon 23/2 08:30.
    assert add_working_hours(at(2026, 2, 13, 16), timedelta(hours=2)) == at(2026, 2, 23, 8, 30)
    # Two full working days = 16 h.
    assert working_hours_between(at(2025, 6, 9), at(2025, 6, 11)) == timedelta(hours=16)


# -- properties on the real calendar -------------------------------------------------------

CAL = default_calendar()
days = st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 12, 31))
moments = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(VN))


def in_office_hours(cal: WorkCalendar, moment: datetime) -> bool:
    local = moment.astimezone(cal.tz)
    return cal.is_working_day(local.date()) and any(start <= local.time() <= end for start, end in cal.office_hours)


@settings(max_examples=200, deadline=None)
@given(start=days, n=st.integers(min_value=1, max_value=300))
def test_add_working_days_lands_on_a_working_day(start: date, n: int) -> None:
    result = CAL.add_working_days(start, n)
    assert CAL.is_working_day(result)
    assert CAL.working_days_between(start, result) == n


@settings(max_examples=200, deadline=None)
@given(start=days, n=st.integers(min_value=-300, max_value=300))
def test_add_and_subtract_working_days_are_inverse(start: date, n: int) -> None:
    if not CAL.is_working_day(start):
        start = CAL.next_working_day(start)
    assert CAL.add_working_days(CAL.add_working_days(start, n), -n) == start
    assert CAL.working_days_between(start, CAL.add_working_days(start, n)) == n


@settings(max_examples=200, deadline=None)
@given(a=days, b=days, n=st.integers(min_value=0, max_value=100), k=st.integers(0, 100))
def test_add_working_days_is_monotonic(a: date, b: date, n: int, k: int) -> None:
    a, b = min(a, b), max(a, b)
    assert CAL.add_working_days(a, n) <= CAL.add_working_days(b, n)
    assert CAL.add_working_days(a, n) <= CAL.add_working_days(a, n + k)


@settings(max_examples=200, deadline=None)
@given(start=moments, minutes=st.integers(min_value=0, max_value=60 * 8 * 40))
def test_add_working_hours_stays_inside_office_hours(start: datetime, minutes: int) -> None:
    hours = timedelta(minutes=minutes)
    result = CAL.add_working_hours(start, hours)
    assert in_office_hours(CAL, result)
    assert result >= start
    assert CAL.working_hours_between(start, result) == hours
    assert CAL.add_working_hours(start, hours + timedelta(minutes=1)) > result


@settings(max_examples=200, deadline=None)
@given(received=moments, n=st.integers(min_value=0, max_value=60))
def test_appointment_is_the_close_of_a_working_day(received: datetime, n: int) -> None:
    result = CAL.appointment_date(received, working_days=n)
    assert CAL.is_working_day(result.date())
    assert result.timetz().replace(tzinfo=None) == time(17, 0)
    assert result > received
    later = CAL.appointment_date(received, working_days=n + 1)
    if n == 0:
        # a same-day procedure received after the 15:00 cut-off is due the next working day,
        # which is also when a one-day procedure received at that moment falls due
        assert later >= result
    else:
        assert later > result


# -- properties on random synthetic calendars ----------------------------------------------


@st.composite
def calendars(draw: st.DrawFn) -> WorkCalendar:
    window = st.dates(min_value=date(2024, 12, 1), max_value=date(2026, 2, 28))
    rest = draw(st.sets(st.integers(0, 6), max_size=3))
    days_off = draw(st.sets(window, max_size=120))
    make_up = draw(st.sets(window, max_size=20)) - days_off
    bounds = sorted(draw(st.sets(st.integers(0, 24 * 4 - 1), min_size=2, max_size=6)))
    if len(bounds) % 2:
        bounds.pop()
    minutes = [time(q // 4, q % 4 * 15) for q in bounds]
    declared = draw(st.booleans())
    return WorkCalendar(
        rest_weekdays=rest,
        statutory_rules=() if declared else CAL.statutory_rules,
        schedules=[DeclaredSchedule(year=2025, days_off=dict.fromkeys(days_off, "x"))] if declared else (),
        make_up_days=make_up,
        days_off=() if declared else days_off,
        office_hours=list(zip(minutes[::2], minutes[1::2], strict=True)),
    )


synthetic_days = st.dates(min_value=date(2024, 11, 1), max_value=date(2026, 3, 31))


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=synthetic_days, n=st.integers(1, 200), k=st.integers(0, 50))
def test_synthetic_calendars_keep_the_day_properties(cal: WorkCalendar, start: date, n: int, k: int) -> None:
    result = cal.add_working_days(start, n)
    assert cal.is_working_day(result)
    assert cal.working_days_between(start, result) == n
    assert result < cal.add_working_days(start, n + k + 1)
    assert cal.add_working_days(result, -n) <= start


@settings(max_examples=150, deadline=None)
@given(
    cal=calendars(),
    start=st.datetimes(min_value=datetime(2024, 11, 1), max_value=datetime(2026, 3, 31), timezones=st.just(VN)),
    minutes=st.integers(0, 60 * 200),
)
def test_synthetic_calendars_keep_the_hour_properties(cal: WorkCalendar, start: datetime, minutes: int) -> None:
    hours = timedelta(minutes=minutes)
    result = cal.add_working_hours(start, hours)
    assert in_office_hours(cal, result)
    assert cal.working_hours_between(start, result) == hours
    assert cal.add_working_hours(start, hours + timedelta(minutes=1)) > result
    due_at = cal.appointment_date(start, working_days=k if (k := minutes % 7) else 0)
    assert cal.is_working_day(due_at.date())
    assert due_at > start
