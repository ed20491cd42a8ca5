"""Property tests of the legal clock (``hcmgov.dossiers.clock``) over random holiday calendars.

Acceptance criterion: *for random sequences of actions and holiday calendars, due dates never fall
in non-working time and suspended days are added back exactly.*

The calendars are random: the Government's declared schedules (or none: the statutory rules of the
Labour Code for every year), plus random extra days off and make-up Saturdays/Sundays around 2026,
and sometimes random office hours (one to three periods, possibly touching). Moments are random too:
nights, weekends, holidays, lunch breaks and the exact edges of the office periods, in local time or
in UTC. The last tests drive real dossiers through the test flow with the random calendar in place
of the platform's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from hcmgov.catalog import selectors as catalog
from hcmgov.catalog.models import ProcedureVersion
from hcmgov.core.workcalendar import DEFAULT_OFFICE_HOURS, WorkCalendar, default_calendar
from hcmgov.dossiers import clock, services
from hcmgov.dossiers.models import Dossier, DossierStep, Status, StepState, SupplementRequest
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.tests.factories import RoleAssignmentFactory

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST, LAST = dt.date(2025, 12, 1), dt.date(2026, 12, 31)  # receipts; due dates run into 2027 (statutory rules)
WINDOW = (FIRST - dt.timedelta(days=31), LAST + dt.timedelta(days=90))  # where random days off / make-up days go
DEFAULT = default_calendar()
US = dt.timedelta(microseconds=1)
MINUTE = dt.timedelta(minutes=1)

PURE = settings(max_examples=120, deadline=None)


# --- strategies ------------------------------------------------------------------------------------


def _hm(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


@st.composite
def office_hours(draw: st.DrawFn) -> tuple[tuple[dt.time, dt.time], ...]:
    """Mostly the real 07:30-11:30, 13:00-17:00; else one to three random periods between 05:00 and
    21:00, a period sometimes starting exactly where the one before ends."""
    if draw(st.booleans()):
        return DEFAULT_OFFICE_HOURS
    n = draw(st.integers(1, 3))
    marks = sorted(draw(st.sets(st.integers(5 * 60, 21 * 60), min_size=2 * n, max_size=2 * n)))
    periods = [(marks[2 * i], marks[2 * i + 1]) for i in range(n)]
    for i in range(1, n):
        if draw(st.booleans()):
            periods[i] = (periods[i - 1][1], periods[i][1])
    return tuple((_hm(a), _hm(b)) for a, b in periods)


@st.composite
def calendars(draw: st.DrawFn) -> WorkCalendar:
    declared = draw(st.booleans())
    schedules = tuple(DEFAULT.schedules.values()) if declared else ()
    declared_off = {d for s in schedules for d in s.days_off}
    declared_make_up = {d for s in schedules for d in s.make_up_days}
    days = st.dates(*WINDOW)
    extra_off = draw(st.sets(days, max_size=40)) - declared_make_up
    weekend_days = days.filter(lambda d: d.weekday() >= 5)
    make_up = draw(st.sets(weekend_days, max_size=12)) - extra_off - declared_off
    cal = WorkCalendar(
        schedules=schedules, days_off=extra_off, make_up_days=make_up, office_hours=draw(office_hours()), name="random"
    )
    note(
        f"calendar: declared schedules={declared}, extra days off={sorted(extra_off)}, "
        f"make-up days={sorted(make_up)}, office hours={cal.office_hours}"
    )
    return cal


def special_days(cal: WorkCalendar) -> list[dt.date]:
    """Days of the receipt window whose status differs from an ordinary Monday-Friday week."""
    span = (LAST - FIRST).days + 1
    found = [
        d for d in (FIRST + dt.timedelta(days=i) for i in range(span)) if cal.is_working_day(d) != (d.weekday() < 5)
    ]
    return found or [FIRST]


def edge_times(cal: WorkCalendar) -> list[dt.time]:
    """Midnight, the same-day cut-off and each office period's opening and closing, each also a
    minute and a microsecond either side."""
    out = {dt.time(0, 0), dt.time(23, 59, 59, 999999)}
    for t in [cal.same_day_cutoff, *(t for period in cal.office_hours for t in period)]:
        base = dt.datetime.combine(dt.date(2000, 1, 3), t)
        for delta in (dt.timedelta(0), US, -US, MINUTE, -MINUTE):
            if (base + delta).date() == base.date():
                out.add((base + delta).time())
    return sorted(out)


def moments(cal: WorkCalendar) -> st.SearchStrategy[dt.datetime]:
    """Any moment of the window (night, weekend, holiday, office edges), local or in UTC."""
    day = st.one_of(st.dates(FIRST, LAST), st.sampled_from(special_days(cal)))
    clock_time = st.one_of(st.times(), st.sampled_from(edge_times(cal)))
    local = st.builds(lambda d, t: dt.datetime.combine(d, t, tzinfo=VN), day, clock_time)
    return st.one_of(local, local.map(lambda m: m.astimezone(dt.UTC)))


#: gaps between successive actions: none, a few minutes, hours, or up to two weeks
gaps = st.one_of(
    st.just(dt.timedelta(0)),
    st.integers(1, 240).map(lambda m: dt.timedelta(minutes=m)),
    st.integers(1, 14 * 24 * 60).map(lambda m: dt.timedelta(minutes=m)),
    st.integers(1, 14).map(lambda d: dt.timedelta(days=d)),
)
#: step allotments: whole and half working days like the flows (``4h``, ``1.5d``), or any minute count
allotments = st.one_of(
    st.integers(1, 30).map(lambda h: dt.timedelta(hours=4 * h)),
    st.integers(0, 60 * 8 * 12).map(lambda m: dt.timedelta(minutes=m)),
    st.integers(1, 10**6).map(lambda s: dt.timedelta(seconds=s)),
)
statutory_days = st.integers(0, 30)


# --- what the criterion means ----------------------------------------------------------------------


def in_office(cal: WorkCalendar, moment: dt.datetime) -> bool:
    """On a working day, within an office period or exactly at its end."""
    local = moment.astimezone(cal.tz)
    return cal.is_working_day(local.date()) and any(start <= local.time() <= end for start, end in cal.office_hours)


def at_close_of_business(cal: WorkCalendar, moment: dt.datetime) -> bool:
    local = moment.astimezone(cal.tz)
    return cal.is_working_day(local.date()) and local.time() == cal.office_hours[-1][1]


def local_day(cal: WorkCalendar, moment: dt.datetime) -> dt.date:
    return moment.astimezone(cal.tz).date()


def working_days_after(cal: WorkCalendar, first: dt.date, last: dt.date) -> set[dt.date]:
    """The working days in ``(first, last]``, counted one by one."""
    return {
        first + dt.timedelta(days=i)
        for i in range(1, (last - first).days + 1)
        if cal.is_working_day(first + dt.timedelta(days=i))
    }


# --- the clock's pure functions --------------------------------------------------------------------


@PURE
@given(data=st.data(), cal=calendars(), days=statutory_days)
def test_the_appointment_is_the_close_of_business_of_the_statutory_working_day(data, cal, days):
    received = data.draw(moments(cal), label="received")
    due = cal.appointment_date(received, working_days=days)
    counted_from = cal.effective_receipt(received)
    assert in_office(cal, counted_from)
    assert counted_from >= received
    assert in_office(cal, due)
    assert at_close_of_business(cal, due)
    assert due > received
    if days:
        assert cal.working_days_between(counted_from.date(), due.date()) == days
    else:  # same day, or the next working day when received after the cut-off
        assert due.date() in {counted_from.date(), cal.next_working_day(counted_from.date())}


@PURE
@given(data=st.data(), cal=calendars(), allotment=allotments)
def test_a_step_is_due_in_office_time_exactly_its_allotment_later(data, cal, allotment):
    handed_over = data.draw(moments(cal), label="handed over")
    # the desk's step runs from the submission itself; the others from the effective receipt
    opened = data.draw(st.sampled_from([handed_over, cal.effective_receipt(handed_over)]), label="opened")
    due = clock.step_due(cal, opened_at=opened, allotment=allotment)
    assert in_office(cal, due)
    assert due >= opened
    assert cal.working_hours_between(opened, due) == allotment
    if allotment:  # and not a moment later than needed
        assert cal.working_hours_between(opened, due - US) < allotment
    remind = clock.reminder_at(cal, opened_at=opened, allotment=allotment)
    assert in_office(cal, remind)
    assert opened <= remind <= due
    assert cal.working_hours_between(opened, remind) == allotment * 3 / 4


@PURE
@given(data=st.data(), cal=calendars(), days=statutory_days, allotment=allotments, wait=gaps, answered=gaps)
def test_a_suspension_adds_back_exactly_the_working_days_waited(data, cal, days, allotment, wait, answered):
    received = data.draw(moments(cal), label="received")
    requested = received + wait
    answer = requested + answered
    due = cal.appointment_date(received, working_days=days)
    step = clock.step_due(cal, opened_at=cal.effective_receipt(received), allotment=allotment)

    k = clock.suspended_working_days(cal, since=requested, until=answer)
    assert k == len(working_days_after(cal, local_day(cal, requested), local_day(cal, answer)))

    moved = clock.due_after_suspension(cal, due_at=due, days=k)
    assert cal.working_days_between(local_day(cal, due), local_day(cal, moved)) == k
    assert at_close_of_business(cal, moved)
    assert moved >= due
    moved_step = clock.step_due_after_suspension(cal, due_at=step, days=k)
    assert in_office(cal, moved_step)
    assert cal.working_hours_between(step, moved_step) == cal.day_hours * k


@PURE
@given(
    data=st.data(),
    cal=calendars(),
    days=statutory_days,
    allotment=allotments,
    a=st.integers(0, 40),
    b=st.integers(0, 40),
)
def test_two_suspensions_move_the_due_moments_by_their_sum(data, cal, days, allotment, a, b):
    received = data.draw(moments(cal), label="received")
    due = cal.appointment_date(received, working_days=days)
    twice = clock.due_after_suspension(cal, due_at=clock.due_after_suspension(cal, due_at=due, days=a), days=b)
    assert twice == clock.due_after_suspension(cal, due_at=due, days=a + b)
    step = clock.step_due(cal, opened_at=received, allotment=allotment)
    twice = clock.step_due_after_suspension(
        cal, due_at=clock.step_due_after_suspension(cal, due_at=step, days=a), days=b
    )
    assert twice == clock.step_due_after_suspension(cal, due_at=step, days=a + b)
    # and the days waited are additive over consecutive waits
    x, y, z = sorted(data.draw(st.lists(moments(cal), min_size=3, max_size=3), label="x, y, z"))
    assert clock.suspended_working_days(cal, since=x, until=z) == clock.suspended_working_days(
        cal, since=x, until=y
    ) + clock.suspended_working_days(cal, since=y, until=z)


near = st.one_of(
    st.sampled_from([dt.timedelta(0), US, -US, MINUTE, -MINUTE]),
    st.integers(-20 * 24 * 60, 20 * 24 * 60).map(lambda m: dt.timedelta(minutes=m)),
)


@PURE
@given(data=st.data(), cal=calendars(), days=statutory_days, offset=near, supplements=st.integers(0, 4))
def test_timeliness(data, cal, days, offset, supplements):
    received = data.draw(moments(cal), label="received")
    due = data.draw(st.sampled_from([cal.appointment_date(received, working_days=days), received]), label="due")
    finished = due + offset
    result = clock.timeliness(cal, finished_at=finished, due_at=due, supplements=supplements)
    if finished > due or supplements > 1:
        assert result == clock.LATE
    if result == clock.EARLY:  # only when finished on an earlier day
        assert local_day(cal, finished) < local_day(cal, due)
    if result != clock.LATE:
        assert finished <= due
        assert supplements <= 1
        assert result == (clock.EARLY if local_day(cal, finished) < local_day(cal, due) else clock.ON_TIME)


@PURE
@given(
    data=st.data(),
    cal=calendars(),
    days=statutory_days,
    allotment=allotments,
    waits=st.lists(st.tuples(gaps, gaps), max_size=6),
)
def test_a_sequence_of_supplements_adds_back_each_waited_day_once(data, cal, days, allotment, waits):
    """As ``dossier_supplement`` does it, request after request: the due date ends exactly as many
    working days later as there are distinct working days inside the waits."""
    received = data.draw(moments(cal), label="received")
    appointment = due = cal.appointment_date(received, working_days=days)
    step = first_step = clock.step_due(cal, opened_at=cal.effective_receipt(received), allotment=allotment)
    now, total, waited = received, 0, set()
    for before, wait in waits:
        requested, now = now + before, now + before + wait
        k = clock.suspended_working_days(cal, since=requested, until=now)
        due = clock.due_after_suspension(cal, due_at=due, days=k)
        step = clock.step_due_after_suspension(cal, due_at=step, days=k)
        assert at_close_of_business(cal, due)
        assert in_office(cal, step)
        total += k
        days_waited = working_days_after(cal, local_day(cal, requested), local_day(cal, now))
        assert not days_waited & waited  # no day is given back twice
        waited |= days_waited
    assert total == len(waited)
    assert due == clock.due_after_suspension(cal, due_at=appointment, days=total)
    assert cal.working_days_between(local_day(cal, appointment), local_day(cal, due)) == total
    assert cal.working_hours_between(first_step, step) == cal.day_hours * total


# --- real dossiers through the test flow -----------------------------------------------------------

DB = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: the open step → who decides and what (purpose "work": no police check)
NEXT = {
    "receive": ("receiver", "receive"),
    "review": ("specialist", "forward"),
    "approve": ("head", "approve"),
    "sign": ("leader", "sign"),
    "give": ("clerk", "return"),
}
#: an action, or a supplement request (after ``gap``) answered by the applicant ``wait`` later
operations = st.lists(
    st.one_of(
        st.tuples(st.just("act"), gaps, st.just(dt.timedelta(0))),
        st.tuples(st.just("supplement"), gaps, gaps),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture
def staff(agency):
    return {role: RoleAssignmentFactory(agency=agency, role=role).user for role, _ in NEXT.values()}


@contextmanager
def _calendar_in_place(cal: WorkCalendar) -> Iterator[None]:
    """Every ``default_calendar()`` of the platform answers ``cal``, whichever module calls it (the
    function is cached: the cache is filled with ``cal`` and emptied again afterwards)."""
    default_calendar.cache_clear()
    try:
        with mock.patch("hcmgov.core.workcalendar.load_calendar", return_value=cal):
            assert default_calendar() is cal
            yield
    finally:
        default_calendar.cache_clear()


def _open_step(dossier: Dossier) -> DossierStep | None:
    steps = list(DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN))
    assert len(steps) <= 1, steps
    return steps[0] if steps else None


def _check_the_clock(cal: WorkCalendar, dossier: Dossier, appointment: dt.datetime | None) -> None:
    dossier = Dossier.objects.get(pk=dossier.pk)
    requests = list(SupplementRequest.objects.filter(dossier=dossier, answered_at__isnull=False))
    for r in requests:
        expected = clock.suspended_working_days(cal, since=r.requested_at, until=r.answered_at) if r.counts else 0
        assert r.suspended_days == expected, r
    total = sum(r.suspended_days for r in requests)
    assert dossier.suspended_days == total
    assert dossier.supplement_count == sum(r.counts for r in requests)
    assert in_office(cal, dossier.due_at)
    assert at_close_of_business(cal, dossier.due_at)
    if appointment is not None:  # received: the appointment moved by exactly the recorded suspensions
        assert dossier.due_at == clock.due_after_suspension(cal, due_at=appointment, days=total)
        assert cal.working_days_between(local_day(cal, appointment), local_day(cal, dossier.due_at)) == total
        assert dossier.appointment_at == dossier.due_at
    spec = catalog.flow_spec(flow_id=dossier.flow_id)
    for step in DossierStep.objects.filter(dossier=dossier).exclude(state=StepState.CANCELLED):
        assert in_office(cal, step.due_at), step
        opened = step.opened_at if step.key == "receive" else cal.effective_receipt(step.opened_at)
        # the step's holder is not charged for any wait of the applicant, counted for the dossier or not
        waited = sum(
            clock.suspended_working_days(cal, since=r.requested_at, until=r.answered_at)
            for r in requests
            if r.step_id == step.pk
        )
        expected = clock.step_due(
            cal, opened_at=opened, allotment=spec.steps[step.key].allotment + cal.day_hours * waited
        )
        assert step.due_at == expected, step
        if step.state == StepState.DONE:
            assert step.timeliness == clock.timeliness(cal, finished_at=step.finished_at, due_at=step.due_at)


@DB
@given(data=st.data(), cal=calendars(), days=statutory_days, ops=operations)
def test_real_dossiers_keep_the_appointment_moved_by_the_recorded_suspensions(
    db, submit, staff, citizen, version, data, cal, days, ops
):
    ProcedureVersion.objects.filter(pk=version.pk).update(statutory_days=days)
    now = data.draw(moments(cal), label="submitted")
    with _calendar_in_place(cal):
        dossier, created = submit(form_data=dict(VALID_FORM), now=now)
        assert created
        appointment = None
        _check_the_clock(cal, dossier, appointment)
        for kind, gap, wait in ops:
            step = _open_step(dossier)
            if step is None:
                break  # returned
            role, action = NEXT[step.key]
            now += gap
            if kind == "act":
                dossier = services.dossier_act(
                    dossier=dossier, official=staff[role], step_id=step.pk, action=action, now=now
                )
                if action == "receive":
                    appointment = cal.appointment_date(now, working_days=days)
                    assert dossier.due_at == appointment
                if action == "sign":  # finished: classed once, with the supplements counted so far
                    assert dossier.status == Status.FINISHED
                    assert dossier.timeliness == clock.timeliness(
                        cal, finished_at=now, due_at=dossier.due_at, supplements=dossier.supplement_count
                    )
                    if dossier.supplement_count > 1:
                        assert dossier.timeliness == clock.LATE
            else:
                before = dossier.status
                dossier = services.dossier_request_supplement(
                    dossier=dossier, official=staff[role], step_id=step.pk, items=[{"document": "Tờ khai"}], now=now
                )
                now += wait
                dossier = services.dossier_supplement(dossier=dossier, applicant=citizen, now=now)
                assert dossier.status == before
            _check_the_clock(cal, dossier, appointment)
        final = Dossier.objects.get(pk=dossier.pk)
        event(f"ended {final.get_status_display()}; counted supplements: {min(final.supplement_count, 2)}")


@pytest.mark.django_db
def test_the_desk_step_is_not_charged_for_the_applicants_wait_before_receipt(submit, staff, citizen):
    monday = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    dossier, _ = submit(form_data=dict(VALID_FORM), now=monday)
    desk = _open_step(dossier)
    assert desk.due_at == dt.datetime(2026, 3, 2, 13, 30, tzinfo=VN)  # 4 working hours
    services.dossier_request_supplement(
        dossier=dossier, official=staff["receiver"], step_id=desk.pk, items=[{"document": "Tờ khai"}],
        now=monday + dt.timedelta(minutes=30),
    )  # fmt: skip
    wednesday = dt.datetime(2026, 3, 4, 9, 0, tzinfo=VN)  # the applicant answers two working days later
    dossier = services.dossier_supplement(dossier=dossier, applicant=citizen, now=wednesday)
    dossier = services.dossier_act(
        dossier=dossier, official=staff["receiver"], step_id=desk.pk, action="receive", now=wednesday + MINUTE
    )
    desk = DossierStep.objects.get(pk=desk.pk)
    # the receiver acted one minute after the applicant's answer: the desk's 4 hours had not run out
    # (a fix may move the desk step's due moment by the 2 working days waited, as for the open steps
    # after receipt, or restart its allotment at the answer: either way it is due after the answer)
    assert desk.due_at > wednesday
    assert desk.timeliness != clock.LATE
