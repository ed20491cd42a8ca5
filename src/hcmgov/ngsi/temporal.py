"""The temporal API's reads (clauses 5.7.3–5.7.4, 6.18–6.19): the history of attribute instances
kept in ``AttributeInstance`` (every Property or Relationship written with ``observedAt``),
filtered by ``timerel``/``timeAt``/``endTimeAt`` on ``observedAt``, ``lastN`` and ``attrs``, in
the normalized, ``temporalValues`` or ``aggregatedValues`` representation (``aggrMethods``:
totalCount, distinctCount, sum, avg, min, max, stddev, sumsq, over ``aggrPeriodDuration``).

One sensor-day is one range scan of the index (entity, attr, observed_at) per attribute; rows are
read as tuples, not model instances."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from hcmgov.ngsi.errors import BadRequestData
from hcmgov.ngsi.jsonld import Context
from hcmgov.ngsi.models import AttributeInstance
from hcmgov.ngsi.representation import format_time, parse_time

AGGREGATES = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration (years as 365 days, months as 30) → timedelta; P0D: the whole range."""
    m = _DURATION.match(text or "")
    if not m or text in ("P", "PT"):
        raise BadRequestData("aggrPeriodDuration không hợp lệ", "aggrPeriodDuration is not an ISO 8601 duration")
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return dt.timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h, minutes=mi, seconds=s)


@dataclass
class TemporalQuery:
    """What to read of the history: the time filter, lastN, attributes and the representation."""

    timerel: str | None = None
    time_at: dt.datetime | None = None
    end_time_at: dt.datetime | None = None
    last_n: int | None = None
    attrs: list[str] | None = None
    fmt: str = "normalized"  # | temporalValues | aggregatedValues
    methods: tuple[str, ...] = ()
    period: dt.timedelta = dt.timedelta(0)

    @classmethod
    def parse(cls, params: Any, attrs: list[str] | None, options: set[str]) -> TemporalQuery:
        query = cls(attrs=attrs)
        timerel = params.get("timerel")
        if timerel is not None:
            if timerel not in ("before", "after", "between"):
                raise BadRequestData(
                    "timerel phải là before, after hoặc between", "timerel must be before, after or between"
                )
            query.timerel = timerel
            query.time_at = parse_time(params.get("timeAt") or params.get("time"), "timeAt")
            if timerel == "between":
                query.end_time_at = parse_time(params.get("endTimeAt") or params.get("endTime"), "endTimeAt")
                if query.end_time_at <= query.time_at:
                    raise BadRequestData("endTimeAt phải sau timeAt", "endTimeAt must be after timeAt")
        timeproperty = params.get("timeproperty", "observedAt")
        if timeproperty != "observedAt":
            raise BadRequestData("Chỉ hỗ trợ timeproperty=observedAt", "Only timeproperty=observedAt is supported")
        if params.get("lastN") not in (None, ""):
            try:
                query.last_n = int(params["lastN"])
            except ValueError:
                raise BadRequestData("lastN phải là số nguyên dương", "lastN must be a positive integer") from None
            if query.last_n < 1:
                raise BadRequestData("lastN phải là số nguyên dương", "lastN must be a positive integer")
        if "aggregatedValues" in options:
            query.fmt = "aggregatedValues"
            methods = [m.strip() for m in (params.get("aggrMethods") or "").split(",") if m.strip()]
            if not methods or any(m not in AGGREGATES for m in methods):
                raise BadRequestData("aggrMethods không hợp lệ", f"aggrMethods must be among {', '.join(AGGREGATES)}")
            query.methods = tuple(methods)
            query.period = duration(params.get("aggrPeriodDuration") or "P0D")
        elif "temporalValues" in options:
            query.fmt = "temporalValues"
        return query


def _rows(entity: int, query: TemporalQuery) -> dict[str, list[tuple[Any, ...]]]:
    base = AttributeInstance.objects.filter(entity=entity)
    if query.attrs:
        base = base.filter(attr__in=query.attrs)
    if query.timerel == "before":
        base = base.filter(observed_at__lt=query.time_at)
    elif query.timerel == "after":
        base = base.filter(observed_at__gte=query.time_at)
    elif query.timerel == "between":
        base = base.filter(observed_at__gte=query.time_at, observed_at__lt=query.end_time_at)
    fields = ("attr", "observed_at", "value", "number", "instance", "pk")
    cap = settings.NGSI_LD_TEMPORAL_MAX_INSTANCES
    names = query.attrs or list(base.order_by().values_list("attr", flat=True).distinct())
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name in names:
        per_attr = base.filter(attr=name)
        if query.last_n:
            rows = list(per_attr.order_by("-observed_at").values_list(*fields)[: min(query.last_n, cap)])
            rows.reverse()
        else:
            rows = list(per_attr.order_by("observed_at").values_list(*fields)[:cap])
        if rows:
            out[name] = rows
    return out


def _aggregate(method: str, values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if method == "totalCount":
        return len(values)
    if method == "distinctCount":
        return len({json.dumps(v, sort_keys=True) for v in values})
    if not numbers:
        return None
    if method == "sum":
        return sum(numbers)
    if method == "avg":
        return sum(numbers) / len(numbers)
    if method == "min":
        return min(numbers)
    if method == "max":
        return max(numbers)
    if method == "sumsq":
        return sum(n * n for n in numbers)
    mean = sum(numbers) / len(numbers)
    return math.sqrt(sum((n - mean) ** 2 for n in numbers) / len(numbers))  # stddev (population)


def _buckets(rows: list[tuple[Any, ...]], query: TemporalQuery) -> list[tuple[dt.datetime, dt.datetime, list[Any]]]:
    start = query.time_at if query.timerel in ("after", "between") and query.time_at else rows[0][1]
    end = (
        query.end_time_at
        if query.timerel == "between" and query.end_time_at
        else rows[-1][1] + dt.timedelta(microseconds=1)
    )
    if query.period <= dt.timedelta(0):
        return [(start, end, [r[2] for r in rows])]
    buckets: dict[int, list[Any]] = {}
    for row in rows:
        buckets.setdefault(int((row[1] - start) / query.period), []).append(row[2])
    return [
        (start + i * query.period, min(end, start + (i + 1) * query.period), vals)
        for i, vals in sorted(buckets.items())
    ]


RAW = "\u0000raw:{}\u0000"  # a placeholder for JSON text made without decoding (``raw_json``)


def raw_json(text: str, raws: list[str]) -> str:
    """JSON text with each placeholder ``RAW.format(n)`` replaced by ``raws[n]``."""
    for n, raw in enumerate(raws):
        text = text.replace(json.dumps(RAW.format(n)), raw, 1)
    return text


_TIME = (
    "CASE WHEN date_trunc('second', observed_at) = observed_at "
    "THEN to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "ELSE to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END"
)


def _pg_instances(pk: int, iri: str, query: TemporalQuery, ctx: Context) -> tuple[str, str] | None:
    """PostgreSQL: one attribute's instances as JSON text, built from text columns (no JSON
    decoding or date parsing per row: a sensor-day is thousands of rows); with the kind of the
    attribute. None when there are none."""
    from django.db import connection

    where: list[str] = ["entity = %s", "attr = %s"]
    params: list[Any] = [pk, iri]
    if query.timerel == "before":
        where.append("observed_at < %s")
        params.append(query.time_at)
    elif query.timerel == "after":
        where.append("observed_at >= %s")
        params.append(query.time_at)
    elif query.timerel == "between":
        where += ["observed_at >= %s", "observed_at < %s"]
        params += [query.time_at, query.end_time_at]
    order = "DESC" if query.last_n else "ASC"
    cap = min(query.last_n or settings.NGSI_LD_TEMPORAL_MAX_INSTANCES, settings.NGSI_LD_TEMPORAL_MAX_INSTANCES)
    sql = (
        f"SELECT {_TIME}, value::text, instance::text, id FROM {AttributeInstance._meta.db_table} "  # noqa: S608 - ours
        f"WHERE {' AND '.join(where)} ORDER BY observed_at {order} LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, cap])
        rows = cursor.fetchall()
    if not rows:
        return None
    if query.last_n:
        rows.reverse()
    tails: dict[str, tuple[str, str]] = {}  # instance text → (kind, the members after instanceId)
    parts = []
    for observed, value, extra, ident in rows:
        tail = tails.get(extra)
        if tail is None:
            members = json.loads(extra)
            kind = members.pop("type", "Property")
            shaped = {k if k in ("unitCode", "datasetId") else ctx.compact(k): v for k, v in members.items()}
            text = json.dumps(shaped, ensure_ascii=False)[1:-1]
            tail = tails[extra] = (kind, "," + text if text else "")
        key = "object" if tail[0] == "Relationship" else "value"
        parts.append(
            f'{{"type":"{tail[0]}","{key}":{value},"observedAt":"{observed}",'
            f'"instanceId":"urn:ngsi-ld:attribute:instance:{ident}"{tail[1]}}}'
        )
    return next(iter(tails.values()))[0], "[" + ",".join(parts) + "]"


def _attr_names(pk: int, query: TemporalQuery) -> list[str]:
    if query.attrs:
        return query.attrs
    rows = AttributeInstance.objects.filter(entity=pk)
    if query.timerel == "before":
        rows = rows.filter(observed_at__lt=query.time_at)
    elif query.timerel in ("after", "between"):
        rows = rows.filter(observed_at__gte=query.time_at)
        if query.timerel == "between":
            rows = rows.filter(observed_at__lt=query.end_time_at)
    return list(rows.order_by().values_list("attr", flat=True).distinct())


# aggregation in SQL on PostgreSQL: over ``number`` (numeric values), per period bucket
_PG_AGGREGATES = {
    "totalCount": "count(*)",
    "distinctCount": "count(DISTINCT value)",
    "sum": "sum(number)",
    "avg": "avg(number)",
    "min": "min(number)",
    "max": "max(number)",
    "stddev": "stddev_pop(number)",
    "sumsq": "sum(number * number)",
}


def _pg_aggregated(pk: int, iri: str, query: TemporalQuery) -> dict[str, Any] | None:
    """PostgreSQL: one attribute's aggregated values, grouped in the database."""
    from django.db import connection

    table = AttributeInstance._meta.db_table
    where: list[str] = ["entity = %s", "attr = %s"]
    params: list[Any] = [pk, iri]
    if query.timerel == "before":
        where.append("observed_at < %s")
        params.append(query.time_at)
    elif query.timerel in ("after", "between"):
        where.append("observed_at >= %s")
        params.append(query.time_at)
        if query.timerel == "between":
            where.append("observed_at < %s")
            params.append(query.end_time_at)
    cond = " AND ".join(where)
    with connection.cursor() as cursor:
        span = f"SELECT min(observed_at), max(observed_at), min(instance::text) FROM {table} WHERE {cond}"  # noqa: S608
        cursor.execute(span, params)
        first, last, extra = cursor.fetchone()
        if first is None:
            return None
        start = query.time_at if query.timerel in ("after", "between") and query.time_at else first
        end = (
            query.end_time_at
            if query.timerel == "between" and query.end_time_at
            else last + dt.timedelta(microseconds=1)
        )
        seconds = query.period.total_seconds()
        bucket = "floor(extract(epoch FROM observed_at - %s) / %s)::bigint" if seconds > 0 else "0"
        bucket_params = [start, seconds] if seconds > 0 else []
        columns = ", ".join(_PG_AGGREGATES[m] for m in query.methods)
        cursor.execute(
            f"SELECT {bucket} AS b, {columns} FROM {table} WHERE {cond} GROUP BY b ORDER BY b",  # noqa: S608 - ours
            [*bucket_params, *params],
        )
        rows = cursor.fetchall()
    shaped: dict[str, Any] = {"type": json.loads(extra).get("type", "Property")}
    for i, method in enumerate(query.methods):
        values = []
        for row in rows:
            a = start + row[0] * query.period if seconds > 0 else start
            b = min(end, a + query.period) if seconds > 0 else end
            value = row[i + 1]
            values.append(
                [
                    float(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, int) else value,
                    format_time(a),
                    format_time(b),
                ]
            )
        shaped[method] = values
    return shaped


def temporal_entity(
    *, entity: dict[str, Any], pk: int, query: TemporalQuery, ctx: Context, raws: list[str] | None = None
) -> dict[str, Any]:
    """One entity's temporal representation. Given ``raws``, PostgreSQL's instances are JSON text
    appended there, with placeholders in the answer: serialise it with ``raw_json``."""
    from django.db import connection

    out: dict[str, Any] = {"id": entity["id"], "type": ctx.compact(entity["type"])}
    if raws is not None and query.fmt == "normalized" and connection.vendor == "postgresql":
        for iri in _attr_names(pk, query):
            found = _pg_instances(pk, iri, query, ctx)
            if found is not None:
                out[ctx.compact(iri)] = RAW.format(len(raws))
                raws.append(found[1])
        return out
    if query.fmt == "aggregatedValues" and connection.vendor == "postgresql":
        for iri in _attr_names(pk, query):
            aggregated = _pg_aggregated(pk, iri, query)
            if aggregated is not None:
                out[ctx.compact(iri)] = aggregated
        return out
    for iri, rows in _rows(pk, query).items():
        name = ctx.compact(iri)
        kind = rows[0][4].get("type", "Property")
        if query.fmt == "temporalValues":
            out[name] = {"type": kind, "values": [[r[2], format_time(r[1])] for r in rows]}
        elif query.fmt == "aggregatedValues":
            shaped: dict[str, Any] = {"type": kind}
            buckets = _buckets(rows, query)
            for method in query.methods:
                shaped[method] = [[_aggregate(method, vals), format_time(a), format_time(b)] for a, b, vals in buckets]
            out[name] = shaped
        else:
            out[name] = [_instance(r, ctx) for r in rows]
    return out


def _instance(row: tuple[Any, ...], ctx: Context) -> dict[str, Any]:
    _, observed_at, value, _, extra, pk = row
    inst: dict[str, Any] = {"type": extra.get("type", "Property")}
    inst["object" if inst["type"] == "Relationship" else "value"] = value
    inst["observedAt"] = format_time(observed_at)
    inst["instanceId"] = f"urn:ngsi-ld:attribute:instance:{pk}"
    for key, member in extra.items():
        if key == "type":
            continue
        inst[key if key in ("unitCode", "datasetId") else ctx.compact(key)] = member
    return inst
