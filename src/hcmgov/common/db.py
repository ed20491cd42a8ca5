"""Raw SQL on the hot paths, where the ORM's query compilation costs more than the query."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
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
