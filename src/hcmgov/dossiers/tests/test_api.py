"""/api/v1/dossiers and /api/v1/tracking over HTTP (Django's test client), problem details included."""

from __future__ import annotations

import base64

import pytest

from hcmgov.dossiers.models import Dossier
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def bearer(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=user, name='test').raw}"}


@pytest.fixture
def payload(version, agency, pdf_bytes):
    return {
        "procedure": version.procedure.code,
        "agency": agency.code,
        "form": dict(VALID_FORM),
        "attachments": [
            {"requirement": "TOKHAI", "filename": "to-khai.pdf", "content_base64": base64.b64encode(pdf_bytes).decode()}
        ],
    }


def post(client, payload, headers, **extra):
    return client.post("/api/v1/dossiers", payload, content_type="application/json", **headers, **extra)


def test_submit_then_retry_with_the_same_key(client, citizen, payload):
    headers = bearer(citizen)
    first = post(client, payload, headers, HTTP_IDEMPOTENCY_KEY="abc-123")
    assert first.status_code == 201, first.content
    body = first.json()
    assert first["Location"] == f"/api/v1/dossiers/{body['code']}"
    assert body["status"] == 1
    assert body["status_name"] == "Mới"
    assert len(body["tracking_secret"]) == 8
    again = post(client, payload, headers, HTTP_IDEMPOTENCY_KEY="abc-123")
    assert again.status_code == 200
    assert again.json()["code"] == body["code"]
    assert Dossier.objects.count() == 1


def test_invalid_form_is_a_problem_in_vietnamese_by_default_and_english_on_request(client, citizen, payload):
    payload["form"] = {"full_name": "An"}
    response = post(client, payload, bearer(citizen))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/invalid_dossier")
    assert body["status"] == 422
    assert body["title"].startswith("Hồ sơ chưa hợp lệ")
    assert {"field": "personal_id", "code": "required", "message": "Vui lòng nhập «Số định danh cá nhân»."} in body[
        "errors"
    ]
    english = post(client, payload, bearer(citizen), HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["title"].startswith("The dossier is not valid")
    assert english["Content-Language"] == "en"
    assert Dossier.objects.count() == 0


def test_bad_base64_and_malformed_json_are_problems_not_500s(client, citizen, payload):
    payload["attachments"][0]["content_base64"] = "%%%not base64"
    assert post(client, payload, bearer(citizen)).status_code == 422
    response = client.post("/api/v1/dossiers", "{not json", content_type="application/json", **bearer(citizen))
    assert response.status_code in {400, 422}
    assert response["Content-Type"] == "application/problem+json"


def test_anonymous_gets_401_problem(client, payload):
    response = post(client, payload, {})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_an_official_cannot_submit(client, payload, receiver):
    assert post(client, payload, bearer(receiver)).status_code == 403


def test_visibility_applicant_official_of_the_agency_and_nobody_else(client, citizen, payload, receiver):
    code = post(client, payload, bearer(citizen)).json()["code"]
    assert client.get(f"/api/v1/dossiers/{code}", **bearer(citizen)).status_code == 200
    assert client.get(f"/api/v1/dossiers/{code}", **bearer(receiver)).status_code == 200
    other_citizen = UserFactory()
    other_official = RoleAssignmentFactory().user  # an official of another agency
    assert client.get(f"/api/v1/dossiers/{code}", **bearer(other_citizen)).status_code == 404
    assert client.get(f"/api/v1/dossiers/{code}", **bearer(other_official)).status_code == 404
    mine = client.get("/api/v1/dossiers", **bearer(citizen)).json()
    assert [d["code"] for d in mine["items"]] == [code]
    assert client.get("/api/v1/dossiers", **bearer(other_citizen)).json()["items"] == []
    assert [d["code"] for d in client.get("/api/v1/dossiers", **bearer(receiver)).json()["items"]] == [code]


def test_receive_and_refuse(client, citizen, payload, receiver):
    code = post(client, payload, bearer(citizen)).json()["code"]
    received = client.post(f"/api/v1/dossiers/{code}/receive", **bearer(receiver))
    assert received.status_code == 200
    assert received.json()["status"] == 2
    again = client.post(f"/api/v1/dossiers/{code}/receive", **bearer(receiver))
    assert again.status_code == 409
    assert again.json()["code"] == "wrong_status"
    code2 = post(client, payload, bearer(citizen)).json()["code"]
    empty = client.post(
        f"/api/v1/dossiers/{code2}/refuse", {"reason": "  "}, content_type="application/json", **bearer(receiver)
    )
    assert empty.status_code == 400
    refused = client.post(
        f"/api/v1/dossiers/{code2}/refuse",
        {"reason": "Thiếu giấy chứng sinh"},
        content_type="application/json",
        **bearer(receiver),
    )
    assert refused.status_code == 200
    assert refused.json()["status"] == 3
    # the applicant cannot receive their own dossier
    code3 = post(client, payload, bearer(citizen)).json()["code"]
    assert client.post(f"/api/v1/dossiers/{code3}/receive", **bearer(citizen)).status_code == 403


def test_public_tracking_needs_code_and_secret(client, citizen, payload):
    body = post(client, payload, bearer(citizen)).json()
    ok = client.get(f"/api/v1/tracking/{body['code']}", {"secret": body["tracking_secret"].lower()})
    assert ok.status_code == 200
    assert [e["status_to"] for e in ok.json()["events"]] == [1]
    wrong = client.get(f"/api/v1/tracking/{body['code']}", {"secret": "WRONG123"})
    assert wrong.status_code == 404
    assert wrong["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/tracking/NO-SUCH", {"secret": "X"}).status_code == 404


def test_a_number_beyond_the_database_range_is_a_400_problem(client, citizen):
    response = client.get("/api/v1/dossiers", {"status": 10**30}, **bearer(citizen))
    assert response.status_code in {400, 422}
    assert response["Content-Type"] == "application/problem+json"


def test_changes_made_with_a_token_are_attributed_to_its_owner(client, citizen, payload):
    from hcmgov.audit.models import AuditEvent

    assert post(client, payload, bearer(citizen)).status_code == 201
    event = AuditEvent.objects.get(action="dossier.submit")
    assert (event.actor_id, event.actor_label) == (citizen.pk, citizen.username)
