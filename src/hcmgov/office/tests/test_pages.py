"""The electronic office's back-office pages: a document drafted, reviewed, signed, issued and sent
through the pages as its officials would (POST forms, CSRF, no JavaScript); the incoming register
and work records; refusals shown in Vietnamese then English; bad posts answered without a 500;
another agency's objects a 404; the registers' problems shown as a warning."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from hcmgov.office import dispatches, records, services
from hcmgov.office.models import DispatchState, DocumentState, IncomingDocument, OutgoingDocument, RecordState
from hcmgov.office.tests.factories import OutgoingDocumentFactory, RegisterFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def pdf_upload(data: bytes, name: str = "du-thao.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def draft_through_page(staff, pdf: bytes, **extra) -> OutgoingDocument:
    form = {
        "doc_type": "quyet_dinh",
        "summary": "Về việc ban hành Quy chế văn thư",
        "agency_abbreviation": "SNV",
        "urgency": "urgent",
        "confidentiality": "normal",
        "file": pdf_upload(pdf),
    }
    form.update(extra)
    response = client_for(staff.drafter).post(reverse("eoffice:document_new"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    return OutgoingDocument.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def act(user, document, action: str, expect: int = 302, **data):
    response = client_for(user).post(reverse("eoffice:document", args=[document.pk]), {"action": action, **data})
    assert response.status_code == expect, response.content.decode()[:3000]
    document.refresh_from_db()
    return response


def test_a_document_goes_from_draft_to_issue_and_to_two_agencies_through_the_pages(
    city, ward, district, certificate, no_tsa, signable_pdf
):
    document = draft_through_page(city, signable_pdf)
    assert document.state == DocumentState.DRAFT
    assert document.urgency == "urgent"
    page = client_for(city.drafter).get(reverse("eoffice:document", args=[document.pk])).content.decode()
    assert "Trình duyệt" in page
    assert 'name="csrfmiddlewaretoken"' in page
    act(city.drafter, document, "submit")
    version = document.versions.get()
    # returned without a reason: refused, inline, Vietnamese then English
    response = act(city.reviewer, document, "return", expect=422, version=version.pk)
    body = response.content.decode()
    assert "Trả lại cần nêu lý do." in body
    assert "Returning a draft needs a reason." in body
    assert body.index("Trả lại cần nêu lý do.") < body.index("Returning a draft needs a reason.")
    act(city.reviewer, document, "approve", version=version.pk)
    assert document.state == DocumentState.APPROVED
    act(city.signer, document, "sign", version=version.pk)
    assert document.state == DocumentState.SIGNED
    page = client_for(city.clerk).get(reverse("eoffice:document", args=[document.pk])).content.decode()
    assert "Ban hành, cấp số 01/QĐ-SNV" in page  # the issue button says the number it will give
    act(city.clerk, document, "issue")
    assert document.state == DocumentState.ISSUED
    assert document.number_symbol == "01/QĐ-SNV"
    act(city.clerk, document, "send", recipients=[ward.agency.pk, district.agency.pk])
    assert {d.recipient_id for d in document.dispatches.all()} == {ward.agency.pk, district.agency.pk}
    page = client_for(city.drafter).get(reverse("eoffice:document_list")).content.decode()
    assert "01/QĐ-SNV" in page
    # the ward's clerk registers it from the incoming register's page: arrival number, received
    dispatch = document.dispatches.get(recipient=ward.agency)
    waiting = client_for(ward.clerk).get(reverse("eoffice:incoming_list")).content.decode()
    assert "01/QĐ-SNV" in waiting
    assert "Vào sổ" in waiting
    response = client_for(ward.clerk).post(
        reverse("eoffice:incoming_list"), {"action": "receive", "dispatch": dispatch.pk}
    )
    assert response.status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.state == DispatchState.RECEIVED
    assert IncomingDocument.objects.get(dispatch=dispatch).arrival_number == 1
    client_for(ward.clerk).post(reverse("eoffice:incoming_list"), {"action": "processed", "dispatch": dispatch.pk})
    dispatch.refresh_from_db()
    assert dispatch.state == DispatchState.PROCESSED
    page = client_for(city.clerk).get(reverse("eoffice:document", args=[document.pk])).content.decode()
    assert "Đã xử lý" in page
    assert "Đã gửi" in page


def test_the_pages_show_only_the_forms_a_role_may_use(city, signable_pdf):
    document = draft_through_page(city, signable_pdf)
    page = client_for(city.clerk).get(reverse("eoffice:document", args=[document.pk])).content.decode()
    assert 'value="sign"' not in page
    assert 'value="issue"' not in page
    # a role the service refuses: a 403 page, nothing done
    response = client_for(city.clerk).post(
        reverse("eoffice:document", args=[document.pk]), {"action": "approve", "version": "1"}
    )
    assert response.status_code in (403, 422)
    document.refresh_from_db()
    assert document.state == DocumentState.DRAFT


def test_another_agencys_document_and_record_are_not_found(city, ward, signable_pdf):
    document = draft_through_page(city, signable_pdf)
    record = records.record_open(
        official=city.drafter, agency_id=city.agency.pk, code="HS1", title="T", lead=city.drafter
    )
    other = client_for(ward.clerk)
    assert other.get(reverse("eoffice:document", args=[document.pk])).status_code == 404
    assert other.post(reverse("eoffice:document", args=[document.pk]), {"action": "submit"}).status_code == 404
    assert other.get(reverse("eoffice:record", args=[record.pk])).status_code == 404
    assert other.post(reverse("eoffice:record", args=[record.pk]), {"action": "close"}).status_code == 404
    assert "HS1" not in other.get(reverse("eoffice:record_list")).content.decode()
    assert document.summary not in other.get(reverse("eoffice:document_list")).content.decode()


@pytest.mark.parametrize(
    "form",
    [
        {"doc_type": "no_such_type"},
        {"urgency": "x" * 40},
        {"confidentiality": "public"},
        {"pages": "abc"},
        {"pages": "99999999999999999999"},
        {"pages": "²"},
        {"summary": "\x00"},
        {"summary": ""},
        {"file": "not a file"},
        {"agency_abbreviation": ""},
    ],
)
def test_bad_drafts_are_refused_by_their_field_without_a_500(city, signable_pdf, form):
    values = {
        "doc_type": "quyet_dinh",
        "summary": "Trích yếu",
        "agency_abbreviation": "SNV",
        "file": pdf_upload(signable_pdf),
    }
    values.update(form)
    response = client_for(city.drafter).post(reverse("eoffice:document_new"), values)
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()
    assert not OutgoingDocument.objects.exists()


def test_a_file_that_is_not_a_pdf_is_refused(city):
    response = client_for(city.drafter).post(
        reverse("eoffice:document_new"),
        {"doc_type": "quyet_dinh", "summary": "T", "agency_abbreviation": "SNV", "file": pdf_upload(b"MZ\x90\x00")},
    )
    assert response.status_code == 422
    assert "Tệp dự thảo phải là PDF." in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "nonsense"},
        {"action": "approve", "version": "abc"},
        {"action": "approve", "version": "¹"},
        {"action": "approve", "version": "999999999999999999999"},
        {"action": "sign", "version": "-1"},
        {"action": "send", "recipients": ["x", "0"]},
        {"action": "issue"},
        {"action": "version"},
    ],
)
def test_bad_actions_on_a_document_are_messages_not_500s(city, signable_pdf, data):
    document = draft_through_page(city, signable_pdf)
    services.document_submit(document=document, official=city.drafter)
    user = city.clerk if data["action"] in {"send", "issue", "version"} else city.reviewer
    if data["action"] == "sign":
        user = city.signer
    response = client_for(user).post(reverse("eoffice:document", args=[document.pk]), data)
    assert response.status_code in (403, 409, 422)
    document.refresh_from_db()
    assert document.state == DocumentState.IN_REVIEW


def test_duplicate_numbers_and_superseded_signatures_are_shown_on_the_list(city, certificate, no_tsa, signable_pdf):
    register = RegisterFactory(agency=city.agency, year=2026)
    OutgoingDocumentFactory(issued=True, agency=city.agency, register=register, number=7)
    OutgoingDocumentFactory(issued=True, agency=city.agency, register=register, number=7)
    document = draft_through_page(city, signable_pdf)
    services.document_submit(document=document, official=city.drafter)
    version = document.versions.get()
    services.document_review(document=document, reviewer=city.reviewer, version=version, approve=True)
    services.document_sign(document=document, signer=city.signer, version=version)
    act(city.drafter, document, "version", file=pdf_upload(signable_pdf + b"\n% v2"))
    page = client_for(city.drafter).get(reverse("eoffice:document_list")).content.decode()
    box = page[page.index('id="canh-bao"') :]
    assert "Trùng số" in box
    assert "07/QĐ-UBND, 07/QĐ-UBND" in box
    assert "Chữ ký trên bản dự thảo cũ" in box
    assert f"#{document.pk}" in box
    assert "Số bị bỏ trống" in box  # 01–06 never held
    clean = client_for(city.drafter).get(reverse("eoffice:document_list") + "?year=2025").content.decode()
    assert "Trùng số" not in clean


def test_the_list_filters_by_state_register_and_year_and_survives_bad_filters(city, signable_pdf):
    draft_through_page(city, signable_pdf, summary="Công văn thường", doc_type="cong_van", unit_abbreviation="VP")
    draft_through_page(city, signable_pdf, summary="Văn bản mật", confidentiality="secret")
    client = client_for(city.drafter)
    url = reverse("eoffice:document_list")
    assert "Văn bản mật" not in client.get(url + "?register=normal").content.decode()
    assert "Công văn thường" not in client.get(url + "?register=confidential").content.decode()
    assert "Công văn thường" not in client.get(url + "?state=issued").content.decode()
    for bad in ("?state=x", "?year=abc", "?year=99999999999", "?page=-3", "?register=zzz"):
        assert client.get(url + bad).status_code == 200


def test_an_incoming_paper_document_gets_the_next_arrival_number(city):
    client = client_for(city.clerk)
    form = {
        "number_symbol": "12/QĐ-UBND",
        "issuing_body": "Ủy ban nhân dân Thành phố",
        "doc_type": "quyet_dinh",
        "summary": "Về việc giao chỉ tiêu",
        "issued_on": "2026-03-02",
    }
    assert client.post(reverse("eoffice:incoming_new"), form).status_code == 302
    assert client.post(reverse("eoffice:incoming_new"), form).status_code == 302
    numbers = sorted(IncomingDocument.objects.values_list("arrival_number", flat=True))
    assert numbers == [1, 2]
    assert not IncomingDocument.objects.filter(electronic=True).exists()
    bad = client.post(reverse("eoffice:incoming_new"), {**form, "issued_on": "2026-13-45", "pages": "-1"})
    assert bad.status_code == 422
    assert "Ngày không hợp lệ" in bad.content.decode()
    # a specialist records no incoming document: the register is the clerk's
    assert client_for(city.drafter).get(reverse("eoffice:incoming_new")).status_code == 403
    page = client.get(reverse("eoffice:incoming_list")).content.decode()
    assert "12/QĐ-UBND" in page
    assert "Giấy" in page


def test_a_work_record_is_opened_worked_on_closed_and_archived_through_its_page(city, signable_pdf):
    client = client_for(city.drafter)
    response = client.post(
        reverse("eoffice:record_new"),
        {"code": "HS-01", "title": "Quy chế văn thư", "lead": city.drafter.pk, "deadline": "2026-12-31"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    record = city.agency and records.WorkRecord.objects.get(code="HS-01")
    url = reverse("eoffice:record", args=[record.pk])
    assert client.post(url, {"action": "member", "member": city.reviewer.pk, "task": "Góp ý"}).status_code == 302
    document = draft_through_page(city, signable_pdf)
    assert client.post(url, {"action": "attach", "outgoing": document.pk}).status_code == 302
    record.refresh_from_db()
    assert record.state == RecordState.IN_PROGRESS
    assert document.pk in record.outgoing_documents.values_list("pk", flat=True)
    assert client_for(city.reviewer).post(url, {"action": "done"}).status_code == 302
    assert client.post(url, {"action": "close"}).status_code == 302
    # archiving: a retention period is required, in bounds
    archive = client_for(city.clerk)
    for bad in (
        {},
        {"retention_years": "abc"},
        {"retention_years": "500"},
        {"retention_years": "5", "permanent": "on"},
    ):
        response = archive.post(url, {"action": "archive", **bad})
        assert response.status_code == 422, bad
        assert "Cần thời hạn bảo quản" in response.content.decode()
    assert archive.post(url, {"action": "archive", "retention_years": "10"}).status_code == 302
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    assert record.retention_years == 10


@pytest.mark.parametrize(
    "data",
    [
        {"action": "member", "member": "abc"},
        {"action": "member", "member": "1", "deadline": "not-a-date"},
        {"action": "attach", "outgoing": "999999"},
        {"action": "attach", "paper_items": "x"},
        {"action": "attach", "paper_items": "³"},
        {"action": "attach"},
        {"action": "whatever"},
    ],
)
def test_bad_posts_on_a_record_are_messages(city, ward, data):
    record = records.record_open(
        official=city.drafter, agency_id=city.agency.pk, code="HS2", title="T", lead=city.drafter
    )
    if data.get("member") == "1":
        data = {**data, "member": str(ward.clerk.pk)}  # an official of another agency
    response = client_for(city.drafter).post(reverse("eoffice:record", args=[record.pk]), data)
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()


def test_a_record_code_taken_twice_is_shown_inline(city):
    records.record_open(official=city.drafter, agency_id=city.agency.pk, code="HS3", title="T", lead=city.drafter)
    response = client_for(city.drafter).post(
        reverse("eoffice:record_new"), {"code": "HS3", "title": "Lần hai", "lead": city.drafter.pk}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Ký hiệu hồ sơ đã dùng trong năm." in body
    assert "The record code is taken." in body


def test_a_returned_dispatch_needs_a_reason_on_the_incoming_page(city, ward, certificate, no_tsa, signable_pdf):
    document = draft_through_page(city, signable_pdf)
    services.document_submit(document=document, official=city.drafter)
    version = document.versions.get()
    services.document_review(document=document, reviewer=city.reviewer, version=version, approve=True)
    services.document_sign(document=document, signer=city.signer, version=version)
    document = services.document_issue(document=document, clerk=city.clerk)
    (dispatch,) = dispatches.document_send(document=document, clerk=city.clerk, recipient_ids=[ward.agency.pk])
    client = client_for(ward.clerk)
    url = reverse("eoffice:incoming_list")
    response = client.post(url, {"action": "return", "dispatch": dispatch.pk})
    assert response.status_code == 422
    assert "Trả lại cần nêu lý do." in response.content.decode()
    assert client.post(url, {"action": "return", "dispatch": dispatch.pk, "reason": "Sai nơi nhận"}).status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.state == DispatchState.RETURNED
    # the sender's clerk cannot act on a dispatch addressed to another agency
    assert client_for(city.clerk).post(url, {"action": "receive", "dispatch": dispatch.pk}).status_code == 404
    assert client.post(url, {"action": "receive", "dispatch": "abc"}).status_code == 404


def test_the_documents_file_is_its_draft_then_the_issued_pdf(city, ward, certificate, no_tsa, signable_pdf):
    from hcmgov.office.tests.test_documents import issued

    draft = draft_through_page(city, signable_pdf)
    url = reverse("eoffice:document_file", args=[draft.pk])
    response = client_for(city.reviewer).get(url)
    assert response.status_code == 200
    assert response.content == signable_pdf
    assert response["Content-Type"] == "application/pdf"
    document = issued(city, signable_pdf)
    response = client_for(city.reviewer).get(reverse("eoffice:document_file", args=[document.pk]))
    assert response.content.startswith(signable_pdf)  # the draft, then the number, then the signature
    assert "01-Q" in response["Content-Disposition"]
    assert client_for(ward.clerk).get(url).status_code == 404


@pytest.mark.parametrize("name", ["eoffice:document_list", "eoffice:incoming_list", "eoffice:record_list"])
def test_the_lists_read_a_fixed_number_of_queries(city, signable_pdf, name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def grow(n: int) -> None:
        for i in range(n):
            tag = f"{name}-{OutgoingDocument.objects.count()}-{i}"
            services.document_draft(
                official=city.drafter, agency_id=city.agency.pk, agency_abbreviation="SNV", doc_type="quyet_dinh",
                summary=tag, data=signable_pdf, filename="x.pdf",
            )  # fmt: skip
            services.incoming_register(
                official=city.clerk, agency_id=city.agency.pk, number_symbol=f"{i + 1}/UBND", issuing_body="UBND",
                doc_type="cong_van", summary=tag, electronic=False,
            )  # fmt: skip
            records.record_open(official=city.drafter, agency_id=city.agency.pk, code=tag, title=tag, lead=city.clerk)

    client = client_for(city.clerk)
    grow(2)
    client.get(reverse(name))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name)).status_code == 200
    grow(6)
    with CaptureQueriesContext(connection) as more:
        assert client.get(reverse(name)).status_code == 200
    assert len(more) == len(few)
