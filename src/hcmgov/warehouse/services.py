"""Refreshing the warehouse: extract what changed into Parquet, partition by partition, atomically.

A refresh of a table (``warehouse_refresh``):

1. takes the table (``WarehouseTable.running_since``, set by a compare-and-set UPDATE: two refreshes
   never write one table at once, and no database lock is held while files are written);
2. asks the owning app's selectors for the months holding rows changed since the watermark (less
   ``WAREHOUSE_OVERLAP_SECONDS``, for transactions that committed late), or every month (``full``);
3. writes each of those partitions whole under a temporary name, streaming rows in batches;
4. only when all are written, moves each over its old file (``storage``), then records the new
   watermark — the moment the refresh started — with the table's files and rows.

A failure at any step before 4 removes the temporary files and leaves every previous file as it
was; the run and the table record the error and the watermark stays, so the next refresh reads the
same changes again. Rows deleted from the database disappear from the files on a ``full`` refresh
(or when their partition is next rewritten).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from hcmgov.core.services import event_publish
from hcmgov.warehouse.models import RunStatus, WarehouseRun, WarehouseTable
from hcmgov.warehouse.storage import Staged, Store
from hcmgov.warehouse.tables import TABLES, Table

# published once a refresh moved partitions in place ({"table", "months": [[year, month], …]}): what is
# derived from a partition (the 766 index's rollups, ``reporting.quality_rollup``) is redone after it
TOPIC_PARTITIONS_WRITTEN = "warehouse.partitions_written"
STALE_LOCK = dt.timedelta(hours=6)  # a refresh holding a table longer than this is taken to have died

Progress = Callable[["Step"], None]


@dataclass(frozen=True)
class Step:
    """One partition written, for a progress line."""

    table: str
    year: int
    month: int
    rows: int
    done: int
    total: int


@dataclass
class TableReport:
    """What a refresh did to one table."""

    table: str
    status: str
    partitions: int = 0
    rows: int = 0
    seconds: float = 0.0
    files: int = 0
    total_rows: int = 0
    error: str = ""
    months: list[str] = field(default_factory=list)


def warehouse_refresh(
    *, tables: list[str] | None = None, full: bool = False, progress: Progress | None = None
) -> list[TableReport]:
    """Refresh ``tables`` (all without it), incrementally unless ``full``; one report per table.
    A table that fails does not stop the others."""
    names = tables or list(TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise ValueError(f"unknown warehouse table(s): {', '.join(unknown)}")
    store = Store.from_settings()
    return [_refresh_table(TABLES[name], store=store, full=full, progress=progress) for name in names]


def _take(name: str, now: dt.datetime) -> WarehouseTable | None:
    WarehouseTable.objects.get_or_create(name=name)
    free = Q(running_since__isnull=True) | Q(running_since__lt=now - STALE_LOCK)
    if not WarehouseTable.objects.filter(free, name=name).update(running_since=now):
        return None
    return WarehouseTable.objects.get(name=name)


def _refresh_table(table: Table, *, store: Store, full: bool, progress: Progress | None) -> TableReport:
    started = timezone.now()
    clock = time.monotonic()
    state = _take(table.name, started)
    if state is None:
        WarehouseRun.objects.create(
            table=table.name, full=full, started_at=started, finished_at=started, status=RunStatus.SKIPPED
        )
        return TableReport(table=table.name, status=RunStatus.SKIPPED, error="a refresh of this table is running")
    since = None
    if not full and state.watermark is not None:
        since = state.watermark - dt.timedelta(seconds=int(settings.WAREHOUSE_OVERLAP_SECONDS))
    run = WarehouseRun.objects.create(table=table.name, full=full, since=since, started_at=started)
    report = TableReport(table=table.name, status=RunStatus.RUNNING)
    try:
        staged = _stage(table, store=store, since=since, run=run, progress=progress)
        existing = store.partitions(table.name)
        gone = []
        if since is None and not table.keep_history:  # a full extract: partitions with no row left go
            touched = {(s.year, s.month) for s in staged}
            gone = [path for key, path in existing.items() if key not in touched]
        for item in staged:
            store.commit(item)
        for path in gone:
            store.remove(path)
        report.files, report.total_rows = store.count(table.name)
        report.partitions = len(staged) + len(gone)
        report.rows = sum(s.rows for s in staged)
        report.months = [f"{s.year}-{s.month:02d}" for s in staged]
        report.status = RunStatus.OK
    except Exception as exc:  # recorded, not raised: the other tables go on, the next run retries
        report.status = RunStatus.FAILED
        report.error = f"{type(exc).__name__}: {exc}"
    except BaseException:  # interrupted (Ctrl-C, worker shutdown): release the table, then stop
        report.status, report.error = RunStatus.FAILED, "interrupted"
        _finish(state, run, report, started=started)
        raise
    report.seconds = round(time.monotonic() - clock, 3)
    _finish(state, run, report, started=started)
    if report.status == RunStatus.OK and report.months:
        months = [[int(m[:4]), int(m[5:])] for m in report.months]
        event_publish(topic=TOPIC_PARTITIONS_WRITTEN, key=f"{table.name}:{run.pk}",
                      payload={"table": table.name, "months": months})  # fmt: skip
    return report


def _stage(
    table: Table, *, store: Store, since: dt.datetime | None, run: WarehouseRun, progress: Progress | None
) -> list[Staged]:
    """Write every partition changed since ``since`` under its temporary name; on any failure,
    remove those already written and raise."""
    months = sorted(table.months(since=since))
    staged: list[Staged] = []
    tag = f"{run.pk}-{uuid.uuid4().hex[:8]}"
    try:
        for done, (year, month) in enumerate(months, start=1):
            start, end = month_bounds(year, month)
            rows = table.rows(start=start, end=end, chunk_size=min(int(settings.WAREHOUSE_BATCH_ROWS), 10000))
            item = store.write(table, year, month, rows, run=tag)
            staged.append(item)
            if progress is not None:
                progress(Step(table.name, year, month, item.rows, done, len(months)))
    except BaseException:
        for item in staged:
            if item.temp is not None:
                store.discard(item.temp)
        raise
    return staged


def _finish(state: WarehouseTable, run: WarehouseRun, report: TableReport, *, started: dt.datetime) -> None:
    now = timezone.now()
    run.finished_at = now
    run.status = report.status
    run.partitions, run.rows, run.error = report.partitions, report.rows, report.error
    run.save(update_fields=["finished_at", "status", "partitions", "rows", "error"])
    fields: dict[str, Any] = {"running_since": None, "last_error": report.error}
    if report.status == RunStatus.OK:
        fields |= {"watermark": started, "rows": report.total_rows, "files": report.files, "refreshed_at": now}
    WarehouseTable.objects.filter(pk=state.pk).update(**fields)


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The first moment of the month and of the next one, city time (the partitions are city months)."""
    tz = timezone.get_default_timezone()
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return dt.datetime(year, month, 1, tzinfo=tz), dt.datetime(*following, 1, tzinfo=tz)
