"""The write path of entity updates on PostgreSQL, in one statement (found by profiling the
benchmark ``bench/ngsi.py``: an update spent most of its time waiting on five round trips —
BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT of history, COMMIT — and, in the web process, compiling
the ORM's queries; ``bench/ngsi_profile.py`` measures it in process).

- ``entity_patch``: a sensor's PATCH …/attrs (default instances that exist) merged by PostgreSQL
  inside one UPDATE, with the history rows inserted in the same statement: one round trip, no read.
- ``entity_read`` + ``entity_write``: any other attribute write, as read-then-compare-and-swap on
  the modification time (two round trips); the caller reads again when it lost a race.
- ``entities_write``: many entities and their history rows (batch upsert, rows locked by the
  caller), with one ``UPDATE … FROM jsonb_to_recordset`` and one ``INSERT … SELECT`` in a CTE.

The single-entity statements are prepared (``common.db.fast_cursor``) and take their values as
one JSON parameter. They check in the same statement that no subscription is active and write
nothing when one is: a change must then publish an outbox event through ``core.services`` in the
same transaction, which the ORM path in ``ngsi.services`` does."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import connection

from hcmgov.common.apiauth import PERSONAL_TOKEN_PREFIX
from hcmgov.common.db import fast_cursor
from hcmgov.ngsi.models import AttributeInstance, Entity, Subscription

_SQL = None
_ONE: dict[str, str] = {}


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


# --- one entity (PATCH …/attrs): the hot path of single updates ---------------------------------
#
# Profiled with bench/ngsi_profile.py: the ORM's SELECT (query compilation, model instance) and the
# batch statement above (jsonb_to_recordset, planned on every call: the ORM's cursors bind on the
# client and are never prepared) cost more than the update itself. Both statements below go through
# ``common.db.fast_cursor``: bound on the server, prepared once per connection, one shape whatever
# the number of history rows (arrays unnested), so PostgreSQL parses and plans them once.

WRITTEN, CHANGED, WATCHED, REFUSED = "written", "changed", "watched", "refused"


def _one_sql(name: str) -> str:
    sql = _ONE.get(name)
    if sql is None:
        e, h = Entity._meta.db_table, AttributeInstance._meta.db_table
        s = Subscription._meta.db_table
        # table names are ours (model metadata), every value is bound
        _ONE["read"] = f"SELECT id, attrs, modified_at FROM {e} WHERE entity_id = %s"  # noqa: S608
        _ONE["write"] = f"""
WITH v AS (
  SELECT * FROM jsonb_to_record(%s::text::jsonb) AS v(
    id bigint, attrs jsonb, modified_at timestamptz, expected timestamptz,
    min_lon float8, min_lat float8, max_lon float8, max_lat float8, history jsonb)
), s AS (SELECT EXISTS (SELECT 1 FROM {s} WHERE active) AS watched),
u AS (
  UPDATE {e} AS e SET attrs = v.attrs, modified_at = v.modified_at,
    min_lon = v.min_lon, min_lat = v.min_lat, max_lon = v.max_lon, max_lat = v.max_lat
  FROM v WHERE e.id = v.id AND e.modified_at = v.expected AND NOT (SELECT watched FROM s)
  RETURNING e.id
), h AS (
  INSERT INTO {h} (entity, attr, dataset_id, observed_at, value, number, instance)
  SELECT u.id, x.attr, x.dataset_id, x.observed_at, x.value, x.number, x.instance
  FROM u, v, jsonb_to_recordset(v.history) AS x(
    attr text, dataset_id text, observed_at timestamptz, value jsonb, number float8, instance jsonb)
  RETURNING 1
)
SELECT (SELECT watched FROM s), (SELECT count(*) FROM u)
"""  # noqa: S608
        _ONE["patch"] = _patch_sql("SELECT true")
        sql = _ONE[name]
    return sql


def _patch_sql(caller: str) -> str:
    """The one-statement PATCH …/attrs; ``caller`` is a query that gives a row when the caller may
    write (``SELECT true`` when the view checked it already; the fast path's token check else).

    Default instances (no datasetId) that all exist are merged by PostgreSQL in the UPDATE itself,
    as ``services._merge`` does (the instance replaced where it was, its createdAt kept); under
    READ COMMITTED a concurrent update makes PostgreSQL re-evaluate the row's WHERE and SET on the
    newer version, so nothing is lost and nothing is retried."""
    e, h = Entity._meta.db_table, AttributeInstance._meta.db_table
    s = Subscription._meta.db_table
    # table names are ours (model metadata), every value is bound
    return f"""
WITH v AS (SELECT %s::text::jsonb AS doc),
k AS (SELECT EXISTS ({caller}) AS allowed),
s AS (SELECT EXISTS (SELECT 1 FROM {s} WHERE active) AS watched),
u AS (
  UPDATE {e} AS e SET
    attrs = e.attrs || (
      SELECT jsonb_object_agg(n.key, (
        SELECT jsonb_agg(
          CASE WHEN a.ord = (
            SELECT min(b.ord) FROM jsonb_array_elements(e.attrs -> n.key) WITH ORDINALITY AS b(inst, ord)
            WHERE NOT b.inst ? 'datasetId')
          THEN n.value || jsonb_build_object('createdAt', coalesce(a.inst -> 'createdAt', n.value -> 'createdAt'))
          ELSE a.inst END ORDER BY a.ord)
        FROM jsonb_array_elements(e.attrs -> n.key) WITH ORDINALITY AS a(inst, ord)))
      FROM jsonb_each(v.doc -> 'attrs') AS n),
    modified_at = greatest((v.doc ->> 'now')::timestamptz, e.modified_at + interval '1 microsecond')
  FROM v
  WHERE e.entity_id = v.doc ->> 'id' AND (SELECT allowed FROM k) AND NOT (SELECT watched FROM s)
    AND NOT EXISTS (
      SELECT 1 FROM jsonb_each(v.doc -> 'attrs') AS n
      WHERE jsonb_typeof(e.attrs -> n.key) IS DISTINCT FROM 'array'
        OR NOT EXISTS (
          SELECT 1 FROM jsonb_array_elements(e.attrs -> n.key) AS o(inst) WHERE NOT o.inst ? 'datasetId'))
  RETURNING e.id
), h AS (
  INSERT INTO {h} (entity, attr, dataset_id, observed_at, value, number, instance)
  SELECT u.id, x.attr, x.dataset_id, x.observed_at, x.value, x.number, x.instance
  FROM u, v, jsonb_to_recordset(v.doc -> 'history') AS x(
    attr text, dataset_id text, observed_at timestamptz, value jsonb, number float8, instance jsonb)
  RETURNING 1
)
SELECT (SELECT allowed FROM k), (SELECT watched FROM s), (SELECT count(*) FROM u)
"""  # noqa: S608


def patchable(new: dict[str, list[dict[str, Any]]], location: str) -> bool:
    """Whether :func:`entity_patch` can apply ``new`` alone: one default instance per attribute
    (no datasetId), and not the location (its bounding box is computed here)."""
    return bool(new) and location not in new and all(len(i) == 1 and "datasetId" not in i[0] for i in new.values())


def entity_patch(
    *,
    entity_id: str,
    new: dict[str, list[dict[str, Any]]],
    now: dt.datetime,
    history: list[dict[str, Any]],
    token: str | None = None,
) -> str:
    """Replace existing attributes' default instances (``patchable``) and append their history in
    one statement, one round trip: no read, no merge here. ``WRITTEN``; ``WATCHED`` when an active
    subscription exists (nothing written); ``CHANGED`` when it does not apply — no such entity,
    or one of the attributes (or its default instance) missing: the caller's general path then
    answers 404 or 207 as the specification says.

    With ``token`` (a raw bearer token: ``ngsi.fastpath``, before any view ran) the same statement
    checks it and writes only for a caller who may write (``http.may_write``'s rule in SQL);
    ``REFUSED`` otherwise, nothing written, and the caller's view then answers 401 or 403."""
    doc: dict[str, Any] = {
        "id": entity_id,
        "attrs": {iri: instances[0] for iri, instances in new.items()},
        "now": now.isoformat(),
        "history": history,  # services.history_lines
    }
    if token is None:
        sql = _one_sql("patch")
    else:
        personal = token.startswith(PERSONAL_TOKEN_PREFIX)
        sql = _ONE.get(_PATCH_AS[personal]) or _patch_as(personal)
        doc["digest"] = hashlib.sha256(token.encode()).hexdigest()
    with fast_cursor() as cursor:
        cursor.execute(sql, [json.dumps(doc, ensure_ascii=False)])
        allowed, watched, written = cursor.fetchone()
    if not allowed:
        return REFUSED
    if watched:
        return WATCHED
    return WRITTEN if written else CHANGED


_PATCH_AS = {True: "patch:personal", False: "patch:oauth"}


def _patch_as(personal: bool) -> str:
    from hcmgov.identity.selectors import bearer_account_sql

    account = bearer_account_sql(personal=personal, digest="(SELECT doc ->> 'digest' FROM v)")
    # http.may_write: machine clients, officials and administrators
    writer = f"SELECT 1 FROM ({account}) AS w WHERE w.machine OR w.kind IN ('official', 'admin') OR w.is_staff"  # noqa: S608
    _ONE[_PATCH_AS[personal]] = sql = _patch_sql(writer)
    return sql


def _lines(history: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "attr": r.attr,
            "dataset_id": r.dataset_id,
            "observed_at": _time(r.observed_at),
            "value": r.value,
            "number": r.number,
            "instance": r.instance,
        }
        for r in history
    ]


def entity_read(entity_id: str) -> tuple[int, dict[str, Any], dt.datetime] | None:
    """The primary key, attributes and modification time of one entity, or None."""
    with fast_cursor() as cursor:
        cursor.execute(_one_sql("read"), [entity_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, attrs, modified_at = row
    return int(pk), json.loads(attrs) if isinstance(attrs, str) else attrs, modified_at


def entity_write(
    *,
    pk: int,
    attrs: dict[str, Any],
    modified_at: dt.datetime,
    expected: dt.datetime,
    bounds: dict[str, float | None],
    history: list[AttributeInstance],
) -> str:
    """Compare-and-swap one entity read by :func:`entity_read` and append its history rows, in one
    statement (autocommit: one transaction). ``WRITTEN``; ``CHANGED`` when the entity changed
    since it was read (or is gone); ``WATCHED`` when an active subscription exists, which the
    same statement checks, so that no change is ever written here without the outbox event the
    ORM path publishes (no per-process "any subscription?" cache can be stale for it)."""
    # one parameter: psycopg adapts a str at once, where 14 typed ones cost more than the statement
    doc = {
        "id": pk,
        "attrs": attrs,
        "modified_at": modified_at.isoformat(),
        "expected": expected.isoformat(),
        **bounds,
        "history": _lines(history),
    }
    params = [json.dumps(doc, ensure_ascii=False)]
    with fast_cursor() as cursor:
        cursor.execute(_one_sql("write"), params)
        watched, written = cursor.fetchone()
    if watched:
        return WATCHED
    return WRITTEN if written else CHANGED
