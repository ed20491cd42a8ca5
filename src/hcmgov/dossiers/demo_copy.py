"""How the demo generator writes its rows: COPY on PostgreSQL, ``bulk_create`` elsewhere (SQLite).

Both writers take the same plain rows (tuples in the column order the generator declares) and
hand out primary keys before the rows are written, so that steps, events and supplement requests
can name their dossier (and a supplement request its step) without a round trip per row:

* PostgreSQL: keys come from the table's own sequence in one ``nextval`` query per batch (other
  writers running at the same time simply get other numbers), rows go in with
  ``COPY … FROM STDIN`` (psycopg 3), and the statistics are upserted through a temporary table.
* SQLite (demo and tests): keys are counted on from the largest issued, in the transaction that
  writes the rows (its write lock is held from BEGIN IMMEDIATE to COMMIT, so nobody else can take
  them), rows go in with ``bulk_create``, the statistics with one upsert statement per row.

Timestamps travel as integer microseconds since the epoch (UTC) and are turned into what the
writer needs by :meth:`ts` (text for COPY, aware datetimes for the ORM); JSON travels as text.
A dossier's form data and engine state are encrypted at rest (``Dossier.form_data``,
``workflow_state``): COPY bypasses the fields, so :meth:`CopyWriter.form` and
:meth:`CopyWriter.engine_state` encrypt each row's itself (a fresh nonce each, as the field
would), and ``bulk_create`` lets the field do it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

from hcmgov.common.crypto import encrypt_text
from hcmgov.dossiers.models import FORM_DATA_CONTEXT, WORKFLOW_STATE_CONTEXT, ProcessingStat

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_ORDINAL = EPOCH.date().toordinal()
MICROSECOND = dt.timedelta(microseconds=1)
_CLOCK_TEXT = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]

# (day ordinal, kind, agency id, procedure id, official id, step key) → [early, on time, late]
StatKey = tuple[int, str, int, int, int, str]
STAT_COLUMNS = ("day", "kind", "agency_id", "procedure_id", "official_id", "step_key", "early", "on_time", "late")


def to_us(moment: dt.datetime) -> int:
    """An aware moment as integer microseconds since the epoch."""
    return (moment - EPOCH) // MICROSECOND


def from_us(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def _day(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def _stat_rows(stats: dict[StatKey, list[int]]) -> list[tuple[Any, ...]]:
    return [(_day(k[0]), k[1], k[2], k[3], k[4], k[5], v[0], v[1], v[2]) for k, v in stats.items()]


class CopyWriter:
    """PostgreSQL: ``COPY`` through the psycopg 3 connection under Django's (same transaction)."""

    def __init__(self) -> None:
        connection.ensure_connection()
        self._days: dict[int, str] = {}
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            found = cursor.fetchone()
        self._lz4 = bool(found and found[0])

    def begin(self, checks_now: bool = False) -> None:
        """Called first in each batch's transaction: its commit need not wait for the WAL flush
        (a crash loses at most the last batches of demo data, never half a batch), and the engine
        states (5-8 kB of JSON each) are compressed with LZ4 where the server has it, a fraction
        of the default's (pglz) cost; the columns read them either way. ``checks_now``: foreign
        keys are checked as each COPY ends rather than at commit (with concurrent writers, the
        commits are taken in turn and should be short)."""
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            if self._lz4:
                cursor.execute("SET LOCAL default_toast_compression = 'lz4'")
            if checks_now:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    def ts(self, us: int | None) -> str | None:
        """``YYYY-MM-DD HH:MM:SS[.ffffff]+00`` — PostgreSQL's own text form, built from cached parts."""
        if us is None:
            return None
        seconds, fraction = divmod(us, 1_000_000)
        day, second = divmod(seconds, 86400)
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = _day(EPOCH_ORDINAL + day) + " "
        if fraction:
            return f"{text}{_CLOCK_TEXT[second]}.{fraction:06d}+00"
        return f"{text}{_CLOCK_TEXT[second]}+00"

    @staticmethod
    def js(text: str) -> Any:
        return text

    @staticmethod
    def form(text: str) -> Any:
        """A dossier's form data (JSON text, from :meth:`js`) as its column stores it: ciphertext."""
        return encrypt_text(text, context=FORM_DATA_CONTEXT)

    @staticmethod
    def engine_state(text: str) -> Any:
        """A dossier's engine state (JSON text) as its column stores it: ciphertext."""
        return encrypt_text(text, context=WORKFLOW_STATE_CONTEXT)

    @staticmethod
    def ids(model: type[models.Model], n: int) -> list[int]:
        if n == 0:
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [model._meta.db_table, n],
            )
            return [row[0] for row in cursor.fetchall()]

    @staticmethod
    def write(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        raw = connection.connection  # the psycopg connection, inside the batch's transaction
        sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)

    @classmethod
    def stats(cls, stats: dict[StatKey, list[int]]) -> None:
        cls.write(ProcessingStat, STAT_COLUMNS, _stat_rows(stats))  # rows are appended (see ProcessingStat)


class OrmWriter:
    """Any other database (SQLite): ``bulk_create`` with the keys set beforehand."""

    @staticmethod
    def begin(checks_now: bool = False) -> None:
        pass

    @staticmethod
    def ts(us: int | None) -> dt.datetime | None:
        return None if us is None else EPOCH + dt.timedelta(microseconds=us)

    @staticmethod
    def js(text: str) -> Any:
        return json.loads(text)

    @staticmethod
    def form(value: Any) -> Any:
        """A dossier's form data (from :meth:`js`) as it is: ``bulk_create`` encrypts it."""
        return value

    @staticmethod
    def engine_state(text: str) -> Any:
        """A dossier's engine state (JSON text) as a value: ``bulk_create`` encrypts it."""
        return json.loads(text)

    @staticmethod
    def ids(model: type[models.Model], n: int) -> list[int]:
        """Keys after the largest issued; call it in the transaction that writes the rows."""
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608 - our own table name
            last = int(cursor.fetchone()[0])
            if connection.vendor == "sqlite":  # AUTOINCREMENT never hands out a key twice, even a deleted one
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                found = cursor.fetchone()
                last = max(last, int(found[0]) if found else 0)
        return list(range(last + 1, last + 1 + n))

    @staticmethod
    def write(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=1000)

    @classmethod
    def stats(cls, stats: dict[StatKey, list[int]]) -> None:
        cls.write(ProcessingStat, STAT_COLUMNS, _stat_rows(stats))


Writer = CopyWriter | OrmWriter


def writer() -> Writer:
    return CopyWriter() if connection.vendor == "postgresql" else OrmWriter()
