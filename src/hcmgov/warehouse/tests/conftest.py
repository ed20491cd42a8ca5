"""Fixtures of the warehouse's tests: a warehouse folder of the test's own, and dossiers filed in
chosen months (submitted through the dossiers app's service, at a travelled-to time, so that every
timestamp the service writes is that moment's)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import time_machine

UTC = dt.UTC


@pytest.fixture
def warehouse(settings, tmp_path) -> Path:
    root = tmp_path / "warehouse"
    settings.WAREHOUSE_URL = str(root)
    settings.WAREHOUSE_BATCH_ROWS = 2  # several row groups per file even with a handful of rows
    settings.WAREHOUSE_OVERLAP_SECONDS = 0
    return root


@pytest.fixture
def submit_at(submit):
    """Submit a dossier as if at ``when`` (UTC); returns the dossier."""

    def _submit_at(when: dt.datetime, **overrides: Any):
        with time_machine.travel(when, tick=False):
            dossier, _created = submit(now=when, **overrides)
        return dossier

    return _submit_at


def partition(root: Path, table: str, year: int, month: int) -> Path:
    return root / table / f"year={year}" / f"month={month}" / "part-0.parquet"


def read(root: Path, table: str) -> list[dict[str, Any]]:
    """Every row of a table's files, read with pyarrow alone (as another engine would)."""
    files = sorted((root / table).glob("year=*/month=*/*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def hide_fact_selectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warehouse as it is before any app gives it its facts: every ``DOSSIER_FACTS`` selector
    removed for the test and ``submitted_auth`` out of the dossiers app's extract — for datasets
    computed by hand without those facts (their columns are extracted as NULL: unknown)."""
    from hcmgov.dossiers import selectors as dossiers
    from hcmgov.warehouse.tables import DOSSIER_FACTS

    for facts in DOSSIER_FACTS:
        for name in (facts.values, facts.changed):
            if hasattr(facts.app, name):
                monkeypatch.delattr(facts.app, name)
    columns = tuple(c for c in dossiers.WAREHOUSE_DOSSIER_COLUMNS if c != "submitted_auth")
    monkeypatch.setattr(dossiers, "WAREHOUSE_DOSSIER_COLUMNS", columns)
