"""V8 Authorization and V15.3.3 mass assignment (OWASP ASVS 5.0).

Function- and object-level access (V8.2.1, V8.2.2: IDOR/BOLA) are proven route by route, actor by
actor, by the two authorization matrices (``src/hcmgov/web/tests/test_authorization_matrix.py``,
``tests/api/test_authorization_matrix.py``: another citizen's dossier is 404, another agency's
official is 404, …). This file proves the write side: an API body cannot set what the platform
decides — status, owner, code, secrets, dates, handler — whatever fields it adds (the schemas name
what a caller may give; pydantic drops the rest, and the services set the others themselves)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.test import Client

from hcmgov.dossiers.models import Dossier, Status
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.feedback.models import Feedback, State
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

LONG_AGO = "2001-01-01T00:00:00+07:00"


def _bearer(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=user, name='asvs').raw}"}


def test_a_dossier_submission_cannot_set_status_owner_code_or_dates(client, citizen, version, agency, pdf_bytes):
    victim = UserFactory()
    body = {
        "procedure": version.procedure.code,
        "agency": agency.code,
        "form": dict(VALID_FORM),
        "attachments": [
            {"requirement": "TOKHAI", "filename": "to-khai.pdf", "content_base64": base64.b64encode(pdf_bytes).decode()}
        ],
        # what an attacker adds: a finished dossier, filed under someone else, under a chosen code
        "status": int(Status.RETURNED),
        "applicant": victim.pk,
        "applicant_id": victim.pk,
        "code": "ASVS-CHOSEN-CODE",
        "tracking_secret": "AAAAAAAA",
        "submitted_at": LONG_AGO,
        "due_at": LONG_AGO,
        "finished_at": LONG_AGO,
        "fee_required": False,
        "fee_paid_at": LONG_AGO,
        "channel": 1,
        "id": 1,
    }
    response = client.post("/api/v1/dossiers", body, content_type="application/json", **_bearer(citizen))
    assert response.status_code == 201, response.content
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert dossier.status == Status.NEW
    assert dossier.applicant_id == citizen.pk
    assert dossier.code != "ASVS-CHOSEN-CODE"
    assert dossier.tracking_secret != "AAAAAAAA"
    assert dossier.finished_at is None
    assert dossier.fee_paid_at is None
    assert dossier.submitted_at > dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert dossier.due_at > dossier.submitted_at
    assert dossier.channel == 2  # online, as submitted over the API
    assert not Dossier.objects.filter(applicant=victim).exists()


def test_feedback_cannot_be_sent_closed_assigned_or_in_another_name(client, citizen, agency):
    official = RoleAssignmentFactory(agency=agency).user
    body = {
        "agency": agency.code,
        "subject": "Đường ngập nước",
        "text": "Đường Nguyễn Hữu Cảnh ngập sau mưa.",
        "state": "answered",
        "handler": official.pk,
        "handler_id": official.pk,
        "author": official.pk,
        "author_id": official.pk,
        "code": "ASVS-CHOSEN",
        "secret": "AAAAAAAA",
        "received_at": LONG_AGO,
        "due_at": LONG_AGO,
    }
    response = client.post("/api/v1/feedback", body, content_type="application/json", **_bearer(citizen))
    assert response.status_code == 201, response.content
    feedback = Feedback.objects.get(code=response.json()["code"])
    assert feedback.state == State.RECEIVED
    assert feedback.handler_id is None
    assert feedback.author_id == citizen.pk
    assert feedback.code != "ASVS-CHOSEN"
    assert feedback.secret != "AAAAAAAA"
    assert feedback.received_at > dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def test_an_official_cannot_receive_another_agencys_dossier_by_its_code(submit):
    """Object level on a write (V8.2.2): the code is known, the dossier is not the official's agency's."""
    dossier, _ = submit()
    stranger = RoleAssignmentFactory().user  # an official of another agency
    client = Client()
    client.force_login(stranger)
    response = client.post(f"/api/v1/dossiers/{dossier.code}/receive")
    assert response.status_code == 404  # its existence is not revealed
    dossier.refresh_from_db()
    assert dossier.status == Status.NEW
