"""Reads of the warehouse: DuckDB over its Parquet files, the figures dashboards and reports use,
and where each table's extract stands.

``warehouse_connect`` opens an in-memory DuckDB with one view per table over its files
(``read_parquet(..., hive_partitioning=true)``: ``year`` and ``month`` come from the folder names).
The connection reads only the warehouse: access to any other file is switched off and the
configuration locked, and ``warehouse_query`` runs a single SELECT, stopped after
``WAREHOUSE_QUERY_TIMEOUT`` seconds and cut at ``WAREHOUSE_QUERY_ROWS_MAX`` rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import QuerySet

from hcmgov.common.errors import DomainError, Message
from hcmgov.warehouse.models import WarehouseRun, WarehouseTable
from hcmgov.warehouse.storage import Store
from hcmgov.warehouse.tables import PARTITION_COLUMNS, TABLES


def warehouse_connect(*, store: Store | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with one view per warehouse table (empty when it has no file yet)."""
    store = store or Store.from_settings()
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    partitions = pa.schema([pa.field(name, pa.int64()) for name in PARTITION_COLUMNS])
    for name, table in TABLES.items():
        found = store.partitions(name)
        # names and paths below are the warehouse's own (TABLES, the store's listing), quoted: no input
        if not found:  # no file yet: an empty relation with the same columns
            empty = pa.Table.from_batches([], schema=pa.unify_schemas([table.schema, partitions]))
            con.register(f"_{name}_empty", empty)
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_{name}_empty"')  # noqa: S608
        elif store.local:  # the glob is read at each query: partitions added since are seen, temporary files not
            files = _quote(f"{store.table_dir(name)}/year=*/month=*/*.parquet")
            # union_by_name: a file written before a column was added reads it as NULL
            reader = f"read_parquet({files}, hive_partitioning = true, union_by_name = true)"
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {reader}')  # noqa: S608
        else:  # object storage: DuckDB scans pyarrow's dataset (same files, pyarrow's S3 client)
            dataset = pads.dataset(
                list(found.values()), filesystem=store.fs, format="parquet", partitioning="hive",
                partition_base_dir=store.table_dir(name), schema=pa.unify_schemas([table.schema, partitions]),
            )  # fmt: skip
            con.register(name, dataset)
    if store.local:
        con.execute(f"SET allowed_directories = [{_quote(store.root + '/')}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def warehouse_partition_files(*, table: str, store: Store | None = None) -> list[tuple[str, str]] | None:
    """The table's partition files with a signature of each (size and modification time, changed by
    every rewrite), for caching what is computed from one file; None on object storage (the
    callers read the table's view whole)."""
    store = store or Store.from_settings()
    if not store.local:
        return None
    paths = sorted(store.partitions(table).values())
    infos = store.fs.get_file_info(paths)
    return [(i.path, f"{i.size}:{i.mtime_ns}") for i in infos if i.type == pafs.FileType.File]


def warehouse_file_columns(*, path: str, store: Store | None = None) -> set[str]:
    """The columns one partition file holds (its footer): files written before a column was added lack it."""
    store = store or Store.from_settings()
    return set(pq.read_schema(path, filesystem=store.fs).names)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool


def warehouse_query(
    *, sql: str, params: list[Any] | None = None, con: duckdb.DuckDBPyConnection | None = None
) -> QueryResult:
    """Run one SELECT over the warehouse, within the time and row limits of the settings."""
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise DomainError(
            code="warehouse_select_only",
            message=Message(
                "Chỉ được chạy một câu lệnh SELECT trên kho dữ liệu.",
                "Only a single SELECT statement may be run on the warehouse.",
            ),
        )
    con = con or warehouse_connect()
    limit = int(settings.WAREHOUSE_QUERY_ROWS_MAX)
    timer = threading.Timer(float(settings.WAREHOUSE_QUERY_TIMEOUT), con.interrupt)
    timer.start()
    try:
        cursor = con.execute(sql, params or [])
        rows = cursor.fetchmany(limit + 1)
        columns = [d[0] for d in cursor.description or []]
    except duckdb.InterruptException as exc:
        raise DomainError(
            code="warehouse_query_timeout",
            message=Message("Truy vấn chạy quá thời gian cho phép.", "The query ran longer than allowed."),
        ) from exc
    finally:
        timer.cancel()
    return QueryResult(columns=columns, rows=rows[:limit], truncated=len(rows) > limit)


# --- figures -------------------------------------------------------------------------------------
# Months are city months (Asia/Ho_Chi_Minh, settings.TIME_ZONE), as the partitions and the ORM's figures.

FIGURES_BY_AGENCY_MONTH = """
WITH submitted AS (
    SELECT strftime(submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m') AS month, agency_code, count(*) AS n
    FROM dossiers WHERE CAST(submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS DATE) >= $start
    GROUP BY ALL
), finished AS (
    SELECT strftime(finished_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m') AS month, agency_code, count(*) AS n,
           count(*) FILTER (WHERE on_time) AS ok
    FROM dossiers WHERE finished_at IS NOT NULL AND CAST(finished_at AT TIME ZONE 'Asia/Ho_Chi_Minh' AS DATE) >= $start
    GROUP BY ALL
)
SELECT month, agency_code, coalesce(s.n, 0) AS submitted, coalesce(f.n, 0) AS finished,
       coalesce(f.ok, 0) AS on_time
FROM submitted s FULL OUTER JOIN finished f USING (month, agency_code)
ORDER BY month, agency_code
"""


def dossier_figures_by_agency_month(
    *, start: dt.date | None = None, con: duckdb.DuckDBPyConnection | None = None
) -> list[dict[str, Any]]:
    """Per month (city time) and agency: dossiers submitted, finished, and finished early or on
    time, with the on-time rate (None when none finished) — what ``dossiers.selectors.
    dossier_figures_by_month`` counts in the database, summed over procedures, read from the files."""
    con = con or warehouse_connect()
    rows = con.execute(FIGURES_BY_AGENCY_MONTH, {"start": start or dt.date(1900, 1, 1)}).fetchall()
    return [
        {
            "month": m,
            "agency_code": a,
            "submitted": s,
            "finished": f,
            "on_time": o,
            "on_time_rate": o / f if f else None,
        }
        for m, a, s, f, o in rows
    ]


PAYMENTS_BY_AGENCY_MONTH = """
SELECT strftime(paid_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m') AS month, agency_code,
       count(*) AS orders, sum(amount) AS amount, count(*) FILTER (WHERE method IN ('vnpay', 'national')) AS online
FROM payments WHERE paid_at IS NOT NULL AND state IN ('paid', 'refunded')
GROUP BY ALL ORDER BY month, agency_code
"""


def payments_by_agency_month(*, con: duckdb.DuckDBPyConnection | None = None) -> list[dict[str, Any]]:
    """Per month paid (city time) and agency: orders paid (refunded ones included: they were paid),
    the đồng collected, and how many were paid online."""
    con = con or warehouse_connect()
    keys = ("month", "agency_code", "orders", "amount", "online")
    return [dict(zip(keys, row, strict=True)) for row in con.execute(PAYMENTS_BY_AGENCY_MONTH).fetchall()]


# --- the books -----------------------------------------------------------------------------------


def warehouse_tables() -> list[WarehouseTable]:
    """Every declared table with where its extract stands (a table never refreshed: an unsaved row)."""
    known = {t.name: t for t in WarehouseTable.objects.all()}
    return [known.get(name) or WarehouseTable(name=name) for name in TABLES]


def warehouse_runs(*, table: str | None = None) -> QuerySet[WarehouseRun]:
    runs = WarehouseRun.objects.all()
    return runs.filter(table=table) if table else runs


# The plan's two monthly figures can be summed over parts of the dossiers: the online figure from a
# grain (per month, agency and level: dossiers, online) that adds up over any split of the rows;
# the portal's (distinct procedures per month) from each part's figures when every dossier of a
# month is in one part, as the warehouse's partitions by month of submission in city time are.
# ``reporting.plan_rollup`` keeps each partition's grain and figures beside its file, so that the
# figures are summed from a few thousand rows instead of counted from every dossier; without it
# (object storage, nothing rolled up) they are counted from the table's view.
ONLINE_GRAIN = """
SELECT strftime(submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m') AS month, agency_code,
       {level} AS procedure_level, count(*) AS dossiers, count(*) FILTER (WHERE channel = 2) AS online
FROM {src} GROUP BY ALL
"""
ONLINE_GRAIN_SCHEMA = pa.schema([
    ("month", pa.string()), ("agency_code", pa.string()), ("procedure_level", pa.string()),
    ("dossiers", pa.int64()), ("online", pa.int64()),
])  # fmt: skip
PORTAL_GRAIN = """
SELECT strftime(submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%Y-%m') AS month, agency_code, procedure_code,
       bool_or(portal_synced) AS held
FROM {src} WHERE online_level = 'full' AND portal_synced IS NOT NULL GROUP BY ALL
"""
PORTAL_FIGURES_SCHEMA = pa.schema([
    ("month", pa.string()), ("agency_code", pa.string()), ("procedures", pa.int64()), ("on_portal", pa.int64()),
    ("scope", pa.string()),
])  # fmt: skip

DOSSIERS_ONLINE_BY_MONTH = """
SELECT month, agency_code, procedure_level, sum(dossiers)::BIGINT AS dossiers, sum(online)::BIGINT AS online,
       CASE WHEN grouping(agency_code) = 0 THEN 'agency' WHEN grouping(procedure_level) = 0 THEN 'level'
            ELSE 'city' END AS scope
FROM ({grain})
GROUP BY GROUPING SETS ((month), (month, agency_code), (month, procedure_level))
ORDER BY month, agency_code NULLS FIRST, procedure_level NULLS FIRST, scope  -- an unknown level ties with the city
"""


def plan_sql(name: str, src: str, present: set[str]) -> str | None:
    """The online grain ("online") or the portal's figures ("portal") counted from the dossier rows
    of ``src`` (a view or a ``read_parquet``) holding the columns ``present``; None when they cannot
    give them (files older than the portal's columns hold no known portal state)."""
    if name == "online":
        return ONLINE_GRAIN.format(src=src, level="procedure_level" if "procedure_level" in present else "NULL")
    if not {"online_level", "portal_synced"} <= present:
        return None
    return FULL_PROCESS_ON_PORTAL_BY_MONTH.format(grain=PORTAL_GRAIN.format(src=src))


_SUMMER: duckdb.DuckDBPyConnection | None = None
_SUMMER_LOCK = threading.Lock()


def _summer() -> duckdb.DuckDBPyConnection:
    """A cursor of the process's one in-memory DuckDB that sums rows handed to it (a new
    connection costs tens of milliseconds; a cursor, its own connection to the same database, is
    free and safe to use from its thread)."""
    global _SUMMER
    with _SUMMER_LOCK:
        if _SUMMER is None:
            _SUMMER = duckdb.connect(":memory:")
            _SUMMER.execute("SET enable_external_access = false")
        return _SUMMER.cursor()


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    return {column for (column, *_rest) in con.execute(f'DESCRIBE "{view}"').fetchall()}


def dossiers_online_by_month(
    *, con: duckdb.DuckDBPyConnection | None = None, grain: pa.Table | None = None
) -> list[dict[str, Any]]:
    """Per month submitted (city time): dossiers and those submitted online (channel 2), for the
    city (``scope`` "city"), per agency ("agency") and per procedure level ("level": city, district,
    commune; None for files written before the column existed). ``grain``: the rows of
    ``ONLINE_GRAIN`` over every dossier (``reporting.plan_rollup``); else counted from the files."""
    keys = ("month", "agency_code", "procedure_level", "dossiers", "online", "scope")
    if grain is not None:
        db = _summer()
        db.register("_grain", grain)
        source = "SELECT * FROM _grain"
    else:
        db = con or warehouse_connect()
        source = ONLINE_GRAIN.format(src="dossiers", level="procedure_level")
    sql = DOSSIERS_ONLINE_BY_MONTH.format(grain=source)
    return [dict(zip(keys, row, strict=True)) for row in db.execute(sql).fetchall()]


FULL_PROCESS_ON_PORTAL_BY_MONTH = """
WITH p AS (SELECT month, agency_code, procedure_code, bool_or(held) AS held FROM ({grain}) GROUP BY ALL)
SELECT month, '' AS agency_code, count(*) AS procedures, count(*) FILTER (WHERE held) AS on_portal, 'city' AS scope
FROM (SELECT month, procedure_code, bool_or(held) AS held FROM p GROUP BY ALL) GROUP BY ALL
UNION ALL
SELECT month, agency_code, count(*), count(*) FILTER (WHERE held), 'agency' FROM p GROUP BY ALL
ORDER BY month, scope DESC, agency_code
"""


SUM_PORTAL_FIGURES = """
SELECT month, agency_code, sum(procedures)::BIGINT AS procedures, sum(on_portal)::BIGINT AS on_portal, scope
FROM _figures GROUP BY ALL ORDER BY month, scope DESC, agency_code
"""


def full_process_on_portal_by_month(
    *, con: duckdb.DuckDBPyConnection | None = None, figures: pa.Table | None = None
) -> list[dict[str, Any]]:
    """Per month submitted (city time): procedures offered full-process online (Decree
    42/2022/NĐ-CP) that had dossiers, and those of them with at least one dossier the National
    Public Service Portal holds — for the city (``scope`` "city", each procedure once) and per
    agency ("agency"). Only dossiers whose portal state is known count (files and dossiers
    extracted before it are left out): no row at all while nothing is known. ``figures``: these
    rows of parts of the dossiers, each month in one part (``reporting.plan_rollup``: the
    partitions'), summed; else counted from the files."""
    keys = ("month", "agency_code", "procedures", "on_portal", "scope")
    if figures is not None:
        db = _summer()
        db.register("_figures", figures)
        sql: str | None = SUM_PORTAL_FIGURES
    else:
        db = con or warehouse_connect()
        sql = plan_sql("portal", "dossiers", _columns(db, "dossiers"))
    if sql is None:  # every file older than the columns
        return []
    return [dict(zip(keys, row, strict=True)) for row in db.execute(sql).fetchall()]
