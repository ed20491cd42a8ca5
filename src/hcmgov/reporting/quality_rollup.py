"""Per-partition rollups of the service-quality index's dossier counts (Decision 766/QĐ-TTg),
kept next to each partition file of the warehouse's ``dossiers`` table, so that the index is
summed from a few thousand rows a month instead of counted from every dossier.

**Why.** Counting the index from the files evaluates some forty conditions per dossier (the rules
of ``quality._SUBMITTED_RULES``, ``_FINISHED_RULES``, 2.1, 3.3): over 5,000,000 dossiers that is
≈ 6 s of CPU, whatever the query's shape (one scan or five; measured in docs/reporting/index-766.md).
Those counts depend only on the partition's dossiers, not on the moment the index is judged at,
except 2.1's dossiers in progress. So, once per partition written, the counts are rolled up at
city-month grain and stored beside the file:

* ``count`` rows: (indicator, month, key, counted, meeting) of every rule that adds up over months
  (``quality._additive_sql``: by month submitted or finished, 2.1's finished dossiers);
* ``fee`` rows: (month submitted, key, fee procedure, paid online by any of its dossiers) — 3.3
  counts distinct procedures, which do not add up over the months of a quarter;
* ``open`` rows: the few dossiers that may be in progress at the end of some period
  (``quality._MAYBE_OPEN``: not finished, or finished in a later month than received), with the
  times 2.1's rule reads; ``quality._progress_open`` judges them at the period's end or ``as_of``.

Reading them runs the very SQL of the index (``quality._fee_counts_sql``, ``_open_counts_sql``)
over these rows, for months or quarters: the figures are the same as counted from the files (a
test holds the two to it, and the bench checks it over 5,000,000 dossiers).

**Kept up to date on write.** The warehouse's refresh publishes ``warehouse.partitions_written``
after it moved the partitions in place; ``_on_written`` (run by the worker) rolls up those
partitions. A rollup carries the signature (size, modification time) of the file it was counted
from and ``VERSION`` (a digest of the rules' SQL): a partition rewritten since, or rules changed
since, make it stale, and the index counts that partition from its file (``quality.
dossier_counts``), as it did before rollups existed. The file is hidden (a leading dot: DuckDB's
``*.parquet`` glob, Spark and Trino skip it) and written under a temporary name, then moved.
Local warehouse only: on object storage the index reads the table's view whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from hcmgov.core.services import event_subscribe
from hcmgov.reporting import quality
from hcmgov.warehouse import selectors as warehouse
from hcmgov.warehouse.services import TOPIC_PARTITIONS_WRITTEN

log = logging.getLogger(__name__)

FILE = ".q766-rollup-{by}.arrow"
TABLE = "dossiers"
SCHEMA = pa.schema([
    ("kind", pa.string()),
    ("k", pa.string()), ("p", pa.timestamp("us")), ("grp", pa.string()), ("n", pa.int64()), ("ok", pa.int64()),
    ("procedure_code", pa.string()), ("paid_online", pa.bool_()),
    ("status", pa.int16()), ("supplement_count", pa.int32()), ("timeliness", pa.string()),
    ("received", pa.timestamp("us")), ("due", pa.timestamp("us")), ("finished", pa.timestamp("us")),
    ("suspended", pa.timestamp("us")),
])  # fmt: skip
# the rows of a rollup, in this order (each kind's rows are a slice of the file, read without a copy):
KINDS = (
    "count",  # the additive counts by month (quality._additive_sql)
    "fee_month",  # 3.3 by month
    "fee",  # 3.3's pairs (month, key, fee procedure, paid online): a quarter's 3.3 is counted from them
    "open",  # the dossiers not finished (2.1 judges them at each period's end, or as_of)
    "crossed",  # the dossiers finished in a later month than received: in progress at some month's end
    "crossed_month",  # 2.1 of "crossed" by month, valid for any as_of after the last of them finished
    "crossed_quarter",  # … by quarter
)
_FAR = dt.datetime(9999, 1, 1)  # noqa: DTZ001 - a local time later than any finish: each period judged at its end
_COUNTS = "k, p, grp, n, ok"
_ROWS = "grp, status, supplement_count, timeliness, received, due, finished, suspended"


def _rollup_sql(base: str) -> str:
    """One partition's rollup rows for one kind of key (``base``: ``quality._base`` over its file)."""
    crossed = f"SELECT chunk, {_ROWS} FROM d WHERE {quality._MAYBE_OPEN} AND finished IS NOT NULL"  # noqa: S608
    by_period = " UNION ALL BY NAME ".join(
        f"""SELECT '{kind}' AS kind, k, p, grp, n, ok FROM (WITH d AS ({crossed})
        {quality._open_counts_sql(unit, quality.STEP_MONTHS[unit])})"""  # noqa: S608 - the index's SQL
        for kind, unit in (("crossed_month", "month"), ("crossed_quarter", "quarter"))
    )
    return f"""
    WITH d AS NOT MATERIALIZED ({base}), pairs AS ({quality._fee_pairs_sql("month")})
    SELECT 'count' AS kind, {_COUNTS} FROM ({quality._additive_sql("month")})
    UNION ALL BY NAME SELECT 'fee_month' AS kind, {_COUNTS} FROM ({quality._fee_counts_sql("SELECT * FROM pairs")})
    UNION ALL BY NAME SELECT 'fee' AS kind, p, grp, procedure_code, paid_online FROM pairs
    UNION ALL BY NAME SELECT 'open' AS kind, {_ROWS} FROM d WHERE {quality._MAYBE_OPEN} AND finished IS NULL
    UNION ALL BY NAME SELECT 'crossed' AS kind, {_ROWS} FROM ({crossed})
    UNION ALL BY NAME {by_period}
    """  # noqa: S608 - the index's own SQL and a path from the warehouse's listing


def _open_sql(unit: str, step: int) -> str:
    """2.1's counts of the dossiers in progress (``quality._partial``'s shape) from rollup rows ``d``."""
    return quality._open_counts_sql(unit, step)


def _fee_sql(unit: str) -> str:
    """A quarter's 3.3 from the months' pairs ``f``."""
    return quality._fee_counts_sql(
        f"""SELECT chunk, date_trunc('{unit}', p) AS p, grp, procedure_code, bool_or(paid_online) AS paid_online
        FROM f GROUP BY ALL"""  # noqa: S608 - unit from quality.STEP_MONTHS
    )


# the rules' SQL: a rollup counted under other rules is stale
VERSION = hashlib.sha256(
    (
        _rollup_sql("{base}") + _open_sql("month", 1) + _fee_sql("quarter") + quality._base("{src}", "{grp}", None)
    ).encode()
).hexdigest()[:16]


def rollup_path(partition: str, by: str, file: str = FILE) -> str:
    """Where the rollup ``file`` (a name with ``{by}``) of a partition file is kept: beside it."""
    return str(Path(partition).parent / file.format(by=by))


def write_rollup(table: pa.Table, target: str) -> None:
    """Write a rollup under a temporary name, then move it in place: a reader sees the old rollup
    or the new one, never a part."""
    temp = f"{target}.{os.getpid()}.tmp"
    try:
        with pa.OSFile(temp, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)


def read_rollup(target: str, signature: str, version: str) -> pa.Table | None:
    """The rollup at ``target`` if it was counted from the file of this very signature under the
    rules of ``version``; None when missing, unreadable or stale."""
    try:
        with pa.memory_map(target) as source:
            table = ipc.open_file(source).read_all()
    except (FileNotFoundError, pa.ArrowInvalid):
        return None
    meta = table.schema.metadata or {}
    if meta.get(b"signature") != signature.encode() or meta.get(b"version") != version.encode():
        return None
    return table


def partition_rollup(*, path: str, signature: str, by: str) -> pa.Table:
    """The rollup rows of one partition file by agency or administrative unit (``by``), sorted by
    ``KINDS``, with where each kind's rows are and when the last "crossed" dossier finished."""
    present = warehouse.warehouse_file_columns(path=path)
    src = f"read_parquet({quality._quote(path)})"
    con = duckdb.connect(":memory:")
    sql = _rollup_sql(quality._base(src, quality.GROUP_COLUMNS[by], present))
    rows = con.sql(sql, params={"as_of": _FAR}).to_arrow_table().select(SCHEMA.names).cast(SCHEMA)
    order = pc.index_in(rows.column("kind"), pa.array(KINDS))
    rows = rows.take(pc.sort_indices(order))
    counts = pc.value_counts(rows.column("kind")).to_pylist()
    sizes = {c["values"]: c["counts"] for c in counts}
    offsets, at = {}, 0
    for kind in KINDS:
        offsets[kind] = [at, sizes.get(kind, 0)]
        at += sizes.get(kind, 0)
    crossed = rows.slice(*offsets["crossed"]).column("finished")
    last = pc.max(crossed).as_py() if len(crossed) else None
    return rows.replace_schema_metadata({
        "signature": signature, "version": VERSION, "offsets": json.dumps(offsets),
        "crossed_until": last.isoformat() if last else "",
    })  # fmt: skip


def rollup_write(*, months: list[tuple[int, int]] | None = None) -> int:
    """Roll up the ``dossiers`` partitions of ``months`` (every partition without it) whose rollup
    is missing or stale; returns how many files were written. Idempotent. The signature is read
    before counting: a partition rewritten meanwhile leaves a rollup that reads as stale, never a
    wrong one."""
    files = warehouse.warehouse_partition_files(table=TABLE)
    if files is None:  # object storage: no rollups
        return 0
    wanted = None if months is None else {f"year={y}/month={m}/" for y, m in months}
    written = 0
    for path, signature in files:
        if wanted is not None and not any(w in path for w in wanted):
            continue
        for by in quality.GROUP_COLUMNS:
            if _read(path, signature, by) is not None:
                continue
            write_rollup(partition_rollup(path=path, signature=signature, by=by), rollup_path(path, by))
            written += 1
    return written


def _read(path: str, signature: str, by: str) -> pa.Table | None:
    """The rollup of a partition if it was counted from this very file under these rules."""
    return read_rollup(rollup_path(path, by), signature, VERSION)


def rollups(
    chunks: dict[int, list[tuple[str, str]]], *, by: str, period: str, as_of: dt.datetime
) -> tuple[dict[int, dict[str, pa.Table]], set[int]]:
    """For chunks (id → files) of ``quality._chunks``: the rollup rows of every chunk whose files
    all have a current rollup, by what they are used for ("counts", "pairs", "rows"), each with
    its ``chunk``; and the ids of the other chunks."""
    found: dict[int, dict[str, pa.Table]] = {}
    stale: set[int] = set()
    for chunk_id, files in chunks.items():
        use: dict[str, list[pa.Table]] = {"counts": [], "pairs": [], "rows": []}
        for path, signature in files:
            table = _read(path, signature, by)
            if table is None:
                stale.add(chunk_id)
                break
            meta = table.schema.metadata
            offsets = json.loads(meta[b"offsets"])
            until = meta[b"crossed_until"].decode()
            settled = not until or dt.datetime.fromisoformat(until) <= as_of

            def part(kind: str, table: pa.Table = table, offsets: dict[str, list[int]] = offsets) -> pa.Table:
                return table.slice(*offsets[kind])

            use["counts"].append(part("count"))
            use["counts" if period == "month" else "pairs"].append(part("fee_month" if period == "month" else "fee"))
            use["rows"].append(part("open"))
            if settled:  # every crossed dossier finished by as_of: its months' ends are all past
                use["counts"].append(part(f"crossed_{period}"))
            else:
                use["rows"].append(part("crossed"))
        else:
            found[chunk_id] = {
                name: _with_chunk(pa.concat_tables(tables), chunk_id) for name, tables in use.items() if tables
            }
    return found, stale


def _with_chunk(table: pa.Table, chunk_id: int) -> pa.Table:
    return table.append_column("chunk", pa.nulls(table.num_rows, pa.int64()).fill_null(chunk_id))


def counts_from_rollups(found: list[dict[str, pa.Table]], *, period: str, as_of: dt.datetime) -> pa.Table:
    """The counts of ``quality._partial`` (k, chunk, p, grp, n, ok), not summed, from rollup rows."""
    names = ["k", "chunk", "p", "grp", "n", "ok"]
    parts = []
    counts = pa.concat_tables([f["counts"] for f in found if "counts" in f]).select(names)
    if period != "month":  # the months' counts of a quarter, under its first day
        counts = counts.set_column(2, "p", pc.floor_temporal(counts.column("p"), unit="quarter"))
    parts.append(counts)
    con = duckdb.connect(":memory:")
    rows = [f["rows"] for f in found if "rows" in f]
    if rows:
        con.register("d", pa.concat_tables(rows))
        sql = _open_sql(period, quality.STEP_MONTHS[period])
        parts.append(con.sql(sql, params={"as_of": as_of}).to_arrow_table().select(names))
    pairs = [f["pairs"] for f in found if "pairs" in f]
    if pairs:
        con.register("f", pa.concat_tables(pairs))
        parts.append(con.sql(_fee_sql(period)).to_arrow_table().select(names))
    schema = pa.schema([("k", pa.string()), ("chunk", pa.int64()), ("p", pa.timestamp("us")), ("grp", pa.string()),
                        ("n", pa.int64()), ("ok", pa.int64())])  # fmt: skip
    return pa.concat_tables([t.cast(schema) for t in parts])


@event_subscribe(TOPIC_PARTITIONS_WRITTEN)
def _on_written(event: Any) -> None:
    """A refresh moved partitions in place: roll up those of the dossiers (idempotent)."""
    if event.payload.get("table") != TABLE:
        return
    months = [(int(y), int(m)) for y, m in event.payload.get("months", [])]
    rollup_write(months=months)
