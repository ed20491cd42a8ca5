"""Writes of work records (hồ sơ công việc, Decree 30/2020/NĐ-CP, Art. 28–31): a record is opened
for one matter, its documents are gathered into it, a lead and collaborators work on it with
deadlines, it is closed when the matter ends, and archived (nộp lưu) with its retention period —
a number of years, or permanent — taken from the agency's list of records (danh mục hồ sơ).

State moves forward only: open → in progress → closed → archived. A record is archived only when
closed and with a retention period; the decree's list gives each record its retention, so the
period is required here rather than guessed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.office import services
from hcmgov.office.models import (
    IncomingDocument,
    OutgoingDocument,
    RecordMember,
    RecordState,
    WorkRecord,
)

RECORD_ROLES = {"specialist", "head", "leader", "clerk"}
RECORD_FIELDS = ("state", "lead", "deadline", "retention_years", "retention_permanent", "paper_items")
MAX_RETENTION_YEARS = 70  # the longest fixed period of the retention schedules (Circular 10/2022/TT-BNV)


@audited("office.record_open", fields=RECORD_FIELDS)
def record_open(
    *,
    official: Any,
    agency_id: int,
    code: str,
    title: str,
    lead: Any,
    deadline: dt.date | None = None,
    now: dt.datetime | None = None,
) -> WorkRecord:
    """Open a work record of the agency (mở hồ sơ), led by ``lead``."""
    services._check_role(official, agency_id, RECORD_ROLES)
    services._check_role(lead, agency_id, RECORD_ROLES)
    now = now or timezone.now()
    if not code.strip() or not title.strip():
        raise services.refuse("title_required", "Cần ký hiệu và tiêu đề hồ sơ.", "A code and title are needed.", 422)
    year = timezone.localtime(now).year
    if WorkRecord.objects.filter(agency_id=agency_id, year=year, code=code.strip()).exists():
        raise services.refuse("record_exists", "Ký hiệu hồ sơ đã dùng trong năm.", "The record code is taken.")
    return WorkRecord.objects.create(
        agency_id=agency_id,
        code=code.strip(),
        title=title.strip()[:300],
        year=year,
        lead=lead,
        deadline=deadline,
        opened_at=now,
    )


def _open(record: WorkRecord) -> WorkRecord:
    locked = WorkRecord.objects.select_for_update().get(pk=record.pk)
    if locked.state in (RecordState.CLOSED, RecordState.ARCHIVED):
        raise services.refuse("record_closed", "Hồ sơ đã kết thúc.", "The record is closed.")
    return locked


@audited("office.record_member_add", target="record", fields=RECORD_FIELDS)
def record_member_add(
    *, record: WorkRecord, official: Any, member: Any, task: str = "", deadline: dt.date | None = None
) -> RecordMember:
    """Add a collaborator with their part and its deadline (again: the part and deadline change)."""
    services._check_role(official, record.agency_id, RECORD_ROLES)
    locked = _open(record)
    added, _ = RecordMember.objects.update_or_create(
        record=locked, official=member, defaults={"task": task[:300], "deadline": deadline}
    )
    return added


@audited("office.record_member_done", target="record", fields=RECORD_FIELDS)
def record_member_done(*, record: WorkRecord, member: Any, now: dt.datetime | None = None) -> RecordMember:
    """A collaborator reports their part done (idempotent: the first time counts)."""
    locked = _open(record)
    part = RecordMember.objects.filter(record=locked, official=member).first()
    if part is None:
        raise services.refuse("not_a_member", "Bạn không phối hợp hồ sơ này.", "You do not work on this record.", 403)
    if part.done_at is None:
        part.done_at = now or timezone.now()
        part.save(update_fields=["done_at"])
    return part


@audited("office.record_attach", target="record", fields=RECORD_FIELDS)
def record_attach(
    *,
    record: WorkRecord,
    official: Any,
    outgoing: OutgoingDocument | None = None,
    incoming: IncomingDocument | None = None,
    paper_items: int = 0,
) -> WorkRecord:
    """Put documents into the record: an outgoing or incoming document of the platform, or a
    count of documents kept on paper only (they make the record not handled online). The first
    document puts an open record in progress."""
    services._check_role(official, record.agency_id, RECORD_ROLES)
    locked = _open(record)
    for document in (outgoing, incoming):
        if document is None:
            continue
        if document.agency_id != locked.agency_id:
            raise services.refuse(
                "other_agency", "Văn bản của cơ quan khác.", "The document belongs to another agency.", 422
            )
        document.record = locked
        document.save(update_fields=["record"])
    locked.paper_items += max(paper_items, 0)
    if locked.state == RecordState.OPEN:
        locked.state = RecordState.IN_PROGRESS
    locked.save(update_fields=["paper_items", "state"])
    return locked


@audited("office.record_close", target="record", fields=RECORD_FIELDS)
def record_close(*, record: WorkRecord, official: Any, now: dt.datetime | None = None) -> WorkRecord:
    """Close the record when its matter ends (kết thúc hồ sơ): its lead, or a head or leader."""
    locked = _open(record)
    if official.pk != locked.lead_id:
        services._check_role(official, locked.agency_id, {"head", "leader"})
    locked.state = RecordState.CLOSED
    locked.closed_at = now or timezone.now()
    locked.save(update_fields=["state", "closed_at"])
    return locked


@audited("office.record_archive", target="record", fields=RECORD_FIELDS)
def record_archive(
    *,
    record: WorkRecord,
    official: Any,
    retention_years: int | None = None,
    permanent: bool = False,
    now: dt.datetime | None = None,
) -> WorkRecord:
    """Hand a closed record to the agency's archive with its retention period: ``permanent``
    (vĩnh viễn) or a number of years (from the agency's list of records)."""
    services._check_role(official, record.agency_id, services.CLERK_ROLES | {"head", "leader"})
    locked = WorkRecord.objects.select_for_update().get(pk=record.pk)
    if locked.state != RecordState.CLOSED:
        raise services.refuse("record_not_closed", "Hồ sơ chưa kết thúc.", "The record is not closed.")
    if permanent == (retention_years is not None) or (
        retention_years is not None and not 1 <= retention_years <= MAX_RETENTION_YEARS
    ):
        raise services.refuse(
            "retention_invalid",
            f"Cần thời hạn bảo quản: vĩnh viễn, hoặc từ 1 đến {MAX_RETENTION_YEARS} năm.",
            f"A retention period is needed: permanent, or 1 to {MAX_RETENTION_YEARS} years.",
            422,
        )
    locked.state = RecordState.ARCHIVED
    locked.retention_permanent = permanent
    locked.retention_years = retention_years
    locked.archived_at = now or timezone.now()
    locked.save(update_fields=["state", "retention_permanent", "retention_years", "archived_at"])
    return locked
