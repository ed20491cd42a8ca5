"""Results issued electronically: a finished dossier's result is rendered, signed with its agency's
certificate and a time-stamp from the TSA simulator (over HTTP), kept in the applicant's data
store, shown on the dossier, and verified by anyone through the page, the QR route and the API."""

from __future__ import annotations

import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent
from hcmgov.documents import pki, results, storage, verification
from hcmgov.documents.handlers import _issue
from hcmgov.documents.models import Component, Result
from hcmgov.documents.tests.signing_fixtures import pki_folder, tsa  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(submit, agency, pki_folder, tsa):  # noqa: F811 - fixtures
    pki.certificate_issue_demo(agency_id=agency.pk)
    dossier, _ = submit()
    return dossier, results.result_issue(dossier_id=dossier.pk)


def test_the_result_is_signed_time_stamped_numbered_and_in_the_applicants_store(issued, agency):
    dossier, result = issued
    assert result.number.startswith("1/")
    assert result.number.endswith(f"/KQ-{agency.code}")
    assert result.timestamped_at is not None
    component = result.component
    assert component.owner_id == dossier.applicant_id
    assert component.kind == "result"
    assert component.state == "confirmed"
    assert component.code.startswith(f"KQ{agency.code}-")
    data = storage.blob_read(blob=component.blob)
    verdict = verification.pdf_verify(data=data)
    assert verdict.status == "valid", verdict.reason
    assert verdict.dossier_code == dossier.code
    assert verdict.result_number == result.number
    assert OutboxEvent.objects.filter(topic="result.issued", key=dossier.code).exists()


def test_issuing_again_gives_the_same_result(issued):
    dossier, result = issued
    again = results.result_issue(dossier_id=dossier.pk)
    assert again.pk == result.pk
    assert Result.objects.filter(dossier_id=dossier.pk).count() == 1
    assert Component.objects.filter(kind="result", source_dossier_code=dossier.code).count() == 1


def test_the_applicant_sees_the_result_and_anyone_verifies_it(client, issued, citizen):
    dossier, result = issued
    client.force_login(citizen)
    page = client.get(reverse("web:dossier", args=[dossier.code])).content.decode()
    assert result.number in page
    assert result.component.code in client.get(reverse("web:my_store")).content.decode()
    data = b"".join(client.get(reverse("web:component_file", args=[result.component.code])).streaming_content)
    client.logout()
    qr = client.get(reverse("web:verify_token", args=[result.verify_token]))
    assert qr.status_code == 200
    assert result.number in qr.content.decode()
    checked = client.post(
        reverse("web:verify_token", args=[result.verify_token]),
        {"file": SimpleUploadedFile("kq.pdf", data, "application/pdf")},
    ).content.decode()
    assert "Hợp lệ" in checked
    assert "Tệp này đúng là bản kết quả nêu trên." in checked
    tampered = bytearray(data)
    tampered[len(tampered) // 3] ^= 0x01  # one byte inside the signed range
    altered = client.post(reverse("web:verify"), {"file": SimpleUploadedFile("kq.pdf", bytes(tampered))})
    assert "Hợp lệ" not in altered.content.decode()
    api = client.post(
        "/api/v1/documents/verify", {"file": SimpleUploadedFile("kq.pdf", data)}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert api.status_code == 200
    assert api.json()["status"] == "valid"
    assert api.json()["dossier_code"] == dossier.code
    facts = client.get(f"/api/v1/documents/results/{result.verify_token}").json()
    assert facts["number"] == result.number
    assert facts["sha256"] == result.signed_sha256
    assert client.get("/api/v1/documents/results/unknown0token").status_code == 404
    assert client.get(reverse("web:verify_token", args=["unknown0token"])).status_code == 404


def test_an_agency_without_a_certificate_issues_nothing_and_the_handler_does_not_retry(submit, caplog):
    dossier, _ = submit()
    with pytest.raises(DomainError) as refused:
        results.result_issue(dossier_id=dossier.pk)
    assert refused.value.code == "no_certificate"
    event = OutboxEvent(topic="dossier.finished", key=dossier.code, payload={"dossier_id": dossier.pk})
    with caplog.at_level(logging.WARNING, logger="hcmgov.documents.handlers"):
        _issue(event)  # logged, not raised: a retry would meet the same refusal
    assert "result not issued" in caplog.text
    assert not Result.objects.exists()


def test_a_revoked_certificate_signs_nothing(submit, agency, pki_folder, tsa):  # noqa: F811 - fixtures
    certificate = pki.certificate_issue_demo(agency_id=agency.pk)
    pki.certificate_revoke(certificate=certificate, reason="keyCompromise")
    dossier, _ = submit()
    with pytest.raises(DomainError) as refused:
        results.result_issue(dossier_id=dossier.pk)
    assert refused.value.code == "no_certificate"  # a revoked certificate is not in force
    assert not Result.objects.exists()
