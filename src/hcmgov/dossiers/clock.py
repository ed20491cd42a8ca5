"""The legal clock of a dossier: pure functions over the working calendar.

The clock lives on the dossier, not in the engine: the engine says which step is open; these rules
say when it and the dossier are due, how a supplement request stops the clock, and how a finished
dossier or step is classed early, on time or late for the statistics.
"""

from __future__ import annotations

import datetime as dt

from hcmgov.core.workcalendar import WorkCalendar

EARLY, ON_TIME, LATE = "early", "on_time", "late"


def step_due(calendar: WorkCalendar, *, opened_at: dt.datetime, allotment: dt.timedelta) -> dt.datetime:
    """A step is due its allotment of working time after it was handed over (Decree 61/2018/NĐ-CP,
    Art. 20: each agency and person taking part is held to the time allotted to them, controlled on
    Form 05). A step handed over out of hours starts at the next opening."""
    return calendar.add_working_hours(opened_at, allotment)


def reminder_at(calendar: WorkCalendar, *, opened_at: dt.datetime, allotment: dt.timedelta) -> dt.datetime:
    """When the holder is reminded: once three quarters of the allotment are used (a platform
    choice, not a legal rule: it leaves a quarter of the step's time to act)."""
    return calendar.add_working_hours(opened_at, allotment * 3 / 4)


def suspended_working_days(calendar: WorkCalendar, *, since: dt.datetime, until: dt.datetime) -> int:
    """Working days the clock stood still while a supplement was awaited: those after the day of
    the request up to and including the day the applicant answered (the request day itself was
    already running; Decree 61/2018/NĐ-CP, Art. 18(2)(b) and Decision 766/QĐ-TTg: the time
    waiting for the applicant is not counted against the agency)."""
    a = since.astimezone(calendar.tz).date()
    b = until.astimezone(calendar.tz).date()
    return max(0, calendar.working_days_between(a, b))


def due_after_suspension(calendar: WorkCalendar, *, due_at: dt.datetime, days: int) -> dt.datetime:
    """The due moment moved by exactly ``days`` working days, keeping its time of day (close of
    business for the dossier's appointment)."""
    if days <= 0:
        return due_at
    local = due_at.astimezone(calendar.tz)
    moved = calendar.add_working_days(local.date(), days)
    return dt.datetime.combine(moved, local.timetz())


def step_due_after_suspension(calendar: WorkCalendar, *, due_at: dt.datetime, days: int) -> dt.datetime:
    """A step's due moment moved by the same working days (a working day's office hours each)."""
    if days <= 0:
        return due_at
    return calendar.add_working_hours(due_at, calendar.day_hours * days)


def timeliness(calendar: WorkCalendar, *, finished_at: dt.datetime, due_at: dt.datetime, supplements: int = 0) -> str:
    """Early, on time or late.

    Late: finished after the due moment, or — for a dossier — more than one supplement request
    (Decision 766/QĐ-TTg, processing-progress indicator). Early: finished on a day before the due
    day. On time: on the due day, by the due moment.
    """
    if finished_at > due_at or supplements > 1:
        return LATE
    if finished_at.astimezone(calendar.tz).date() < due_at.astimezone(calendar.tz).date():
        return EARLY
    return ON_TIME
