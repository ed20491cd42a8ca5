"""Machine clients on the API: client-credentials tokens with ``hcmgov.api`` act as the client's
service account, beside personal tokens; every refused token gets the same 401 problem document
and leaves a security event."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from hcmgov.audit.models import AuditEvent
from hcmgov.identity import services as identity
from hcmgov.identity.provider import services as provider
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.identity.tests.oidc_support import (
    basic,
    problem,
    tokens_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine(agency):
    return provider.machine_client_register(name="Hệ thống một cửa của Sở", agency_id=agency.pk)


def client_credentials(client, app, **extra):
    return client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api", **extra}, **basic(app))


def api(client, token, path="/api/v1/dossiers"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def refusals(reason):
    return AuditEvent.objects.filter(action="security.token_refused", after__reason=reason).count()


def test_a_machine_client_acts_as_its_service_account(client, machine, submit, agency):
    dossier, _ = submit()
    response = client_credentials(client, machine)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "hcmgov.api"
    assert "refresh_token" not in body
    assert "id_token" not in body
    listed = api(client, body["access_token"])
    assert listed.status_code == 200
    assert [d["code"] for d in listed.json()["items"]] == [dossier.code]  # its agency's dossiers
    assert api(client, body["access_token"], f"/api/v1/dossiers/{dossier.code}").status_code == 200
    account = machine.user
    assert (account.kind, account.has_usable_password(), account.roles.get().agency_id) == (
        "official",
        False,
        agency.pk,
    )


def test_the_token_check_is_kept_per_process(client, machine, django_assert_num_queries):
    token = client_credentials(client, machine).json()["access_token"]
    url = "http://testserver/api/v1/dossiers"
    with django_assert_num_queries(1):
        assert provider.oauth_token_user(raw=token, url=url)[0] is not None
    with django_assert_num_queries(0):
        assert provider.oauth_token_user(raw=token, url=url)[0].pk == machine.user_id


def test_personal_tokens_still_work(client, citizen):
    token = identity.api_token_issue(user=citizen, name="integration")
    assert api(client, token.raw).status_code == 200


def test_a_client_without_a_service_account_gets_no_scope(client):
    app = Application(
        name="không gắn cơ quan",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret="s3cret-" * 10,
    )
    app.save()
    app.raw_secret = "s3cret-" * 10
    assert client_credentials(client, app).json()["error"] == "invalid_scope"
    assert client_credentials(client, app, scope="openid").json()["error"] == "invalid_scope"


def test_a_machine_client_cannot_ask_for_people_scopes(client, machine):
    assert client_credentials(client, machine, scope="openid profile").json()["error"] == "invalid_scope"


def test_an_unknown_client_gets_no_token(client, machine):
    machine.raw_secret = "not-the-secret"
    assert client_credentials(client, machine).status_code == 401


# --- bad tokens ------------------------------------------------------------------------------------


def _same_refusal(response):
    assert response.status_code == 401
    body = problem(response)
    return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}


def test_bad_tokens_get_one_answer_and_leave_security_events(client, machine, rp, citizen):
    good = client_credentials(client, machine).json()["access_token"]
    assert api(client, good).status_code == 200

    expired = client_credentials(client, machine).json()["access_token"]
    AccessToken.objects.filter(token_checksum=identity.token_digest(expired)).update(
        expires=timezone.now() - dt.timedelta(seconds=1)
    )
    client.force_login(citizen)
    people = tokens_for(client, rp, scope="openid profile")  # no hcmgov.api: not for the API
    client.logout()
    other = client_credentials(client, machine, resource="https://other.example.vn/api/").json()["access_token"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")

    answers = [
        api(client, forged),
        api(client, expired),
        api(client, people["access_token"]),
        api(client, people["id_token"]),  # an ID token is for the client, not the API
        api(client, other),  # issued for another resource (RFC 8707)
        api(client, "hcm_" + "x" * 43),  # a personal token never issued
    ]
    shapes = [_same_refusal(r) for r in answers]
    assert all(shape == shapes[0] for shape in shapes)  # nothing tells one refusal from another
    assert shapes[0]["code"] == "unauthenticated"
    for leaked in ("expired", "scope", "audience", "hcmgov.api", "token"):
        assert leaked not in json.dumps(shapes[0]).lower()
    assert (refusals("unknown"), refusals("expired"), refusals("scope"), refusals("audience")) == (2, 1, 1, 1)
    assert refusals("unknown_or_revoked") == 1
    event = AuditEvent.objects.filter(action="security.token_refused", after__reason="expired").get()
    assert event.object_type == "identity.bearer_token"
    assert event.object_id == identity.token_digest(expired)[:16]
    assert expired not in json.dumps(event.after)


def test_an_inactive_service_account_is_refused(client, machine):
    token = client_credentials(client, machine).json()["access_token"]
    type(machine.user).objects.filter(pk=machine.user_id).update(is_active=False)
    assert api(client, token).status_code == 401
    assert refusals("inactive") == 1


def test_security_events_are_bounded(client, monkeypatch):
    monkeypatch.setattr(provider, "REFUSALS_RECORDED_PER_MINUTE", 2)
    provider._refusals.clear()
    for _ in range(4):
        assert api(client, "forged-token").status_code == 401
    assert refusals("unknown") == 2
    provider._refusals.clear()


def test_a_token_of_a_person_with_the_api_scope_acts_as_that_person(client, rp):
    user = UserFactory()
    client.force_login(user)
    tokens = tokens_for(client, rp, scope="openid hcmgov.api")
    client.logout()
    assert api(client, tokens["access_token"]).status_code == 200
    assert provider.oauth_token_user(raw=tokens["access_token"], url="http://testserver/api/v1/")[0].pk == user.pk
