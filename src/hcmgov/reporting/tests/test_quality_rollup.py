"""The partitions' rollups of the 766 index (``quality_rollup``) give the very counts the files
give: over a few hundred dossiers drawn at random (fixed seed) in four city months — finished in
the month received or months later, in progress, awaiting a supplement, withdrawn, with unknown
facts — by agency and by unit, by month and by quarter, judged at moments before, among and after
the dossiers' finishes. A stale rollup (its partition rewritten, or other rules) is not used."""

from __future__ import annotations

import datetime as dt
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hcmgov.reporting import quality, quality_rollup
from hcmgov.warehouse.tables import TABLES

UTC = dt.UTC
MONTHS = ((2025, 11), (2025, 12), (2026, 1), (2026, 2))
DAY = dt.timedelta(days=1)


def _month_rows(year: int, month: int, rng: random.Random, n: int) -> dict[str, list[Any]]:
    schema = TABLES["dossiers"].schema
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    # a city month, as the refresh files partitions (UTC+7)
    start = dt.datetime(year, month, 1, tzinfo=UTC) - dt.timedelta(hours=7)
    for i in range(n):
        submitted = start + dt.timedelta(minutes=rng.randrange(27 * 24 * 60))
        received = submitted + dt.timedelta(hours=1) if rng.random() < 0.9 else None
        due = (received or submitted) + 5 * DAY
        state = rng.random()
        finished = received + dt.timedelta(hours=rng.randrange(1, 70 * 24)) if received and state < 0.7 else None
        late = finished is not None and (finished > due or rng.random() < 0.1)
        suspended = received + DAY if received and finished is None and 0.7 <= state < 0.8 else None
        status = 10 if finished else (7 if state > 0.95 else (5 if suspended else (4 if received else 1)))
        fee = rng.random() < 0.5
        row = {
            "code": f"A-{year % 100:02d}{month:02d}01-{i:04d}",
            "procedure_code": f"1.00{rng.randrange(4)}",
            "agency_code": f"A{rng.randrange(3)}",
            "unit_code": rng.choice(["U1", "U2", None]),
            "unit_structure": "2025",
            "channel": rng.choice([1, 2, 3]),
            "status": status,
            "language": "vi",
            "submitted_at": submitted,
            "received_at": received,
            "due_at": due,
            "appointment_at": due,
            "finished_at": finished,
            "returned_at": None,
            "timeliness": ("late" if late else "on_time") if finished else None,
            "on_time": (not late) if finished else None,
            "supplement_count": rng.choice([0, 0, 1, 2]),
            "suspended_days": 0,
            "fee_required": fee,
            "fee_paid_at": None,
            "fee_paid_online": fee and rng.random() < 0.5,
            "result_by_post": False,
            "updated_at": submitted,
            "procedure_level": "district",
            "online_level": rng.choice(["full", "partial"]),
            "suspended_at": suspended,
            "components_reused": rng.choice([0, 1, None]),
            "submitted_auth": rng.choice(["eid", "password", None]),
            "portal_synced": rng.choice([True, False, None]),
            "result_electronic": rng.choice([True, False, None]) if finished else None,
            "result_in_store": rng.choice([True, False, None]) if finished else None,
            "population_checked": rng.choice([True, False, None]),
            "components_digitised": rng.choice([True, False, None]),
        }
        for name in schema.names:
            columns[name].append(row[name])
    return columns


@pytest.fixture
def files(settings, tmp_path) -> Path:
    root = tmp_path / "warehouse"
    settings.WAREHOUSE_URL = str(root)
    rng = random.Random(766)
    for year, month in MONTHS:
        folder = root / "dossiers" / f"year={year}" / f"month={month}"
        folder.mkdir(parents=True)
        table = pa.table(_month_rows(year, month, rng, 150), schema=TABLES["dossiers"].schema)
        pq.write_table(table, folder / "part-0.parquet", row_group_size=40)
    return root


def _sums(table: pa.Table) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for r in table.to_pylist():
        out[(r["k"], r["p"], r["grp"], "n")] += r["n"]
        out[(r["k"], r["p"], r["grp"], "ok")] += r["ok"]
    return +out  # zero counts dropped: a rule's row with nothing counted is no figure either way


MOMENTS = [dt.datetime(2025, 12, 20, 3, tzinfo=UTC), dt.datetime(2026, 2, 10, tzinfo=UTC),
           dt.datetime(2026, 6, 1, tzinfo=UTC)]  # fmt: skip


@pytest.mark.parametrize("as_of", MOMENTS)
@pytest.mark.parametrize("period", ["month", "quarter"])
@pytest.mark.parametrize("by", ["agency", "unit"])
def test_the_rollups_give_the_counts_of_the_files(files, period, by, as_of):
    from_files = quality.dossier_counts(period=period, by=by, as_of=as_of, use_cache=False, use_rollups=False)
    assert quality_rollup.rollup_write() == 2 * len(MONTHS)  # by agency and by unit
    assert list(files.glob("dossiers/*/*/.q766-rollup-*.arrow"))
    from_rollups = quality.dossier_counts(period=period, by=by, as_of=as_of, use_cache=False)
    assert _sums(from_files)
    assert _sums(from_rollups) == _sums(from_files)
    keys = {k for k, *_ in _sums(from_files)}
    assert {"2.1", "3.3", "3.4", "4.1", "4.7"} <= keys


def test_the_crossed_dossiers_are_judged_at_the_moment_while_not_all_finished(files):
    """Judged before the last dossier finished, the crossed dossiers' months are counted from their
    rows; after, from the counts rolled up at each month's end: both as from the files."""
    quality_rollup.rollup_write()
    [path] = [p for p, _ in quality.warehouse.warehouse_partition_files(table="dossiers") if "month=2/" in p]
    table = quality_rollup._read(path, dict(quality.warehouse.warehouse_partition_files(table="dossiers"))[path],
                                 "agency")  # fmt: skip
    until = dt.datetime.fromisoformat(table.schema.metadata[b"crossed_until"].decode())
    for as_of in (until - DAY, until + DAY):
        moment = as_of.replace(tzinfo=dt.timezone(dt.timedelta(hours=7)))
        got = quality.dossier_counts(period="month", as_of=moment, use_cache=False)
        want = quality.dossier_counts(period="month", as_of=moment, use_cache=False, use_rollups=False)
        assert _sums(got) == _sums(want)


def test_a_rewritten_partition_is_counted_from_its_file_until_rolled_up_again(files):
    quality_rollup.rollup_write()
    path = files / "dossiers" / "year=2026" / "month=1" / "part-0.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 10), path)  # a refresh rewrote it: 10 dossiers left
    os.utime(path, ns=(1, 1))  # another size and time: another signature
    as_of = MOMENTS[-1]
    want = _sums(quality.dossier_counts(period="month", as_of=as_of, use_cache=False, use_rollups=False))
    assert _sums(quality.dossier_counts(period="month", as_of=as_of, use_cache=False)) == want
    assert quality_rollup.rollup_write(months=[(2026, 1)]) == 2
    assert quality_rollup.rollup_write(months=[(2026, 1)]) == 0  # idempotent
    assert _sums(quality.dossier_counts(period="month", as_of=as_of, use_cache=False)) == want


def test_a_rollup_of_other_rules_is_stale(files, monkeypatch):
    quality_rollup.rollup_write()
    monkeypatch.setattr(quality_rollup, "VERSION", "other-rules")
    found, stale = quality_rollup.rollups(
        quality._chunks(quality.warehouse.warehouse_partition_files(table="dossiers"), "month"),
        by="agency", period="month", as_of=dt.datetime(2026, 6, 1),
    )  # fmt: skip
    assert not found
    assert len(stale) == len(MONTHS)


@pytest.mark.django_db
def test_a_refresh_announces_its_partitions_and_the_handler_rolls_them_up(files):
    from hcmgov.core.services import event_publish, outbox_deliver
    from hcmgov.warehouse.services import TOPIC_PARTITIONS_WRITTEN

    event_publish(topic=TOPIC_PARTITIONS_WRITTEN, key="dossiers:1",
                  payload={"table": "dossiers", "months": [[2025, 12]]})  # fmt: skip
    assert outbox_deliver() == 1
    assert sorted(p.name for p in files.glob("dossiers/*/*/.q766-rollup-*.arrow")) == [
        ".q766-rollup-agency.arrow", ".q766-rollup-unit.arrow",
    ]  # fmt: skip
    assert (files / "dossiers" / "year=2025" / "month=12" / ".q766-rollup-agency.arrow").exists()
