"""Where the datastore's tables live, and the one place that speaks SQL to them.

One real table per resource, named by the resource's id, apart from the platform's own tables:
on PostgreSQL in the schema ``datastore`` of the same database (made when first needed), through
Django's connection (so writes share the request's transaction and tests roll them back); on
SQLite, the embedded default, in a separate file (``settings.DATASTORE_SQLITE_PATH``) through a
connection of its own per thread. The actions (``opendata.datastore``) never see the difference:
both engines implement :class:`Store` over the same query builder, and values are checked and
converted in Python (:func:`coerce`) before either sees them.

As in CKAN each table has ``_id`` (a serial, the table's primary key; a declared ``primary_key``
becomes a unique index) and ``_full_text``, what ``q`` searches: the row's values folded
(lower-case, no Vietnamese diacritics, ``common.text.fold``), so that "quan 1" finds "Quận 1".
PostgreSQL keeps it as ``to_tsvector('simple', …)`` under a GIN index and matches each word of
``q`` as a prefix (``word:*``), like CKAN. SQLite keeps the folded text and matches each word as a
substring with ``LIKE``: a scan, but no shadow table to keep in step on every write (FTS5 would
need one); fine for the single-machine default, and the choice to revisit if its tables grow.
``q`` on one field (``{"field": "text"}``) folds the field on the fly on both engines.

Identifiers are always quoted (``"`` doubled; ``%`` doubled too for psycopg's placeholders);
field names are validated before they get here (CKAN's rules, ``field_name_error``).
"""

# SQL here is built from identifiers quoted by Store.qi() (names checked first) and values bound as
# parameters: the whole point of the module, so S608 is off for it.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from hcmgov.common.text import fold

SCHEMA = "datastore"

# CKAN's type names (and the aliases PostgreSQL gives them) → the name kept
TYPE_ALIASES = {
    "text": "text", "varchar": "text", "string": "text",
    "int": "int", "int4": "int4", "integer": "int4", "int8": "int8", "bigint": "int8",
    "numeric": "numeric", "float8": "float8", "float": "float8", "double precision": "float8",
    "bool": "bool", "boolean": "bool",
    "date": "date", "timestamp": "timestamp", "timestamp without time zone": "timestamp",
    "json": "json", "nested": "json",
}  # fmt: skip
PG_TYPES = {
    "text": "text", "int": "integer", "int4": "integer", "int8": "bigint", "numeric": "numeric",
    "float8": "double precision", "bool": "boolean", "date": "date", "timestamp": "timestamp", "json": "jsonb",
}  # fmt: skip
SQLITE_TYPES = {
    "text": "TEXT", "int": "INTEGER", "int4": "INTEGER", "int8": "INTEGER", "numeric": "REAL", "float8": "REAL",
    "bool": "INTEGER", "date": "TEXT", "timestamp": "TEXT", "json": "TEXT",
}  # fmt: skip
INT_RANGE = {"int": 2**31, "int4": 2**31, "int8": 2**63}
RESERVED = {"_id", "_full_text"}


class StoreError(Exception):
    """The database refused a statement (the action answers a Validation Error)."""


class StoreTimeout(StoreError):
    """A statement ran past the time limit."""


@dataclass(frozen=True)
class Field:
    id: str
    type: str


# --- names and values -------------------------------------------------------------------------------


def field_name_error(name: Any) -> str | None:
    """Why ``name`` cannot be a field (CKAN's rules), or None."""
    if not isinstance(name, str) or not name.strip():
        return "Tên trường trống / Field name is empty"
    if name.startswith("_") or '"' in name or len(name) > 63 or any(ord(c) < 32 for c in name):
        return f'"{name}" không phải tên trường hợp lệ / "{name}" is not a valid field name'
    return None


def canonical_type(name: Any) -> str | None:
    return TYPE_ALIASES.get(str(name).strip().lower()) if isinstance(name, str) else None


def coerce(ckan_type: str, value: Any) -> Any:
    """``value`` as the Python value of a field of ``ckan_type``; ValueError when it cannot be one."""
    if value is None:
        return None
    if ckan_type == "text":
        if isinstance(value, dict | list):
            raise ValueError("not text")
        text = str(value)
        if "\x00" in text:  # PostgreSQL's text cannot hold it; refused on both engines alike
            raise ValueError("NUL character")
        return text
    if ckan_type in INT_RANGE:
        if isinstance(value, bool):
            raise ValueError("not an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("not an integer")
            value = int(value)
        number = int(str(value).strip()) if not isinstance(value, int) else value
        if not -INT_RANGE[ckan_type] <= number < INT_RANGE[ckan_type]:
            raise ValueError("integer out of range")
        return number
    if ckan_type in ("numeric", "float8"):
        if isinstance(value, bool | dict | list):
            raise ValueError("not a number")
        real = float(value)
        if not math.isfinite(real):
            raise ValueError("not a finite number")
        return real
    if ckan_type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "t", "1", "yes"):
            return True
        if text in ("false", "f", "0", "no"):
            return False
        raise ValueError("not a boolean")
    if ckan_type == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        return dt.date.fromisoformat(text[:10]) if len(text) >= 10 and text[10:11] in ("", "T", " ") else _bad()
    if ckan_type == "timestamp":
        stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).strip())
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
        return stamp
    if ckan_type == "json":
        if "\\u0000" in json.dumps(value):  # nor can jsonb
            raise ValueError("NUL character")
        return value
    raise ValueError(f"unknown type {ckan_type}")


def _bad() -> Any:
    raise ValueError("not a date (YYYY-MM-DD)")


def row_text(fields: list[Field], record: dict[str, Any]) -> str:
    """What ``q`` matches in a row: its values, folded."""
    parts = []
    for f in fields:
        value = record.get(f.id)
        if value is None:
            continue
        text = json.dumps(value, ensure_ascii=False) if f.type == "json" else str(value)
        parts.append(text.lower() if text.isascii() else _fold(text))
    return " ".join(parts)


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:  # tables repeat their text values (districts, procedures…): fold each once
    return fold(text)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))[:32]


# Vietnamese (and other Latin) letters → their folded form, for PostgreSQL's translate(), which
# folds a field on the fly the way common.text.fold does in Python
_FOLD_FROM = "".join(
    ch for cp in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00))
    if len(fold(ch := chr(cp))) == 1 and fold(ch).isascii() and fold(ch) != ch
)  # fmt: skip
_FOLD_TO = "".join(fold(ch) for ch in _FOLD_FROM)


def index_name(rid: str, columns: list[str], unique: bool = False) -> str:
    digest = hashlib.sha1(f"{rid}|{unique}|{','.join(columns)}".encode(), usedforsecurity=False).hexdigest()
    return f"ds_{digest[:24]}"


# --- queries --------------------------------------------------------------------------------------


@dataclass
class SqlResult:
    names: list[str]
    types: list[str | None]  # CKAN type names where the engine says (PostgreSQL), else None
    rows: list[tuple[Any, ...]]
    truncated: bool


PG_OIDS = {16: "bool", 20: "int8", 21: "int4", 23: "int4", 25: "text", 1043: "text", 1042: "text", 19: "text",
           700: "float8", 701: "float8", 1700: "numeric", 1082: "date", 1114: "timestamp", 1184: "timestamp",
           114: "json", 3802: "json", 3614: "tsvector"}  # fmt: skip


@dataclass
class Search:
    """A ``datastore_search`` as the store runs it (names and values already checked)."""

    columns: list[Field]
    filters: dict[str, list[Any]] = field(default_factory=dict)
    q_all: list[str] = field(default_factory=list)
    q_fields: dict[str, list[str]] = field(default_factory=dict)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int = 100
    offset: int = 0
    distinct: bool = False
    total: bool = True


class Store:
    """The operations the actions need, over one engine."""

    vendor = ""
    ph = "%s"

    def qi(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def table(self, rid: str) -> str:
        return self.qi(rid)

    # engine specifics (PgStore, SqliteStore)
    def execute(self, sql: str, params: list[Any] | None = None) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: list[list[Any]]) -> None:
        raise NotImplementedError

    def atomic(self, timeout_ms: int | None = None, *, read: bool = False) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def table_exists(self, rid: str) -> bool:
        raise NotImplementedError

    def full_text_column(self) -> str:
        raise NotImplementedError

    def full_text_value(self) -> str:
        raise NotImplementedError

    def match_all(self, word: str) -> tuple[str, Any]:
        raise NotImplementedError

    def fold_expr(self, column: str) -> str:
        raise NotImplementedError

    def adapt(self, ckan_type: str, value: Any) -> Any:
        raise NotImplementedError

    def out(self, ckan_type: str, value: Any) -> Any:
        raise NotImplementedError

    def run_sql(self, sql: str, max_rows: int, timeout_ms: int) -> SqlResult:
        raise NotImplementedError

    def column_type(self, ckan_type: str) -> str:
        raise NotImplementedError

    # --- tables -------------------------------------------------------------------------------

    def create(self, rid: str, fields: list[Field]) -> None:
        columns = ", ".join(f"{self.qi(f.id)} {self.column_type(f.type)}" for f in fields)
        with self.atomic():
            self._prepare()
            self.execute(
                f"CREATE TABLE {self.table(rid)} ({self._id_column()}, {self.qi('_full_text')} "
                f"{self.full_text_column()}{', ' + columns if columns else ''})"
            )
            self._full_text_index(rid)

    def add_columns(self, rid: str, fields: list[Field]) -> None:
        with self.atomic():
            for f in fields:
                self.execute(f"ALTER TABLE {self.table(rid)} ADD COLUMN {self.qi(f.id)} {self.column_type(f.type)}")

    def create_index(self, rid: str, columns: list[str], *, unique: bool = False) -> None:
        name = index_name(rid, columns, unique)
        cols = ", ".join(self.qi(c) for c in columns)
        with self.atomic():
            self.execute(
                f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {self.qi(name)} ON {self.table(rid)} ({cols})"
            )

    def drop_index(self, rid: str, columns: list[str], *, unique: bool = False) -> None:
        with self.atomic():
            self.execute(f"DROP INDEX IF EXISTS {self._index(index_name(rid, columns, unique))}")

    def drop(self, rid: str) -> None:
        with self.atomic():
            self.execute(f"DROP TABLE IF EXISTS {self.table(rid)}")

    def _prepare(self) -> None:
        pass

    def _index(self, name: str) -> str:
        return self.qi(name)

    def _id_column(self) -> str:
        raise NotImplementedError

    def _full_text_index(self, rid: str) -> None:
        pass

    # --- rows ---------------------------------------------------------------------------------

    def _row_params(self, fields: list[Field], record: dict[str, Any]) -> list[Any]:
        return [self.adapt(f.type, record.get(f.id)) for f in fields] + [row_text(fields, record)]

    def insert(self, rid: str, fields: list[Field], records: list[dict[str, Any]]) -> int:
        """Insert whole rows (fields missing from a record are NULL)."""
        if not records:
            return 0
        cols = ", ".join([*(self.qi(f.id) for f in fields), self.qi("_full_text")])
        marks = ", ".join([self.ph] * len(fields) + [self.full_text_value()])
        sql = f"INSERT INTO {self.table(rid)} ({cols}) VALUES ({marks})"
        with self.atomic():
            self.executemany(sql, [self._row_params(fields, r) for r in records])
        return len(records)

    def upsert(self, rid: str, fields: list[Field], records: list[dict[str, Any]], key: list[str], method: str) -> int:
        """``upsert`` or ``update`` by ``key``: the row found is merged with the record (fields not
        given keep their values) and written whole, so ``_full_text`` stays true; ``update`` of a
        key not in the table raises KeyError with the key."""
        by_id = {f.id: f for f in fields}
        key_fields = [by_id.get(k, Field("_id", "int8")) for k in key]
        names = ["_id", *(f.id for f in fields)]
        where = " AND ".join(f"{self.qi(k.id)} = {self.ph}" for k in key_fields)
        select = f"SELECT {', '.join(self.qi(n) for n in names)} FROM {self.table(rid)} WHERE {where}"
        sets = ", ".join(
            [*(f"{self.qi(f.id)} = {self.ph}" for f in fields), f"{self.qi('_full_text')} = {self.full_text_value()}"]
        )
        update = f"UPDATE {self.table(rid)} SET {sets} WHERE {self.qi('_id')} = {self.ph}"
        written = 0
        with self.atomic():
            for record in records:
                key_values = [self.adapt(k.type, record.get(k.id)) for k in key_fields]
                found = self.execute(select, key_values).fetchone()
                if found is None:
                    if method == "update":
                        raise KeyError(", ".join(str(record.get(k)) for k in key))
                    self.insert(rid, fields, [record])
                else:
                    merged = {f.id: self.out(f.type, found[i + 1]) for i, f in enumerate(fields)}
                    merged.update({k: v for k, v in record.items() if k in by_id})
                    self.execute(update, [*self._row_params(fields, merged), found[0]])
                written += 1
        return written

    def _where(self, search: Search, by_id: dict[str, Field]) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for name, values in search.filters.items():
            ftype = by_id[name].type
            present = [v for v in values if v is not None]
            parts = []
            if present:
                marks = ", ".join([self.ph] * len(present))
                parts.append(f"{self.qi(name)} IN ({marks})" if len(present) > 1 else f"{self.qi(name)} = {self.ph}")
                params += [self.adapt(ftype, v) for v in present]
            if len(present) < len(values):
                parts.append(f"{self.qi(name)} IS NULL")
            clauses.append("(" + " OR ".join(parts) + ")")
        for word in search.q_all:
            sql, param = self.match_all(word)
            clauses.append(sql)
            params.append(param)
        for name, field_words in search.q_fields.items():
            for word in field_words:
                clauses.append(f"{self.fold_expr(self.qi(name))} LIKE {self.ph} ESCAPE '\\'")
                params.append("%" + word.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def search(
        self, rid: str, fields: list[Field], search: Search, timeout_ms: int
    ) -> tuple[list[list[Any]], int | None]:
        """Rows (values converted for JSON, in ``search.columns`` order) and the total, if asked."""
        by_id = {f.id: f for f in fields} | {"_id": Field("_id", "int")}
        where, params = self._where(search, by_id)
        cols = ", ".join(self.qi(c.id) for c in search.columns)
        order = ", ".join(f"{self.qi(n)}{' DESC' if desc else ''}" for n, desc in search.sort)
        distinct = "DISTINCT " if search.distinct else ""
        sql = (
            f"SELECT {distinct}{cols} FROM {self.table(rid)}{where}"
            f"{' ORDER BY ' + order if order else ''} LIMIT {int(search.limit)} OFFSET {int(search.offset)}"
        )
        converters = [(i, c.type) for i, c in enumerate(search.columns) if self.needs_out(c.type)]
        with self.atomic(timeout_ms, read=True):
            rows = [list(r) for r in self.execute(sql, params).fetchall()]
            total = None
            if search.total:
                counted = f"SELECT {distinct}{cols} FROM {self.table(rid)}{where}" if distinct else ""
                count_sql = (
                    f"SELECT count(*) FROM ({counted}) AS d"
                    if distinct
                    else f"SELECT count(*) FROM {self.table(rid)}{where}"
                )
                total = int(self.execute(count_sql, params).fetchone()[0])
        for row in rows:
            for i, ftype in converters:
                row[i] = self.out(ftype, row[i])
        return rows, total

    def needs_out(self, ckan_type: str) -> bool:
        return True

    def delete_rows(self, rid: str, fields: list[Field], search: Search) -> int:
        by_id = {f.id: f for f in fields} | {"_id": Field("_id", "int")}
        where, params = self._where(search, by_id)
        with self.atomic():
            return int(self.execute(f"DELETE FROM {self.table(rid)}{where}", params).rowcount)

    def count(self, rid: str) -> int:
        with self.atomic(read=True):
            return int(self.execute(f"SELECT count(*) FROM {self.table(rid)}", []).fetchone()[0])


class PgStore(Store):
    """PostgreSQL: the schema ``datastore`` of the platform's database, through Django's connection."""

    vendor = "postgresql"

    def qi(self, name: str) -> str:
        return super().qi(name).replace("%", "%%")

    def table(self, rid: str) -> str:
        return f"{SCHEMA}.{self.qi(rid)}"

    def _index(self, name: str) -> str:
        return f"{SCHEMA}.{self.qi(name)}"

    def column_type(self, ckan_type: str) -> str:
        return PG_TYPES[ckan_type]

    def execute(self, sql: str, params: list[Any] | None = None) -> Any:
        cursor = connection.cursor()
        cursor.execute(sql, params if params is not None else [])
        return cursor

    def executemany(self, sql: str, rows: list[list[Any]]) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def insert(self, rid: str, fields: list[Field], records: list[dict[str, Any]]) -> int:
        """COPY into a staging table, then one INSERT … SELECT computing ``_full_text``: an order
        of magnitude faster than row-by-row inserts for the batches a publisher loads."""
        if len(records) < 50:
            return super().insert(rid, fields, records)
        cols = ", ".join(self.qi(f.id) for f in fields)
        with self.atomic():
            self.execute(
                f"CREATE TEMP TABLE ds_stage AS SELECT {cols}, ''::text AS _src FROM {self.table(rid)} WITH NO DATA"
            )
            plain = cols.replace("%%", "%")  # COPY takes no parameters: psycopg leaves "%%" as it is
            with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ds_stage ({plain}, _src) FROM STDIN") as copy:
                for record in records:
                    copy.write_row(self._row_params(fields, record))
            self.execute(
                f'INSERT INTO {self.table(rid)} ({cols}, "_full_text") '
                f"SELECT {cols}, to_tsvector('simple', _src) FROM ds_stage"
            )
            self.execute("DROP TABLE ds_stage")
        return len(records)

    @contextlib.contextmanager
    def atomic(self, timeout_ms: int | None = None, *, read: bool = False) -> Iterator[None]:
        try:
            with transaction.atomic():
                if timeout_ms:
                    self.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
                yield
        except DatabaseError as exc:
            cause = exc.__cause__
            if getattr(cause, "sqlstate", "") == "57014":
                raise StoreTimeout(str(exc).strip()) from None
            raise StoreError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None

    def _prepare(self) -> None:
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")

    def _id_column(self) -> str:
        return '"_id" serial PRIMARY KEY'

    def full_text_column(self) -> str:
        return "tsvector"

    def full_text_value(self) -> str:
        return "to_tsvector('simple', %s)"

    def _full_text_index(self, rid: str) -> None:
        name = index_name(rid, ["_full_text"])
        self.execute(f'CREATE INDEX {self.qi(name)} ON {self.table(rid)} USING gin ("_full_text")')

    def match_all(self, word: str) -> tuple[str, Any]:
        return "\"_full_text\" @@ to_tsquery('simple', %s)", f"{word}:*"

    def fold_expr(self, column: str) -> str:
        from_, to = _FOLD_FROM.replace("'", "''"), _FOLD_TO.replace("'", "''")
        return f"lower(translate({column}::text, '{from_}', '{to}'))"

    def table_exists(self, rid: str) -> bool:
        found = self.execute("SELECT to_regclass(%s)", [f'{SCHEMA}."{rid}"']).fetchone()
        return bool(found and found[0])

    def adapt(self, ckan_type: str, value: Any) -> Any:
        if ckan_type == "json" and value is not None:
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def needs_out(self, ckan_type: str) -> bool:
        return ckan_type in ("numeric", "date", "timestamp", "json")

    def out(self, ckan_type: str, value: Any) -> Any:
        if value is None:
            return None
        if ckan_type == "json" and isinstance(value, str):  # Django's backend reads jsonb as text
            return json.loads(value)
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def run_sql(self, sql: str, max_rows: int, timeout_ms: int) -> SqlResult:
        try:
            with transaction.atomic():
                self.execute("SET TRANSACTION READ ONLY")
                self.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
                self.execute("SET LOCAL search_path = pg_catalog")
                cursor = connection.cursor()
                cursor.execute(sql.replace("%", "%%"), [])
                names = [d.name for d in cursor.description or []]
                types = [PG_OIDS.get(d.type_code) for d in cursor.description or []]
                rows = cursor.fetchmany(max_rows + 1)
                transaction.set_rollback(True)  # nothing to keep; the settings above end with it
        except DatabaseError as exc:
            if getattr(exc.__cause__, "sqlstate", "") == "57014":
                raise StoreTimeout(str(exc).strip()) from None
            raise StoreError((str(exc).strip().splitlines() or [type(exc).__name__])[0]) from None
        return SqlResult(names, types, rows[:max_rows], len(rows) > max_rows)


class SqliteStore(Store):
    """SQLite: a database file of its own, one connection per thread (WAL, busy timeout)."""

    vendor = "sqlite"
    ph = "?"
    _local = threading.local()

    @staticmethod
    def path() -> Path:
        return Path(settings.DATASTORE_SQLITE_PATH)

    def conn(self) -> sqlite3.Connection:
        path = self.path()
        current = getattr(self._local, "conn", None)
        if current is not None and self._local.path == path:
            return current
        if current is not None:
            current.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=20, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.create_function("ds_fold", 1, lambda v: fold(str(v)) if v is not None else None, deterministic=True)
        self._local.conn, self._local.path = conn, path
        return conn

    @classmethod
    def close(cls) -> None:
        current = getattr(cls._local, "conn", None)
        if current is not None:
            current.close()
            cls._local.conn = None

    def column_type(self, ckan_type: str) -> str:
        return SQLITE_TYPES[ckan_type]

    def execute(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.conn().execute(sql, params or [])

    def executemany(self, sql: str, rows: list[list[Any]]) -> None:
        self.conn().executemany(sql, rows)

    @contextlib.contextmanager
    def atomic(self, timeout_ms: int | None = None, *, read: bool = False) -> Iterator[None]:
        conn = self.conn()
        outer = conn.in_transaction
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
        if deadline is not None:
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
        try:
            if not outer:
                conn.execute("BEGIN" if read else "BEGIN IMMEDIATE")  # readers never take the write lock
            try:
                yield
            except BaseException:
                if not outer:
                    conn.execute("ROLLBACK")
                raise
            if not outer:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise StoreTimeout(str(exc)) from None
            raise StoreError(str(exc)) from None
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from None
        finally:
            if deadline is not None:
                conn.set_progress_handler(None, 0)

    def _id_column(self) -> str:
        return '"_id" INTEGER PRIMARY KEY'

    def full_text_column(self) -> str:
        return "TEXT"

    def full_text_value(self) -> str:
        return "?"

    def match_all(self, word: str) -> tuple[str, Any]:
        escaped = word.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        return "\"_full_text\" LIKE ? ESCAPE '\\'", f"%{escaped}%"

    def fold_expr(self, column: str) -> str:
        return f"ds_fold({column})"

    def table_exists(self, rid: str) -> bool:
        found = self.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [rid]).fetchone()
        return found is not None

    def adapt(self, ckan_type: str, value: Any) -> Any:
        if value is None:
            return None
        if ckan_type == "json":
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        return value

    def needs_out(self, ckan_type: str) -> bool:
        return ckan_type in ("bool", "json", "numeric", "float8")

    def out(self, ckan_type: str, value: Any) -> Any:
        if value is None:
            return None
        if ckan_type == "bool":
            return bool(value)
        if ckan_type == "json" and isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        if ckan_type in ("numeric", "float8") and isinstance(value, int):
            return float(value)
        return value

    def run_sql(self, sql: str, max_rows: int, timeout_ms: int) -> SqlResult:
        path = self.path()
        if not path.exists():
            raise StoreError("no such table")
        deadline = time.monotonic() + timeout_ms / 1000
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
            conn.set_authorizer(_read_only_authorizer)
            cursor = conn.execute(sql)
            names = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(max_rows + 1)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise StoreTimeout(str(exc)) from None
            raise StoreError(str(exc)) from None
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from None
        finally:
            conn.close()
        return SqlResult(names, [None] * len(names), rows[:max_rows], len(rows) > max_rows)


def _read_only_authorizer(action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
    """A second fence behind the SQL check: reading tables and calling functions, nothing else."""
    allowed = {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        getattr(sqlite3, "SQLITE_RECURSIVE", 33),
    }
    if action not in allowed:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and str(arg1).startswith("sqlite_"):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() in ("load_extension", "readfile", "writefile", "edit"):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


_PG = PgStore()
_SQLITE = SqliteStore()


def store() -> Store:
    """The store of the configured database."""
    return _PG if connection.vendor == "postgresql" else _SQLITE
