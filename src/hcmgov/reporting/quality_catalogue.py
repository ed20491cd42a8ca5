"""The procedure-level indicators of the service-quality index (Decision 766/QĐ-TTg): 1.1
procedures published on time, 1.2 updated on the national database on time, 1.3 every part of a
procedure published, 3.2 fee procedures integrated for online payment. ``quality`` adds their
counts to the dossier-based ones; the rules of publicity are ``catalog.publicity``'s.
Docs: ``docs/reporting/index-766-publicity.md``.

**By agency.** A procedure belongs to every agency in force that carries it out: the agencies of
its kind (``Procedure.agency_kind``, and ``agency_department`` when set) — a commune procedure is
counted for every commune People's Committee, as each answers for the procedures it settles. By
administrative unit the four are not applicable (``UNIT_PROCEDURES``): procedures are published
for the agencies that carry them out.

**By period** (city months or quarters):

* 1.1 — a publication decision counts in the period of its date (signed), on time when signed
  within ``catalog.publicity.publication_deadline`` of the ministry's decision; a decision whose
  ministry's date is unknown is left out.
* 1.2 — a decision counts in the period the procedure was put on the national database, on time
  within ``national_update_deadline`` of the decision; one not put there yet is left out (counted
  when it is, late if late).
* 1.3 and 3.2 — a state: read at the period's last day (today for the current period), for each
  period the index already has figures for or a 1.1/1.2 count (no period before the platform's
  data, none invented ahead).

  - 1.3: over the procedures whose posting at the one-stop desks is recorded (otherwise the
    desk's state is unknown and the procedure is left out: no number while nothing is known), the
    version in force holds every part (``publicity.PARTS``: the portal's procedure page shows the
    version in force) and the desks show that same version (its latest posting).
  - 3.2: over the fee procedures (a positive fee in the version in force), integrated when the
    agency has a beneficiary account on record (``payments.selectors_catalogue``): the platform
    can then make the national payment platform's bill for every fee of its dossiers. The
    beneficiary records carry no date, so a past period reads today's state.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt
from collections import defaultdict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.core import selectors as core
from hcmgov.payments import selectors_catalogue as payments

KEYS = ("1.1", "1.2", "1.3", "3.2")
UNIT_PROCEDURES = (
    "procedures are published for the agencies that carry them out, not by administrative unit",
    "TTHC được công bố theo cơ quan thực hiện, không theo đơn vị hành chính",
)
PARTS_SCHEMA = pa.schema([
    ("k", pa.string()), ("p", pa.timestamp("us")), ("grp", pa.string()), ("n", pa.int64()), ("ok", pa.int64()),
])  # fmt: skip  # quality.PARTS_SCHEMA (not imported: quality imports this module)
STEP = {"month": 1, "quarter": 3}


def _start(day: dt.date, period: str) -> dt.datetime:
    month = day.month if period == "month" else (day.month - 1) // 3 * 3 + 1
    return dt.datetime(day.year, month, 1)  # noqa: DTZ001 - a city period, as DuckDB's local times


def _end(start: dt.datetime, period: str) -> dt.date:
    month = start.month + STEP[period] - 1
    return dt.date(start.year, month, cal.monthrange(start.year, month)[1])


class _Agencies:
    """The agencies by kind, with their department and validity: who carries out a procedure on a day."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[tuple[str, str, dt.date, dt.date | None]]] = defaultdict(list)
        rows = core.agency_list().values_list("code", "kind", "department", "valid_from", "valid_to")
        for code, kind, department, valid_from, valid_to in rows:
            self.by_kind[kind].append((code, department, valid_from, valid_to))

    def of(self, facts: catalog.ProcedureFacts, day: dt.date) -> list[str]:
        return [
            code
            for code, department, valid_from, valid_to in self.by_kind.get(facts.agency_kind, ())
            if (not facts.agency_department or department == facts.agency_department)
            and valid_from <= day
            and (valid_to is None or valid_to >= day)
        ]


def catalogue_counts(
    *, period: str, by: str, as_of: dt.datetime | None = None, periods: set[dt.datetime] | None = None
) -> dict[tuple[str, dt.datetime, str], list[int]]:
    """(indicator, period start, agency code) → [counted, meeting] of 1.1, 1.2, 1.3 and 3.2; 1.3
    and 3.2 for ``periods`` (period starts) and the periods of the 1.1/1.2 counts. Empty by unit."""
    counts: dict[tuple[str, dt.datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    if by != "agency":
        return counts
    today = timezone.localtime(as_of or timezone.now()).date()
    agencies = _Agencies()
    facts = catalog.procedure_publicity_facts()

    def add(key: str, day: dt.date, codes: list[str], ok: bool) -> None:
        for code in codes:
            cell = counts[(key, _start(day, period), code)]
            cell[0] += 1
            cell[1] += int(ok)

    for proc in facts:
        for pub in proc.publications:
            if pub.published_on_time is not None and pub.decision_date <= today:
                add("1.1", pub.decision_date, agencies.of(proc, pub.decision_date), pub.published_on_time)
            if pub.updated_on_time is not None and pub.national_updated_on and pub.national_updated_on <= today:
                day = pub.national_updated_on
                add("1.2", day, agencies.of(proc, day), pub.updated_on_time)
    states = set(periods or ()) | {k[1] for k in counts}
    with_beneficiary = payments.agency_codes_with_beneficiary()
    for start in sorted(states):
        if start.date() > today:
            continue
        end = min(_end(start, period), today)
        for proc in facts:
            version = proc.version_on(end)
            if version is None:
                continue
            codes = agencies.of(proc, end)
            posted = proc.posting_on(end)
            if posted is not None:
                add("1.3", end, codes, version.complete and posted == version.id)
            if version.fee:
                for code in codes:
                    add("3.2", end, [code], code in with_beneficiary)
    return counts


def catalogue_parts(
    *, period: str, by: str, as_of: dt.datetime | None = None, seen: pa.Table | None = None
) -> pa.Table:
    """``catalogue_counts`` as rows of ``quality``'s parts (indicator ``k``, period start ``p``,
    agency ``grp``, counted ``n``, meeting ``ok``); ``seen``: the other parts, whose periods 1.3 and
    3.2 are read for."""
    periods: set[dt.datetime] = set()
    if seen is not None and seen.num_rows:
        for p in pc.unique(seen.column("p")).to_pylist():
            if p is not None:
                periods.add(_start(p.date(), period))
    counts = catalogue_counts(period=period, by=by, as_of=as_of, periods=periods)
    rows: dict[str, list[Any]] = {name: [] for name in PARTS_SCHEMA.names}
    for (k, p, grp), (n, ok) in sorted(counts.items()):
        for name, value in zip(PARTS_SCHEMA.names, (k, p, grp, n, ok), strict=True):
            rows[name].append(value)
    return pa.table(rows, schema=PARTS_SCHEMA)
