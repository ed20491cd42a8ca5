"""Reads of dossiers: the applicant's list, the desk's queue, public tracking, statistics."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, Q, QuerySet, Sum
from django.db.models import Count as models_count
from django.db.models.expressions import RawSQL
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.common.db import fast_cursor
from hcmgov.common.errors import NotFound
from hcmgov.common.text import fold
from hcmgov.core import selectors as core
from hcmgov.documents import services as store
from hcmgov.dossiers.models import (
    CLOSED,
    STATUS_EN,
    ApologyLetter,
    Channel,
    Dossier,
    DossierComment,
    DossierDocument,
    DossierEvent,
    DossierStep,
    ProcessingStat,
    Status,
    StepState,
    SupplementRequest,
)
from hcmgov.identity import selectors as identity

__all__ = ["STATUS_EN", "Channel", "Status"]  # value types other apps read, re-exported with the reads

LIST_RELATED = ("procedure", "agency")


def _applicants(user: Any) -> Q:
    """The applicant's own dossiers and those of the businesses they represent now."""
    ids = identity.user_applicant_ids(user=user)
    return Q(applicant_id=ids[0]) if len(ids) == 1 else Q(applicant_id__in=ids)


def dossier_list_for_applicant(*, user: Any, summary: bool = False) -> QuerySet[Dossier]:
    """The dossiers a citizen or business sees on the portal: their own, and those of the
    businesses the person represents now (none for anyone else). ``summary``: for a list that
    shows no dossier's contents — the encrypted form, process state and delivery address are not
    read (each row's ciphertext, a few kilobytes, would be fetched and decrypted for nothing)."""
    dossiers = Dossier.objects.filter(_applicants(user)).select_related(*LIST_RELATED)
    if summary:
        dossiers = dossiers.defer("form_data", "workflow_state", "delivery_to")
    return dossiers.order_by("-submitted_at", "-id")


def _official_fields(user: Any) -> dict[int, frozenset[str] | None]:
    """Agency → the procedure fields the official's roles cover there (None: every field)."""
    return identity.fields_by_agency(identity.user_role_scopes(user=user))


def _official_dossiers(user: Any) -> Q:
    """The dossiers an official's roles cover: every dossier of an agency where a role covers
    every field, and in an agency where their roles are limited to fields, the dossiers of
    procedures in those fields. Agencies are grouped by their fields, so the condition has one term
    per distinct set of fields, and none joins the procedures for an official without a limited role."""
    whole: list[int] = []
    limited: dict[frozenset[str], list[int]] = {}
    for agency_id, fields in _official_fields(user).items():
        if fields is None:
            whole.append(agency_id)
        else:
            limited.setdefault(fields, []).append(agency_id)
    scope = Q(agency_id__in=whole)
    for fields, agencies in limited.items():
        scope |= Q(agency_id__in=agencies, procedure__field__in=sorted(fields))
    return scope


def dossier_list_for_official(*, user: Any, status: int | None = None, q: str = "") -> QuerySet[Dossier]:
    """Dossiers of the agencies (and fields) where ``user`` holds a role (deny by default: none otherwise)."""
    qs = Dossier.objects.filter(_official_dossiers(user)).select_related(*LIST_RELATED).defer(*HEAVY)
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
    """The dossier ``code`` if ``user`` may see it: its applicant (or a person representing the
    business that applied), or an official whose role covers its procedure's field in its agency or
    in an agency taking part in one of its steps. Every page and API route of one dossier asks here."""
    dossier = (
        Dossier.objects.select_related("procedure", "procedure_version", "agency", "unit").filter(code=code).first()
    )
    if dossier is None or not user.is_authenticated:
        raise NotFound("hồ sơ", "Dossier")
    if identity.user_acts_for(user=user, applicant_id=dossier.applicant_id):
        return dossier
    if user.kind == "official":
        field = dossier.procedure.field
        agencies = [a for a, fields in _official_fields(user).items() if fields is None or field in fields]
        if dossier.agency_id in agencies or (
            agencies and DossierStep.objects.filter(dossier=dossier, agency_id__in=agencies).exists()
        ):
            return dossier  # its agency's officials, and those of an agency taking part in a step
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

    The busiest public read of the platform, so it is raw SQL with the columns it shows, not ORM
    model graphs (the ORM's query compilation cost more than the queries). On PostgreSQL it is one
    statement (the events come back as a JSON array from a correlated subquery) with server-side
    parameters, so that psycopg prepares it once per connection and later lookups skip
    PostgreSQL's parse and plan (most of PostgreSQL's CPU for this lookup); elsewhere two statements."""
    given = secret.strip().upper().encode()  # bytes: compare_digest refuses non-ASCII text
    db = connections[DEFAULT_DB_ALIAS]  # looked up once (``connection`` looks it up at each use)
    track = _track_postgresql if db.vendor == "postgresql" else _track_portable
    found = track(db, code.strip(), given)
    if found is None:
        raise NotFound("hồ sơ với mã và mã tra cứu này", "A dossier with this code and lookup secret")
    row, events = found
    return Tracked(
        code=row[0], status=row[1], submitted_at=_aware(row[2]), due_at=_aware(row[3]),
        procedure={"name": row[5], "name_en": row[6]}, agency={"name": row[7], "name_en": row[8]}, events=events,
    )  # fmt: skip


_TRACK_COLUMNS = "d.code, d.status, d.submitted_at, d.due_at, d.tracking_secret, p.name, p.name_en, a.name, a.name_en"
_TrackRow = tuple[Any, ...]


def _track_tables() -> tuple[str, str, str, str]:
    return (
        Dossier._meta.db_table,
        apps.get_model("catalog", "Procedure")._meta.db_table,  # read-only joins, through the registry
        apps.get_model("core", "Agency")._meta.db_table,
        DossierEvent._meta.db_table,
    )


@functools.cache
def _track_sql_postgresql() -> str:
    d, p, a, e = _track_tables()
    return (
        f"SELECT {_TRACK_COLUMNS}, (SELECT json_agg(json_build_array(e.at, e.status_from, e.status_to, e.note)"  # noqa: S608 - our tables
        f" ORDER BY e.at, e.id) FROM {e} e WHERE e.dossier_id = d.id)"
        f" FROM {d} d JOIN {p} p ON p.id = d.procedure_id JOIN {a} a ON a.id = d.agency_id WHERE d.code = %s"
    )


def _track_postgresql(db: Any, code: str, given: bytes) -> tuple[_TrackRow, list[TrackedEvent]] | None:
    with fast_cursor(db.alias) as cursor:
        cursor.execute(_track_sql_postgresql(), [code])
        row = cursor.fetchone()
    if row is None or not hmac.compare_digest(row[4].encode(), given):
        return None
    # json_agg writes the timestamps in ISO 8601 with the session's offset (UTC: Django sets it)
    events = [
        TrackedEvent(dt.datetime.fromisoformat(at), status_from, status_to, note)
        for at, status_from, status_to, note in row[9] or ()
    ]
    return row, events


def _track_portable(db: Any, code: str, given: bytes) -> tuple[_TrackRow, list[TrackedEvent]] | None:
    d, p, a, e = _track_tables()
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {_TRACK_COLUMNS}, d.id FROM {d} d"  # noqa: S608 - our tables
            f" JOIN {p} p ON p.id = d.procedure_id JOIN {a} a ON a.id = d.agency_id WHERE d.code = %s",
            [code],
        )
        row = cursor.fetchone()
        if row is None or not hmac.compare_digest(row[4].encode(), given):
            return None
        cursor.execute(
            f"SELECT at, status_from, status_to, note FROM {e} WHERE dossier_id = %s ORDER BY at, id",  # noqa: S608
            [row[9]],
        )
        events = [TrackedEvent(_aware(at), status_from, status_to, note) for at, status_from, status_to, note in cursor]
    return row, events


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


def dossier_figures_by_month(*, start: dt.date | None = None) -> list[dict[str, Any]]:
    """Non-personal figures per month (Ho Chi Minh City time), procedure and agency: dossiers
    submitted, dossiers finished, and of those finished on time or early (open data publishes
    them, ``opendata.publish``)."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    tz = timezone.get_default_timezone()
    submitted = Dossier.objects.all()
    finished = Dossier.objects.exclude(finished_at=None)
    if start:
        submitted = submitted.filter(submitted_at__date__gte=start)
        finished = finished.filter(finished_at__date__gte=start)
    keys = ("procedure__code", "procedure__name", "agency__code", "agency__name")
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def row(month: Any, values: dict[str, Any]) -> dict[str, Any]:
        key = (month.strftime("%Y-%m"), *(values[k] for k in keys))
        return rows.setdefault(key, {"month": key[0], "procedure_code": key[1], "procedure_name": key[2],
                                     "agency_code": key[3], "agency_name": key[4], "submitted": 0, "finished": 0,
                                     "on_time": 0})  # fmt: skip

    for values in (
        submitted.annotate(m=TruncMonth("submitted_at", tzinfo=tz)).values("m", *keys).annotate(n=Count("id"))
    ):
        row(values["m"], values)["submitted"] = values["n"]
    on_time = Q(timeliness__in=("early", "on_time"))
    for values in (
        finished.annotate(m=TruncMonth("finished_at", tzinfo=tz))
        .values("m", *keys)
        .annotate(n=Count("id"), ok=Count("id", filter=on_time))
    ):
        found = row(values["m"], values)
        found["finished"], found["on_time"] = values["n"], values["ok"]
    return [rows[k] for k in sorted(rows)]


def dossier_is_closed(*, dossier: Dossier) -> bool:
    """Not received, withdrawn, stopped, or its result returned: nothing more happens to it."""
    return dossier.status in CLOSED


@dataclass(frozen=True)
class StatusView:
    """A dossier as an outside system is told of its status (the national portal's sync): its
    codes, channel, dates and payment flags, and its history as ``(status_to, at)`` pairs; none
    of the form or the applicant."""

    id: int
    code: str
    procedure_code: str
    agency_code: str
    channel: int
    received_at: dt.datetime | None
    appointment_at: dt.datetime | None
    due_at: dt.datetime | None
    finished_at: dt.datetime | None
    fee_required: bool
    fee_paid_at: dt.datetime | None
    fee_paid_online: bool
    history: tuple[tuple[int, dt.datetime], ...]


STATUS_VIEW_COLUMNS = (
    "id", "code", "procedure__code", "agency__code", "channel", "received_at", "appointment_at", "due_at",
    "finished_at", "fee_required", "fee_paid_at", "fee_paid_online",
)  # fmt: skip


def dossier_status_view(*, dossier_id: int) -> StatusView:
    """Two narrow queries (the dossier's columns, its history's pairs): what runs on every status
    event of every dossier reads no more than it needs. ``Dossier.DoesNotExist`` when it is gone."""
    row = Dossier.objects.filter(pk=dossier_id).values_list(*STATUS_VIEW_COLUMNS).first()
    if row is None:
        raise Dossier.DoesNotExist(dossier_id)
    history = tuple(
        DossierEvent.objects.filter(dossier_id=dossier_id).order_by("at", "id").values_list("status_to", "at")
    )
    names = [c.replace("__", "_") for c in STATUS_VIEW_COLUMNS]  # procedure__code → procedure_code
    return StatusView(**dict(zip(names, row, strict=True)), history=history)


def dossier_by_id(*, dossier_id: int) -> Dossier:
    return Dossier.objects.select_related("procedure", "agency", "applicant").get(pk=dossier_id)


def dossier_for_notice(*, dossier_id: int) -> tuple[Dossier, str]:
    """The dossier as a message about it needs it (procedure, agency, applicant; not its form or
    workflow state), and the note of its latest history entry ("" if none)."""
    dossier = (
        Dossier.objects.select_related("procedure", "agency", "applicant")
        .defer("form_data", "workflow_state", "procedure__search_text")
        .get(pk=dossier_id)
    )
    note = dossier.events.order_by("-at", "-id").values_list("note", flat=True).first() or ""
    return dossier, note


def dossier_agencies(*, dossier_ids: list[int]) -> dict[int, int]:
    """The agency of each dossier: ``{dossier id: agency id}``."""
    return dict(Dossier.objects.filter(pk__in=dossier_ids).values_list("pk", "agency_id"))


def step_by_id(*, step_id: int) -> DossierStep:
    return DossierStep.objects.select_related("dossier", "agency", "assignee").get(pk=step_id)


# --- the back office ---------------------------------------------------------------------------

# Columns of a dossier no list shows, each kilobytes of JSON (often TOASTed): not read for lists.
HEAVY = ("form_data", "workflow_state")

QUEUES = {
    "mine": ("Việc của tôi", "Assigned to me"),
    "unit": ("Chờ nhận xử lý", "Waiting to be taken"),
    "receive": ("Chờ tiếp nhận", "To receive"),
    "due_today": ("Đến hạn hôm nay", "Due today"),
    "overdue": ("Quá hạn", "Overdue"),
    "supplement": ("Chờ bổ sung", "Awaiting supplement"),
}


HEADS = frozenset({"head", "agency_admin"})


def _scope(user: Any) -> Q:
    """Open steps the official may work on: assigned to them, or unassigned in an (agency, role)
    they hold; a head of division sees every open step of their agency. One term per role (and per
    set of fields), so the query stays small whatever the number of agencies.

    A role limited to procedure fields adds the dossier's procedure to its term: a join only for
    the officials who hold such a role (the steps carry no field), so every other official's queues
    keep reading the partial indexes of open steps alone."""
    scopes = identity.user_role_scopes(user=user)
    scope = Q(assignee_id=user.pk)
    terms: dict[tuple[str | None, frozenset[str] | None], list[int]] = {}  # (role, fields) → agencies
    heads = identity.fields_by_agency(scopes, roles=set(HEADS))
    for agency_id, fields in heads.items():
        terms.setdefault((None, fields), []).append(agency_id)
    for held in sorted({s.role for s in scopes} - HEADS):
        for agency_id, fields in identity.fields_by_agency(scopes, roles={held}).items():
            head_fields = heads.get(agency_id, frozenset())
            if agency_id in heads and (head_fields is None or (fields is not None and fields <= head_fields)):
                continue  # the head's term already covers it: a redundant OR term costs an index scan
            terms.setdefault((held, fields), []).append(agency_id)
    for (role, fields), agencies in terms.items():
        term = Q(agency_id__in=agencies) if role is None else Q(assignee_id=None, role=role, agency_id__in=agencies)
        if fields is not None:
            term &= Q(dossier__procedure__field__in=sorted(fields))
        scope |= term
    return scope


def step_queue(*, user: Any, queue: str, now: dt.datetime | None = None) -> QuerySet[DossierStep]:
    """One of the back office's work queues (``QUEUES``), soonest due first. Steps of a dossier
    awaiting the applicant's supplement carry ``waiting`` and show only in that queue, so no queue
    joins the dossiers to filter: each reads the partial indexes of open steps alone."""
    now = now or timezone.now()
    qs = (
        DossierStep.objects.filter(state=StepState.OPEN)
        .select_related("dossier", "dossier__procedure", "assignee")
        .defer(*(f"dossier__{f}" for f in HEAVY))
    )
    if queue == "supplement":
        return qs.filter(_scope(user), waiting=True).order_by("due_at", "id")
    qs = qs.filter(waiting=False)
    if queue == "mine":
        qs = qs.filter(assignee_id=user.pk)
    elif queue == "unit":
        qs = qs.filter(_scope(user), assignee_id=None).exclude(role="receiver")
    elif queue == "receive":
        qs = qs.filter(_scope(user), role="receiver")
    elif queue == "due_today":
        end = dt.datetime.combine(timezone.localdate(now), dt.time.max, tzinfo=timezone.get_current_timezone())
        qs = qs.filter(_scope(user), due_at__gte=now, due_at__lte=end)
    elif queue == "overdue":
        qs = qs.filter(_scope(user), due_at__lt=now)
    else:
        raise NotFound("hàng đợi", "Queue")
    return qs.order_by("due_at", "id")


# A tab shows at most this many ("999+"): an exact count of a big agency's queue costs a walk of
# all its open steps on every page view, and nobody works a queue by its fourth digit.
COUNT_CAP = 999


def queue_counts(*, user: Any, now: dt.datetime | None = None) -> dict[str, int]:
    """How many steps wait in each queue, each count capped at ``COUNT_CAP + 1`` (shown "999+")."""
    now = now or timezone.now()
    counts = {}
    for name in QUEUES:
        qs = step_queue(user=user, queue=name, now=now).select_related(None).order_by()
        counts[name] = qs.values("pk")[: COUNT_CAP + 1].count()
    return counts


def dossier_search(
    *,
    user: Any,
    code: str = "",
    applicant: str = "",
    procedure: str = "",
    status: int | None = None,
    submitted_from: dt.date | None = None,
    submitted_to: dt.date | None = None,
) -> QuerySet[Dossier]:
    """Back-office search over the dossiers of the official's agencies (and fields), newest first."""
    qs = Dossier.objects.filter(_official_dossiers(user)).select_related(*LIST_RELATED).defer(*HEAVY)
    if code.strip():
        qs = _by_code(qs, code.strip().upper(), agency_ids=list(_official_fields(user)))
    if applicant.strip():
        qs = _by_name(qs, applicant)
    if procedure.strip():
        # by id, known before planning: the (agency, procedure, -submitted_at) index then serves it
        found = catalog.procedure_id_by_code(code=procedure.strip())
        qs = qs.filter(procedure_id=found) if found is not None else qs.none()
    if status:
        qs = qs.filter(status=status)
    if submitted_from:
        qs = qs.filter(submitted_at__gte=dt.datetime.combine(submitted_from, dt.time.min, tzinfo=LOCAL))
    if submitted_to:
        qs = qs.filter(
            submitted_at__lt=dt.datetime.combine(submitted_to + dt.timedelta(days=1), dt.time.min, tzinfo=LOCAL)
        )
    return qs.order_by("-submitted_at", "-id")


LOCAL = dt.timezone(dt.timedelta(hours=7))
_WORD = re.compile(r"[a-z0-9]+")


def _by_code(qs: QuerySet[Dossier], prefix: str, *, agency_ids: list[int]) -> QuerySet[Dossier]:
    """Dossiers whose code starts with ``prefix``. A code is "<agency code>-<yymmdd>-<number>"
    (``services.dossier_code``), so a prefix that is the beginning of an agency's code, or that
    names one agency's code and goes on, is first a choice of agencies: the agency's newest
    dossiers are then read in order, where a bare ``LIKE 'prefix%'`` made PostgreSQL read every
    dossier of the agency through the code index and sort them (70–120 ms at 36,000)."""
    codes = dict(core.agency_list().filter(pk__in=agency_ids).values_list("pk", "code"))
    whole = [pk for pk, code in codes.items() if code.startswith(prefix) or prefix == f"{code}-"]
    if whole:  # every dossier of these agencies has such a code
        return qs.filter(agency_id__in=whole)
    named = [pk for pk, code in codes.items() if prefix.startswith(f"{code}-")]
    return qs.filter(agency_id__in=named, code__startswith=prefix)


def _by_name(qs: QuerySet[Dossier], text: str) -> QuerySet[Dossier]:
    """Dossiers whose applicant's name has each word typed, with or without diacritics ("nguyen
    an" finds "Nguyễn Văn An", not "Nguyễn Thị Anh" nor "Trần Thị Loan"). Whole words, not
    beginnings: PostgreSQL estimates a word's frequency from its statistics and walks the agency's
    newest dossiers for a common name (1 ms), the full-text index for a rare one; a prefix has no
    such estimate, and "nam:*" took 160–210 ms over a million dossiers. On PostgreSQL through the
    full-text index over the folded name (migration 0007), elsewhere by a regular expression."""
    words = _WORD.findall(fold(text))[:8]
    if not words:
        return qs.none()
    if connections[qs.db].vendor == "postgresql":
        return qs.filter(
            RawSQL(
                "to_tsvector('simple'::regconfig, dossiers_dossier.applicant_search) @@ "
                "to_tsquery('simple'::regconfig, %s)",
                [" & ".join(words)],
                output_field=BooleanField(),
            )
        )
    for w in words:
        qs = qs.filter(applicant_search__regex=rf"(^| ){w}( |$)")
    return qs


def dossier_steps(*, dossier: Dossier) -> list[DossierStep]:
    return list(
        DossierStep.objects.filter(dossier=dossier).select_related("agency", "assignee").order_by("opened_at", "id")
    )


def dossier_open_steps(*, dossier: Dossier) -> list[DossierStep]:
    return [s for s in dossier_steps(dossier=dossier) if s.state == StepState.OPEN]


def dossier_comments(*, dossier: Dossier) -> list[DossierComment]:
    return list(DossierComment.objects.filter(dossier=dossier).order_by("at", "id"))


def dossier_supplement_requests(*, dossier: Dossier) -> list[SupplementRequest]:
    return list(SupplementRequest.objects.filter(dossier=dossier).order_by("requested_at", "id"))


def dossier_apologies(*, dossier: Dossier) -> list[ApologyLetter]:
    return list(ApologyLetter.objects.filter(dossier=dossier).order_by("created_at", "id"))


@dataclass(frozen=True)
class Timeliness:
    key: Any
    early: int
    on_time: int
    late: int

    @property
    def total(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def on_time_rate(self) -> float | None:
        """Share finished early or on time (the 766 index's processing-progress indicator)."""
        return (self.early + self.on_time) / self.total if self.total else None


def processing_statistics(
    *,
    start: dt.date,
    end: dt.date,
    kind: str = "dossier",
    by: str = "agency_id",
    agency_ids: list[int] | None = None,
    procedure_id: int | None = None,
    user: Any = None,
) -> list[Timeliness]:
    """Early / on-time / late counts for a period, grouped ``by`` agency, procedure, official or
    step — sums over the daily counts kept as dossiers and steps close (no pass over history).
    With ``user``, only what the official's roles cover: their agencies, and in an agency where
    their roles are limited to procedure fields, those fields' procedures."""
    if by not in {"agency_id", "procedure_id", "official_id", "step_key", "day"}:
        raise ValueError(by)
    qs = ProcessingStat.objects.filter(kind=kind, day__gte=start, day__lte=end)
    if user is not None:
        qs = qs.filter(_official_statistics(user))
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    if procedure_id is not None:
        qs = qs.filter(procedure_id=procedure_id)
    rows = qs.values(by).annotate(e=Sum("early"), o=Sum("on_time"), la=Sum("late")).order_by(by)
    return [Timeliness(key=r[by], early=r["e"], on_time=r["o"], late=r["la"]) for r in rows]


def _official_statistics(user: Any) -> Q:
    """``_official_dossiers`` for the daily counts, which keep the procedure's id, not its field."""
    procedures = apps.get_model("catalog", "Procedure").objects  # a read-only subquery, through the registry
    whole: list[int] = []
    scope = Q(pk__in=[])
    for agency_id, fields in _official_fields(user).items():
        if fields is None:
            whole.append(agency_id)
        else:
            ids = procedures.filter(field__in=sorted(fields)).values("pk")
            scope |= Q(agency_id=agency_id, procedure_id__in=ids)
    return scope | Q(agency_id__in=whole) if whole else scope


def unit_load(*, agency_id: int) -> list[tuple[int | None, int, int]]:
    """Open steps of an agency per assignee (None: not yet taken): (assignee id, open, overdue)."""
    now = timezone.now()
    rows = (
        DossierStep.objects.filter(agency_id=agency_id, state=StepState.OPEN)
        .values("assignee_id")
        .annotate(open=models_count("id"), overdue=models_count("id", filter=Q(due_at__lt=now)))
        .order_by("assignee_id")
    )
    return [(r["assignee_id"], r["open"], r["overdue"]) for r in rows]


# What each status means for the applicant, in plain words (the timeline on the portal).
PLAIN_STATUS: dict[int, tuple[str, str]] = {
    Status.NEW: ("Hồ sơ đã được gửi, đang chờ cán bộ một cửa kiểm tra và tiếp nhận.",
                 "Your dossier was sent and is waiting for the desk to check and receive it."),
    Status.RECEIVED: ("Hồ sơ đã được tiếp nhận; thời hạn giải quyết bắt đầu tính từ lúc này.",
                      "Your dossier was received; the time limit runs from now."),
    Status.NOT_RECEIVED: ("Hồ sơ không được tiếp nhận. Lý do được ghi bên dưới và trong phiếu từ chối.",
                          "Your dossier was not received. The reason is below and on the refusal slip."),
    Status.IN_PROGRESS: ("Cán bộ đang giải quyết hồ sơ của bạn.", "Officials are working on your dossier."),
    Status.SUPPLEMENT_REQUESTED: ("Cần bổ sung hồ sơ: xem yêu cầu và gửi bổ sung ngay trên trang này. "
                                  "Thời gian chờ bổ sung không tính vào thời hạn giải quyết.",
                                  "A supplement is needed: see the request and send it on this page. "
                                  "The waiting time does not count against the time limit."),
    Status.PAYMENT_REQUESTED: ("Cần nộp phí, lệ phí để tiếp tục.", "A fee must be paid to go on."),
    Status.WITHDRAWN: ("Hồ sơ đã được rút theo đề nghị của bạn.", "Your dossier was withdrawn at your request."),
    Status.STOPPED: ("Cơ quan đã dừng giải quyết hồ sơ. Lý do được ghi bên dưới.",
                     "The agency stopped processing your dossier. The reason is below."),
    Status.FINISHED: ("Đã có kết quả. Bạn có thể nhận kết quả theo hình thức đã chọn.",
                      "Your result is ready to be collected or delivered."),
    Status.RETURNED: ("Bạn đã nhận kết quả. Hãy cho chúng tôi biết mức độ hài lòng của bạn.",
                      "You have received your result. Please tell us how satisfied you are."),
}  # fmt: skip


def dossier_document(*, dossier: Dossier, document_id: int) -> DossierDocument:
    """One document of the dossier (NotFound if it is not this dossier's)."""
    document = DossierDocument.objects.filter(pk=document_id, dossier=dossier).first()
    if document is None:
        raise NotFound("giấy tờ của hồ sơ", "Document of the dossier")
    return document


def dossier_document_content(*, dossier: Dossier, document_id: int) -> tuple[DossierDocument, bytes]:
    """One document of the dossier and its bytes (NotFound if it is not this dossier's)."""
    document = dossier_document(dossier=dossier, document_id=document_id)
    return document, store.attachment_read(sha256=document.sha256)


def dossier_document_open(*, dossier: Dossier, document_id: int) -> tuple[DossierDocument, IO[bytes], str]:
    """One document of the dossier, a file object over its bytes (the caller closes it) and the
    type sniffed from the content when it was stored."""
    document = dossier_document(dossier=dossier, document_id=document_id)
    handle, content_type, _size = store.attachment_open(sha256=document.sha256)
    return document, handle, content_type


def documents_reused(*, start: dt.datetime, end: dt.datetime, agency_ids: list[int] | None = None) -> dict[str, int]:
    """Reuse of the data store by dossiers submitted in [start, end): documents reused instead of
    uploaded, dossiers with at least one, and all documents (the service-quality index counts
    reused components)."""
    docs = DossierDocument.objects.filter(dossier__submitted_at__gte=start, dossier__submitted_at__lt=end)
    if agency_ids is not None:
        docs = docs.filter(dossier__agency_id__in=agency_ids)
    reused = docs.exclude(component_code="")
    return {
        "documents": docs.count(),
        "reused": reused.count(),
        "dossiers_reusing": reused.values("dossier_id").distinct().count(),
    }


def dossier_statuses(*, since: dt.datetime | None = None, codes: list[str] | None = None) -> dict[str, int]:
    """The status of each dossier changed at or after ``since`` and of each of ``codes``:
    ``{code: status}`` (for reconciling with the National Public Service Portal)."""
    condition = Q(pk__in=[])
    if since is not None:
        condition |= Q(updated_at__gte=since)
    if codes:
        condition |= Q(code__in=codes)
    return dict(Dossier.objects.filter(condition).values_list("code", "status"))


def dossier_figures_for_units(*, structure: str, start: dt.date, end: dt.date) -> dict[str, dict[str, int]]:
    """For the periodic reports (``hcmgov.reporting``): per unit of ``structure`` (by code), the
    dossiers received, finished, and finished early or on time, between ``start`` and ``end``
    (both included, Ho Chi Minh City days). A dossier counts under the unit that received it, or,
    when that unit later merged, the unit it went into (primary crosswalk links)."""
    tz = timezone.get_default_timezone()
    low = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    on_time = Q(timeliness__in=("early", "on_time"))
    received = Dossier.objects.filter(received_at__gte=low, received_at__lt=high).exclude(unit=None)
    finished = Dossier.objects.filter(finished_at__gte=low, finished_at__lt=high).exclude(unit=None)
    by_unit: dict[int, dict[str, int]] = {}
    for unit_id, n in received.values_list("unit_id").annotate(n=models_count("id")).values_list("unit_id", "n"):
        by_unit.setdefault(unit_id, {"received": 0, "finished": 0, "finished_on_time": 0})["received"] += n
    for unit_id, n, ok in (
        finished.values_list("unit_id")
        .annotate(n=models_count("id"), ok=models_count("id", filter=on_time))
        .values_list("unit_id", "n", "ok")
    ):
        row = by_unit.setdefault(unit_id, {"received": 0, "finished": 0, "finished_on_time": 0})
        row["finished"] += n
        row["finished_on_time"] += ok
    keys = {u.structure.key for u in core.unit_list().filter(pk__in=list(by_unit))}
    mapping: dict[int, int] = {}
    for key in keys:
        mapping.update(core.unit_successor_map(from_structure=key, to_structure=structure))
    codes = dict(core.unit_list(structure=structure).values_list("id", "code"))
    result: dict[str, dict[str, int]] = {}
    for unit_id, row in by_unit.items():
        target = codes.get(mapping.get(unit_id, -1))
        if target is None:
            continue
        into = result.setdefault(target, {"received": 0, "finished": 0, "finished_on_time": 0})
        for name, n in row.items():
            into[name] += n
    return result


# --- the analytics warehouse's extract (hcmgov.warehouse): non-personal columns only ----------------
# No applicant, name, form data (encrypted), address, delivery details or official's name leaves
# through these: the warehouse's files are read by engines that know nothing of the platform's roles.
# A dossier, its steps and its events are filed under the month (city time) the dossier was submitted.

WAREHOUSE_DOSSIER_COLUMNS = (
    "code", "procedure__code", "agency__code", "unit__code", "unit__structure__key", "channel", "status",
    "language", "submitted_at", "received_at", "due_at", "appointment_at", "finished_at", "returned_at",
    "timeliness", "supplement_count", "suspended_days", "fee_required", "fee_paid_at", "fee_paid_online",
    "result_by_post", "updated_at",
    # for the service-quality index (Decision 766/QĐ-TTg) and the plan's targets (reporting.quality,
    # reporting.targets): the procedure's level and online level (as in the catalogue now), the
    # moment a supplement began to be awaited (the clock stands still since), the documents reused
    # from the applicant's data store
    "procedure__level", "procedure__online_level", "suspended_at", "components_reused",
    "submitted_auth",  # how the applicant logged in to submit (index 4.7; "" unknown)
)  # fmt: skip
WAREHOUSE_STEP_COLUMNS = (
    "dossier__code", "key", "role", "agency__code", "state", "opened_at", "due_at", "finished_at", "outcome",
    "timeliness", "waiting",
)  # fmt: skip
WAREHOUSE_EVENT_COLUMNS = ("dossier__code", "dossier__agency__code", "at", "status_from", "status_to")


def warehouse_dossier_months(*, since: dt.datetime | None = None) -> set[tuple[int, int]]:
    """(year, month) of submission, city time, of every dossier changed at or after ``since`` (all
    dossiers without it): its row, its fee, a step opened or closed, an event. A settled fee does
    not always move ``updated_at`` (``services.payments``), hence ``fee_paid_at``."""
    from django.db.models.functions import TruncMonth

    tz = timezone.get_default_timezone()
    queries: list[QuerySet[Any]] = [Dossier.objects.all()]
    if since is not None:
        queries = [
            Dossier.objects.filter(Q(updated_at__gte=since) | Q(fee_paid_at__gte=since)),
            DossierStep.objects.filter(Q(opened_at__gte=since) | Q(finished_at__gte=since)),
            DossierEvent.objects.filter(at__gte=since),
        ]
    months: set[tuple[int, int]] = set()
    for qs in queries:
        field = "submitted_at" if qs.model is Dossier else "dossier__submitted_at"
        for (month,) in qs.annotate(m=TruncMonth(field, tzinfo=tz)).values_list("m").order_by().distinct():
            months.add((month.year, month.month))
    return months


def warehouse_dossier_rows(
    *, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000
) -> Iterator[tuple[Any, ...]]:
    """Dossiers submitted in [start, end), as tuples of ``WAREHOUSE_DOSSIER_COLUMNS``, streamed."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    reused = (
        DossierDocument.objects.filter(dossier=OuterRef("pk"))
        .exclude(component_code="")
        .order_by()
        .values("dossier")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = Dossier.objects.filter(submitted_at__gte=start, submitted_at__lt=end).order_by("id")
    qs = qs.annotate(components_reused=Coalesce(Subquery(reused, output_field=IntegerField()), 0))
    return qs.values_list(*WAREHOUSE_DOSSIER_COLUMNS).iterator(chunk_size=chunk_size)


def warehouse_step_rows(*, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Steps of the dossiers submitted in [start, end), as tuples of ``WAREHOUSE_STEP_COLUMNS``."""
    qs = DossierStep.objects.filter(dossier__submitted_at__gte=start, dossier__submitted_at__lt=end)
    return qs.order_by("id").values_list(*WAREHOUSE_STEP_COLUMNS).iterator(chunk_size=chunk_size)


def warehouse_event_rows(*, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Status changes of the dossiers submitted in [start, end), as tuples of ``WAREHOUSE_EVENT_COLUMNS``."""
    qs = DossierEvent.objects.filter(dossier__submitted_at__gte=start, dossier__submitted_at__lt=end)
    return qs.order_by("id").values_list(*WAREHOUSE_EVENT_COLUMNS).iterator(chunk_size=chunk_size)


def required_and_files(*, codes: list[str]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, set[str]]]:
    """For the dossiers ``codes`` (the desk's digitisation figures read them by the thousand):
    ``({code: its procedure version's required documents}, {code: the requirements it has a file
    for})``, in two queries."""
    versions = dict(Dossier.objects.filter(code__in=codes).values_list("code", "procedure_version__required_documents"))
    files: dict[str, set[str]] = {}
    for code, requirement in DossierDocument.objects.filter(dossier__code__in=codes).values_list(
        "dossier__code", "requirement"
    ):
        files.setdefault(code, set()).add(requirement)
    return {code: list(required or []) for code, required in versions.items()}, files


def received_paper_dossiers(*, limit: int) -> list[Dossier]:
    """Received dossiers submitted in person or by post, newest first, with their procedure version
    and agency (the demo's desk scans: ``documents.demo``)."""
    return list(
        Dossier.objects.filter(channel__in=(Channel.IN_PERSON, Channel.POST), received_at__isnull=False)
        .exclude(status__in=(Status.NOT_RECEIVED, Status.WITHDRAWN))
        .select_related("procedure_version", "agency")
        .order_by("-submitted_at")[:limit]
    )
