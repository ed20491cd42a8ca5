"""The desk's digitisation of a dossier's paper components: the page lists each required document
and how it is held electronically; the desk uploads the scan of a missing component (checked like
every upload), refused with a message in both languages when it is not one."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from hcmgov.documents import desk, selectors
from hcmgov.documents.models import Component
from hcmgov.dossiers.models import Channel, DossierDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper_dossier(submit, receiver):
    dossier, _ = submit(channel=Channel.IN_PERSON)
    DossierDocument.objects.filter(dossier=dossier).delete()  # received on paper: no file yet
    return dossier


def test_the_definition_of_every_component_digitised():
    required = [
        {"code": "A"},
        {"code": "B", "required": False},
        {"code": "C", "kind": "present"},
        {"code": "D", "required": True, "kind": "copy"},
    ]
    assert [d["code"] for d in desk.components_of(required)] == ["A", "D"]
    assert desk.all_digitised(required, {"A", "D"})
    assert not desk.all_digitised(required, {"A", "B", "C"})
    assert desk.all_digitised([{"code": "C", "kind": "present"}], set())  # nothing handed in


def test_the_desk_scans_a_missing_component_through_the_page(client, paper_dossier, receiver, pdf_bytes):
    client.force_login(receiver)
    url = reverse("documents:desk_dossier", args=[paper_dossier.code])
    page = client.get(url)
    assert page.status_code == 200
    assert "Chưa có bản điện tử" in page.content.decode()
    assert selectors.warehouse_components_digitised(codes=[paper_dossier.code]) == {paper_dossier.code: False}
    refused = client.post(url, {"requirement": "TOKHAI"})
    assert refused.status_code == 422
    assert "Vui lòng chọn tệp bản quét." in refused.content.decode()
    bad = SimpleUploadedFile("to-khai.pdf", b"not a pdf", content_type="application/pdf")
    assert client.post(url, {"requirement": "TOKHAI", "file": bad}).status_code in (400, 415, 422)
    assert not Component.objects.filter(source_dossier_code=paper_dossier.code).exists()
    scan = SimpleUploadedFile("to-khai.pdf", pdf_bytes, content_type="application/pdf")
    response = client.post(url, {"requirement": "TOKHAI", "file": scan})
    assert response.status_code == 302
    component = Component.objects.get(source_dossier_code=paper_dossier.code)
    assert (component.doc_type, component.state, component.digitised_by_id) == ("TOKHAI", "pending", receiver.pk)
    assert component.owner_id == paper_dossier.applicant_id
    assert "Mọi thành phần hồ sơ đã ở dạng điện tử." in client.get(url).content.decode()
    assert selectors.warehouse_components_digitised(codes=[paper_dossier.code, "NO-SUCH"]) == {paper_dossier.code: True}


def test_an_official_who_does_not_see_the_dossier_gets_a_404(client, paper_dossier):
    from hcmgov.core.tests.factories import AgencyFactory
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    other = RoleAssignmentFactory(agency=AgencyFactory(), role="receiver").user
    client.force_login(other)
    assert client.get(reverse("documents:desk_dossier", args=[paper_dossier.code])).status_code == 404


def test_the_officials_dossier_page_links_to_the_desk_for_a_paper_dossier_only(client, paper_dossier, submit, receiver):
    client.force_login(receiver)
    desk = reverse("documents:desk_dossier", args=[paper_dossier.code])
    assert desk in client.get(reverse("web:office_dossier", args=[paper_dossier.code])).content.decode()
    online, _ = submit(channel=Channel.ONLINE)
    page = client.get(reverse("web:office_dossier", args=[online.code])).content.decode()
    assert reverse("documents:desk_dossier", args=[online.code]) not in page
