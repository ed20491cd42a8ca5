"""The partitions' rollups of the plan's two monthly figures (``plan_rollup``) give the very figures
the files give, row for row and in the same order: over a few hundred dossiers drawn at random
(fixed seed) in four city months, with a partition written before the level and portal columns
existed. A partition rewritten since its rollup is counted from its file; a refresh's event rolls
partitions up."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hcmgov.reporting import plan_rollup, targets
from hcmgov.reporting.tests.test_quality_rollup import MONTHS, _month_rows
from hcmgov.warehouse import selectors as warehouse
from hcmgov.warehouse.tables import TABLES

OLD_COLUMNS = ("procedure_level", "online_level", "portal_synced")


@pytest.fixture
def files(settings, tmp_path) -> Path:
    root = tmp_path / "warehouse"
    settings.WAREHOUSE_URL = str(root)
    rng = random.Random(42)
    for i, (year, month) in enumerate(MONTHS):
        folder = root / "dossiers" / f"year={year}" / f"month={month}"
        folder.mkdir(parents=True)
        rows = _month_rows(year, month, rng, 150)
        for row in range(len(rows["code"])):  # more agencies and procedures than the 766 test draws
            rows["agency_code"][row] = f"A{rng.randrange(6)}"
            rows["procedure_code"][row] = f"1.00{rng.randrange(9)}"
            rows["procedure_level"][row] = rng.choice(["city", "district", "commune", None])
        table = pa.table(rows, schema=TABLES["dossiers"].schema)
        if i == 0:  # written before the columns existed
            table = table.drop_columns(list(OLD_COLUMNS))
        pq.write_table(table, folder / "part-0.parquet", row_group_size=40)
    return root


def _figures() -> tuple[list[dict], list[dict]]:
    """The two figures counted from the files alone (the table's view)."""
    con = warehouse.warehouse_connect()
    return warehouse.dossiers_online_by_month(con=con), warehouse.full_process_on_portal_by_month(con=con)


def _rolled() -> tuple[list[dict], list[dict]]:
    online = warehouse.dossiers_online_by_month(grain=plan_rollup.rolled_up("online"))
    portal = warehouse.full_process_on_portal_by_month(figures=plan_rollup.rolled_up("portal"))
    return online, portal


def test_the_rollups_give_the_figures_of_the_files(files):
    want = _figures()
    assert want[0]  # something to compare: every scope of both figures
    assert want[1]
    assert {r["scope"] for r in want[0]} == {"city", "agency", "level"}
    assert {r["scope"] for r in want[1]} == {"city", "agency"}
    assert {r["month"] for r in want[1]} == {"2025-12", "2026-01", "2026-02"}  # the old file knows no portal
    assert _rolled() == want  # nothing rolled up yet: every partition counted from its file
    assert plan_rollup.rollup_write() == 2 * len(MONTHS)
    assert sorted(p.name for p in files.glob("dossiers/year=2026/month=1/.plan-rollup-*.arrow")) == [
        ".plan-rollup-online.arrow", ".plan-rollup-portal.arrow",
    ]  # fmt: skip
    assert _rolled() == want


def test_the_plan_targets_read_the_rollups(files, monkeypatch):
    """Once rolled up, the targets' figures come from the rollups alone (no file is counted), and
    are the figures of the files."""
    want_online, want_portal = targets.dossiers_online(), targets.online_integrated()
    plan_rollup.rollup_write()

    def counted(*args, **kwargs):
        raise AssertionError("a partition counted from its file")

    monkeypatch.setattr(plan_rollup, "_count", counted)
    assert targets.dossiers_online() == want_online
    assert targets.online_integrated() == want_portal


def test_a_rewritten_partition_is_counted_from_its_file_until_rolled_up_again(files):
    plan_rollup.rollup_write()
    path = files / "dossiers" / "year=2026" / "month=1" / "part-0.parquet"
    pq.write_table(pq.read_table(path).slice(0, 10), path)  # a refresh rewrote it: 10 dossiers left
    os.utime(path, ns=(1, 1))  # another size and time: another signature
    want = _figures()
    assert _rolled() == want
    assert plan_rollup.rollup_write(months=[(2026, 1)]) == 2
    assert plan_rollup.rollup_write(months=[(2026, 1)]) == 0  # idempotent
    assert _rolled() == want


def test_a_rollup_of_other_sql_is_stale(files, monkeypatch):
    plan_rollup.rollup_write()
    monkeypatch.setattr(plan_rollup, "VERSION", "other-sql")
    assert plan_rollup.rollup_write() == 2 * len(MONTHS)


@pytest.mark.django_db
def test_a_refresh_announces_its_partitions_and_the_handler_rolls_them_up(files):
    from hcmgov.core.services import event_publish, outbox_deliver
    from hcmgov.warehouse.services import TOPIC_PARTITIONS_WRITTEN

    event_publish(topic=TOPIC_PARTITIONS_WRITTEN, key="dossiers:1",
                  payload={"table": "dossiers", "months": [[2025, 12]]})  # fmt: skip
    assert outbox_deliver() == 1
    assert sorted(p.name for p in files.glob("dossiers/*/*/.plan-rollup-*.arrow")) == [
        ".plan-rollup-online.arrow", ".plan-rollup-portal.arrow",
    ]  # fmt: skip
    assert (files / "dossiers" / "year=2025" / "month=12" / ".plan-rollup-online.arrow").exists()
