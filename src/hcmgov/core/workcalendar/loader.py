"""Build a :class:`WorkCalendar` from a JSON data file.

Format (see ``data/calendar/vn-civil-service.json``)::

    {"name": ..., "timezone": "Asia/Ho_Chi_Minh", "rest_weekdays": [5, 6],
     "office_hours": [["07:30", "11:30"], ["13:00", "17:00"]], "same_day_cutoff": "15:00",
     "years": {"2025": {"source": "...",
                        "days_off": [{"from": "2025-01-25", "to": "2025-02-02", "name": "..."}],
                        "make_up_days": [{"date": "2025-04-26", "replaces": "2025-05-02"}]}}}

``to`` is optional (one day). Each make-up day must fall on a weekly rest day and pay back a
weekday listed in ``days_off``; a file breaking that is rejected, as typos in dates are the
likeliest error in this data.
"""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from .engine import DeclaredSchedule, WorkCalendar

#: The civil-service calendar shipped with the platform.
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "calendar" / "vn-civil-service.json"


def load_calendar(path: str | Path = DATA_FILE) -> WorkCalendar:
    """Read a calendar data file (UTF-8 JSON) into a :class:`WorkCalendar`."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    rest = frozenset(int(d) for d in raw.get("rest_weekdays", (5, 6)))
    schedules = [_schedule(int(year), entry, rest) for year, entry in sorted(raw.get("years", {}).items())]
    hours = tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in raw["office_hours"])
    return WorkCalendar(
        rest_weekdays=rest,
        schedules=schedules,
        office_hours=hours,
        same_day_cutoff=time.fromisoformat(raw.get("same_day_cutoff", "15:00")),
        timezone=raw.get("timezone", "Asia/Ho_Chi_Minh"),
        name=raw.get("name", Path(path).stem),
    )


def _schedule(year: int, entry: dict[str, Any], rest: frozenset[int]) -> DeclaredSchedule:
    days_off: dict[date, str] = {}
    for block in entry.get("days_off", ()):
        first = date.fromisoformat(block["from"])
        last = date.fromisoformat(block.get("to", block["from"]))
        if last < first or (last - first).days > 31:
            raise ValueError(f"{year}: bad day-off range {block}")
        for i in range((last - first).days + 1):
            days_off[first + timedelta(days=i)] = block.get("name", "ngày nghỉ")
    make_up: dict[date, str] = {}
    for item in entry.get("make_up_days", ()):
        day, replaces = date.fromisoformat(item["date"]), date.fromisoformat(item["replaces"])
        if day.weekday() not in rest or replaces.weekday() in rest or replaces not in days_off:
            raise ValueError(f"{year}: make-up day {day} must be a rest day paying back a weekday off, got {replaces}")
        make_up[day] = item.get("name", f"làm bù cho ngày {replaces:%d/%m/%Y}")
    return DeclaredSchedule(year=year, days_off=days_off, make_up_days=make_up, source=entry.get("source", ""))
