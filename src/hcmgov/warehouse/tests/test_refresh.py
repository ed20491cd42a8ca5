"""The extract: what is in the files is what is in the database, a refresh rewrites only the
partitions that changed, and a refresh that fails leaves the previous files as they were."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hcmgov.dossiers.models import Dossier, DossierEvent, DossierStep
from hcmgov.dossiers.services import dossier_receive
from hcmgov.warehouse import services
from hcmgov.warehouse.models import WarehouseRun, WarehouseTable
from hcmgov.warehouse.tables import PERSONAL, TABLES
from hcmgov.warehouse.tests.conftest import UTC, partition, read

pytestmark = pytest.mark.django_db

OCT = dt.datetime(2026, 10, 14, 3, 0, tzinfo=UTC)
NOV = dt.datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
# 31 Aug 2026, 20:00 UTC is 1 Sep 2026, 03:00 in Hồ Chí Minh City: filed under September
AUG_END_UTC = dt.datetime(2026, 8, 31, 20, 0, tzinfo=UTC)


def test_the_files_hold_the_database_rows_hive_partitioned_by_city_month(warehouse, submit_at):
    for n, when in enumerate((OCT, OCT + dt.timedelta(days=1), OCT + dt.timedelta(days=2), NOV, AUG_END_UTC)):
        submit_at(when, idempotency_key=f"k{n}")
    [report, *_] = services.warehouse_refresh(tables=["dossiers", "dossier_steps", "dossier_events"])
    assert (report.status, report.partitions, report.rows) == ("ok", 3, 5)
    assert sorted(p.relative_to(warehouse).as_posix() for p in warehouse.glob("dossiers/**/*.parquet")) == [
        "dossiers/year=2026/month=10/part-0.parquet",
        "dossiers/year=2026/month=11/part-0.parquet",
        "dossiers/year=2026/month=9/part-0.parquet",
    ]
    october = pq.ParquetFile(partition(warehouse, "dossiers", 2026, 10))
    assert october.metadata.num_rows == 3
    assert october.metadata.num_row_groups == 2  # written in batches (WAREHOUSE_BATCH_ROWS = 2)
    assert october.metadata.row_group(0).column(0).compression == "ZSTD"
    assert october.schema_arrow == TABLES["dossiers"].schema  # the declared schema, exactly

    expected = {
        d.code: {
            "procedure_code": d.procedure.code, "agency_code": d.agency.code, "status": d.status,
            "channel": d.channel, "submitted_at": d.submitted_at, "due_at": d.due_at, "received_at": d.received_at,
            "finished_at": d.finished_at, "on_time": None, "fee_required": d.fee_required, "updated_at": d.updated_at,
        }
        for d in Dossier.objects.select_related("procedure", "agency")
    }  # fmt: skip
    got = {row["code"]: {k: row[k] for k in expected[row["code"]]} for row in read(warehouse, "dossiers")}
    assert got == expected
    steps = read(warehouse, "dossier_steps")
    assert sorted((s["dossier_code"], s["step_key"], s["state"]) for s in steps) == sorted(
        DossierStep.objects.values_list("dossier__code", "key", "state")
    )
    events = read(warehouse, "dossier_events")
    assert sorted((e["dossier_code"], e["at"], e["status_to"]) for e in events) == sorted(
        DossierEvent.objects.values_list("dossier__code", "at", "status_to")
    )
    table = WarehouseTable.objects.get(name="dossiers")
    assert (table.files, table.rows, table.last_error) == (3, 5, "")


def test_a_second_refresh_rewrites_only_the_partition_that_changed(warehouse, submit_at, receiver, agency):
    october = submit_at(OCT, idempotency_key="oct")
    submit_at(NOV, idempotency_key="nov")
    services.warehouse_refresh()
    files = {m: partition(warehouse, "dossiers", 2026, m) for m in (10, 11)}
    before = {m: (os.stat(f).st_ino, os.stat(f).st_mtime_ns, f.read_bytes()) for m, f in files.items()}
    assert WarehouseTable.objects.get(name="dossiers").watermark is not None

    dossier_receive(dossier=october, official=receiver)  # a real change, now: status 1 → 2
    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert (report.partitions, report.months, report.rows) == (1, ["2026-10"], 1)
    november = files[11]
    assert (os.stat(november).st_ino, os.stat(november).st_mtime_ns, november.read_bytes()) == before[11]
    assert files[10].read_bytes() != before[10][2]
    [row] = pq.read_table(files[10]).to_pylist()
    assert (row["code"], row["status"], row["received_at"]) == (
        october.code,
        2,
        Dossier.objects.get(pk=october.pk).received_at,
    )
    # nothing changed since: nothing rewritten
    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert (report.status, report.partitions) == ("ok", 0)
    assert [r.partitions for r in WarehouseRun.objects.filter(table="dossiers").order_by("started_at", "id")] == [
        2,
        1,
        0,
    ]


def test_a_failed_refresh_leaves_the_previous_files_and_records_the_error(warehouse, submit_at, submit):
    august = submit_at(dt.datetime(2026, 8, 10, 3, 0, tzinfo=UTC), idempotency_key="aug")
    submit_at(OCT, idempotency_key="oct")
    services.warehouse_refresh(tables=["dossiers"])
    aug_file = partition(warehouse, "dossiers", 2026, 8)
    before = aug_file.read_bytes()
    watermark = WarehouseTable.objects.get(name="dossiers").watermark

    # August changes, and a September dossier arrives; September's folder cannot be made (a file is
    # in its way): August is written first, then September fails
    Dossier.objects.filter(pk=august.pk).update(status=4, updated_at=dt.datetime.now(UTC))
    submit(now=dt.datetime(2026, 9, 10, 3, 0, tzinfo=UTC), idempotency_key="sep")  # recorded now, filed in September
    (warehouse / "dossiers" / "year=2026").mkdir(exist_ok=True)
    (warehouse / "dossiers" / "year=2026" / "month=9").write_text("in the way")
    with pytest.raises(CommandError, match="1 table"):
        call_command("warehouse", "refresh", "--table", "dossiers")

    assert aug_file.read_bytes() == before  # the old August, whole and readable
    assert pq.read_table(aug_file).to_pylist()[0]["status"] == 1
    assert not list(warehouse.rglob("*.tmp"))  # the August written under a temporary name is gone
    table = WarehouseTable.objects.get(name="dossiers")
    assert table.watermark == watermark  # the next refresh reads the same changes again
    assert table.running_since is None
    assert table.last_error
    run = WarehouseRun.objects.filter(table="dossiers").first()
    assert run is not None
    assert (run.status, run.partitions) == ("failed", 0)
    assert run.error

    (warehouse / "dossiers" / "year=2026" / "month=9").unlink()
    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert (report.status, sorted(report.months)) == ("ok", ["2026-08", "2026-09"])
    assert pq.read_table(aug_file).to_pylist()[0]["status"] == 4
    assert WarehouseTable.objects.get(name="dossiers").last_error == ""


def test_a_full_refresh_removes_partitions_the_database_no_longer_holds(warehouse, submit_at):
    submit_at(OCT, idempotency_key="oct")
    stray = partition(warehouse, "dossiers", 2020, 1)
    services.warehouse_refresh(tables=["dossiers"])
    stray.parent.mkdir(parents=True)
    stray.write_bytes(partition(warehouse, "dossiers", 2026, 10).read_bytes())
    services.warehouse_refresh(tables=["dossiers"])  # incremental: does not look at other months
    assert stray.exists()
    [report] = services.warehouse_refresh(tables=["dossiers"], full=True)
    assert not stray.exists()
    assert (report.files, report.total_rows) == (1, 1)


def test_no_schema_has_a_personal_column_and_no_file_a_personal_value(warehouse, submit_at, citizen):
    for table in TABLES.values():
        names = set(table.schema.names)
        assert not names & PERSONAL, table.name
        assert not [n for n in names if any(w in n for w in ("name", "personal", "address", "phone", "email"))]
    submit_at(OCT, idempotency_key="oct")
    services.warehouse_refresh()
    values = {str(v) for table in TABLES for row in read(warehouse, table) for v in row.values()}
    assert citizen.full_name not in values
    assert not [v for v in values if "079123456789" in v or "Nguyễn Văn An" in v]  # what the form held
    assert Dossier.objects.get().applicant_name not in values


def test_refresh_prints_its_progress_and_status_its_books(warehouse, submit_at, capsys):
    submit_at(OCT, idempotency_key="oct")
    submit_at(NOV, idempotency_key="nov")
    call_command("warehouse", "refresh", "--table", "dossiers", "--table", "dossier_events")
    out = capsys.readouterr().out
    assert "dossiers 2026-10: 1 dòng / rows (1/2)" in out
    assert "dossiers 2026-11: 1 dòng / rows (2/2)" in out
    assert "dossiers: 2 phân vùng / partitions, 2 dòng / rows" in out
    assert "dossier_events: 2 phân vùng / partitions" in out
    call_command("warehouse", "status")
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["table", "watermark", "files", "rows"]
    [line] = [x for x in out.splitlines() if x.startswith("dossiers ")]
    assert "ok" in line
    assert [x for x in out.splitlines() if x.startswith("payments ")]  # never refreshed: listed all the same


def test_the_scheduled_task_refreshes_every_table(warehouse, submit_at, settings):
    from hcmgov.warehouse.tasks import refresh

    assert settings.CELERY_BEAT_SCHEDULE["warehouse-refresh"]["task"] == "warehouse.refresh"
    submit_at(OCT, idempotency_key="oct")
    assert refresh() == 0
    assert set(WarehouseTable.objects.values_list("name", flat=True)) == set(TABLES)
    assert partition(warehouse, "dossiers", 2026, 10).exists()


def test_a_table_being_refreshed_elsewhere_is_skipped_until_its_hold_goes_stale(warehouse, submit_at):
    submit_at(OCT, idempotency_key="oct")
    now = dt.datetime.now(UTC)
    WarehouseTable.objects.create(name="dossiers", running_since=now - dt.timedelta(minutes=5))
    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert report.status == "skipped"
    assert not partition(warehouse, "dossiers", 2026, 10).exists()
    WarehouseTable.objects.filter(name="dossiers").update(running_since=now - services.STALE_LOCK)
    [report] = services.warehouse_refresh(tables=["dossiers"])
    assert report.status == "ok"
    assert WarehouseTable.objects.get(name="dossiers").running_since is None
