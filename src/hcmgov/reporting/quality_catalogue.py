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
    can then make the national payment platform's bill for every fee of its dossiers — on the
    period's last day: an account taking payments from a later day (``Beneficiary.valid_from``) does
    not count for it (the docs, "The beneficiary account's in-force date").

The steps and who may apply (two of the parts 1.3 checks) are the national database's, kept on
the version in force by the catalogue's sync (``catalog.services.procedure_texts_apply``).

**Drill-down.** ``catalogue_procedures`` lists the procedures (for 1.1 and 1.2 the publication
decisions) behind one agency's figure, each with what it misses; it walks the same rules as the
counts (``_walk`` serves both), so the lists of one cell add up to its denominator.
"""

from __future__ import annotations

import calendar as cal
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.utils import timezone

from hcmgov.catalog import publicity
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


Emit = Callable[[str, dt.date, list[str], bool, str, str, tuple[str, ...]], None]


def _walk(*, period: str, as_of: dt.datetime | None, periods: set[dt.datetime] | None, emit: Emit) -> None:
    """Every item of 1.1, 1.2, 1.3 and 3.2 with its judgement: ``emit(indicator, day counted,
    agencies, meeting, procedure code, decision number, what it misses)``. One walk for the figure
    (``catalogue_counts``) and its drill-down (``catalogue_procedures``): the same rules."""
    today = timezone.localtime(as_of or timezone.now()).date()
    agencies = _Agencies()
    facts = catalog.procedure_publicity_facts()
    seen: set[dt.datetime] = set()
    for proc in facts:
        for pub in proc.publications:
            if pub.published_on_time is not None and pub.decision_date <= today:
                day = pub.decision_date
                late = () if pub.published_on_time else ("published_late",)
                codes = agencies.of(proc, day)
                emit("1.1", day, codes, pub.published_on_time, proc.code, pub.decision_number, late)
                if codes:  # the periods of a count: 1.3 and 3.2 are read for them too
                    seen.add(_start(day, period))
            if pub.updated_on_time is not None and pub.national_updated_on and pub.national_updated_on <= today:
                day = pub.national_updated_on
                late = () if pub.updated_on_time else ("updated_late",)
                codes = agencies.of(proc, day)
                emit("1.2", day, codes, pub.updated_on_time, proc.code, pub.decision_number, late)
                if codes:
                    seen.add(_start(day, period))
    for start in sorted(set(periods or ()) | seen):
        if start.date() > today:
            continue
        end = min(_end(start, period), today)
        with_beneficiary = payments.agency_codes_with_beneficiary(day=end)  # accounts in force by the period's end
        for proc in facts:
            version = proc.version_on(end)
            if version is None:
                continue
            codes = agencies.of(proc, end)
            posted = proc.posting_on(end)
            if posted is not None:
                missing = version.missing + (() if posted == version.id else ("desk_outdated",))
                emit("1.3", end, codes, not missing, proc.code, "", missing)
            if version.fee:
                for code in codes:
                    ok = code in with_beneficiary
                    emit("3.2", end, [code], ok, proc.code, "", () if ok else ("no_beneficiary",))


def catalogue_counts(
    *, period: str, by: str, as_of: dt.datetime | None = None, periods: set[dt.datetime] | None = None
) -> dict[tuple[str, dt.datetime, str], list[int]]:
    """(indicator, period start, agency code) → [counted, meeting] of 1.1, 1.2, 1.3 and 3.2; 1.3
    and 3.2 for ``periods`` (period starts) and the periods of the 1.1/1.2 counts. Empty by unit."""
    counts: dict[tuple[str, dt.datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    if by != "agency":
        return counts

    def add(key: str, day: dt.date, codes: list[str], ok: bool, *_item: Any) -> None:
        start = _start(day, period)
        for code in codes:
            cell = counts[(key, start, code)]
            cell[0] += 1
            cell[1] += int(ok)

    _walk(period=period, as_of=as_of, periods=periods, emit=add)
    return counts


# what a procedure (or a decision) misses, as the drill-down page says it: the parts of
# ``publicity.PARTS`` and the three judgements that are not parts → (Vietnamese, English)
MISSES: dict[str, tuple[str, str]] = {
    **{key: (f"thiếu «{vi}»", f"lacks “{en}”") for key, (vi, en) in publicity.PARTS.items()},
    "desk_outdated": ("bộ phận một cửa niêm yết phiên bản cũ", "the desks post an out-of-date version"),
    "published_late": ("công bố quá hạn", "published late"),
    "updated_late": ("cập nhật lên CSDL quốc gia quá hạn", "put on the national database late"),
    "no_beneficiary": ("cơ quan chưa khai báo tài khoản thụ hưởng", "the agency has no beneficiary account"),
}


@dataclass(frozen=True)
class CatalogueItem:
    """One procedure (for 1.1 and 1.2: one publication decision of it) behind a figure."""

    procedure_code: str
    decision_number: str
    misses: tuple[str, ...]  # keys of ``MISSES``; empty when it meets the indicator

    @property
    def misses_text(self) -> list[tuple[str, str]]:
        return [MISSES[k] for k in self.misses]


def catalogue_procedures(
    *, indicator: str, key: str, period_start: dt.date, period: str = "month", as_of: dt.datetime | None = None,
    meeting: bool = False,
) -> list[CatalogueItem]:  # fmt: skip
    """The procedures behind one agency's figure of 1.1, 1.2, 1.3 or 3.2 in one period
    (``period_start``: its first day): by default those that miss it, ``meeting=True`` those that
    meet it — the two lists together are the figure's denominator (1.1 and 1.2 count publication
    decisions: an item is a procedure and its decision number). By the procedure, then decision."""
    if indicator not in KEYS or period not in STEP:
        raise ValueError(f"no procedure drill-down for indicator {indicator!r}")
    start = _start(period_start, period)
    found: list[CatalogueItem] = []

    def pick(
        k: str, day: dt.date, codes: list[str], ok: bool, code: str, decision: str, misses: tuple[str, ...]
    ) -> None:
        if k == indicator and ok == meeting and key in codes and _start(day, period) == start:
            found.append(CatalogueItem(code, decision, misses))

    _walk(period=period, as_of=as_of, periods={start}, emit=pick)
    return sorted(found, key=lambda i: (i.procedure_code, i.decision_number))


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
