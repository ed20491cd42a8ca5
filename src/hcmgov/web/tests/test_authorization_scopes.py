"""Who sees which dossiers: a person representing a business sees and acts on its dossiers (while
the representation is in force); an official whose role is limited to a procedure field sees, in
that agency, only the dossiers of that field — on pages and through the API alike."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.dossiers import selectors, services
from hcmgov.dossiers.models import DossierStep
from hcmgov.dossiers.tests.test_api import bearer
from hcmgov.identity.models import Representation, RoleAssignment
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def business():
    return UserFactory(business=True)


@pytest.fixture
def representative(business):
    person = UserFactory()
    Representation.objects.create(person=person, business=business)
    return person


@pytest.fixture
def asked(submit, business, receiver, agency):
    """The business's dossier, received and waiting for a supplement."""
    dossier, _ = submit(applicant=business)
    services.dossier_receive(dossier=dossier, official=receiver)
    specialist = RoleAssignmentFactory(agency=agency, role="specialist").user
    step = DossierStep.objects.get(dossier=dossier, state="open")
    return services.dossier_request_supplement(
        dossier=dossier, official=specialist, step_id=step.pk, items=[{"document": "Tờ khai", "reason": "Thiếu"}]
    )


def test_a_representative_sees_and_acts_on_the_business_dossiers(client, asked, representative):
    client.force_login(representative)
    assert asked.code in client.get("/ho-so/").content.decode()
    assert client.get(f"/ho-so/{asked.code}/").status_code == 200
    assert client.get(f"/ho-so/{asked.code}/phieu-hen.pdf")["Content-Type"] == "application/pdf"
    assert client.get(f"/ho-so/{asked.code}/phieu-bo-sung-1.pdf")["Content-Type"] == "application/pdf"
    token = bearer(representative)
    assert [d["code"] for d in client.get("/api/v1/dossiers", **token).json()["items"]] == [asked.code]
    assert client.get(f"/api/v1/dossiers/{asked.code}", **token).status_code == 200
    answered = client.post(
        f"/api/v1/dossiers/{asked.code}/supplement", {"note": "Đã ký"}, content_type="application/json", **token
    )
    assert answered.status_code == 200, answered.content
    client.post(f"/ho-so/{asked.code}/rut/", {"reason": "Không cần nữa"})
    asked.refresh_from_db()
    assert asked.status == 7  # withdrawn by the business's representative


def test_a_representation_no_longer_in_force_shows_nothing(client, asked, representative):
    Representation.objects.filter(person=representative).update(valid_to=timezone.now() - dt.timedelta(minutes=1))
    client.force_login(representative)
    assert asked.code not in client.get("/ho-so/").content.decode()
    assert client.get(f"/ho-so/{asked.code}/").status_code == 404
    assert client.get(f"/api/v1/dossiers/{asked.code}", **bearer(representative)).status_code == 404
    refused = client.post(
        f"/api/v1/dossiers/{asked.code}/supplement", {"note": "x"}, content_type="application/json",
        **bearer(representative),
    )  # fmt: skip
    assert refused.status_code == 404
    with pytest.raises(DomainError) as refusal:  # the service asks the same question
        services.dossier_withdraw(dossier=asked, by=representative, reason="x")
    assert refusal.value.status == 403


def test_another_person_does_not_see_the_business_dossiers(client, asked, representative):
    stranger = UserFactory()
    client.force_login(stranger)
    assert client.get(f"/ho-so/{asked.code}/").status_code == 404
    assert selectors.dossier_list_for_applicant(user=stranger).count() == 0


@pytest.fixture
def received(submit, receiver):
    dossier, _ = submit()
    return services.dossier_receive(dossier=dossier, official=receiver)


def _official(agency, field):
    user = UserFactory(official=True)
    for role in ("specialist", "head"):
        RoleAssignmentFactory(user=user, agency=agency, role=role, field=field)
    return user


def test_an_official_limited_to_another_field_sees_none_of_the_dossier(client, received, agency):
    other_field = _official(agency, "Lĩnh vực khác")
    same_field = _official(agency, received.procedure.field)
    client.force_login(other_field)
    assert client.get(f"/office/ho-so/{received.code}/").status_code == 404
    assert received.code not in client.get("/office/tim-kiem/").content.decode()
    assert received.code not in client.get("/office/", {"queue": "unit"}).content.decode()
    token = bearer(other_field)
    assert client.get(f"/api/v1/dossiers/{received.code}", **token).status_code == 404
    assert client.get("/api/v1/office/queues/unit", **token).json()["items"] == []
    assert client.get("/api/v1/office/search", {"code": received.code}, **token).json()["items"] == []
    step = DossierStep.objects.get(dossier=received, state="open")
    taken = client.post(
        "/api/v1/office/assignments", {"steps": [step.pk], "assignee": other_field.username},
        content_type="application/json", **token,
    )  # fmt: skip
    assert taken.status_code == 403  # not a step of their field, though they head the division

    client.force_login(same_field)
    assert client.get(f"/office/ho-so/{received.code}/").status_code == 200
    assert received.code in client.get("/office/", {"queue": "unit"}).content.decode()
    assert received.code in client.get("/office/tim-kiem/").content.decode()
    token = bearer(same_field)
    assert [i["dossier"] for i in client.get("/api/v1/office/queues/unit", **token).json()["items"]] == [received.code]
    assert [d["code"] for d in client.get("/api/v1/office/search", **token).json()["items"]] == [received.code]


def test_a_role_for_every_field_in_the_agency_outweighs_a_limited_one(received, agency):
    official = _official(agency, "Lĩnh vực khác")
    assert selectors.dossier_search(user=official).count() == 0
    RoleAssignmentFactory(user=official, agency=agency, role="clerk", field="")
    assert list(selectors.dossier_search(user=official)) == [received]
    assert selectors.dossier_visible_to(user=official, code=received.code) == received


def test_statistics_count_only_the_fields_an_official_covers(received, agency):
    today = timezone.localdate()
    period = {"start": today - dt.timedelta(days=1), "end": today + dt.timedelta(days=1), "kind": "step"}
    everything = _official(agency, "")
    limited = _official(agency, "Lĩnh vực khác")
    assert sum(s.total for s in selectors.processing_statistics(**period, user=everything)) == 1  # the receipt
    assert selectors.processing_statistics(**period, user=limited) == []


def test_a_role_out_of_its_dates_grants_nothing(received, agency):
    official = _official(agency, "")
    step = DossierStep.objects.get(dossier=received, state="open")
    RoleAssignment.objects.filter(user=official).update(valid_to=timezone.localdate() - dt.timedelta(days=1))
    assert selectors.dossier_search(user=official).count() == 0
    assert not selectors.step_queue(user=official, queue="unit").exists()
    with pytest.raises(DomainError):  # nor may the role act any more
        services.dossier_act(dossier=received, official=official, step_id=step.pk, action="forward")
    RoleAssignment.objects.filter(user=official).update(
        valid_to=None, valid_from=timezone.localdate() + dt.timedelta(days=1)
    )
    assert selectors.dossier_search(user=official).count() == 0  # nor before it starts


def test_the_roles_are_read_once_per_request(client, received, agency):
    client.force_login(_official(agency, received.procedure.field))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/office/", {"queue": "unit"}).status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "identity_roleassignment"' in q["sql"]]
    assert len(reads) <= 2, reads  # the scopes of every queue, and whether the user heads a division
