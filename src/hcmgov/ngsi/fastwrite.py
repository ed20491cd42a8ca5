"""The write path of entity updates on PostgreSQL, in one statement (found by profiling the
benchmark ``bench/ngsi.py``: an update spent most of its time waiting on five round trips —
BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT of history, COMMIT).

``entities_write`` updates many entities and appends their history rows with one
``UPDATE … FROM jsonb_to_recordset`` and one ``INSERT … SELECT`` joined in a CTE. With
``expected`` modification times it is a compare-and-swap: an entity changed since it was read is
left alone (and its history not written), and the caller reads it again. Used only on PostgreSQL
and when no subscription is active (a change must then publish an outbox event through
``core.services`` in the same transaction: the ORM path in ``ngsi.services`` does that)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection

from hcmgov.ngsi.models import AttributeInstance, Entity

_SQL = None


def available() -> bool:
    return connection.vendor == "postgresql"


def _sql() -> str:
    global _SQL
    if _SQL is None:
        e, h = Entity._meta.db_table, AttributeInstance._meta.db_table
        _SQL = f"""
WITH v AS (
  SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v(
    id bigint, type text, attrs jsonb, modified_at timestamptz, expected timestamptz,
    min_lon float8, min_lat float8, max_lon float8, max_lat float8)
), u AS (
  UPDATE {e} AS e SET type = v.type, attrs = v.attrs, modified_at = v.modified_at,
    min_lon = v.min_lon, min_lat = v.min_lat, max_lon = v.max_lon, max_lat = v.max_lat
  FROM v WHERE e.id = v.id AND (v.expected IS NULL OR e.modified_at = v.expected)
  RETURNING e.id
), h AS (
  INSERT INTO {h} (entity, attr, dataset_id, observed_at, value, number, instance)
  SELECT x.entity, x.attr, x.dataset_id, x.observed_at, x.value, x.number, x.instance
  FROM jsonb_to_recordset(%s::jsonb) AS x(
    entity bigint, attr text, dataset_id text, observed_at timestamptz, value jsonb, number float8, instance jsonb)
  JOIN u ON u.id = x.entity
  RETURNING 1
)
SELECT array_agg(u.id) FROM u
"""  # noqa: S608 - table names are ours
    return _SQL


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def entities_write(rows: list[tuple[Entity, dt.datetime | None]], history: list[AttributeInstance]) -> set[int]:
    """Write ``rows`` (each entity with the modification time it must still have, or None) and
    the history rows of those written; returns the primary keys written."""
    if not rows:
        return set()
    values = [
        {
            "id": entity.pk,
            "type": entity.type,
            "attrs": entity.attrs,
            "modified_at": _time(entity.modified_at),
            "expected": _time(expected),
            "min_lon": entity.min_lon,
            "min_lat": entity.min_lat,
            "max_lon": entity.max_lon,
            "max_lat": entity.max_lat,
        }
        for entity, expected in rows
    ]
    lines: list[dict[str, Any]] = [
        {
            "entity": row.entity,
            "attr": row.attr,
            "dataset_id": row.dataset_id,
            "observed_at": _time(row.observed_at),
            "value": row.value,
            "number": row.number,
            "instance": row.instance,
        }
        for row in history
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sql(), [json.dumps(values), json.dumps(lines)])
        (written,) = cursor.fetchone()
    return set(written or [])
