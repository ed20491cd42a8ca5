"""The back office's pages: queues, taking and assigning, search, the unit head's view, Form 06,
flow versions."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hcmgov.catalog.models import ProcessFlow
from hcmgov.catalog.tests.factories import TEST_FLOW
from hcmgov.common.text import fold
from hcmgov.dossiers import services
from hcmgov.dossiers.models import DossierStep
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(submit, receiver):
    dossier, _ = submit()
    return services.dossier_receive(dossier=dossier, official=receiver)


def test_a_specialist_takes_a_step_from_the_unit_queue_and_finds_it_in_their_own(client, received, agency):
    specialist = RoleAssignmentFactory(agency=agency, role="specialist").user
    client.force_login(specialist)
    unit = client.get("/office/?queue=unit").content.decode()
    assert received.code in unit
    step = DossierStep.objects.get(dossier=received, state="open")
    assert client.post("/office/?queue=unit", {"step": [step.pk]}).status_code == 302
    assert received.code in client.get("/office/?queue=mine").content.decode()
    assert received.code not in client.get("/office/?queue=unit").content.decode()


def test_a_head_assigns_and_an_unknown_official_is_refused(client, received, agency):
    head = RoleAssignmentFactory(agency=agency, role="head").user
    specialist = RoleAssignmentFactory(agency=agency, role="specialist").user
    step = DossierStep.objects.get(dossier=received, state="open")
    client.force_login(head)
    response = client.post("/office/?queue=unit", {"step": [step.pk], "assignee": "nobody-here"})
    assert response.status_code == 422
    response = client.post("/office/?queue=unit", {"step": [step.pk], "assignee": specialist.username})
    assert response.status_code == 302
    step.refresh_from_db()
    assert step.assignee_id == specialist.pk
    page = client.get("/office/don-vi/").content.decode()
    assert specialist.full_name in page


def test_search_finds_by_code_and_applicant_only_in_ones_own_agencies(client, received, receiver):
    listed = f">{received.code}</a>"

    def found(**params):
        return listed in client.get("/office/tim-kiem/", params).content.decode()

    client.force_login(receiver)
    assert found(code=received.code[:12])
    assert found(applicant=received.applicant_name.split()[-1])  # a given name
    assert found(applicant=fold(received.applicant_name.split()[0]))  # a word typed without diacritics
    assert not found(status="9")
    stranger = RoleAssignmentFactory(role="receiver").user  # another agency
    client.force_login(stranger)
    assert not found(code=received.code)
    assert client.get(f"/office/ho-so/{received.code}/").status_code == 404


def test_log_book_is_a_pdf_of_the_agencys_dossiers(client, received, receiver):
    client.force_login(receiver)
    response = client.get("/office/so-theo-doi.pdf")
    assert response["Content-Type"] == "application/pdf"


def test_uploading_a_flow_version_names_what_is_wrong_and_where(client, version):
    admin = UserFactory(admin=True)
    client.force_login(admin)
    code = version.procedure.code
    broken = TEST_FLOW.read_bytes().replace(b'name="clerk"', b'name="boss"')
    response = client.post(f"/office/quy-trinh/{code}/", {"file": SimpleUploadedFile("x.bpmn", broken)})
    assert response.status_code == 422
    assert "give" in response.content.decode()  # the step whose lane is not a role
    assert ProcessFlow.objects.filter(procedure=version.procedure).count() == 1
    renamed = TEST_FLOW.read_bytes().replace(
        b"Tr\xe1\xba\xa3 k\xe1\xba\xbft qu\xe1\xba\xa3", b"Tr\xe1\xba\xa3 k\xe1\xba\xbft qu\xe1\xba\xa3 cho d\xc3\xa2n"
    )
    response = client.post(f"/office/quy-trinh/{code}/", {"file": SimpleUploadedFile("v2.bpmn", renamed)})
    assert response.status_code == 302
    assert ProcessFlow.objects.filter(procedure=version.procedure).count() == 2
    officer = RoleAssignmentFactory(role="receiver").user
    client.force_login(officer)
    assert client.get(f"/office/quy-trinh/{code}/").status_code == 403


def test_a_running_dossier_keeps_its_flow_version(submit, version, receiver):
    from hcmgov.catalog.services import flow_upload

    dossier, _ = submit()
    first = dossier.flow_id
    flow_upload(procedure=version.procedure, content=TEST_FLOW.read_bytes().replace(b"1d", b"8h"))
    later, _ = submit(form_data={**dossier.form_data, "full_name": "Người Khác"})
    assert later.flow_id != first
    dossier = services.dossier_receive(dossier=dossier, official=receiver)
    assert dossier.flow_id == first
