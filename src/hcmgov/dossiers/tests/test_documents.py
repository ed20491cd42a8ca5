"""Form 01 (receipt and appointment slip) and Form 03 (refusal slip) as PDF."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import pytest
from pypdf import PdfReader

from hcmgov.dossiers import documents
from hcmgov.dossiers.services import dossier_refuse

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_receipt_is_a_vietnamese_pdf_with_code_due_date_and_tracking_link(submit):
    dossier, _ = submit()
    pdf = documents.receipt_pdf(dossier)
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert dossier.code in text
    assert dossier.tracking_secret in text
    url = urlparse(documents.tracking_url(dossier))
    assert url.path == "/tra-cuu/"
    assert parse_qs(url.query) == {"code": [dossier.code], "secret": [dossier.tracking_secret]}


def test_refusal_slip_states_the_reason(submit, receiver):
    dossier, _ = submit()
    dossier = dossier_refuse(dossier=dossier, official=receiver, reason="Thiếu tờ khai có chữ ký")
    text = text_of(documents.refusal_pdf(dossier))
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert "Thiếu tờ khai có chữ ký" in text
