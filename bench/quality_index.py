"""Benchmark of the service-quality index (Decision 766/QĐ-TTg, ``hcmgov.reporting.quality``).

Writes ``--rows`` synthetic dossier rows (default 5,000,000) straight to Parquet in the warehouse's
layout (``dossiers/year=Y/month=M/part-0.parquet``, the declared schema of ``warehouse.tables``),
with pyarrow alone — no ORM, no database — then measures, for all agencies and all months:

- ``rollup_s``: each partition's rollup written (``quality_rollup.rollup_write``), as the worker does
  after a refresh wrote partitions (``warehouse.partitions_written``);
- ``cold_ms``: every dossier-based indicator with nothing cached (``dossier_counts``, use_cache=False):
  summed from the partitions' rollups, the path after a refresh; target ≤ 1 s;
  ``cold_files_ms``: the same counted by DuckDB from the files alone (a partition not rolled up yet:
  one query over the files, its rows split per period's files); ``cold_view_ms``: the same over the
  table's view (the path on object storage). All three give the same sums (checked);
- ``index``: the whole index assembled (indicators, rates, points; ratings from the warehouse),
  per month and per quarter, after the counts are cached;
- ``cached``: ``service_index_cached`` served from the cache (local memory); target ≤ 50 ms;
- ``incremental``: one partition rewritten (as a refresh does for changed dossiers), then the index
  again: only that partition is counted anew (from its file, its rollup being stale);
  ``incremental_rollup_ms``: that partition's rollup written again.
- ``plan``: the plan dashboard's targets (``reporting.targets.plan_targets``): ``cold_ms`` computed
  (two targets from the warehouse, summed from the partitions' rollups that ``plan_rollup`` wrote
  after the files, ``plan_rollup_s``; the others from the database), ``cached_ms`` from the
  cache (``reporting.selectors.plan_targets_cached``), ``after_change_ms`` the first read after a
  partition changed (the targets are read again whole); the same targets, ≤ 1 s and ≤ 50 ms.

Feedback indicators (5.2, 5.3) come from the database, not the warehouse: they read as empty here.
Other work shares the machine's cores: the numbers are pessimistic.

    .venv/bin/python bench/quality_index.py [--rows 5000000] [--agencies 300] [--months 24]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
UTC = dt.UTC
CITY = ZoneInfo("Asia/Ho_Chi_Minh")
TARGET_COLD_S = 1.0
TARGET_CACHED_MS = 50.0


def _ts(micros: pa.Array) -> pa.Array:
    return pc.cast(micros, pa.timestamp("us", tz="UTC"))


def _null_unless(mask: pa.Array, values: pa.Array) -> pa.Array:
    return pc.if_else(mask, values, pa.scalar(None, values.type))


def month_table(
    schema: pa.Schema, *, year: int, month: int, rows: int, agencies: int, seed: int, recent: bool
) -> pa.Table:
    """One month of dossiers: a mix of finished (early, on time, late), in progress, awaiting a
    supplement, withdrawn; 0–2 supplement requests; fee procedures paid online or not; channels."""
    start = dt.datetime(year, month, 1, tzinfo=CITY)  # partitions are city months, as the refresh files them
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CITY)
    span = int((end - start).total_seconds() * 1e6)
    hour, day = 3_600_000_000, 86_400_000_000

    seeds = iter(range(seed, seed + 100))

    def draw() -> pa.Array:
        return pc.random(rows, initializer=next(seeds))

    def pick(n: int) -> pa.Array:
        return pc.cast(pc.floor(pc.multiply(draw(), n)), pa.int64())

    index = pa.array(range(rows), pa.int64())
    code = pc.binary_join_element_wise(pa.scalar(f"B-{year % 100:02d}{month:02d}-"), pc.cast(index, pa.string()), "")
    agency = pc.binary_join_element_wise(pa.scalar("A"), pc.cast(pick(agencies), pa.string()), "")
    unit = pc.binary_join_element_wise(pa.scalar("U"), pc.cast(pick(312), pa.string()), "")
    procedure_n = pick(200)
    procedure = pc.binary_join_element_wise(pa.scalar("1.00"), pc.cast(procedure_n, pa.string()), "")
    submitted = pc.add(pc.cast(pc.floor(pc.multiply(draw(), span)), pa.int64()), int(start.timestamp() * 1e6))
    received = pc.add(submitted, hour)
    due = pc.add(received, 5 * day)
    took = pc.cast(pc.floor(pc.multiply(draw(), 7 * day)), pa.int64())
    # the last two months hold the dossiers still open (10 % in progress, 3 % awaiting a supplement);
    # earlier months are settled: 98 % finished, 2 % withdrawn — an office that lets dossiers lie open
    # for years would make 2.1 expand each over every month since (see docs/reporting/index-766.md)
    state = draw()
    done = 0.85 if recent else 0.98
    finished_mask = pc.less(state, done)
    progress_mask = pc.and_(pc.greater_equal(state, done), pc.less(state, 0.95 if recent else done))
    suspended_mask = pc.and_(
        pc.greater_equal(state, 0.95 if recent else done), pc.less(state, 0.98 if recent else done)
    )
    status = pc.if_else(finished_mask, 10, pc.if_else(progress_mask, 4, pc.if_else(suspended_mask, 5, 7))).cast(
        pa.int16()
    )
    s = draw()
    supplements = pc.if_else(pc.less(s, 0.8), 0, pc.if_else(pc.less(s, 0.95), 1, 2)).cast(pa.int16())
    finished = pc.add(received, took)
    late = pc.or_(pc.greater(finished, due), pc.greater(supplements, 1))
    early = pc.less(pc.add(finished, day), due)
    timeliness = pc.if_else(late, "late", pc.if_else(early, "early", "on_time"))
    fee = pc.less(draw(), 0.4)
    paid_online = pc.and_(fee, pc.less(draw(), 0.6))
    channel = pc.add(pick(3), 1).cast(pa.int16())
    online_level = pc.if_else(pc.less(pc.cast(procedure_n, pa.float64()), 100.0), "full", "partial")
    level = pc.if_else(pc.less(pc.cast(procedure_n, pa.float64()), 40.0), "city", "district")
    columns: dict[str, Any] = {
        "code": code,
        "procedure_code": procedure,
        "agency_code": agency,
        "unit_code": unit,
        "unit_structure": pa.array(["2021"] * rows),
        "channel": channel,
        "status": status,
        "language": pa.array(["vi"] * rows),
        "submitted_at": _ts(submitted),
        "received_at": _ts(received),
        "due_at": _ts(due),
        "appointment_at": _ts(due),
        "finished_at": _ts(_null_unless(finished_mask, finished)),
        "returned_at": _ts(_null_unless(finished_mask, pc.add(finished, hour))),
        "timeliness": _null_unless(finished_mask, timeliness),
        "on_time": _null_unless(finished_mask, pc.invert(late)),
        "supplement_count": supplements,
        "suspended_days": pa.array([0] * rows, pa.int32()),
        "fee_required": fee,
        "fee_paid_at": _ts(_null_unless(paid_online, pc.add(submitted, hour))),
        "fee_paid_online": paid_online,
        "result_by_post": pa.array([False] * rows),
        "updated_at": _ts(submitted),
        "procedure_level": level,
        "online_level": online_level,
        "suspended_at": _ts(_null_unless(suspended_mask, pc.add(received, day))),
        "components_reused": pick(3).cast(pa.int16()),
        # the login method and the facts other apps hold (1.4, 4.1, 4.2, 4.5, 4.6, 4.7); drawn after the
        # columns above, so that those stay as they were
        "submitted_auth": pc.if_else(
            pc.equal(channel, 2), pc.if_else(pc.less(draw(), 0.45), "eid", "password"), pa.scalar(None, pa.string())
        ),
        "portal_synced": pc.less(draw(), 0.9),
        "result_electronic": _null_unless(finished_mask, electronic := pc.less(draw(), 0.7)),
        "result_in_store": _null_unless(finished_mask, pc.and_(electronic, pc.less(draw(), 0.95))),
        "population_checked": pc.less(draw(), 0.5),
        "components_digitised": pc.less(draw(), 0.8),  # 4.2 (documents.desk)
    }
    return pa.table([pa.array(columns[f.name]).cast(f.type) for f in schema], schema=schema)


def write_month(root: Path, schema: pa.Schema, year: int, month: int, **kw: Any) -> int:
    folder = root / "dossiers" / f"year={year}" / f"month={month}"
    folder.mkdir(parents=True, exist_ok=True)
    table = month_table(schema, year=year, month=month, **kw)
    temp = folder / ".part-0.parquet.tmp"
    pq.write_table(table, temp, compression="zstd", row_group_size=122_880, coerce_timestamps="us")
    temp.replace(folder / "part-0.parquet")  # atomic, as the refresh's moves
    return table.num_rows


def _sums(table: pa.Table) -> dict[tuple[Any, ...], tuple[int, int]]:
    out: dict[tuple[Any, ...], tuple[int, int]] = {}
    for r in table.to_pylist():
        key = (r["k"], r["p"], r["grp"])
        n, ok = out.get(key, (0, 0))
        out[key] = (n + r["n"], ok + r["ok"])
    return out


def _timed(fn: Any, repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def _ms(times: list[float]) -> dict[str, float]:
    return {"min": round(min(times) * 1e3, 2), "median": round(statistics.median(times) * 1e3, 2),
            "max": round(max(times) * 1e3, 2), "runs": len(times)}  # fmt: skip


def _profile(args: argparse.Namespace, run: Any, missed: bool, what: str, fn: Any, repeat: int) -> dict[str, Any]:
    """py-spy of this process (wall clock) over ``repeat`` more calls of ``fn``, when ``--profile``
    says so (auto: when the timed calls missed the target); {} otherwise."""
    if args.profile == "never" or (args.profile == "auto" and not missed):
        return {}
    with run.self_profile(f"the bench process: {what} (in process, {repeat} calls)") as summary:
        for _ in range(repeat):
            fn()
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--agencies", type=int, default=300)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=str(ROOT / "var" / "bench" / "quality_warehouse"))
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy (wall clock) of a cold computation that missed its target (auto), of every one, or none",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hcmgov_bench_quality"),
    )
    args = parser.parse_args()

    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    os.environ["HCMGOV_WAREHOUSE_URL"] = str(root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
    # the index's figures the database holds (the catalogue's procedures, the certification book;
    # feedback is stubbed below) are read from a migrated, empty database of the bench's own
    sys.path.insert(0, str(BENCH))
    import run  # the shared harness of bench/run.py

    run.ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.core.cache import cache

    from hcmgov.reporting import plan_rollup, quality, quality_rollup
    from hcmgov.warehouse.tables import TABLES

    quality.feedback.feedback_figures_by_agency_month = lambda **_: []  # type: ignore[assignment]  # database, not warehouse

    schema = TABLES["dossiers"].schema
    months = [(2024 + (m // 12), m % 12 + 1) for m in range(args.months)]
    per_month = args.rows // len(months)
    t = time.perf_counter()
    written = sum(
        write_month(
            root, schema, y, m, rows=per_month, agencies=args.agencies, seed=i * 100, recent=i >= len(months) - 2
        )
        for i, (y, m) in enumerate(months)
    )
    generate_s = time.perf_counter() - t
    t = time.perf_counter()
    quality_rollup.rollup_write()  # as the worker after a refresh (warehouse.partitions_written)
    rollup_s = time.perf_counter() - t
    t = time.perf_counter()
    plan_rollup.rollup_write()  # the plan's figures, by the same event's other handler
    plan_rollup_s = time.perf_counter() - t
    size = sum(f.stat().st_size for f in root.rglob("*.parquet"))
    last_y, last_m = months[-1]
    as_of = dt.datetime(last_y, last_m, 28, 3, tzinfo=UTC)  # judged near the end of the last month
    result: dict[str, Any] = {
        "rows": written, "partitions": len(months), "agencies": args.agencies, "parquet_mib": round(size / 2**20, 1),
        "generate_s": round(generate_s, 2), "rollup_s": round(rollup_s, 2), "plan_rollup_s": round(plan_rollup_s, 2),
        "target_cold_s": TARGET_COLD_S,
        "target_cached_ms": TARGET_CACHED_MS,
    }  # fmt: skip

    con = quality.warehouse.warehouse_connect()
    for period in ("month", "quarter"):
        per_file, counts = _timed(
            lambda p=period: quality.dossier_counts(period=p, as_of=as_of, con=con, use_cache=False), args.repeat
        )
        files, counts_files = _timed(
            lambda p=period: quality.dossier_counts(
                period=p, as_of=as_of, con=con, use_cache=False, use_rollups=False
            ),
            args.repeat,
        )  # fmt: skip
        whole, counts_whole = _timed(
            lambda p=period: quality._partial(
                con, "dossiers", None, p, "agency", quality._as_of_local(as_of)
            ).drop_columns(["chunk"]),
            args.repeat,
        )  # fmt: skip
        assert _sums(counts) == _sums(counts_whole), "rollup and whole-table counts differ"
        assert _sums(counts_files) == _sums(counts_whole), "per-partition and whole-table counts differ"
        cache.clear()
        quality.dossier_counts(period=period, as_of=as_of, con=con)  # fill the partitions' cache
        index, table = _timed(lambda p=period: quality.service_index_table(period=p, as_of=as_of, con=con), args.repeat)
        cache.clear()
        quality.service_index_cached(period=period, as_of=as_of)
        cached, _ = _timed(lambda p=period: quality.service_index_cached(period=p, as_of=as_of), args.repeat * 4)
        cold_profile = _profile(
            args, run, _ms(per_file)["median"] > TARGET_COLD_S * 1e3, f"the {period}'s index counts, cold",
            lambda p=period: quality.dossier_counts(period=p, as_of=as_of, con=con, use_cache=False), args.repeat,
        )  # fmt: skip
        result[period] = {
            **({"cold_profile": cold_profile} if cold_profile else {}),
            "figures": table.num_rows,
            "cold_ms": _ms(per_file),
            "cold_files_ms": _ms(files),
            "cold_view_ms": _ms(whole),
            "index_counts_cached_ms": _ms(index),
            "cached_ms": _ms(cached),
        }
    # the plan dashboard's targets (reporting.targets): online dossiers and full-process procedures
    # on the national portal per month from the warehouse files, the rest from the database
    from hcmgov.reporting import selectors as reporting_selectors
    from hcmgov.reporting import targets

    plan_cold, reports = _timed(lambda: targets.plan_targets(con=con), args.repeat)
    cache.clear()
    reporting_selectors.plan_targets_cached()
    plan_cached, _ = _timed(reporting_selectors.plan_targets_cached, args.repeat * 4)
    plan_profile = _profile(
        args, run, _ms(plan_cold)["median"] > TARGET_COLD_S * 1e3, "the plan targets, cold",
        lambda: targets.plan_targets(con=con), args.repeat,
    )  # fmt: skip
    result["plan"] = {
        **({"cold_profile": plan_profile} if plan_profile else {}),
        "targets": len(reports),
        "from_warehouse": [r.target.key for r in reports if r.target.key in ("dossiers_online", "online_integrated")],
        "with_values": sum(1 for r in reports if r.values),
        "cold_ms": _ms(plan_cold),
        "cached_ms": _ms(plan_cached),
    }
    # incremental: the last month's partition rewritten (a refresh of changed dossiers), then the index
    quality.service_index_cached(period="month", as_of=as_of)  # every month's counts in the cache
    y, m = months[-1]
    write_month(root, schema, y, m, rows=per_month, agencies=args.agencies, seed=999_999, recent=True)
    t = time.perf_counter()
    quality.service_index_cached(period="month", as_of=as_of)
    result["incremental_one_partition_ms"] = round((time.perf_counter() - t) * 1e3, 2)
    t = time.perf_counter()
    quality_rollup.rollup_write(months=[(y, m)])
    result["incremental_rollup_ms"] = round((time.perf_counter() - t) * 1e3, 2)
    t = time.perf_counter()
    plan_rollup.rollup_write(months=[(y, m)])
    result["incremental_plan_rollup_ms"] = round((time.perf_counter() - t) * 1e3, 2)
    t = time.perf_counter()
    reporting_selectors.plan_targets_cached()  # a file changed: the targets are read again
    result["plan"]["after_change_ms"] = round((time.perf_counter() - t) * 1e3, 2)
    result["met_plan_cold"] = result["plan"]["cold_ms"]["median"] <= TARGET_COLD_S * 1e3
    result["met_plan_cached"] = result["plan"]["cached_ms"]["median"] <= TARGET_CACHED_MS
    result["met_cold"] = result["month"]["cold_ms"]["median"] <= TARGET_COLD_S * 1e3
    result["met_cached"] = result["month"]["cached_ms"]["median"] <= TARGET_CACHED_MS

    info: dict[str, Any] = {"date": dt.datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        info["machine"] = run.machine(args.database_url)
    except Exception as exc:
        info["machine"] = {"nproc": os.cpu_count(), "note": f"machine() failed: {exc}"}
    info["machine"]["loadavg"] = os.getloadavg()
    run.save("quality_index", result, info)
    print(result)


if __name__ == "__main__":
    main()
