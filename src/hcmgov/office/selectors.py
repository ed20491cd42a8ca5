"""Reads of the electronic office: the register check (duplicate and missing numbers), signatures
on superseded drafts, overdue dispatches, and the figures of the plan's dashboard."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import ExtractMonth
from django.utils import timezone

from hcmgov.office.dispatches import ACKNOWLEDGE_WITHIN
from hcmgov.office.models import (
    Dispatch,
    DispatchState,
    DraftVersion,
    IncomingDocument,
    OutgoingDocument,
    RecordMember,
    RecordState,
    Register,
    Signature,
    WorkRecord,
)


@dataclass(frozen=True)
class RegisterCheck:
    """What the check of one register found: numbers held by more than one document (with the
    documents' number-symbols), and numbers missing between 1 and the highest."""

    register: Register
    duplicates: dict[int, list[str]] = field(default_factory=dict)
    gaps: list[int] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.duplicates and not self.gaps


def register_check(*, register: Register) -> RegisterCheck:
    """Check a register's numbers, the platform's and those brought from outside alike: every
    number from 01 to the highest once, no more (Decree 30/2020, Art. 15(1): consecutive in the
    year; Art. 22(2) for arrival numbers)."""
    rows: list[tuple[int, str]]
    if register.direction == "out":
        numbered = (
            OutgoingDocument.objects.filter(register=register, number__isnull=False)
            .order_by("number", "id")
            .values_list("number", "number_symbol")
        )
        rows = [(number, symbol) for number, symbol in numbered if number is not None]
    else:
        rows = list(
            IncomingDocument.objects.filter(register=register)
            .order_by("arrival_number", "id")
            .values_list("arrival_number", "number_symbol")
        )
    counts = Counter(number for number, _ in rows)
    duplicates: dict[int, list[str]] = defaultdict(list)
    for number, symbol in rows:
        if counts[number] > 1:
            duplicates[number].append(symbol)
    highest = max(counts, default=0)
    gaps = [n for n in range(1, highest + 1) if n not in counts]
    return RegisterCheck(register=register, duplicates=dict(duplicates), gaps=gaps)


def registers_check(*, agency_id: int | None = None, year: int | None = None) -> list[RegisterCheck]:
    """The check of every register (of an agency, of a year), only those with findings."""
    registers = Register.objects.select_related("agency").order_by("agency_id", "year", "direction", "confidential")
    if agency_id is not None:
        registers = registers.filter(agency_id=agency_id)
    if year is not None:
        registers = registers.filter(year=year)
    return [check for check in (register_check(register=r) for r in registers) if not check.clean]


def signatures_superseded(*, agency_id: int | None = None) -> list[Signature]:
    """Signatures on a draft version that a newer version of the same document superseded: the
    signed text is not the latest draft (shown so that the signer signs again)."""
    newer = DraftVersion.objects.filter(document_id=OuterRef("document_id"), version__gt=OuterRef("version__version"))
    qs = Signature.objects.filter(Exists(newer)).select_related("document", "version")
    if agency_id is not None:
        qs = qs.filter(document__agency_id=agency_id)
    return list(qs.order_by("signed_at", "id"))


def dispatches_overdue(
    *, now: dt.datetime | None = None, within: dt.timedelta = ACKNOWLEDGE_WITHIN, sender_id: int | None = None
) -> list[Dispatch]:
    """Dispatches sent more than ``within`` ago that the recipient has not acknowledged."""
    now = now or timezone.now()
    qs = Dispatch.objects.filter(state=DispatchState.SENT, sent_at__lt=now - within).select_related(
        "document", "recipient"
    )
    if sender_id is not None:
        qs = qs.filter(document__agency_id=sender_id)
    return list(qs.order_by("sent_at", "id"))


def dispatches_of(*, document: OutgoingDocument) -> list[Dispatch]:
    return list(document.dispatches.select_related("recipient").order_by("recipient__code"))


def records_late(*, agency_id: int, today: dt.date | None = None) -> list[WorkRecord]:
    """The agency's records not closed whose deadline has passed, oldest deadline first."""
    today = today or timezone.localdate()
    return list(
        WorkRecord.objects.filter(
            agency_id=agency_id, state__in=[RecordState.OPEN, RecordState.IN_PROGRESS], deadline__lt=today
        )
        .select_related("lead")
        .order_by("deadline", "id")
    )


def record_members_late(*, agency_id: int, today: dt.date | None = None) -> list[RecordMember]:
    """Collaborators' parts not done by their deadline, on records still being handled."""
    today = today or timezone.localdate()
    return list(
        RecordMember.objects.filter(
            record__agency_id=agency_id,
            record__state__in=[RecordState.OPEN, RecordState.IN_PROGRESS],
            done_at__isnull=True,
            deadline__lt=today,
        )
        .select_related("record", "official")
        .order_by("deadline", "id")
    )


# --- figures of the plan's dashboard ----------------------------------------------------------------


def _online() -> Q:
    """A record handled online: it holds at least one document, every document of it electronic
    and handled on the platform (drafted and issued here, or received through the exchange), and
    no document kept on paper only."""
    paper_out = OutgoingDocument.objects.filter(record_id=OuterRef("pk")).filter(
        Q(electronic=False) | Q(origin="imported")
    )
    paper_in = IncomingDocument.objects.filter(record_id=OuterRef("pk")).filter(
        Q(electronic=False) | Q(dispatch__isnull=True)
    )
    any_out = OutgoingDocument.objects.filter(record_id=OuterRef("pk"))
    any_in = IncomingDocument.objects.filter(record_id=OuterRef("pk"))
    return Q(paper_items=0) & ~Q(Exists(paper_out)) & ~Q(Exists(paper_in)) & (Q(Exists(any_out)) | Q(Exists(any_in)))


def record_online(*, record: WorkRecord) -> bool:
    return WorkRecord.objects.filter(pk=record.pk).filter(_online()).exists()


def records_online_by_level(*, year: int, closed_only: bool = True) -> dict[str, dict[str, int]]:
    """Work records of ``year`` per level of their agency (core's levels: city, district — Thủ Đức
    included —, commune): how many, how many handled online, and the share in per cent. The plan's
    targets are 90% (city), 80% (district), 60% (commune). ``closed_only``: records closed or
    archived, those whose handling is over."""
    qs = WorkRecord.objects.filter(year=year)
    if closed_only:
        qs = qs.filter(state__in=[RecordState.CLOSED, RecordState.ARCHIVED])
    rows = qs.values(level=F("agency__level")).annotate(total=Count("id"), online=Count("id", filter=_online()))
    figures: dict[str, dict[str, int]] = {}
    for row in rows:
        total, online = row["total"], row["online"]
        figures[row["level"]] = {
            "total": total,
            "online": online,
            "percent": round(100 * online / total) if total else 0,
        }
    return figures


def documents_exchanged_by_month(*, year: int) -> dict[int, int]:
    """Documents sent electronically to other agencies, per month of ``year`` (local time): one
    per dispatch that the recipient received (received, processed; a returned one still went)."""
    start = dt.datetime(year, 1, 1, tzinfo=timezone.get_current_timezone())
    end = dt.datetime(year + 1, 1, 1, tzinfo=timezone.get_current_timezone())
    rows = (
        Dispatch.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .exclude(state=DispatchState.SENT)
        .annotate(month=ExtractMonth("sent_at"))
        .values("month")
        .annotate(n=Count("id"))
    )
    return {row["month"]: row["n"] for row in rows}
