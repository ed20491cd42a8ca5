"""Reads of the electronic office: the register check (duplicate and missing numbers), signatures
on superseded drafts, overdue dispatches, and the figures of the plan's dashboard."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
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
    Review,
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


# --- what the back-office pages read (views.py, views_records.py) -----------------------------------

DOCUMENT_STATES_EN = {
    "draft": "Draft",
    "in_review": "In review",
    "returned": "Returned",
    "approved": "Approved",
    "signed": "Signed",
    "issued": "Issued",
}
DISPATCH_STATES_EN = {"sent": "Sent", "received": "Received", "processed": "Processed", "returned": "Returned"}
RECORD_STATES_EN = {"open": "Open", "in_progress": "In progress", "closed": "Closed", "archived": "Archived"}


def outgoing_list(
    *, agency_ids: list[int], state: str = "", year: int | None = None, confidential: bool | None = None
) -> QuerySet[OutgoingDocument]:
    """The agencies' outgoing documents, newest first: drafts by their creation, issued ones by
    their year of issue (the register's year, Decree 30/2020, Art. 15(1))."""
    qs = OutgoingDocument.objects.filter(agency_id__in=agency_ids).select_related("agency", "drafted_by")
    if state:
        qs = qs.filter(state=state)
    if year is not None:
        qs = qs.filter(Q(register__year=year) | Q(register__isnull=True, created_at__year=year))
    if confidential is not None:
        qs = qs.exclude(confidentiality="normal") if confidential else qs.filter(confidentiality="normal")
    return qs.order_by("-created_at", "-id")


def incoming_list(
    *, agency_ids: list[int], year: int | None = None, confidential: bool | None = None
) -> QuerySet[IncomingDocument]:
    """The agencies' incoming register: newest arrival first."""
    qs = IncomingDocument.objects.filter(agency_id__in=agency_ids).select_related("agency", "register", "dispatch")
    if year is not None:
        qs = qs.filter(register__year=year)
    if confidential is not None:
        qs = qs.filter(register__confidential=confidential)
    return qs.order_by("-registered_at", "-id")


def dispatches_waiting(*, agency_ids: list[int]) -> list[Dispatch]:
    """Documents other agencies sent to these agencies that are not registered as incoming yet."""
    return list(
        Dispatch.objects.filter(recipient_id__in=agency_ids, incoming__isnull=True)
        .exclude(state=DispatchState.RETURNED)
        .select_related("document__agency", "recipient")
        .order_by("sent_at", "id")[:200]
    )


def dispatch_to(*, agency_ids: list[int], dispatch_id: int) -> Dispatch | None:
    """A dispatch addressed to one of the agencies (None: not theirs, or no such)."""
    return (
        Dispatch.objects.filter(pk=dispatch_id, recipient_id__in=agency_ids)
        .select_related("document__agency", "recipient")
        .first()
    )


def outgoing_get(*, agency_ids: list[int], pk: int) -> OutgoingDocument | None:
    """One outgoing document of the agencies (None for another agency's: its existence is not told)."""
    return OutgoingDocument.objects.filter(pk=pk, agency_id__in=agency_ids).select_related("agency", "record").first()


def document_versions(*, document: OutgoingDocument) -> list[DraftVersion]:
    return list(document.versions.select_related("created_by").order_by("version"))


def document_reviews(*, document: OutgoingDocument) -> list[Review]:
    return list(document.reviews.select_related("reviewer", "version").order_by("at", "id"))


def document_signatures(*, document: OutgoingDocument) -> list[Signature]:
    return list(document.signatures.select_related("signer", "version").order_by("signed_at", "id"))


def records_list(*, agency_ids: list[int], state: str = "", year: int | None = None) -> QuerySet[WorkRecord]:
    qs = WorkRecord.objects.filter(agency_id__in=agency_ids).select_related("agency", "lead")
    if state:
        qs = qs.filter(state=state)
    if year is not None:
        qs = qs.filter(year=year)
    return qs.order_by("-opened_at", "-id")


def record_get(*, agency_ids: list[int], pk: int) -> WorkRecord | None:
    return WorkRecord.objects.filter(pk=pk, agency_id__in=agency_ids).select_related("agency", "lead").first()


def record_members(*, record: WorkRecord) -> list[RecordMember]:
    return list(record.members.select_related("official").order_by("deadline", "id"))


def record_documents(*, record: WorkRecord) -> tuple[list[OutgoingDocument], list[IncomingDocument]]:
    return (
        list(record.outgoing_documents.order_by("created_at", "id")),
        list(record.incoming_documents.order_by("registered_at", "id")),
    )


def documents_attachable(*, record: WorkRecord) -> tuple[list[OutgoingDocument], list[IncomingDocument]]:
    """The agency's documents not in a record yet (the record page's "attach" form), the newest 100."""
    return (
        list(OutgoingDocument.objects.filter(agency_id=record.agency_id, record__isnull=True).order_by("-id")[:100]),
        list(IncomingDocument.objects.filter(agency_id=record.agency_id, record__isnull=True).order_by("-id")[:100]),
    )


def register_last(*, agency_id: int, direction: str, year: int, confidential: bool = False) -> int:
    """The last number a register gave (0 when it has none yet); read only, no lock: what a page
    shows as the next number, which the issue itself takes under the register's lock."""
    last = (
        Register.objects.filter(agency_id=agency_id, direction=direction, year=year, confidential=confidential)
        .values_list("last", flat=True)
        .first()
    )
    return last or 0


def document_file(*, document: OutgoingDocument) -> tuple[str, str] | None:
    """The key and a file name of the file that stands for the document now: the issued PDF (its
    number on it), else the signed file of its latest version, else its latest draft version."""
    if document.issued_file_key:
        return document.issued_file_key, f"{document.number_symbol.replace('/', '-')}.pdf"
    latest = document.versions.order_by("-version").first()
    if latest is None:
        return None
    signature = document.signatures.filter(version=latest).order_by("-signed_at", "-id").first()
    if signature is not None:
        return signature.file_key, f"da-ky-v{latest.version}.pdf"
    return latest.file_key, latest.filename
