"""Raw SQL on the hot paths, where the ORM's query compilation costs more than the query."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.utils import CursorDebugWrapper


class _LoggedServerCursor(CursorDebugWrapper):
    """The debug wrapper (DEBUG, or a test capturing queries) over a server-binding cursor: Django
    reads the logged SQL off the client-binding cursor's state, which this cursor does not keep,
    so the statement is logged as the ORM's are, with its parameters merged in."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        try:
            return super().execute(sql, params)
        finally:
            log = self.db.queries_log
            if log and log[-1]["sql"] is None:
                log[-1]["sql"] = self.db.ops.compose_sql(sql, params)


def fast_cursor(alias: str = DEFAULT_DB_ALIAS) -> Any:
    """A Django cursor (query logging, execute wrappers, error translation) for hand-written SQL.

    On PostgreSQL it wraps a psycopg cursor that binds parameters on the server, unlike the ORM's
    client-side binding cursors: psycopg prepares its statements once per connection
    (``prepare_threshold`` in DATABASES OPTIONS) and PostgreSQL then skips parsing and planning
    them. The ORM's cursors are never prepared, whatever that option says. Elsewhere it is the
    connection's usual cursor."""
    db: Any = connections[alias]
    if db.vendor != "postgresql":
        return db.cursor()
    import psycopg

    db.ensure_connection()
    db.validate_thread_sharing()
    raw = psycopg.Cursor(db.connection)
    return _LoggedServerCursor(raw, db) if db.queries_logged else db.make_cursor(raw)


_INSERTS: dict[tuple[Any, ...], str] = {}


def fast_insert(model: type[models.Model], values: dict[str, Any], *, alias: str = DEFAULT_DB_ALIAS) -> int:
    """``INSERT … RETURNING id`` of one row of ``model`` through :func:`fast_cursor` (prepared on
    PostgreSQL), for rows written on every request of a hot path. ``values`` names every column
    by field name, defaults included (hand-written SQL applies none); each value is adapted by its
    field, as the ORM would. Returns the new primary key."""
    db: Any = connections[alias]
    key = (model, alias, *values)
    sql = _INSERTS.get(key)
    fields = [model._meta.get_field(name) for name in values]
    if sql is None:
        qn = db.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)  # type: ignore[union-attr]
        # table and columns from the model's metadata, quoted; the values are bound
        table, marks, pk = qn(model._meta.db_table), ", ".join(["%s"] * len(fields)), qn(model._meta.pk.column)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {pk}"  # noqa: S608
        _INSERTS[key] = sql
    params = [f.get_db_prep_save(v, connection=db) for f, v in zip(fields, values.values(), strict=True)]  # type: ignore[union-attr]
    with fast_cursor(alias) as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


M = TypeVar("M", bound=models.Model)


def fast_create(model: type[M], values: dict[str, Any], *, alias: str = DEFAULT_DB_ALIAS) -> M:
    """:func:`fast_insert`, and the saved instance built from ``values`` without reading it back
    (no ``save()``, no signals: for append-only rows written on hot paths)."""
    instance = model(pk=fast_insert(model, values, alias=alias), **values)
    instance._state.adding = False
    instance._state.db = alias
    return instance


def copy_text_many(
    model: type[models.Model], names: tuple[str, ...], text: str, *, alias: str = DEFAULT_DB_ALIAS
) -> None:
    """Append rows already written in PostgreSQL's COPY text format (``text``: one line per row,
    values in the order of the field ``names``, separated by tabs, ``\\N`` for NULL, backslash
    escapes) to ``model``'s table: the caller formats, nothing is adapted value by value. PostgreSQL
    only; runs in the caller's transaction, if any."""
    db: Any = connections[alias]
    if db.vendor != "postgresql":
        raise NotImplementedError("COPY is PostgreSQL's")
    qn = db.ops.quote_name
    columns = ", ".join(qn(model._meta.get_field(name).column) for name in names)  # type: ignore[union-attr]
    db.ensure_connection()
    db.validate_thread_sharing()
    with (
        db.connection.cursor() as cursor,
        cursor.copy(f"COPY {qn(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        copy.write(text)


def fast_insert_many(
    model: type[models.Model], names: tuple[str, ...], rows: list[tuple[Any, ...]], *, alias: str = DEFAULT_DB_ALIAS
) -> int:
    """Append ``rows`` (values in the order of the field ``names``; defaults are not applied) to
    ``model``'s table in one statement: ``COPY … FROM STDIN`` on PostgreSQL, where psycopg adapts
    the Python values itself (datetimes aware, bytes as bytea); elsewhere one ``executemany`` with
    each value adapted by its field. For append-only rows written in batches off a hot path (the
    gateway's message log). Runs in the caller's transaction, if any. Returns the rows written."""
    if not rows:
        return 0
    db: Any = connections[alias]
    fields = [model._meta.get_field(name) for name in names]
    qn = db.ops.quote_name
    table = qn(model._meta.db_table)
    columns = ", ".join(qn(f.column) for f in fields)  # type: ignore[union-attr]
    if db.vendor == "postgresql":
        db.ensure_connection()
        db.validate_thread_sharing()
        with db.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return len(rows)
    marks = ", ".join(["%s"] * len(fields))
    prepared = [
        [f.get_db_prep_save(v, connection=db) for f, v in zip(fields, row, strict=True)]  # type: ignore[union-attr]
        for row in rows
    ]
    with db.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)  # noqa: S608
    return len(rows)
