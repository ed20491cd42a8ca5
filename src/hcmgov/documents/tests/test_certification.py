# ruff: noqa: F811 - the fixtures imported from signing_fixtures are parameters of the tests
"""The certification book: paper and electronic certifications of copies from originals, numbered
in the agency's book of the year without gaps or duplicates (also under concurrency, on
PostgreSQL), the electronic copy signed and verifiable, bad input refused with nothing written,
and the officials' pages."""

from __future__ import annotations

import datetime as dt
import threading
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.urls import reverse

from hcmgov.common.errors import DomainError
from hcmgov.documents import certification, storage, verification
from hcmgov.documents.models import Blob, Certification
from hcmgov.documents.tests.signing_fixtures import no_tsa, pki_folder  # noqa: F401 - fixtures
from hcmgov.identity.tests.factories import RoleAssignmentFactory

pytestmark = pytest.mark.django_db
VN = ZoneInfo("Asia/Ho_Chi_Minh")
PAPER = certification.CertificationInput(
    requester_name="Nguyễn Văn An", document_title="Giấy khai sinh", pages=3, copies=2
)


@pytest.fixture
def leader(agency):
    return RoleAssignmentFactory(agency=agency, role="leader").user


@pytest.fixture
def signing(agency, pki_folder, no_tsa):
    from hcmgov.documents import pki

    return pki.certificate_issue_demo(agency_id=agency.pk)


def paper(official, agency, given=PAPER, now=None):
    return certification.certification_record(
        official=official, agency_id=agency.pk, kind="paper", given=given, now=now
    )


def electronic(official, agency, data, filename="ban-chinh.pdf", now=None):
    given = certification.CertificationInput(requester_name="Trần Thị Bình", document_title="Bằng tốt nghiệp")
    return certification.certification_record(
        official=official,
        agency_id=agency.pk,
        kind="electronic",
        given=given,
        original=data,
        filename=filename,
        now=now,
    )


def test_the_fee_is_circular_226_2016s():
    assert certification.certification_fee(pages=1, copies=1) == 2_000
    assert certification.certification_fee(pages=2, copies=1) == 4_000
    assert certification.certification_fee(pages=5, copies=2) == 2 * (4_000 + 3 * 1_000)
    assert certification.certification_fee(pages=400, copies=1) == 200_000  # at most 200,000 đồng a copy


def test_paper_certifications_are_numbered_in_the_years_book(leader, agency):
    first = paper(leader, agency, now=dt.datetime(2026, 12, 31, 23, 0, tzinfo=VN))
    second = paper(leader, agency, now=dt.datetime(2026, 12, 31, 23, 30, tzinfo=VN))
    new_year = paper(leader, agency, now=dt.datetime(2027, 1, 1, 0, 10, tzinfo=VN))  # city time: a new book
    assert [(c.year, c.number) for c in (first, second, new_year)] == [(2026, 1), (2026, 2), (2027, 1)]
    assert first.book_number == "1/2026/SCT/BS"
    assert (first.pages, first.copies, first.fee) == (3, 2, 2 * 5_000)
    assert first.kind == "paper"
    assert first.signed is None


def test_the_electronic_copy_is_signed_and_verifies(leader, agency, signing, pdf_bytes):
    entry = electronic(leader, agency, pdf_bytes)
    assert entry.kind == "electronic"
    assert entry.copies == 1
    assert entry.certificate_id == signing.pk
    data = storage.blob_read(blob=entry.signed)
    verdict = verification.pdf_verify(data=data)
    assert verdict.status == "valid", verdict.reason
    assert verdict.agency_code == agency.code
    assert verdict.certification_number == entry.book_number
    assert entry.original.retention == "permanent"
    from pypdf import PdfReader

    reader = PdfReader(BytesIO(data))
    assert len(reader.pages) == entry.pages + 1  # the original's pages, then the statement
    assert "đúng với bản chính" in reader.pages[-1].extract_text()
    assert entry.book_number in reader.pages[-1].extract_text()


def test_an_image_of_the_original_makes_a_one_page_copy(leader, agency, signing, png_bytes):
    entry = electronic(leader, agency, png_bytes, filename="ban-chinh.png")
    assert entry.pages == 1
    assert entry.fee == 2_000
    assert verification.pdf_verify(data=storage.blob_read(blob=entry.signed)).status == "valid"


def test_bad_input_is_refused_in_both_languages_with_nothing_written(leader, agency):
    bad = certification.CertificationInput(
        requester_name=" ", document_title="", requester_id="12ab", pages=0, copies=1
    )
    with pytest.raises(DomainError) as caught:
        paper(leader, agency, given=bad)
    assert caught.value.status == 422
    assert {e.field for e in caught.value.errors} == {"requester_name", "document_title", "requester_id", "pages"}
    assert "Số trang" in caught.value.errors[-1].message.vi
    assert "pages" in caught.value.errors[-1].message.en
    assert not Certification.objects.exists()
    assert paper(leader, agency).number == 1  # no number was taken


def test_an_electronic_copy_without_a_certificate_or_with_a_bad_file_writes_nothing(
    leader, agency, pdf_bytes, pki_folder, no_tsa
):
    with pytest.raises(DomainError) as caught:
        electronic(leader, agency, pdf_bytes)
    assert caught.value.code == "no_certificate"
    assert caught.value.status == 409
    assert "chứng thư số" in caught.value.message.vi
    assert "certificate" in caught.value.message.en
    from hcmgov.documents import pki

    pki.certificate_issue_demo(agency_id=agency.pk)
    blobs = Blob.objects.count()
    with pytest.raises(DomainError) as caught:
        electronic(leader, agency, b"<html>not a scan</html>", filename="ban-chinh.pdf")
    assert caught.value.code == "unsupported_type"
    assert "PDF" in caught.value.message.vi
    with pytest.raises(DomainError) as caught:
        electronic(leader, agency, b"")
    assert [e.field for e in caught.value.errors] == ["file"]
    assert not Certification.objects.exists()
    assert Blob.objects.count() == blobs
    assert paper(leader, agency).number == 1


def test_only_the_agencys_certifying_officials_record(agency, citizen):
    clerk = RoleAssignmentFactory(agency=agency, role="clerk").user
    for who in (clerk, citizen):
        with pytest.raises(DomainError) as caught:
            paper(who, agency)
        assert caught.value.status == 403
    assert not Certification.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under concurrency: PostgreSQL")
def test_concurrent_certifications_take_consecutive_numbers_without_gaps_or_duplicates(agency):
    officials = [RoleAssignmentFactory(agency=agency, role="receiver").user for _ in range(6)]
    barrier = threading.Barrier(len(officials))
    errors: list[BaseException] = []

    def work(official) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                paper(official, agency)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(o,)) for o in officials]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    numbers = sorted(Certification.objects.filter(agency=agency).values_list("number", flat=True))
    assert numbers == list(range(1, 31))


# --- the pages ------------------------------------------------------------------------------------


def test_the_official_records_a_paper_certification_through_the_pages(client, leader, agency):
    client.force_login(leader)
    assert client.get(reverse("documents:certification_new")).status_code == 200
    refused = client.post(reverse("documents:certification_new"), {"kind": "paper", "requester_name": "", "pages": "x"})
    assert refused.status_code == 422
    assert "Vui lòng nhập họ tên người yêu cầu." in refused.content.decode()
    assert not Certification.objects.exists()
    posted = {"kind": "paper", "requester_name": "Lê Minh Châu", "document_title": "Giấy khai sinh", "pages": "2",
              "copies": "3"}  # fmt: skip
    response = client.post(reverse("documents:certification_new"), posted)
    entry = Certification.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("documents:certification", args=[entry.pk])
    page = client.get(response["Location"]).content.decode()
    assert entry.book_number in page
    assert "Lê Minh Châu" in page
    listed = client.get(reverse("documents:certification_list"), {"year": entry.year}).content.decode()
    assert entry.book_number in listed
    assert client.get(reverse("documents:certification_pdf", args=[entry.pk])).status_code == 404  # paper: no file


def test_the_official_downloads_the_signed_copy_and_another_agency_sees_nothing(
    client, leader, agency, signing, png_bytes
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from hcmgov.core.tests.factories import AgencyFactory

    client.force_login(leader)
    upload = SimpleUploadedFile("ban-chinh.png", png_bytes, content_type="image/png")
    posted = {
        "kind": "electronic",
        "requester_name": "Phạm Quốc Dũng",
        "document_title": "Giấy khai sinh",
        "file": upload,
    }
    response = client.post(reverse("documents:certification_new"), posted)
    entry = Certification.objects.get()
    assert response.status_code == 302
    pdf = client.get(reverse("documents:certification_pdf", args=[entry.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert verification.pdf_verify(data=b"".join(pdf.streaming_content)).status == "valid"
    other = RoleAssignmentFactory(agency=AgencyFactory(), role="leader").user
    client.force_login(other)
    assert client.get(reverse("documents:certification", args=[entry.pk])).status_code == 404
    assert client.get(reverse("documents:certification_pdf", args=[entry.pk])).status_code == 404
    assert "Phạm Quốc Dũng" not in client.get(reverse("documents:certification_list")).content.decode()
