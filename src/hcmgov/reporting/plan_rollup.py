"""Per-partition rollups of the plan dashboard's two monthly figures from the warehouse
(``reporting.targets``: dossiers submitted online, and full-process procedures the national portal
holds), kept next to each partition file of the ``dossiers`` table.

**Why.** Both figures group every dossier by its month of submission in city time: over 5,000,000
dossiers that is two scans with a time-zone conversion per row, about 0.6 s of the plan's 1 s
budget cold (``bench/quality_index.py``'s profile). Their grain (``warehouse.selectors.
ONLINE_GRAIN``: per month, agency and level, dossiers and those online; ``PORTAL_GRAIN``: per month,
agency and procedure, whether the portal holds any) adds up over the partitions (a month's
dossiers all lie in its partition: the refresh partitions by month of submission in city time), so
each partition's online grain and portal figures are counted once, when the partition is written,
and the plan's figures are summed from a few thousand rows.

**Kept up to date on write**, as the 766 index's rollups (``quality_rollup``, whose conventions
this follows): the warehouse's refresh publishes ``warehouse.partitions_written``; ``_on_written``
(run by the worker) rolls those partitions up. A rollup carries the signature (size, modification
time) of the file it was counted from and ``VERSION`` (a digest of the grains' SQL): a partition
rewritten since, or a grain changed since, makes it stale, and that partition is counted from its
file at read time (all such files in one query). Hidden file (leading dot: the ``*.parquet`` glob
skips it), written under a temporary name, then moved. Local warehouse only: on object storage the
figures are counted from the table's view.
"""

from __future__ import annotations

import hashlib
from typing import Any

import duckdb
import pyarrow as pa

from hcmgov.core.services import event_subscribe
from hcmgov.reporting.quality_rollup import read_rollup, rollup_path, write_rollup
from hcmgov.warehouse import selectors as warehouse
from hcmgov.warehouse.services import TOPIC_PARTITIONS_WRITTEN

TABLE = "dossiers"
SCHEMAS = {"online": warehouse.ONLINE_GRAIN_SCHEMA, "portal": warehouse.PORTAL_FIGURES_SCHEMA}
FILE = ".plan-rollup-{by}.arrow"  # by: the grain's name
VERSION = hashlib.sha256(
    (warehouse.ONLINE_GRAIN + warehouse.PORTAL_GRAIN + warehouse.FULL_PROCESS_ON_PORTAL_BY_MONTH).encode()
).hexdigest()[:16]


def _count(name: str, paths: list[str], con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """The online grain or the portal's figures (``name``) counted from the files ``paths`` (one
    query), in their schema."""
    present = set().union(*(warehouse.warehouse_file_columns(path=path) for path in paths))
    files = ", ".join(warehouse._quote(path) for path in paths)
    # union_by_name: a file written before a column was added reads it as NULL
    sql = warehouse.plan_sql(name, f"read_parquet([{files}], union_by_name = true)", present)
    if sql is None:  # files older than the columns the grain needs
        return SCHEMAS[name].empty_table()
    con = con or duckdb.connect(":memory:")
    return con.sql(sql).to_arrow_table().select(SCHEMAS[name].names).cast(SCHEMAS[name])


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
        for name in SCHEMAS:
            target = rollup_path(path, name, FILE)
            if read_rollup(target, signature, VERSION) is not None:
                continue
            table = _count(name, [path]).replace_schema_metadata({"signature": signature, "version": VERSION})
            write_rollup(table, target)
            written += 1
    return written


def rolled_up(name: str, *, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table | None:
    """The online grain or the portal's figures (``name``: "online", "portal") of every partition:
    from the rollups where current, the other partitions counted from their files in one query
    (``con``: the warehouse's connection, else one of its own). Summed by ``warehouse.
    dossiers_online_by_month`` / ``full_process_on_portal_by_month``. None on object storage."""
    files = warehouse.warehouse_partition_files(table=TABLE)
    if files is None:
        return None
    parts, stale = [SCHEMAS[name].empty_table()], []
    for path, signature in files:
        table = read_rollup(rollup_path(path, name, FILE), signature, VERSION)
        if table is None:
            stale.append(path)
        else:
            parts.append(table.replace_schema_metadata(None))
    if stale:
        parts.append(_count(name, stale, con))
    return pa.concat_tables(parts)


@event_subscribe(TOPIC_PARTITIONS_WRITTEN)
def _on_written(event: Any) -> None:
    """A refresh moved partitions in place: roll up those of the dossiers (idempotent)."""
    if event.payload.get("table") != TABLE:
        return
    rollup_write(months=[(int(y), int(m)) for y, m in event.payload.get("months", [])])
