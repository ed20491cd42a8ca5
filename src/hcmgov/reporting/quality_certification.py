"""Indicator 4.3 of the service-quality index (Decision 766/QĐ-TTg): electronic certified copies.

Certifications of copies from originals are not dossiers: they are entries of each agency's
certification book (``documents.certification``), read through ``documents.selectors``. The
figure is, per agency (or the administrative unit of the agency) and city month certified,

    copies certified electronically from the original ÷ copies certified from the original

counting entries of the book (one entry: one certification, however many paper copies it made).
How sure we are: the indicator's name and points (2) are the third party's reconstruction of the
national workbook (DOMAIN.md); counting entries rather than copies is the platform's reading, as
an electronic certification makes one copy. Docs: ``docs/reporting/index-766-desk.md``.

The rows have the shape of the dossier counts (``quality.PARTS_SCHEMA``) and are summed with them;
like feedback they come from the database, so a cached index lags new entries by at most
``quality.FEEDBACK_LAG_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from hcmgov.documents import selectors as documents

KEY = "4.3"
SCHEMA = pa.schema(
    [
        ("k", pa.string()),
        ("p", pa.timestamp("us")),
        ("grp", pa.string()),
        ("n", pa.int64()),
        ("ok", pa.int64()),
    ]
)  # fmt: skip  (quality.PARTS_SCHEMA: the same columns, checked by a test)


def certification_parts(*, by: str = "agency") -> pa.Table:
    """4.3's counts per month certified and agency (``by="unit"``: the agency's unit code)."""
    rows: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for row in documents.certification_figures_by_agency_month():
        year, month = (int(x) for x in row["month"].split("-"))
        rows["k"].append(KEY)
        rows["p"].append(dt.datetime(year, month, 1))  # noqa: DTZ001 - a city month, as DuckDB's local times
        rows["grp"].append(row["agency_code"] if by == "agency" else row["unit_code"])
        rows["n"].append(row["total"])
        rows["ok"].append(row["electronic"])
    return pa.table(rows, schema=SCHEMA)
