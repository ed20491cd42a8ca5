"""The tables of the warehouse: each one's Parquet schema, where its rows come from (another app's
selectors, never its models) and which month each row is filed under.

The schemas are explicit so that every engine reads the same types: strings, 16/32/64-bit signed
integers, booleans, and timestamps in microseconds adjusted to UTC (Parquet ``TIMESTAMP(MICROS,
true)``: Spark ``TimestampType``, Trino ``timestamp(6) with time zone``). No unsigned integer, no
dictionary type, no nested column: plain Parquet every engine reads. The partition columns ``year`` and
``month`` are in the folder names (Hive layout), not in the files.

Only non-personal columns are declared; ``PERSONAL`` lists the names no schema may ever hold (a test
holds every schema to it).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pyarrow as pa

from hcmgov.documents import selectors as documents
from hcmgov.dossiers import selectors as dossiers
from hcmgov.exchange import selectors as exchange
from hcmgov.feedback import selectors as feedback
from hcmgov.payments import selectors as payments
from hcmgov.registry import selectors as registry

TS = pa.timestamp("us", tz="UTC")

# Columns of the platform that carry personal data or free text about people: never exported.
PERSONAL = frozenset({
    "applicant", "applicant_id", "applicant_name", "applicant_search", "form_data", "workflow_state",
    "tracking_secret", "fingerprint", "idempotency_key", "delivery_to", "refusal_reason", "note", "comment",
    "actor", "actor_id", "actor_label", "assignee", "assignee_id", "payer", "payer_id", "payer_name",
    "cashier_label", "lines", "client_ip", "bank_txn_no", "end_user", "path", "client_id", "personal_id",
    "full_name", "name", "address", "phone", "email", "secret", "author_name", "author_email", "author_phone",
    "text", "answer", "bodies",
})  # fmt: skip

Rows = Callable[..., Iterator[tuple[Any, ...]]]
Months = Callable[..., set[tuple[int, int]]]


@dataclass(frozen=True)
class Table:
    """One table: its schema, the months changed since a moment, and the rows of one month."""

    name: str
    schema: pa.Schema
    months: Months  # (since=...) → {(year, month)}
    rows: Rows  # (start=, end=, chunk_size=) → tuples
    convert: Callable[[tuple[Any, ...]], tuple[Any, ...]]  # a selector's tuple → the schema's columns
    description: str
    # a full refresh removes the partitions the database no longer holds, except for tables whose
    # source is purged after a while (the gateway's message log is archived): their history stays
    keep_history: bool = False


def _blank(value: str) -> str | None:
    return value or None


# --- the dossiers' row: the dossiers app's extract, and facts other apps hold about each dossier ------
# The dossiers app's columns are read by name (``dossiers.WAREHOUSE_DOSSIER_COLUMNS``): a column it
# does not list (yet) is extracted as NULL. ``submitted_auth`` is the dossier's own record of how
# its applicant authenticated to submit (``Dossier.submitted_auth``, "" unknown).
_DOSSIER_BASE = (
    "code", "procedure__code", "agency__code", "unit__code", "unit__structure__key", "channel", "status",
    "language", "submitted_at", "received_at", "due_at", "appointment_at", "finished_at", "returned_at",
    "timeliness", "supplement_count", "suspended_days", "fee_required", "fee_paid_at", "fee_paid_online",
    "result_by_post", "updated_at", "procedure__level", "procedure__online_level", "suspended_at",
    "components_reused", "submitted_auth",
)  # fmt: skip


@dataclass(frozen=True)
class DossierFacts:
    """Facts about each dossier that another app holds, for the service-quality index: read per
    chunk of dossier codes through that app's selectors, never its models. ``values`` (codes=[...])
    → {code: a value, or a tuple of values for several columns}, every code answered; ``changed``
    (since=) → the codes whose facts changed at or after ``since`` (their partitions are rewritten:
    such a change does not touch the dossier's row). Until the app offers the two selectors, the
    columns are extracted as NULL: unknown, and the index gives their indicators no number."""

    columns: tuple[str, ...]
    app: ModuleType
    values: str
    changed: str

    def reader(self) -> Callable[..., dict[str, Any]] | None:
        return getattr(self.app, self.values, None)

    def changes(self) -> Callable[..., set[str]] | None:
        return getattr(self.app, self.changed, None)


DOSSIER_FACTS: tuple[DossierFacts, ...] = (
    # 1.4: the National Public Service Portal holds the dossier (one of its changes delivered)
    DossierFacts(("portal_synced",), exchange, "warehouse_portal_synced", "warehouse_portal_changed"),
    # 4.1, 4.5: an electronic result in force; that result in the applicant's data store
    DossierFacts(("result_electronic", "result_in_store"), documents, "warehouse_results", "warehouse_results_changed"),
    # 4.6: a fact of the dossier checked against the national population database
    DossierFacts(("population_checked",), registry, "warehouse_population_checked", "warehouse_checks_changed"),
    # --- helper: desk-766 ---
    # 4.2: every component of the dossier held electronically (uploaded, reused, scanned at the desk)
    DossierFacts(("components_digitised",), documents, "warehouse_components_digitised",
                 "warehouse_digitised_changed"),
    # --- end helper: desk-766 ---
)  # fmt: skip
FACT_COLUMNS = tuple(c for f in DOSSIER_FACTS for c in f.columns)


def _chunk_facts(codes: list[str]) -> list[tuple[Any, ...]]:
    """The facts of ``codes`` in ``FACT_COLUMNS`` order, one tuple per code (None: unknown)."""
    found: list[dict[str, Any]] = []
    for facts in DOSSIER_FACTS:
        read = facts.reader()
        found.append(read(codes=codes) if read is not None else {})
    out = []
    for code in codes:
        row: list[Any] = []
        for facts, values in zip(DOSSIER_FACTS, found, strict=True):
            value = values.get(code)
            if len(facts.columns) == 1:
                row.append(value)
            else:
                row.extend(value if value is not None else (None,) * len(facts.columns))
        out.append(tuple(row))
    return out


def dossier_rows(*, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000) -> Iterator[tuple[Any, ...]]:
    """The dossiers submitted in [start, end) from the dossiers app's extract, its columns put in
    ``_DOSSIER_BASE`` order, each followed by its facts from the other apps (one query per app per
    chunk of ``chunk_size`` dossiers)."""
    listed = {name: i for i, name in enumerate(dossiers.WAREHOUSE_DOSSIER_COLUMNS)}
    positions = [listed.get(name) for name in _DOSSIER_BASE]
    rows = dossiers.warehouse_dossier_rows(start=start, end=end, chunk_size=chunk_size)
    while chunk := list(itertools.islice(rows, chunk_size)):
        picked = [tuple(None if i is None else row[i] for i in positions) for row in chunk]
        facts = _chunk_facts([str(row[0]) for row in picked])
        for row, extra in zip(picked, facts, strict=True):
            yield row + extra


def _month_of_code(code: str) -> tuple[int, int] | None:
    """(year, month) of submission from a dossier code ``<agency>-<YYMMDD>-<NNNN>`` (Circular
    01/2018/TT-VPCP): the day is the city day the dossier was submitted (``dossiers.services.
    submission``), the day its partition is filed under. None for a code of another form."""
    parts = code.rsplit("-", 2)
    if len(parts) != 3 or len(parts[1]) != 6 or not parts[1].isdigit():
        return None
    year, month = 2000 + int(parts[1][:2]), int(parts[1][2:4])
    return (year, month) if 1 <= month <= 12 else None


def dossier_months(*, since: dt.datetime | None = None) -> set[tuple[int, int]]:
    """The dossiers app's months changed since ``since``, and the months of the dossiers whose
    facts held by other apps changed since then (from their codes). A code of another form
    (imported dossiers) is caught by the next full refresh."""
    months = dossiers.warehouse_dossier_months(since=since)
    if since is None:
        return months
    for facts in DOSSIER_FACTS:
        changes = facts.changes()
        for code in changes(since=since) if changes is not None else ():
            month = _month_of_code(code)
            if month is not None:
                months.add(month)
    return months


def _dossier(row: tuple[Any, ...]) -> tuple[Any, ...]:
    (code, procedure, agency, unit, structure, channel, status, language, submitted, received, due, appointment,
     finished, returned, timeliness, supplements, suspended, fee_required, fee_paid_at, fee_online, by_post,
     updated, level, online_level, suspended_at, reused, auth, synced, result, in_store, checked,
     digitised) = row  # fmt: skip
    # on time: finished early or on time. ``timeliness`` is fixed once at the finish by
    # ``dossiers.clock.timeliness`` against the due moment already moved by every suspension, and is
    # "late" for more than one supplement request: both rules of the 766 index. Unknown (None) until
    # finished, and for a dossier finished without being received (refused at the desk): a dossier
    # still in progress is judged at the moment of reading (reporting.quality), not here.
    on_time = timeliness in ("early", "on_time") if timeliness else None
    return (code, procedure, agency, unit, structure, channel, status, language, submitted, received, due,
            appointment, finished, returned, _blank(timeliness), on_time, supplements, suspended, fee_required,
            fee_paid_at, fee_online, by_post, updated, level, online_level, suspended_at, reused,
            _blank(auth or ""), synced, result, in_store, checked, digitised)  # fmt: skip


def _step(row: tuple[Any, ...]) -> tuple[Any, ...]:
    code, key, role, agency, state, opened, due, finished, outcome, timeliness, waiting = row
    return (code, key, role, agency, state, opened, due, finished, _blank(outcome), _blank(timeliness), waiting)


def _same(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row


def _order(row: tuple[Any, ...]) -> tuple[Any, ...]:
    code, procedure, agency, stage, amount, state, method, created, paid, updated = row
    return (code, procedure, agency, stage, amount, state, _blank(method), created, paid, updated)


def _traffic(row: tuple[Any, ...]) -> tuple[Any, ...]:
    hour, service, calls, errors, total, longest, bytes_in, bytes_out = row
    if isinstance(hour, dt.datetime) and hour.tzinfo is None:
        hour = hour.replace(tzinfo=dt.UTC)
    return (hour, service, calls, errors, float(total or 0), float(longest or 0), int(bytes_in or 0),
            int(bytes_out or 0))  # fmt: skip


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in fields])


S, I16, I32, I64, B, F = pa.string(), pa.int16(), pa.int32(), pa.int64(), pa.bool_(), pa.float64()

DOSSIERS = Table(
    name="dossiers",
    description="Hồ sơ / dossiers, by month of submission",
    schema=_schema(
        ("code", S, False),
        ("procedure_code", S, False),
        ("agency_code", S, False),
        ("unit_code", S, True),
        ("unit_structure", S, True),
        ("channel", I16, False),
        ("status", I16, False),
        ("language", S, False),
        ("submitted_at", TS, False),
        ("received_at", TS, True),
        ("due_at", TS, False),
        ("appointment_at", TS, True),
        ("finished_at", TS, True),
        ("returned_at", TS, True),
        ("timeliness", S, True),
        ("on_time", B, True),
        ("supplement_count", I16, False),
        ("suspended_days", I32, False),
        ("fee_required", B, False),
        ("fee_paid_at", TS, True),
        ("fee_paid_online", B, False),
        ("result_by_post", B, False),
        ("updated_at", TS, False),
        # added for the service-quality index (reporting.quality): files written before read them as NULL
        ("procedure_level", S, True),  # city / district / commune
        ("online_level", S, True),  # full / partial (Decree 42/2022/NĐ-CP)
        ("suspended_at", TS, True),  # a supplement awaited since then: the clock stands still
        ("components_reused", I16, True),  # documents taken from the applicant's data store
        # added for 1.4, 4.1, 4.5, 4.6, 4.7 and the plan's targets: NULL is unknown (older files,
        # dossiers submitted before the method was recorded, facts whose app offers no selector yet)
        ("submitted_auth", S, True),  # how the applicant authenticated to submit ("": unknown)
        ("portal_synced", B, True),  # the National Public Service Portal holds it
        ("result_electronic", B, True),  # an electronic result (signed PDF) in force
        ("result_in_store", B, True),  # that result in the applicant's data store
        ("population_checked", B, True),  # a fact checked against the national population database
        ("components_digitised", B, True),  # 4.2: every component held electronically (documents.desk)
    ),
    months=dossier_months,
    rows=dossier_rows,
    convert=_dossier,
)
DOSSIER_STEPS = Table(
    name="dossier_steps",
    description="Bước xử lý / processing steps, by month of the dossier's submission",
    schema=_schema(
        ("dossier_code", S, False),
        ("step_key", S, False),
        ("role", S, False),
        ("agency_code", S, False),
        ("state", S, False),
        ("opened_at", TS, False),
        ("due_at", TS, False),
        ("finished_at", TS, True),
        ("outcome", S, True),
        ("timeliness", S, True),
        ("waiting", B, False),
    ),
    months=dossiers.warehouse_dossier_months,
    rows=dossiers.warehouse_step_rows,
    convert=_step,
)
DOSSIER_EVENTS = Table(
    name="dossier_events",
    description="Thay đổi trạng thái / status changes, by month of the dossier's submission",
    schema=_schema(
        ("dossier_code", S, False),
        ("agency_code", S, False),
        ("at", TS, False),
        ("status_from", I16, True),
        ("status_to", I16, False),
    ),
    months=dossiers.warehouse_dossier_months,
    rows=dossiers.warehouse_event_rows,
    convert=_same,
)
PAYMENTS = Table(
    name="payments",
    description="Yêu cầu thanh toán / payment orders, by month of creation",
    schema=_schema(
        ("dossier_code", S, False),
        ("procedure_code", S, False),
        ("agency_code", S, False),
        ("stage", S, False),
        ("amount", I64, False),
        ("state", S, False),
        ("method", S, True),
        ("created_at", TS, False),
        ("paid_at", TS, True),
        ("updated_at", TS, False),
    ),
    months=payments.warehouse_order_months,
    rows=payments.warehouse_order_rows,
    convert=_order,
)
RATINGS = Table(
    name="ratings",
    description="Đánh giá hài lòng / satisfaction ratings, by month rated",
    schema=_schema(
        ("dossier_code", S, False),
        ("agency_code", S, False),
        ("procedure_code", S, False),
        ("score", I16, False),
        ("contacts", I16, True),
        ("publicity", I16, True),
        ("attitude", I16, True),
        ("online", I16, True),
        ("rated_at", TS, False),
    ),
    months=feedback.warehouse_rating_months,
    rows=feedback.warehouse_rating_rows,
    convert=_same,
)
GATEWAY_TRAFFIC = Table(
    name="gateway_traffic",
    description="Lưu lượng LGSP / data-sharing gateway calls per service and hour",
    schema=_schema(
        ("hour", TS, False),
        ("service", S, False),
        ("calls", I64, False),
        ("errors", I64, False),
        ("duration_ms_sum", F, False),
        ("duration_ms_max", F, False),
        ("bytes_in", I64, False),
        ("bytes_out", I64, False),
    ),
    months=exchange.warehouse_traffic_months,
    rows=exchange.warehouse_traffic_rows,
    convert=_traffic,
    keep_history=True,
)

TABLES: dict[str, Table] = {t.name: t for t in (DOSSIERS, DOSSIER_STEPS, DOSSIER_EVENTS, PAYMENTS, RATINGS,
                                                GATEWAY_TRAFFIC)}  # fmt: skip
PARTITION_COLUMNS = ("year", "month")
