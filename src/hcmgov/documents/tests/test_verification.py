"""Verification: a result signed by the platform validates with pyHanko and with poppler's pdfsig;
one changed byte is caught by both; unsigned PDFs, images and broken files are named as such."""

from __future__ import annotations

import datetime as dt
from io import BytesIO

import pikepdf
import pytest
import time_machine
from django.utils import timezone

from hcmgov.catalog.tests.factories import ProcedureVersionFactory
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.documents import pki, signing, verification
from hcmgov.documents.models import Blob, Component, ComponentKind, Result
from hcmgov.documents.tests.signing_fixtures import *  # noqa: F403 - the pytest fixtures, by name
from hcmgov.documents.tests.signing_fixtures import pdfsig
from hcmgov.dossiers.models import Dossier
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(tsa, certificate, unsigned_pdf) -> signing.Signed:
    return signing.pdf_sign(pdf=unsigned_pdf, certificate=certificate, reason="Cấp kết quả", location="Bến Thành")


def _result(certificate, signed: signing.Signed, content) -> Result:
    version = ProcedureVersionFactory()
    applicant = UserFactory()
    now = timezone.now()
    dossier = Dossier.objects.create(
        code=content.dossier_code,
        procedure=version.procedure,
        procedure_version=version,
        agency=certificate.agency,
        applicant=applicant,
        applicant_name=content.applicant_name,
        form_data={},
        submitted_at=now,
        due_at=now,
        tracking_secret="abc",
    )
    blob = Blob.objects.create(
        sha256=signed.sha256, size=len(signed.data), content_type="application/pdf", name=signed.sha256
    )
    component = Component.objects.create(
        code="KQ-0001",
        owner=applicant,
        blob=blob,
        kind=ComponentKind.RESULT,
        doc_type="KETQUA",
        title=content.title_vi,
        filename="ket-qua.pdf",
        created_at=now,
    )
    return Result.objects.create(
        dossier=dossier,
        dossier_code=dossier.code,
        component=component,
        number=content.number,
        title=content.title_vi,
        agency=certificate.agency,
        certificate=certificate,
        signed_sha256=signed.sha256,
        signed_at=signed.signed_at,
        timestamped_at=signed.timestamped_at,
        verify_token="abcdef0123456789",
    )


def _flip_signed_byte(data: bytes) -> bytes:
    """Change one byte inside a content stream of the signed range (not the signature itself)."""
    start = data.index(b"stream\n", len(data) // 8) + 200
    return data[:start] + bytes([data[start] ^ 0x01]) + data[start + 1 :]


def test_a_signed_result_validates_with_pyhanko_and_names_its_dossier(signed, certificate, content):
    _result(certificate, signed, content)
    verdict = verification.pdf_verify(data=signed.data)
    assert verdict.status == "valid", verdict.reason
    assert "Ủy ban nhân dân Phường Bến Thành" in verdict.signer
    assert (verdict.agency, verdict.agency_code) == (certificate.agency.name, certificate.agency.code)
    assert verdict.signed_at == signed.signed_at
    assert verdict.timestamped_at == signed.timestamped_at
    assert verdict.dossier_code == content.dossier_code
    assert verdict.result_number == content.number
    assert verdict.covers_whole_file is True
    assert verdict.modification == "none"
    assert verification.result_by_token("abcdef0123456789").number == content.number
    assert verification.result_by_token("nope") is None


def test_a_signed_result_validates_with_pdfsig(signed, nss_db, tmp_path):
    report = pdfsig(nss_db, signed.data, tmp_path / "signed.pdf")
    assert "Signature is Valid" in report, report
    assert "Certificate is Trusted" in report, report
    assert "ETSI.CAdES.detached" in report


def test_one_changed_byte_is_reported_altered_by_pyhanko_and_invalid_by_pdfsig(signed, nss_db, tmp_path):
    tampered = _flip_signed_byte(signed.data)
    verdict = verification.pdf_verify(data=tampered)
    # the bytes under the signature no longer hash to its digest: "altered" (the signature value
    # itself is intact, and still verifies over the digest it carries)
    assert verdict.status == "altered", verdict.reason
    assert "thay đổi" in verdict.reason.vi
    assert "changed" in verdict.reason.en
    report = pdfsig(nss_db, tampered, tmp_path / "tampered.pdf")
    assert "Signature is Valid" not in report
    assert "Digest Mismatch" in report or "Invalid" in report, report


def test_a_changed_signature_value_is_invalid(signed):
    data = signed.data
    contents = data.index(b"/Contents <") + len(b"/Contents <")
    end = data.index(b">", contents)
    blob = bytes.fromhex(data[contents:end].decode())
    # flip a byte near the end of the DER (inside the signature value, before the padding zeros)
    used = len(blob.rstrip(b"\x00"))
    position = contents + 2 * (used - 40)
    digit = data[position : position + 1]
    changed = data[:position] + (b"0" if digit != b"0" else b"1") + data[position + 1 :]
    verdict = verification.pdf_verify(data=changed)
    assert verdict.status == "invalid", verdict.reason


def test_a_result_signed_by_an_untrusted_ca_is_invalid(signed, monkeypatch, tmp_path):
    monkeypatch.setenv("HCMGOV_PKI_DIR", str(tmp_path / "other-pki"))
    pki.ca_ensure()
    verdict = verification.pdf_verify(data=signed.data)
    assert verdict.status == "invalid"
    assert "tin cậy" in verdict.reason.vi


def test_a_certificate_revoked_after_signing_keeps_a_timestamped_signature_valid(signed, certificate):
    later = timezone.now() + dt.timedelta(seconds=5)  # after the time-stamp (the CRL counts in seconds)
    pki.certificate_revoke(certificate=certificate, reason="cessationOfOperation", now=later)
    with time_machine.travel(later + dt.timedelta(seconds=5)):
        verdict = verification.pdf_verify(data=signed.data)
    assert verdict.status == "valid", verdict.reason
    assert "thu hồi sau" in verdict.reason.vi


def test_an_unsigned_pdf_is_reported_unsigned(unsigned_pdf):
    verdict = verification.pdf_verify(data=unsigned_pdf)
    assert verdict.status == "unsigned"
    assert verdict.reason.vi
    assert verdict.reason.en


def test_a_png_is_unsupported_and_named(png_bytes):
    verdict = verification.pdf_verify(data=png_bytes)
    assert verdict.status == "unsupported"
    assert "PNG" in verdict.reason.vi
    assert "not a PDF" in verdict.reason.en


def test_a_broken_pdf_is_unsupported():
    verdict = verification.pdf_verify(data=b"%PDF-1.7\n1 0 obj <<\n%%EOF")
    assert verdict.status == "unsupported"
    assert "hỏng" in verdict.reason.vi


def test_an_encrypted_pdf_is_unsupported(unsigned_pdf):
    out = BytesIO()
    with pikepdf.open(BytesIO(unsigned_pdf)) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="u"))
    verdict = verification.pdf_verify(data=out.getvalue())
    assert verdict.status == "unsupported"
    assert "mã hoá" in verdict.reason.vi


def test_another_agencys_certificate_is_named_from_its_row(tsa, pki_folder, unsigned_pdf):
    other = AgencyFactory(name="Sở Tư pháp", code="999.00.04.H29")
    cert = pki.certificate_issue_demo(agency_id=other.pk)
    signed = signing.pdf_sign(pdf=unsigned_pdf, certificate=cert, reason="x", location="y")
    verdict = verification.pdf_verify(data=signed.data)
    assert verdict.status == "valid", verdict.reason
    assert verdict.agency == "Sở Tư pháp"
    assert verdict.dossier_code == ""
