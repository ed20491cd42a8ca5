"""Work records (hồ sơ công việc): opened, documents gathered, a lead and collaborators with
deadlines, closed, archived with a retention period; whether each was handled online, and the
figures per level of the plan's dashboard."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.office import doctypes, records, selectors, services
from hcmgov.office.models import RecordState
from hcmgov.office.tests.factories import OutgoingDocumentFactory

pytestmark = pytest.mark.django_db


def opened(staff, code: str = "01.VP"):
    return records.record_open(
        official=staff.drafter,
        agency_id=staff.agency.pk,
        code=code,
        title="Kế hoạch cải cách hành chính",
        lead=staff.drafter,
        deadline=dt.date(2026, 12, 31),
    )


def incoming(staff, electronic: bool = True):
    return services.incoming_register(
        official=staff.clerk,
        agency_id=staff.agency.pk,
        number_symbol="12/UBND-VX",
        issuing_body="UBND Thành phố",
        doc_type=doctypes.CONG_VAN,
        summary="Về việc thử",
        electronic=electronic,
    )


def test_a_record_is_opened_worked_on_closed_and_archived_with_its_retention(ward):
    record = opened(ward)
    assert record.state == RecordState.OPEN
    member = records.record_member_add(
        record=record, official=ward.drafter, member=ward.reviewer, task="Góp ý dự thảo", deadline=dt.date(2026, 6, 1)
    )
    assert member.deadline == dt.date(2026, 6, 1)
    record = records.record_attach(record=record, official=ward.drafter, paper_items=0)
    assert record.state == RecordState.IN_PROGRESS
    with pytest.raises(DomainError) as refused:
        records.record_archive(record=record, official=ward.clerk, retention_years=10)
    assert refused.value.code == "record_not_closed"
    record = records.record_close(record=record, official=ward.drafter)
    assert record.state == RecordState.CLOSED
    assert record.closed_at is not None
    with pytest.raises(DomainError) as refused:
        records.record_attach(record=record, official=ward.drafter, paper_items=1)
    assert refused.value.code == "record_closed"
    for wrong in ({}, {"retention_years": 0}, {"retention_years": 10, "permanent": True}):
        with pytest.raises(DomainError) as refused:
            records.record_archive(record=record, official=ward.clerk, **wrong)
        assert refused.value.code == "retention_invalid"
    archived = records.record_archive(record=record, official=ward.clerk, permanent=True)
    assert archived.state == RecordState.ARCHIVED
    assert archived.retention_permanent


def test_a_record_code_is_once_per_agency_and_year(ward):
    opened(ward)
    with pytest.raises(DomainError) as refused:
        opened(ward)
    assert refused.value.code == "record_exists"


def test_handled_online_needs_every_document_electronic_and_on_the_platform(ward, district):
    empty = opened(ward, "A")
    assert not selectors.record_online(record=empty)  # nothing in it: not counted online
    paper = opened(ward, "B")
    records.record_attach(record=paper, official=ward.drafter, incoming=incoming(ward, electronic=False))
    assert not selectors.record_online(record=paper)
    typed = opened(ward, "C")
    records.record_attach(record=typed, official=ward.drafter, incoming=incoming(ward))
    assert not selectors.record_online(record=typed)  # registered by hand, not received over the exchange
    imported = opened(district, "D")
    records.record_attach(
        record=imported,
        official=district.drafter,
        outgoing=OutgoingDocumentFactory(agency=district.agency, issued=True, number=1),
    )
    assert not selectors.record_online(record=imported)
    mixed = opened(district, "E")
    records.record_attach(
        record=mixed,
        official=district.drafter,
        outgoing=OutgoingDocumentFactory(agency=district.agency, origin="platform"),
        paper_items=2,
    )
    assert not selectors.record_online(record=mixed)
    online = opened(district, "F")
    records.record_attach(
        record=online, official=district.drafter, outgoing=OutgoingDocumentFactory(agency=district.agency)
    )
    assert selectors.record_online(record=online)
    for record, staff in (
        (empty, ward),
        (paper, ward),
        (typed, ward),
        (imported, district),
        (mixed, district),
        (online, district),
    ):
        records.record_close(record=record, official=staff.drafter)
    year = timezone.localtime().year
    assert selectors.records_online_by_level(year=year) == {
        "commune": {"total": 3, "online": 0, "percent": 0},
        "district": {"total": 3, "online": 1, "percent": 33},
    }


def test_a_document_of_another_agency_is_not_put_in_a_record(ward, district):
    record = opened(ward)
    with pytest.raises(DomainError) as refused:
        records.record_attach(
            record=record, official=ward.drafter, outgoing=OutgoingDocumentFactory(agency=district.agency)
        )
    assert refused.value.code == "other_agency"


def test_late_records_and_late_parts_are_shown_until_done(ward):
    record = opened(ward)  # deadline 31 Dec 2026
    records.record_member_add(
        record=record, official=ward.drafter, member=ward.reviewer, task="Góp ý", deadline=dt.date(2026, 6, 1)
    )
    assert selectors.record_members_late(agency_id=ward.agency.pk, today=dt.date(2026, 5, 31)) == []
    [late] = selectors.record_members_late(agency_id=ward.agency.pk, today=dt.date(2026, 6, 2))
    assert late.official_id == ward.reviewer.pk
    assert [r.pk for r in selectors.records_late(agency_id=ward.agency.pk, today=dt.date(2027, 1, 1))] == [record.pk]
    records.record_member_done(record=record, member=ward.reviewer)
    assert selectors.record_members_late(agency_id=ward.agency.pk, today=dt.date(2026, 6, 2)) == []
    with pytest.raises(DomainError) as refused:
        records.record_member_done(record=record, member=ward.signer)
    assert refused.value.code == "not_a_member"
    records.record_close(record=record, official=ward.drafter)
    assert selectors.records_late(agency_id=ward.agency.pk, today=dt.date(2027, 1, 1)) == []
