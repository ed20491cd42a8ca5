"""V16.3.1 authentication events and V16.3.2 failed authorization logged (OWASP ASVS 5.0): a wrong
password is an audit event (``hcmgov.identity.security``), a 401 or 403, page or API, is a
``hcmgov.security`` record naming who was refused what (``hcmgov.common.headers``)."""

from __future__ import annotations

import logging
from base64 import b64encode

import pytest
from django.test import Client

from hcmgov.audit.models import AuditEvent
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.tests.factories import PASSWORD, RoleAssignmentFactory

pytestmark = pytest.mark.django_db

WRONG = "khong-dung-mat-khau-nay"


def _refusals(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "hcmgov.security" and getattr(r, "event", "") == "authorization_failed"
    ]


def test_a_wrong_password_is_an_audit_event_without_the_password(client, citizen):
    response = client.post("/dang-nhap/", {"username": citizen.username, "password": WRONG}, REMOTE_ADDR="10.2.3.4")
    assert response.status_code == 200  # the form again, with a message
    event = AuditEvent.objects.get(action="security.login_failed")
    assert event.after["ip"] == "10.2.3.4"
    assert event.after["step"] == "password"
    assert WRONG not in str(event.after)
    assert PASSWORD not in str(event.after)


def test_a_successful_login_is_an_audit_event_with_the_address_and_how(client, citizen):
    response = client.post("/dang-nhap/", {"username": citizen.username, "password": PASSWORD}, REMOTE_ADDR="10.2.3.9")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="security.login")
    assert event.object_id == str(citizen.pk)
    assert event.after["ip"] == "10.2.3.9"
    assert event.after["backend"]  # which backend vouched (the password's, the e-ID's)
    assert PASSWORD not in str(event.after)


def test_a_refused_page_is_logged_with_who_and_what(client, citizen, caplog):
    client.force_login(citizen)
    with caplog.at_level(logging.WARNING, logger="hcmgov.security"):
        assert client.get("/office/", REMOTE_ADDR="10.2.3.5").status_code == 403
    (record,) = _refusals(caplog)
    assert record.user_id == citizen.pk
    assert record.username == citizen.username
    assert (record.method, record.path, record.status_code, record.ip) == ("GET", "/office/", 403, "10.2.3.5")


def test_a_refused_api_call_is_logged_with_who_and_what(agency, version, pdf_bytes, caplog):
    official = RoleAssignmentFactory(agency=agency).user
    client = Client()
    client.force_login(official)
    payload = {
        "procedure": version.procedure.code,
        "agency": agency.code,
        "form": dict(VALID_FORM),
        "attachments": [
            {"requirement": "TOKHAI", "filename": "a.pdf", "content_base64": b64encode(pdf_bytes).decode()}
        ],
    }
    with caplog.at_level(logging.WARNING, logger="hcmgov.security"):
        response = client.post("/api/v1/dossiers", payload, content_type="application/json")
    assert response.status_code == 403  # only citizens and businesses submit
    (record,) = _refusals(caplog)
    assert record.user_id == official.pk
    assert (record.method, record.path) == ("POST", "/api/v1/dossiers")


def test_an_unauthenticated_api_call_is_logged_as_anonymous(client, caplog):
    with caplog.at_level(logging.WARNING, logger="hcmgov.security"):
        assert client.get("/api/v1/dossiers").status_code == 401
    (record,) = _refusals(caplog)
    assert record.user_id is None
    assert record.username == "anonymous"
    assert record.status_code == 401
