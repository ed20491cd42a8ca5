"""Results rendered as PDF/A and signed PAdES; certificates that may not sign are refused."""

from __future__ import annotations

import datetime as dt
import subprocess
from io import BytesIO

import pikepdf
import pytest
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields

from hcmgov.common.errors import DomainError
from hcmgov.documents import pki, signing
from hcmgov.documents.models import SigningCertificate
from hcmgov.documents.tests.signing_fixtures import *  # noqa: F403 - the pytest fixtures, by name

pytestmark = pytest.mark.django_db


def _fonts(pdf: pikepdf.Pdf) -> list[pikepdf.Dictionary]:
    found = []
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/FontDescriptor":
            found.append(obj)
    return found


def test_a_result_is_pdf_a_with_embedded_fonts_vietnamese_text_and_an_empty_signature_field(unsigned_pdf, tmp_path):
    with pikepdf.open(BytesIO(unsigned_pdf)) as pdf:
        meta = pdf.open_metadata()
        assert meta.pdfa_status == "3B"
        # what PDF/A checks besides the claim: an output intent with its ICC profile, a file
        # identifier, the language, no encryption (veraPDF itself is not in our registries)
        intents = pdf.Root["/OutputIntents"]
        assert [(str(i["/S"]), "/DestOutputProfile" in i) for i in intents] == [("/GTS_PDFA1", True)]
        assert pdf.trailer.get("/ID") is not None
        assert str(pdf.Root["/Lang"]).startswith("vi")
        assert not pdf.is_encrypted
        descriptors = _fonts(pdf)
        assert descriptors
        assert all(any(k in d for k in ("/FontFile", "/FontFile2", "/FontFile3")) for d in descriptors)
    path = tmp_path / "r.pdf"
    path.write_bytes(unsigned_pdf)
    text = subprocess.run(  # noqa: S603 - poppler's pdftotext on our own file
        ["pdftotext", str(path), "-"],  # noqa: S607 - poppler-utils from the PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Nguyễn Thị Ánh Tuyết" in text
    assert "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH" in text
    assert "Household business registration certificate" in text
    reader = PdfFileReader(BytesIO(unsigned_pdf))
    empty = [(name, ref) for name, value, ref in fields.enumerate_sig_fields(reader, filled_status=False)]
    assert [name for name, _ in empty] == [signing.FIELD_NAME]
    rect = [float(v) for v in empty[0][1].get_object()["/Rect"]]
    assert 200 < rect[2] - rect[0] < 260
    assert 70 < rect[3] - rect[1] < 95


def test_signing_with_a_timestamp_fills_the_field_with_a_bilingual_stamp(tsa, certificate, unsigned_pdf):
    signed = signing.pdf_sign(
        pdf=unsigned_pdf, certificate=certificate, reason="Cấp kết quả", location="Phường Bến Thành"
    )
    assert signed.data.startswith(unsigned_pdf)  # an incremental update: the rendered file is untouched
    assert signed.timestamped_at is not None
    assert abs((signed.timestamped_at - signed.signed_at).total_seconds()) < 60
    reader = PdfFileReader(BytesIO(signed.data))
    (sig,) = reader.embedded_signatures
    assert sig.field_name == signing.FIELD_NAME
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig.sig_object["/Reason"] == "Cấp kết quả"
    assert _has_timestamp(sig)
    assert "/DSS" not in reader.root  # B-T by default: nothing after the signature
    widget = sig.sig_field if "/AP" in sig.sig_field else sig.sig_field["/Kids"][0].get_object()
    appearance = widget["/AP"]["/N"].get_object()
    font = _font_of(appearance)
    assert "/FontFile2" in font["/DescendantFonts"][0].get_object()["/FontDescriptor"]  # the stamp's font is embedded
    assert "Ký số bởi / Signed by" in _decoded_stamp(appearance, font)


def _font_of(xobject):
    resources = xobject.get_object()["/Resources"]
    for font in resources.get("/Font", {}).values():
        if font.get_object()["/Subtype"] == "/Type0":
            return font.get_object()
    for inner in resources.get("/XObject", {}).values():
        found = _font_of(inner)
        if found is not None:
            return found
    return None


def _has_timestamp(sig) -> bool:
    attrs = sig.signer_info["unsigned_attrs"]
    return any(a["type"].native == "signature_time_stamp_token" for a in attrs) if attrs.native else False


def _decoded_stamp(appearance, font) -> str:
    """The stamp's text read back through its ToUnicode map."""
    import re

    cmap = font["/ToUnicode"].get_object().data.decode()
    table = {int(a, 16): chr(int(b, 16)) for a, b in re.findall(r"<([0-9a-f]{4})> <([0-9a-f]{4})>", cmap)}

    def streams(xobject) -> str:
        xobject = xobject.get_object()
        inner = xobject["/Resources"].get("/XObject", {}) if "/Resources" in xobject else {}
        return xobject.data.decode("latin-1") + "".join(streams(x) for x in inner.values())

    stream = streams(appearance)
    runs = re.findall(r"<([0-9a-f]+)> Tj", stream)
    return "\n".join("".join(table.get(int(run[i : i + 4], 16), "?") for i in range(0, len(run), 4)) for run in runs)


def test_validation_info_can_be_embedded(tsa, certificate, unsigned_pdf, monkeypatch):
    monkeypatch.setenv("HCMGOV_PADES_EMBED_VALIDATION_INFO", "1")
    signed = signing.pdf_sign(pdf=unsigned_pdf, certificate=certificate, reason="x", location="y")
    reader = PdfFileReader(BytesIO(signed.data))
    assert "/DSS" in reader.root
    assert len(reader.root["/DSS"]["/CRLs"]) >= 1
    from hcmgov.documents import verification

    verdict = verification.pdf_verify(data=signed.data)
    assert verdict.status == "valid"
    assert verdict.modification == "lta_updates"
    assert not verdict.covers_whole_file


def test_signing_without_a_tsa_has_no_timestamp(no_tsa, pki_folder, certificate, unsigned_pdf):
    signed = signing.pdf_sign(pdf=unsigned_pdf, certificate=certificate, reason="Cấp kết quả", location="HCM")
    assert signed.timestamped_at is None
    (sig,) = PdfFileReader(BytesIO(signed.data)).embedded_signatures
    assert not _has_timestamp(sig)


def _refused(certificate: SigningCertificate, pdf: bytes, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as refused:
        signing.pdf_sign(pdf=pdf, certificate=certificate, reason="x", location="y", **kwargs)
    assert refused.value.message.vi
    assert refused.value.message.en
    assert refused.value.message.vi != refused.value.message.en
    return refused.value


def test_an_expired_certificate_is_refused(no_tsa, pki_folder, agency, unsigned_pdf):
    old = pki.certificate_issue_demo(agency_id=agency.pk, now=timezone.now() - dt.timedelta(days=800))
    assert _refused(old, unsigned_pdf).code == "certificate_expired"


def test_a_certificate_not_yet_valid_is_refused(no_tsa, certificate, unsigned_pdf):
    early = certificate.not_before - dt.timedelta(days=1)
    assert _refused(certificate, unsigned_pdf, now=early).code == "certificate_not_yet_valid"


def test_a_revoked_certificate_is_refused(no_tsa, certificate, unsigned_pdf):
    pki.certificate_revoke(certificate=certificate, reason="keyCompromise")
    error = _refused(certificate, unsigned_pdf)
    assert error.code == "certificate_revoked"
    assert "thu hồi" in error.message.vi


def test_a_certificate_in_the_crl_is_refused_even_if_its_row_says_otherwise(no_tsa, certificate, unsigned_pdf):
    pki.certificate_revoke(certificate=certificate, reason="superseded")
    SigningCertificate.objects.filter(pk=certificate.pk).update(revoked_at=None, active=True)
    certificate.refresh_from_db()
    assert _refused(certificate, unsigned_pdf).code == "certificate_revoked"


def test_an_inactive_certificate_is_refused(no_tsa, certificate, unsigned_pdf):
    SigningCertificate.objects.filter(pk=certificate.pk).update(active=False)
    certificate.refresh_from_db()
    assert _refused(certificate, unsigned_pdf).code == "certificate_inactive"


def test_a_broken_pdf_is_refused_with_a_domain_error(no_tsa, certificate):
    assert _refused(certificate, b"%PDF-1.7\nnot really").code == "pdf_not_signable"
