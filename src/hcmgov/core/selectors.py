"""Reads of the core app: units, the crosswalk, agencies, health."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from hcmgov.core.models import AdminUnit, Agency, DaySequence, Heartbeat, OutboxEvent, Structure, UnitLink


def structure_at(*, day: dt.date) -> Structure:
    """The administrative structure in force on ``day``."""
    return Structure.objects.filter(valid_from__lte=day).exclude(valid_to__lt=day).order_by("-valid_from").get()


def unit_list(
    *, structure: str | None = None, parent_code: str | None = None, level: str | None = None
) -> QuerySet[AdminUnit]:
    qs = AdminUnit.objects.select_related("structure", "parent")
    if structure:
        qs = qs.filter(structure__key=structure)
    if parent_code:
        qs = qs.filter(parent__code=parent_code)
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("structure__valid_from", "code")


def unit_successor_map(*, from_structure: str, to_structure: str) -> dict[int, int]:
    """Map unit ids of one structure to the ids of the later structure they went into, following
    primary crosswalk links (a split unit is counted under the unit that took its primary part).
    Units of ``to_structure`` map to themselves."""
    mapping: dict[int, int] = {}
    links = UnitLink.objects.filter(
        primary=True, old__structure__key=from_structure, new__structure__key=to_structure
    ).values_list("old_id", "new_id")
    mapping.update(dict(links))
    for unit_id in AdminUnit.objects.filter(structure__key=to_structure).values_list("id", flat=True):
        mapping[unit_id] = unit_id
    return mapping


def unit_in_force(*, unit: AdminUnit, day: dt.date) -> AdminUnit:
    """The unit that, on ``day``, stands for ``unit`` (itself, or its successor after a merger)."""
    current = unit
    seen = set()
    while current.valid_to is not None and current.valid_to < day and current.pk not in seen:
        seen.add(current.pk)
        link = current.successor_links.filter(primary=True).select_related("new").first()
        if link is None:
            break
        current = link.new
    return current


def agency_list(*, kind: str | None = None, level: str | None = None, day: dt.date | None = None) -> QuerySet[Agency]:
    qs = Agency.objects.select_related("unit")
    if kind:
        qs = qs.filter(kind=kind)
    if level:
        qs = qs.filter(level=level)
    if day:
        qs = qs.filter(valid_from__lte=day).exclude(valid_to__lt=day)
    return qs.order_by("code")


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def worker_alive(*, within: dt.timedelta = dt.timedelta(seconds=60)) -> bool:
    beat = Heartbeat.objects.filter(process="worker").first()
    return beat is not None and beat.beat_at >= timezone.now() - within


def outbox_backlog() -> int:
    return OutboxEvent.objects.filter(delivered_at__isnull=True).count()


def sequences_in(*, start: dt.date, end: dt.date) -> dict[tuple[str, dt.date], int]:
    """The last numbers issued for every scope on each day between ``start`` and ``end``."""
    rows = DaySequence.objects.filter(day__gte=start, day__lte=end).values_list("scope", "day", "last")
    return {(scope, day): last for scope, day, last in rows}


def agency_partner(*, selector: str, home: Agency, day: dt.date) -> Agency | None:
    """The agency an inter-agency step goes to: ``selector`` is a kind, optionally with a
    department (``department:justice``, ``police``). Agencies tied to a unit (commune police, a
    People's Committee) are taken in the home agency's unit (or the unit it merged into) when
    there is one; otherwise the one agency of that kind in force on ``day``."""
    kind, _, department = selector.partition(":")
    qs = agency_list(kind=kind, day=day)
    if department:
        qs = qs.filter(department=department)
    unit = home.unit
    while unit is not None:  # the home agency's unit, then the units above it (a ward's district)
        in_unit = qs.filter(unit_id=unit.pk).first()
        if in_unit is not None:
            return in_unit
        unit = unit.parent
    return qs.filter(unit=None).first() or qs.first()


def agency_kind_exists(*, selector: str) -> bool:
    """Whether an inter-agency selector (``kind`` or ``kind:department``) names agencies we have."""
    kind, _, department = selector.partition(":")
    qs = Agency.objects.filter(kind=kind)
    return (qs.filter(department=department) if department else qs).exists()


def unit_agency_ids(*, unit_code: str, kinds: list[str], day: dt.date) -> list[int]:
    """The agencies of ``kinds`` in force on ``day`` attached to a unit of code ``unit_code`` (in
    any structure: a unit keeps its code across versions). For the periodic reports: who acts for
    a unit's report (its People's Committee)."""
    return list(agency_list(day=day).filter(kind__in=kinds, unit__code=unit_code).values_list("id", flat=True))
