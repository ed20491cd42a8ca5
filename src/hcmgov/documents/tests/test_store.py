"""The personal data store: a document digitised at the desk, confirmed by an official, reused in a
later dossier with one click (page and API), counted; refusals for what may not be reused."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent
from hcmgov.documents import selectors, services
from hcmgov.documents.models import Blob, Component
from hcmgov.dossiers import selectors as dossiers
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.models import DossierDocument
from hcmgov.dossiers.tests.conftest import VALID_FORM

pytestmark = pytest.mark.django_db


@pytest.fixture
def digitised(receiver, agency, citizen, pdf_bytes):
    """The applicant's declaration digitised at the desk (pending)."""
    return services.component_digitise(
        official=receiver,
        agency_id=agency.pk,
        owner=citizen,
        doc_type="TOKHAI",
        title="Tờ khai",
        title_en="Declaration",
        filename="to-khai.pdf",
        data=pdf_bytes,
    )


@pytest.fixture
def confirmed(digitised, receiver):
    return services.component_confirm(component=digitised, official=receiver)


def test_a_digitised_document_is_coded_per_agency_and_day_and_waits_for_confirmation(digitised, agency, pdf_bytes):
    day = timezone.localtime().date()
    assert digitised.code == f"SH{agency.code}-{day:%y%m%d}-0001"
    assert digitised.state == "pending"
    assert digitised.blob.size == len(pdf_bytes)
    assert OutboxEvent.objects.filter(topic="component.digitised", payload__component_id=digitised.pk).exists()


def test_only_an_official_of_the_agency_digitises_and_confirms(digitised, citizen, pdf_bytes):
    from hcmgov.core.tests.factories import AgencyFactory
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    elsewhere = RoleAssignmentFactory(agency=AgencyFactory()).user
    with pytest.raises(DomainError) as refused:
        services.component_confirm(component=digitised, official=elsewhere)
    assert refused.value.status == 403
    with pytest.raises(DomainError):
        services.component_digitise(
            official=citizen,
            agency_id=digitised.agency_id,
            owner=citizen,
            doc_type="TOKHAI",
            title="Tờ khai",
            filename="x.pdf",
            data=pdf_bytes,
        )
    assert Component.objects.get(pk=digitised.pk).state == "pending"


def test_confirming_twice_is_harmless(confirmed, receiver):
    again = services.component_confirm(component=confirmed, official=receiver)
    assert again.state == "confirmed"
    assert again.confirmed_at == confirmed.confirmed_at


def test_a_confirmed_document_is_reused_on_the_form_and_recorded_and_counted(
    client, citizen, version, agency, confirmed, pdf_bytes
):
    client.force_login(citizen)
    url = reverse("web:dossier_new", args=[version.procedure.code])
    page = client.get(url)
    assert f'name="reuse-TOKHAI" value="{confirmed.code}"' in page.content.decode()
    post = {k: v for k, v in VALID_FORM.items() if k != "mother"}
    post.update({"mother.full_name": VALID_FORM["mother"]["full_name"], "agency": agency.code})
    answer = client.post(url, {**post, "submission_token": "t-reuse", "reuse-TOKHAI": confirmed.code})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    document = DossierDocument.objects.get(dossier__applicant=citizen)
    assert document.component_code == confirmed.code
    assert document.sha256 == confirmed.blob.sha256
    _doc, data = dossiers.dossier_document_content(dossier=document.dossier, document_id=document.pk)
    assert data == pdf_bytes
    assert Blob.objects.get(sha256=document.sha256).retention == "permanent"  # the component's, not lowered
    now = timezone.now()
    figures = dossiers.documents_reused(start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1))
    assert figures == {"documents": 1, "reused": 1, "dossiers_reusing": 1}
    detail = client.get(reverse("web:dossier", args=[document.dossier.code])).content.decode()
    assert confirmed.code in detail
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    client.force_login(RoleAssignmentFactory(agency=agency, role="head").user)
    unit = client.get(reverse("web:office_unit")).content.decode()
    assert "<strong>1</strong> / 1" in unit  # one document reused, of one


def test_the_api_reuses_a_component_instead_of_a_file(client, citizen, version, agency, confirmed):
    client.force_login(citizen)
    answer = client.post(
        "/api/v1/dossiers",
        {
            "procedure": version.procedure.code,
            "agency": agency.code,
            "form": VALID_FORM,
            "attachments": [{"requirement": "TOKHAI", "component": confirmed.code}],
        },
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.json()
    document = DossierDocument.objects.get(dossier__code=answer.json()["code"])
    assert document.component_code == confirmed.code
    assert document.filename == "to-khai.pdf"


def test_a_file_and_a_component_together_are_refused(client, citizen, version, agency, confirmed, pdf_bytes):
    client.force_login(citizen)
    answer = client.post(
        "/api/v1/dossiers",
        {
            "procedure": version.procedure.code,
            "agency": agency.code,
            "form": VALID_FORM,
            "attachments": [
                {
                    "requirement": "TOKHAI",
                    "component": confirmed.code,
                    "filename": "a.pdf",
                    "content_base64": base64.b64encode(pdf_bytes).decode(),
                }
            ],
        },
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "file_or_component"


def test_what_may_not_be_reused_is_refused_with_the_reason(client, citizen, version, agency, digitised, receiver):
    from hcmgov.identity.tests.factories import UserFactory

    def attempt(user, code):
        client.force_login(user)
        return client.post(
            "/api/v1/dossiers",
            {
                "procedure": version.procedure.code,
                "agency": agency.code,
                "form": VALID_FORM,
                "attachments": [{"requirement": "TOKHAI", "component": code}],
            },
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE="vi",
        )

    pending = attempt(citizen, digitised.code)
    assert pending.status_code == 422
    assert pending.json()["errors"][0]["code"] == "component_not_confirmed"
    services.component_confirm(component=digitised, official=receiver)
    other = attempt(UserFactory(), digitised.code)
    assert other.json()["errors"][0]["code"] == "component_not_found"
    Component.objects.filter(pk=digitised.pk).update(valid_until=timezone.localdate() - dt.timedelta(days=1))
    expired = attempt(citizen, digitised.code)
    assert expired.json()["errors"][0]["code"] == "component_expired"
    services.component_revoke(component=Component.objects.get(pk=digitised.pk), official=receiver)
    revoked = attempt(citizen, digitised.code)
    assert revoked.json()["errors"][0]["code"] == "component_not_confirmed"
    assert not DossierDocument.objects.exists()


def test_the_store_page_lists_the_owners_documents_and_serves_them_to_the_owner_only(
    client, citizen, confirmed, pdf_bytes
):
    from hcmgov.identity.tests.factories import UserFactory

    client.force_login(citizen)
    page = client.get(reverse("web:my_store")).content.decode()
    assert confirmed.code in page
    file = client.get(reverse("web:component_file", args=[confirmed.code]))
    assert file.status_code == 200
    assert b"".join(file.streaming_content) == pdf_bytes
    client.force_login(UserFactory())
    assert client.get(reverse("web:component_file", args=[confirmed.code])).status_code == 404
    assert confirmed.code not in client.get(reverse("web:my_store")).content.decode()


def test_the_desk_digitises_a_dossiers_document_and_confirms_it(client, submit, receiver):
    dossier, _ = submit()
    document = dossier.documents.get()
    client.force_login(receiver)
    url = reverse("web:office_dossier", args=[dossier.code])
    answer = client.post(url, {"action": "digitise", "document": document.pk})
    assert answer.status_code == 302
    component = Component.objects.get(source_dossier_code=dossier.code)
    assert component.owner_id == dossier.applicant_id
    assert component.doc_type == "TOKHAI"
    assert component.blob.sha256 == document.sha256
    assert component.code in client.get(url).content.decode()
    queue = reverse("web:office_digitised")
    assert component.code in client.get(queue).content.decode()
    Component.objects.filter(pk=component.pk).update(text="GIẤY KHAI SINH", text_search="giay khai sinh")  # as OCR
    assert component.code in client.get(queue, {"q": "Giấy khai"}).content.decode()
    assert component.code not in client.get(queue, {"q": "ho chieu"}).content.decode().split("Chờ xác nhận")[0]
    assert client.post(queue, {"component": component.code, "action": "confirm"}).status_code == 302
    assert Component.objects.get(pk=component.pk).state == "confirmed"
    reusable = selectors.components_reusable(owner_ids=[dossier.applicant_id], doc_types={"TOKHAI"})
    assert [c.code for c in reusable["TOKHAI"]] == [component.code]


def test_a_reused_document_in_a_service_submission_keeps_its_code(submit, confirmed, pdf_bytes):
    dossier, _ = submit(attachments=[Attachment("TOKHAI", "to-khai.pdf", pdf_bytes, component_code=confirmed.code)])
    assert dossier.documents.get().component_code == confirmed.code


def test_the_desk_digitises_a_paper_brought_in_for_a_citizen_by_personal_id(client, receiver, png_bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from hcmgov.identity.tests.factories import UserFactory

    owner = UserFactory(personal_id="079200001234")
    client.force_login(receiver)
    queue = reverse("web:office_digitised")
    form = {"action": "scan", "doc_type": "GIAYKHAISINH", "title": "Giấy khai sinh", "valid_until": ""}
    scan = SimpleUploadedFile("a.png", png_bytes)
    unknown = client.post(queue, {**form, "personal_id": "079999999999", "file": scan})
    assert unknown.status_code == 422
    assert "VNeID" in unknown.content.decode()
    scan = SimpleUploadedFile("a.png", png_bytes)
    bad = client.post(queue, {**form, "personal_id": owner.personal_id, "valid_until": "2026-02-30", "file": scan})
    assert bad.status_code == 422
    assert "Ngày hiệu lực không hợp lệ" in bad.content.decode()
    scan = SimpleUploadedFile("a.png", png_bytes)
    answer = client.post(queue, {**form, "personal_id": owner.personal_id, "file": scan})
    assert answer.status_code == 302
    component = Component.objects.get(owner=owner)
    assert (component.doc_type, component.title, component.state) == ("GIAYKHAISINH", "Giấy khai sinh", "pending")
    assert not Component.objects.exclude(owner=owner).exists()
