"""The issued PDF (issue 12, part 2): the number and date of issue written onto the first page of
the version the leader signed, before the agency's signature, so that the signature covers them
and still validates (``documents.verification.pdf_verify``); drawn after a signature instead, they
would void it — shown here too, as the reason for the order."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from pypdf import PdfReader

from hcmgov.common.errors import DomainError
from hcmgov.documents import services as documents
from hcmgov.documents import verification
from hcmgov.office import issuing, services
from hcmgov.office.models import DocumentState, Register
from hcmgov.office.tests.test_documents import NOW, approved, issued

pytestmark = pytest.mark.django_db


def first_page_text(data: bytes) -> str:
    return PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_the_issued_pdf_carries_its_number_and_date_and_its_signature_validates(
    city, certificate, no_tsa, signable_pdf
):
    document = issued(city, signable_pdf)
    assert document.number_symbol == "01/QĐ-SNV"
    assert document.issued_file_key
    data = documents.platform_file_read(key=document.issued_file_key)
    assert hashlib.sha256(data).hexdigest() == document.issued_sha256
    text = first_page_text(data)
    assert "Số: 01/QĐ-SNV" in text
    assert issuing.date_line(place=services.LOCATION, day=document.issued_on) in " ".join(text.split())
    assert "QUYẾT ĐỊNH" in text  # the draft's own text is still there
    verdict = verification.pdf_verify(data=data)
    assert verdict.status == verification.VALID, verdict.reason
    assert verdict.signatures == 1
    assert verdict.covers_whole_file
    assert verdict.certificate_fingerprint == certificate.fingerprint_sha256
    # the number was added to the very version that was reviewed and signed: its bytes come first
    version = document.versions.get()
    assert data.startswith(documents.platform_file_read(key=version.file_key))
    # and the leader's signed file is kept, valid, without a number
    leader = documents.platform_file_read(key=document.signatures.get().file_key)
    assert verification.pdf_verify(data=leader).status == verification.VALID
    assert "01/QĐ-SNV" not in first_page_text(leader)


def test_a_number_drawn_after_the_signature_would_void_it(city, certificate, no_tsa, signable_pdf):
    """Why the order: the same stamp on the leader-signed file is reported altered."""
    document = approved(city, signable_pdf)
    signature = services.document_sign(document=document, signer=city.signer, version=document.versions.get(), now=NOW)
    signed = documents.platform_file_read(key=signature.file_key)
    late = issuing.number_stamp(pdf=signed, number_symbol="01/QĐ-SNV", issued_on=NOW.date(), place="TP")
    assert "Số: 01/QĐ-SNV" in first_page_text(late)
    assert verification.pdf_verify(data=late).status == verification.ALTERED


def test_the_date_line_follows_the_decree():
    assert issuing.date_line(place="Thành phố Hồ Chí Minh", day=dt.date(2026, 3, 5)) == (
        "Thành phố Hồ Chí Minh, ngày 05 tháng 3 năm 2026"
    )
    assert issuing.date_line(place="X", day=dt.date(2026, 2, 14)) == "X, ngày 14 tháng 02 năm 2026"
    assert issuing.date_line(place="X", day=dt.date(2026, 12, 31)) == "X, ngày 31 tháng 12 năm 2026"


def test_a_draft_that_cannot_be_numbered_is_not_issued_and_keeps_no_number(city, certificate, no_tsa, signable_pdf):
    with pytest.raises(DomainError) as refused:
        issuing.number_stamp(pdf=b"%PDF-1.4 not really", number_symbol="01/QĐ-SNV", issued_on=NOW.date(), place="X")
    assert refused.value.code == "pdf_not_numbered"
    assert refused.value.status == 422
    # a certificate revoked between the signature and the issue: refused, and the number goes back
    document = approved(city, signable_pdf)
    services.document_sign(document=document, signer=city.signer, version=document.versions.get(), now=NOW)
    certificate.active = False
    certificate.save(update_fields=["active"])
    with pytest.raises(DomainError):
        services.document_issue(document=document, clerk=city.clerk, now=NOW)
    document.refresh_from_db()
    assert document.state == DocumentState.SIGNED
    assert document.number is None
    assert not document.issued_file_key
    assert not Register.objects.filter(agency=city.agency, last__gt=0).exists()
