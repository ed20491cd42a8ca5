"""Official documents per Decree 30/2020/NĐ-CP: type abbreviations and the number-symbol, numbers
consecutive per register and year under a row lock and a unique constraint, numbers brought from
outside checked for clashes and gaps; drafting, review, PAdES signature, issue; a signature on a
superseded draft refused and shown."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent
from hcmgov.documents import services as documents
from hcmgov.documents import verification
from hcmgov.documents.tests import storage_fixtures
from hcmgov.office import doctypes, selectors, services
from hcmgov.office.models import DocumentState, IncomingDocument, OutgoingDocument, Register, Signature
from hcmgov.office.tests.factories import OutgoingDocumentFactory, RegisterFactory, WorkRecordFactory

pytestmark = pytest.mark.django_db
# the antivirus's fixtures (documents' tests): a clamd of the test's own, off unless asked for
_no_clamd_by_default = storage_fixtures._no_clamd_by_default
clamd_server = storage_fixtures.clamd_server
clamd_url = storage_fixtures.clamd_url
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # the demo certificate is valid from today
YEAR = timezone.localtime(NOW).year


def drafted(staff, pdf: bytes, **extra):
    values = {"doc_type": "quyet_dinh", "summary": "Về việc ban hành Quy chế làm việc", "agency_abbreviation": "SNV"}
    values.update(extra)
    return services.document_draft(
        official=staff.drafter, agency_id=staff.agency.pk, data=pdf, filename="du-thao.pdf", now=NOW, **values
    )


def approved(staff, pdf: bytes, **extra) -> OutgoingDocument:
    document = drafted(staff, pdf, **extra)
    services.document_submit(document=document, official=staff.drafter)
    services.document_review(
        document=document, reviewer=staff.reviewer, version=document.versions.get(), approve=True, now=NOW
    )
    return document


def issued(staff, pdf: bytes, **extra) -> OutgoingDocument:
    document = approved(staff, pdf, **extra)
    services.document_sign(document=document, signer=staff.signer, version=document.versions.get(), now=NOW)
    return services.document_issue(document=document, clerk=staff.clerk, now=NOW)


# --- types and number-symbols ------------------------------------------------------------------------


def test_every_type_but_cong_van_has_its_abbreviation_and_they_are_distinct():
    abbreviations = [t.abbreviation for t in doctypes.TYPES if t.code != doctypes.CONG_VAN]
    assert all(abbreviations)
    assert len(set(abbreviations)) == len(abbreviations) == 27
    assert doctypes.BY_CODE["quy_dinh"].abbreviation == "QyĐ"
    assert doctypes.BY_CODE[doctypes.CONG_VAN].abbreviation == ""


@pytest.mark.parametrize(
    ("number", "doc_type", "unit", "expected"),
    [
        (123, "quyet_dinh", "", "123/QĐ-UBND"),
        (5, "quyet_dinh", "", "05/QĐ-UBND"),  # under 10: a leading 0
        (45, doctypes.CONG_VAN, "VX", "45/UBND-VX"),
        (7, "to_trinh", "", "07/TTr-UBND"),
    ],
)
def test_number_symbol(number, doc_type, unit, expected):
    assert (
        doctypes.number_symbol(number=number, doc_type=doc_type, agency_abbreviation="UBND", unit_abbreviation=unit)
        == expected
    )


# --- drafting to issue -------------------------------------------------------------------------------


def test_a_document_is_drafted_reviewed_signed_and_issued_with_the_registers_first_number(
    city, certificate, no_tsa, signable_pdf
):
    document = issued(city, signable_pdf)
    assert document.state == DocumentState.ISSUED
    assert document.number == 1
    assert document.number_symbol == "01/QĐ-SNV"
    assert document.issued_on == timezone.localtime(NOW).date()
    assert document.register.year == YEAR
    assert not document.register.confidential
    version = document.versions.get()
    assert version.sha256 == hashlib.sha256(signable_pdf).hexdigest()
    signature = Signature.objects.get(document=document)
    signed = documents.platform_file_read(key=signature.file_key)
    assert hashlib.sha256(signed).hexdigest() == signature.signed_sha256
    assert signature.certificate_fingerprint == certificate.fingerprint_sha256
    verdict = verification.pdf_verify(data=signed)
    assert verdict.status in {"valid", "valid_untimed"}, verdict.reason
    assert OutboxEvent.objects.filter(topic="office.document_issued", key="01/QĐ-SNV").exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "office.document_draft",
        "office.document_review",
        "office.document_sign",
        "office.document_issue",
    } <= actions


def test_numbers_run_on_in_the_year_and_start_again_at_01_the_next(city, certificate, no_tsa, signable_pdf):
    first = issued(city, signable_pdf)
    second = issued(city, signable_pdf, doc_type=doctypes.CONG_VAN, unit_abbreviation="VX")
    assert (first.number, second.number) == (1, 2)
    assert second.number_symbol == "02/SNV-VX"
    document = approved(city, signable_pdf)
    services.document_sign(document=document, signer=city.signer, version=document.versions.get(), now=NOW)
    next_year = services.document_issue(
        document=document, clerk=city.clerk, now=dt.datetime(YEAR + 1, 1, 1, 1, tzinfo=dt.UTC)
    )
    assert (next_year.number, next_year.register.year) == (1, YEAR + 1)


def test_confidential_documents_have_a_register_of_their_own(city, certificate, no_tsa, signable_pdf):
    issued(city, signable_pdf)
    secret = issued(city, signable_pdf, confidentiality="secret")
    assert secret.number == 1
    assert secret.register.confidential


def test_issuing_again_changes_nothing(city, certificate, no_tsa, signable_pdf):
    document = issued(city, signable_pdf)
    again = services.document_issue(document=document, clerk=city.clerk, now=NOW)
    assert again.number == 1
    assert Register.objects.get(pk=document.register_id).last == 1


def test_a_returned_draft_needs_a_reason_and_goes_back_to_its_drafter(city, signable_pdf):
    document = drafted(city, signable_pdf)
    services.document_submit(document=document, official=city.drafter)
    with pytest.raises(DomainError) as refused:
        services.document_review(
            document=document, reviewer=city.reviewer, version=document.versions.get(), approve=False
        )
    assert refused.value.code == "reason_required"
    review = services.document_review(
        document=document, reviewer=city.reviewer, version=document.versions.get(), approve=False, reason="Sai căn cứ"
    )
    assert review.decision == "returned"
    assert OutgoingDocument.objects.get(pk=document.pk).state == DocumentState.RETURNED


def test_only_the_right_roles_act(city, ward, signable_pdf):
    with pytest.raises(DomainError) as refused:
        services.document_draft(
            official=ward.drafter,
            agency_id=city.agency.pk,
            doc_type="quyet_dinh",
            summary="x",
            agency_abbreviation="SNV",
            data=signable_pdf,
            filename="a.pdf",
        )
    assert refused.value.status == 403
    document = drafted(city, signable_pdf)
    services.document_submit(document=document, official=city.drafter)
    with pytest.raises(DomainError):
        services.document_review(
            document=document, reviewer=city.drafter, version=document.versions.get(), approve=True
        )


def test_a_cong_van_needs_the_drafting_units_abbreviation(city, signable_pdf):
    with pytest.raises(DomainError) as refused:
        drafted(city, signable_pdf, doc_type=doctypes.CONG_VAN)
    assert refused.value.code == "unit_required"


# --- the superseded draft ------------------------------------------------------------------------------


def test_a_signature_on_a_superseded_draft_is_refused(city, certificate, no_tsa, signable_pdf):
    document = approved(city, signable_pdf)
    first = document.versions.get()
    services.draft_version_add(
        document=document, official=city.drafter, data=signable_pdf + b"\n% v2\n", filename="v2.pdf"
    )
    # the newer version puts the document back to draft: approve it, then try to sign the old one
    services.document_submit(document=document, official=city.drafter)
    latest = document.versions.order_by("-version").first()
    services.document_review(document=document, reviewer=city.reviewer, version=latest, approve=True)
    with pytest.raises(DomainError) as refused:
        services.document_sign(document=document, signer=city.signer, version=first, now=NOW)
    assert refused.value.code == "superseded_draft"
    assert not Signature.objects.exists()
    signature = services.document_sign(document=document, signer=city.signer, version=latest, now=NOW)
    assert signature.version.version == 2


def test_a_signature_a_newer_draft_superseded_is_shown_and_blocks_the_issue(city, certificate, no_tsa, signable_pdf):
    document = approved(city, signable_pdf)
    services.document_sign(document=document, signer=city.signer, version=document.versions.get(), now=NOW)
    services.draft_version_add(
        document=document, official=city.drafter, data=signable_pdf + b"\n% v2\n", filename="v2.pdf"
    )
    found = selectors.signatures_superseded(agency_id=city.agency.pk)
    assert [s.document_id for s in found] == [document.pk]
    document.refresh_from_db()
    document.state = DocumentState.SIGNED  # as if the state had been forced back (an import, a bug)
    document.save(update_fields=["state"])
    with pytest.raises(DomainError) as refused:
        services.document_issue(document=document, clerk=city.clerk, now=NOW)
    assert refused.value.code == "superseded_draft"
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("office", "check", stdout=out)
    assert "superseded draft" in out.getvalue()


# --- duplicates and gaps ---------------------------------------------------------------------------------


def test_the_database_refuses_two_platform_documents_with_one_number(city):
    register = RegisterFactory(agency=city.agency, year=YEAR)
    OutgoingDocumentFactory(agency=city.agency, issued=True, origin="platform", register=register, number=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        OutgoingDocumentFactory(agency=city.agency, issued=True, origin="platform", register=register, number=3)


def test_two_documents_issued_with_the_same_number_are_detected_and_shown(city, certificate, no_tsa, signable_pdf):
    first = issued(city, signable_pdf)  # 01 on the platform
    register = first.register
    services.outgoing_import(  # the same number typed in from a paper register, and a jump to 04
        agency_id=city.agency.pk,
        year=YEAR,
        number=1,
        number_symbol="01/QĐ-SNV",
        doc_type="quyet_dinh",
        summary="Nhập từ sổ giấy",
        issued_on=dt.date(2026, 1, 5),
        official=city.clerk,
    )
    OutgoingDocumentFactory(agency=city.agency, issued=True, register=register, number=4)
    check = selectors.register_check(register=register)
    assert check.duplicates == {1: ["01/QĐ-SNV", "01/QĐ-SNV"]}
    assert check.gaps == [2, 3]
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("office", "check", "--agency", city.agency.code, stdout=out)
    assert exited.value.code == 1
    text = out.getvalue()
    assert "số 01 trùng / duplicate number" in text
    assert "thiếu số / missing numbers: 02, 03" in text


def test_a_clean_register_reports_nothing(city, certificate, no_tsa, signable_pdf):
    issued(city, signable_pdf)
    issued(city, signable_pdf)
    assert selectors.registers_check(agency_id=city.agency.pk) == []
    out = io.StringIO()
    call_command("office", "check", stdout=out)
    assert "nothing found" in out.getvalue()


def test_incoming_documents_get_consecutive_arrival_numbers(ward):
    numbers = [
        services.incoming_register(
            official=ward.clerk,
            agency_id=ward.agency.pk,
            number_symbol=f"{n}/UBND-VX",
            issuing_body="UBND Thành phố",
            doc_type=doctypes.CONG_VAN,
            summary="Về việc thử",
            electronic=n % 2 == 0,
            now=NOW,
        ).arrival_number
        for n in range(1, 4)
    ]
    assert numbers == [1, 2, 3]  # paper and electronic in one sequence


def test_an_incoming_number_typed_twice_is_detected(ward):
    first = services.incoming_register(
        official=ward.clerk,
        agency_id=ward.agency.pk,
        number_symbol="12/UBND-VX",
        issuing_body="UBND Thành phố",
        doc_type=doctypes.CONG_VAN,
        summary="Về việc thử",
        now=NOW,
    )
    IncomingDocument.objects.create(  # copied in from a paper register with the same arrival number
        agency=ward.agency,
        register=first.register,
        arrival_number=1,
        arrival_date=first.arrival_date,
        number_symbol="30/SNV-VP",
        issuing_body="Sở Nội vụ",
        doc_type=doctypes.CONG_VAN,
        summary="Sổ giấy",
        electronic=False,
        origin="imported",
        registered_by=ward.clerk,
        registered_at=NOW,
    )
    check = selectors.register_check(register=first.register)
    assert check.duplicates == {1: ["12/UBND-VX", "30/SNV-VP"]}
    with pytest.raises(DomainError) as refused:
        services.incoming_register(
            official=ward.clerk,
            agency_id=ward.agency.pk,
            number_symbol="",
            issuing_body="",
            doc_type=doctypes.CONG_VAN,
            summary="x",
        )
    assert refused.value.code == "sender_required"


def test_a_draft_goes_only_into_a_record_of_its_own_agency(city, ward, signable_pdf):
    with pytest.raises(DomainError) as refused:
        drafted(city, signable_pdf, record=WorkRecordFactory(agency=ward.agency))
    assert refused.value.code == "other_agency"


def test_numbering_continues_after_a_register_taken_over_mid_year(city, certificate, no_tsa, signable_pdf):
    for number in (1, 2, 3):
        services.outgoing_import(
            agency_id=city.agency.pk,
            year=YEAR,
            number=number,
            number_symbol=f"{number:02d}/QĐ-SNV",
            doc_type="quyet_dinh",
            summary="Sổ cũ",
            issued_on=timezone.localtime(NOW).date(),
            official=city.clerk,
        )
    document = issued(city, signable_pdf)
    assert document.number_symbol == "04/QĐ-SNV"
    assert selectors.registers_check(agency_id=city.agency.pk) == []


# --- uploads: the checks every upload passes ------------------------------------------------------


def test_an_infected_draft_is_refused_and_nothing_is_kept(city, clamd_url):
    from hcmgov.documents import storage
    from hcmgov.documents.tests import crafted

    infected = crafted.pdf(text=crafted.TEST_MARKER.decode(), compress=False)
    with pytest.raises(DomainError) as caught:
        drafted(city, infected)
    assert caught.value.code == "infected"
    assert "mã độc" in caught.value.message.vi
    assert not OutgoingDocument.objects.exists()
    digest = hashlib.sha256(infected).hexdigest()
    assert not storage.documents_storage().exists(f"platform/{services.FILE_KIND}/{digest[:2]}/{digest}")


def test_a_draft_that_is_not_the_pdf_its_name_says_is_refused(city, clamd_url):
    with pytest.raises(DomainError) as caught:
        drafted(city, b"MZ\x90\x00 not a pdf at all")
    assert caught.value.status == 400
    assert not OutgoingDocument.objects.exists()


def test_a_clean_draft_is_kept_after_the_scan(city, clamd_url, signable_pdf):
    document = drafted(city, signable_pdf)
    version = document.versions.get()
    assert documents.platform_file_read(key=version.file_key) == signable_pdf
