"""Reads of dossiers: the applicant's list, the desk's queue, public tracking, statistics."""

from __future__ import annotations

import datetime as dt
import hmac
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import QuerySet

from hcmgov.common.errors import NotFound
from hcmgov.core import selectors as core
from hcmgov.dossiers.models import STATUS_EN, Channel, Dossier, DossierEvent, DossierStep, Status
from hcmgov.identity import selectors as identity

__all__ = ["STATUS_EN", "Channel", "Status"]  # value types other apps read, re-exported with the reads

LIST_RELATED = ("procedure", "agency")


def dossier_list_for_applicant(*, user: Any) -> QuerySet[Dossier]:
    return Dossier.objects.filter(applicant=user).select_related(*LIST_RELATED).order_by("-submitted_at", "-id")


def dossier_list_for_official(*, user: Any, status: int | None = None, q: str = "") -> QuerySet[Dossier]:
    """Dossiers of the agencies where ``user`` holds a role (deny by default: none otherwise)."""
    qs = Dossier.objects.filter(agency_id__in=identity.user_agency_ids(user=user)).select_related(*LIST_RELATED)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = (
            qs.filter(code__startswith=q.strip())
            if any(ch.isdigit() for ch in q)
            else qs.filter(applicant_name__icontains=q.strip())
        )
    return qs.order_by("-submitted_at", "-id")


def dossier_visible_to(*, user: Any, code: str) -> Dossier:
    """The dossier ``code`` if ``user`` may see it: its applicant, or an official of its agency."""
    dossier = (
        Dossier.objects.select_related("procedure", "procedure_version", "agency", "unit").filter(code=code).first()
    )
    if dossier is None or not user.is_authenticated:
        raise NotFound("hồ sơ", "Dossier")
    if dossier.applicant_id == user.pk:
        return dossier
    if user.kind == "official" and dossier.agency_id in identity.user_agency_ids(user=user):
        return dossier
    raise NotFound("hồ sơ", "Dossier")  # not 403: do not reveal that the code exists


@dataclass(frozen=True)
class TrackedEvent:
    at: dt.datetime
    status_from: int | None
    status_to: int
    note: str

    def get_status_to_display(self) -> str:
        return str(Status(self.status_to).label)


@dataclass(frozen=True)
class Tracked:
    """What public tracking shows of a dossier — no personal data."""

    code: str
    status: int
    submitted_at: dt.datetime
    due_at: dt.datetime
    procedure: dict[str, str]
    agency: dict[str, str]
    events: list[TrackedEvent]

    def get_status_display(self) -> str:
        return str(Status(self.status).label)


def dossier_track(*, code: str, secret: str) -> Tracked:
    """Public tracking: the dossier whose code and printed secret both match.

    The busiest public read of the platform, so it is two indexed SQL statements with the columns
    it shows, not ORM model graphs (the ORM's query compilation cost more than the queries)."""
    given = secret.strip().upper().encode()  # bytes: compare_digest refuses non-ASCII text
    d = Dossier._meta.db_table
    p = apps.get_model("catalog", "Procedure")._meta.db_table  # read-only join, through the registry
    a = apps.get_model("core", "Agency")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.id, d.code, d.status, d.submitted_at, d.due_at, d.tracking_secret,"  # noqa: S608 - our tables
            f" p.name, p.name_en, a.name, a.name_en FROM {d} d"
            f" JOIN {p} p ON p.id = d.procedure_id JOIN {a} a ON a.id = d.agency_id WHERE d.code = %s",
            [code.strip()],
        )
        row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[5].encode(), given):
            raise NotFound("hồ sơ với mã và mã tra cứu này", "A dossier with this code and lookup secret")
        cursor.execute(
            f"SELECT at, status_from, status_to, note FROM {DossierEvent._meta.db_table}"  # noqa: S608
            " WHERE dossier_id = %s ORDER BY at, id",
            [row[0]],
        )
        events = [TrackedEvent(_aware(at), status_from, status_to, note) for at, status_from, status_to, note in cursor]
    return Tracked(
        code=row[1], status=row[2], submitted_at=_aware(row[3]), due_at=_aware(row[4]),
        procedure={"name": row[6], "name_en": row[7]}, agency={"name": row[8], "name_en": row[9]}, events=events,
    )  # fmt: skip


def _aware(value: Any) -> dt.datetime:
    """Raw SQL hands SQLite datetimes back as naive UTC (or text); PostgreSQL's are aware."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def dossier_events(*, dossier: Dossier) -> list[DossierEvent]:
    return list(dossier.events.order_by("at", "id"))


def dossier_counts_by_unit(
    *, structure: str, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, int]:
    """Dossiers per commune-level unit of ``structure``: units that later merged are counted under
    the unit they went into, through the crosswalk (a dossier keeps the unit it was received by)."""
    qs = Dossier.objects.exclude(unit=None)
    if start:
        qs = qs.filter(submitted_at__date__gte=start)
    if end:
        qs = qs.filter(submitted_at__date__lte=end)
    by_unit = Counter(dict(_group_count(qs)))
    structures = {u.structure.key for u in core.unit_list().filter(pk__in=list(by_unit))}
    mapping: dict[int, int] = {}
    for key in structures:  # one map from any unit to the unit of ``structure`` that stands for it
        mapping.update(core.unit_successor_map(from_structure=key, to_structure=structure))
    result: Counter[int] = Counter()
    for unit_id, count in by_unit.items():
        if unit_id in mapping:
            result[mapping[unit_id]] += count
    codes = dict(core.unit_list(structure=structure).values_list("id", "code"))
    return {codes[uid]: n for uid, n in result.items() if uid in codes}


def _group_count(qs: QuerySet[Dossier]) -> list[tuple[int, int]]:
    from django.db.models import Count

    return list(qs.values_list("unit_id").annotate(n=Count("id")).values_list("unit_id", "n"))


def dossier_by_id(*, dossier_id: int) -> Dossier:
    return Dossier.objects.select_related("procedure", "agency", "applicant").get(pk=dossier_id)


def step_by_id(*, step_id: int) -> DossierStep:
    return DossierStep.objects.select_related("dossier", "agency", "assignee").get(pk=step_id)
