"""The applicant's side of processing on the portal: plain status words, answering a supplement
request with files, Forms 02 and 04, withdrawal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers import services
from hcmgov.dossiers.models import DossierDocument, DossierStep
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(submit, receiver, agency):
    dossier, _ = submit()
    dossier = services.dossier_receive(dossier=dossier, official=receiver)
    specialist = RoleAssignmentFactory(agency=agency, role="specialist").user
    step = DossierStep.objects.get(dossier=dossier, state="open")
    return services.dossier_request_supplement(
        dossier=dossier, official=specialist, step_id=step.pk,
        items=[{"document": "Bản sao giấy khai sinh", "reason": "Bản chụp bị mờ"}],
    )  # fmt: skip


def test_the_applicant_sees_the_request_in_plain_words_and_answers_it_with_a_file(client, asked, citizen, pdf_bytes):
    client.force_login(citizen)
    page = client.get(f"/ho-so/{asked.code}/").content.decode()
    assert "Bản chụp bị mờ" in page
    assert "không tính vào thời hạn" in page  # the plain explanation of status 5
    assert client.get(f"/ho-so/{asked.code}/phieu-bo-sung-1.pdf")["Content-Type"] == "application/pdf"
    bad = client.post(
        f"/ho-so/{asked.code}/bo-sung/", {"files": [SimpleUploadedFile("x.pdf", b"not a pdf")], "note": "x"}
    )
    assert bad.status_code == 302
    assert DossierDocument.objects.filter(dossier=asked).count() == 1
    good = client.post(
        f"/ho-so/{asked.code}/bo-sung/",
        {"files": [SimpleUploadedFile("khai-sinh.pdf", pdf_bytes)], "note": "Bản rõ", "requirement": "TOKHAI"},
    )
    assert good.status_code == 302
    asked.refresh_from_db()
    assert asked.status == 2
    assert DossierDocument.objects.filter(dossier=asked).count() == 2
    assert "Đã gửi hồ sơ bổ sung" in client.get(f"/ho-so/{asked.code}/").content.decode()


def test_someone_else_cannot_answer_or_read_the_forms(client, asked):
    client.force_login(UserFactory())
    assert client.post(f"/ho-so/{asked.code}/bo-sung/", {"note": "x"}).status_code == 404
    assert client.get(f"/ho-so/{asked.code}/phieu-bo-sung-1.pdf").status_code == 404


def test_apology_letter_and_withdrawal_from_the_portal(client, asked, citizen, agency):
    leader = RoleAssignmentFactory(agency=agency, role="leader").user
    services.dossier_apologize(
        dossier=asked,
        official=leader,
        reason="Chờ xác minh",
        new_date=default_calendar().add_working_days(dt.date.today(), 30),
    )
    client.force_login(citizen)
    assert client.get(f"/ho-so/{asked.code}/phieu-xin-loi-1.pdf")["Content-Type"] == "application/pdf"
    assert client.get(f"/ho-so/{asked.code}/phieu-xin-loi-2.pdf").status_code == 404
    client.post(f"/ho-so/{asked.code}/rut/", {"reason": "Không còn nhu cầu"})
    asked.refresh_from_db()
    assert asked.status == 7


def test_the_files_of_a_dossier_are_served_to_its_applicant_and_officials_as_stored(
    client, asked, citizen, receiver, pdf_bytes, submit
):
    """Files are blobs: the supplementary one is served, with the type sniffed from the content
    and ``nosniff``, to the applicant and to the desk; a document id of another dossier is not."""
    client.force_login(citizen)
    client.post(
        f"/ho-so/{asked.code}/bo-sung/",
        {"files": [SimpleUploadedFile("khai-sinh bản rõ.pdf", pdf_bytes)], "note": "Bản rõ", "requirement": "TOKHAI"},
    )
    added = DossierDocument.objects.filter(dossier=asked).order_by("-pk").first()
    url = f"/ho-so/{asked.code}/giay-to/{added.pk}/"
    assert url in client.get(f"/ho-so/{asked.code}/").content.decode()
    answer = client.get(url)
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == pdf_bytes
    assert answer["Content-Type"] == "application/pdf"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "filename*=utf-8''khai-sinh%20b%E1%BA%A3n%20r%C3%B5.pdf" in answer["Content-Disposition"]
    client.force_login(receiver)
    assert url in client.get(f"/office/ho-so/{asked.code}/").content.decode()
    assert b"".join(client.get(url).streaming_content) == pdf_bytes
    other, _ = submit(idempotency_key="another")
    foreign = other.documents.first()
    assert client.get(f"/ho-so/{asked.code}/giay-to/{foreign.pk}/").status_code == 404


def test_the_same_bytes_in_two_dossiers_are_stored_once(submit):
    from hcmgov.documents.models import Blob

    first, _ = submit(idempotency_key="one")
    second, _ = submit(idempotency_key="two")
    a, b = first.documents.get(), second.documents.get()
    assert a.sha256 == b.sha256
    assert list(Blob.objects.filter(sha256=a.sha256).values_list("retention", flat=True)) == ["dossier"]
