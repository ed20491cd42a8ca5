"""Breakdowns of the dashboards' figures that the index of Decision 766 does not give by itself:
by field of procedures (lĩnh vực, ``catalog.Procedure.field``) and, for the plan's target "dossiers
handled online", by administrative unit (for the map of units).

**By field.** The warehouse's dossier rows carry the procedure's code, not its field, and the
warehouse's schema is not changed for it: the catalogue's code → field list (a few thousand rows)
is handed to DuckDB as an Arrow table and joined to the dossiers, and the index's own rules
(``quality._base``, ``quality._counts_sql``) count the dossier-based indicators over that join,
grouped by field instead of agency: the figure by field is the same count as by agency, only
grouped otherwise. A dossier whose procedure the catalogue does not hold falls under field "".
5.4 (ratings) is grouped by the field of the rated procedure. The feedback indicators (5.2, 5.3)
are addressed to agencies and have no field.

Everything is computed for every period at once and cached under the signatures of the warehouse's
files and of the field list (as ``quality.service_index_cached``). Docs: docs/reporting/breakdowns.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import duckdb
import pyarrow as pa
from django.core.cache import cache

from hcmgov.catalog import selectors as catalog
from hcmgov.reporting import quality
from hcmgov.warehouse import selectors as warehouse

FIELD_INDICATORS: tuple[str, ...] = tuple(
    i.key for i in quality.INDICATORS if i.measurable and (i.key in quality.DRILLABLE or i.key == "5.4")
)
COUNTS_SCHEMA = pa.schema([
    ("period", pa.string()), ("key", pa.string()), ("submitted", pa.int64()), ("online", pa.int64()),
    ("finished", pa.int64()), ("finished_on_time", pa.int64()),
])  # fmt: skip


def procedure_fields() -> pa.Table:
    """The catalogue's procedures: code → field (Vietnamese) and its English name."""
    rows = list(catalog.procedure_search().values_list("code", "field", "field_en"))
    return pa.table(
        {"code": [r[0] for r in rows], "field": [r[1] for r in rows], "field_en": [r[2] for r in rows]},
        schema=pa.schema([("code", pa.string()), ("field", pa.string()), ("field_en", pa.string())]),
    )


def field_names(fields: pa.Table | None = None) -> dict[str, str]:
    """Field (Vietnamese) → its English name."""
    fields = fields if fields is not None else procedure_fields()
    return dict(zip(fields.column("field").to_pylist(), fields.column("field_en").to_pylist(), strict=True))


_JOINED = "(SELECT d.*, f.field AS field FROM dossiers d LEFT JOIN _procedure_fields f ON f.code = d.procedure_code)"


def _connect(con: duckdb.DuckDBPyConnection | None, fields: pa.Table) -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    con = con or warehouse.warehouse_connect()
    con.register("_procedure_fields", fields)
    present = {name for (name, *_rest) in con.execute("DESCRIBE dossiers").fetchall()}  # files may lack a column
    return con, present


def field_index_table(
    *, period: quality.Period = "month", as_of: dt.datetime | None = None,
    con: duckdb.DuckDBPyConnection | None = None, fields: pa.Table | None = None,
) -> pa.Table:  # fmt: skip
    """The dossier-based figures of the index (and 5.4) per period and field, in the index's shape
    (``quality.INDEX_SCHEMA``: period, key = the field, indicator, group, counts, rate, points)."""
    if period not in quality.STEP_MONTHS:
        raise ValueError(f"period must be month or quarter, not {period!r}")
    fields = fields if fields is not None else procedure_fields()
    con, present = _connect(con, fields)
    base = quality._base(_JOINED, "field", present)
    counts = con.sql(
        quality._counts_sql(period, quality.STEP_MONTHS[period], base),
        params={"as_of": quality._as_of_local(as_of)},
    ).to_arrow_table()
    ratings = con.sql(
        f"""SELECT '5.4' AS k, date_trunc('{period}', r.rated_at AT TIME ZONE '{quality.CITY_TZ}') AS p,
            coalesce(f.field, '') AS grp, count(*) AS n, count(*) FILTER (WHERE r.score >= 3) AS ok
            FROM ratings r LEFT JOIN _procedure_fields f ON f.code = r.procedure_code GROUP BY ALL"""  # noqa: S608 - period from STEP_MONTHS
    ).to_arrow_table()
    parts = pa.concat_tables([counts.drop_columns(["chunk"]).cast(quality.PARTS_SCHEMA),
                              ratings.cast(quality.PARTS_SCHEMA)])  # fmt: skip
    indicators = [i for i in quality.INDICATORS if i.key in FIELD_INDICATORS]
    local = duckdb.connect(":memory:")
    local.register("parts", parts)
    local.register("ind", pa.table({
        "indicator": [i.key for i in indicators], "group": pa.array([i.group for i in indicators], pa.int8()),
        "max_points": [float(i.points) for i in indicators], "threshold": [i.threshold for i in indicators],
    }))  # fmt: skip
    label = quality._label_sql(period, f"date_trunc('{period}', p)")
    sql = f"""
    WITH agg AS (SELECT k, {label} AS period, grp, sum(n) AS n, sum(ok) AS ok FROM parts WHERE p IS NOT NULL
                 GROUP BY ALL),
    cells AS (SELECT DISTINCT period, grp FROM agg)
    SELECT c.period, c.grp AS key, i.indicator, i."group", coalesce(a.n, 0) AS denominator,
           coalesce(a.ok, 0) AS numerator, CASE WHEN a.n > 0 THEN a.ok / a.n END AS rate,
           CASE WHEN a.n > 0 THEN round(i.max_points * least(1.0, a.ok / a.n / i.threshold), 4) END AS points,
           i.max_points
    FROM cells c CROSS JOIN ind i LEFT JOIN agg a ON a.period = c.period AND a.grp = c.grp AND a.k = i.indicator
    ORDER BY c.period, c.grp, i.indicator
    """  # noqa: S608 - period from STEP_MONTHS
    return local.sql(sql).to_arrow_table().cast(quality.INDEX_SCHEMA)


def dossier_counts_by(
    *, by: str, period: quality.Period = "month", con: duckdb.DuckDBPyConnection | None = None,
    fields: pa.Table | None = None,
) -> pa.Table:  # fmt: skip
    """Per period and field (``by="field"``) or receiving unit (``by="unit"``): dossiers submitted
    and submitted online (channel 2, Decree 42/2022/NĐ-CP) by the period of submission; dossiers
    finished (status 9, 10) and finished on time by the period they finished in. The plan's target
    "dossiers handled online" (≥ 50 %) is online ÷ submitted, as ``targets.dossiers_online`` counts it."""
    if period not in quality.STEP_MONTHS or by not in ("field", "unit"):
        raise ValueError(f"by field or unit and period month or quarter, not {by!r}, {period!r}")
    fields = fields if fields is not None else procedure_fields()
    con, present = _connect(con, fields)
    base = quality._base(_JOINED, by if by == "field" else "unit_code", present)
    sub = quality._label_sql(period, f"date_trunc('{period}', submitted)")
    fin = quality._label_sql(period, f"date_trunc('{period}', finished)")
    sql = f"""
    WITH d AS NOT MATERIALIZED ({base}),
    s AS (SELECT {sub} AS period, grp, count(*) AS submitted, count(*) FILTER (WHERE channel = 2) AS online
          FROM d WHERE submitted IS NOT NULL GROUP BY ALL),
    f AS (SELECT {fin} AS period, grp, count(*) AS finished, count(*) FILTER (WHERE on_time) AS finished_on_time
          FROM d WHERE finished IS NOT NULL AND status IN (9, 10) GROUP BY ALL)
    SELECT coalesce(s.period, f.period) AS period, coalesce(s.grp, f.grp) AS key,
           coalesce(s.submitted, 0) AS submitted, coalesce(s.online, 0) AS online,
           coalesce(f.finished, 0) AS finished, coalesce(f.finished_on_time, 0) AS finished_on_time
    FROM s FULL JOIN f ON s.period = f.period AND s.grp = f.grp ORDER BY 1, 2
    """  # noqa: S608 - period from STEP_MONTHS, by checked above
    return con.sql(sql).to_arrow_table().cast(COUNTS_SCHEMA)


def _stamp(fields: pa.Table) -> str:
    files = warehouse.warehouse_partition_files(table="dossiers") or []
    ratings = warehouse.warehouse_partition_files(table="ratings") or []
    digest = hashlib.sha256(quality._to_bytes(fields)).hexdigest()[:16]
    return f"{quality._signature([*files, *ratings])}:{digest}"


def cached(name: str, *, period: quality.Period, as_of: dt.datetime | None = None) -> pa.Table:
    """``field_index`` (``field_index_table``), ``field_counts`` or ``unit_counts``
    (``dossier_counts_by``) from the cache while no warehouse file and no procedure's field changed
    (the index: within the hour of ``as_of``, as ``quality.service_index_cached``)."""
    fields = procedure_fields()
    moment = quality._as_of_local(as_of).isoformat() if name == "field_index" else ""
    key = f"dash:breakdown:{name}:{period}:{_stamp(fields)}:{moment}"
    found: bytes | None = cache.get(key)
    if found is not None:
        return quality._from_bytes(found)
    if name == "field_index":
        table = field_index_table(period=period, as_of=as_of, fields=fields)
    elif name in ("field_counts", "unit_counts"):
        table = dossier_counts_by(by=name.split("_")[0], period=period, fields=fields)
    else:
        raise ValueError(name)
    cache.set(key, quality._to_bytes(table), quality.CACHE_SECONDS)
    return table


def rows_of(table: pa.Table, label: str) -> list[dict[str, Any]]:
    """The rows of one period."""
    return [r for r in table.to_pylist() if r["period"] == label]
