"""The token endpoint reads each row once and keeps its guarantees (decision 0012, "Speed"): the
statements of a code exchange and of a client-credentials token are pinned; a code stays
single-use, bound to its client, and its ID token is the one linked to its access token; client
secrets hashed before the one-round hasher still verify."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.db import connection
from django.test.utils import CaptureQueriesContext
from joserfc import jwt
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken
from oauth2_provider.signals import app_authorized

from hcmgov.audit.models import AuditEvent
from hcmgov.identity.provider import services as provider
from hcmgov.identity.provider.hashers import ClientSecretHasher
from hcmgov.identity.provider.validator import CityOAuth2Validator
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.identity.tests.oidc_support import REDIRECT, basic, code_for, exchange, userinfo

pytestmark = pytest.mark.django_db

# A code exchange: the grant with its user, the client with its account, the ID token, the access
# and refresh tokens, the deletion of the code; and the transaction around them (BEGIN and COMMIT
# on its own, SAVEPOINT and RELEASE inside the test's transaction).
CODE_EXCHANGE_STATEMENTS = 8
# Client credentials: the client with its account, the access token.
CLIENT_CREDENTIALS_STATEMENTS = 2


@pytest.fixture
def machine(agency):
    return provider.machine_client_register(name="Hệ thống một cửa của Sở", agency_id=agency.pk)


def client_credentials(client, app):
    return client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(app))


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_a_code_exchange_takes_eight_statements(client, rp):
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp, scope="openid profile")
    client.logout()  # a relying party's request carries no session
    with CaptureQueriesContext(connection) as queries:
        response = exchange(client, rp, code, verifier)
    assert response.status_code == 200, response.content
    assert len(queries) == CODE_EXCHANGE_STATEMENTS, statements(queries)


def test_a_client_credentials_token_takes_two_statements(client, machine):
    client_credentials(client, machine)  # warm: nothing kept between requests, but the same path
    with CaptureQueriesContext(connection) as queries:
        response = client_credentials(client, machine)
    assert response.status_code == 200, response.content
    assert len(queries) == CLIENT_CREDENTIALS_STATEMENTS, statements(queries)


def test_the_access_token_links_the_id_token_signed_for_it(client, rp):
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp)
    tokens = exchange(client, rp, code, verifier).json()
    jti = jwt.decode(tokens["id_token"], _jwks(client)).claims["jti"]
    (access,) = AccessToken.objects.filter(application=rp).select_related("id_token")
    assert str(access.id_token.jti) == jti


def _jwks(client):
    from joserfc.jwk import KeySet

    return KeySet.import_key_set(client.get("/o/jwks/").json())


def test_a_code_is_bound_to_its_client(client, rp):
    other = provider.oidc_client_register(name="Hệ thống khác", redirect_uris=[REDIRECT])
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp)
    refused = exchange(client, other, code, verifier)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
    assert exchange(client, rp, code, verifier).status_code == 200  # its own client still may


def test_a_wrong_verifier_is_refused_and_the_code_kept(client, rp):
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp)
    refused = exchange(client, rp, code, verifier[:-1] + ("A" if verifier[-1] != "A" else "B"))
    assert refused.json()["error"] == "invalid_grant"
    assert Grant.objects.filter(code=code).exists()
    assert not AccessToken.objects.exists()


def test_a_code_exchanged_concurrently_is_single_use(client, rp, monkeypatch):
    """The other exchange of the same code committed first: this one finds nothing to delete,
    fails, and revokes what the code produced, its own tokens too."""
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp)
    save = CityOAuth2Validator._save_bearer_token

    def the_other_exchange_won(self, token, request, *args, **kwargs):
        saved = save(self, token, request, *args, **kwargs)
        Grant.objects.filter(code=code).delete()
        return saved

    monkeypatch.setattr(CityOAuth2Validator, "_save_bearer_token", the_other_exchange_won)
    refused = exchange(client, rp, code, verifier)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(application=rp).exists()
    assert not RefreshToken.objects.filter(application=rp, revoked__isnull=True).exists()
    assert AuditEvent.objects.filter(action="security.code_reused", object_id=str(rp.pk)).exists()


def test_app_authorized_is_sent_to_its_listeners(client, rp):
    received = []

    def listener(sender, request, token, **kwargs):
        received.append(token)

    app_authorized.connect(listener)
    try:
        client.force_login(UserFactory())
        code, verifier = code_for(client, rp)
        tokens = exchange(client, rp, code, verifier).json()
    finally:
        app_authorized.disconnect(listener)
    assert [t.pk for t in received] == [AccessToken.objects.get(application=rp).pk]
    assert userinfo(client, tokens["access_token"]).status_code == 200


def test_new_client_secrets_are_hashed_with_one_round(rp):
    stored = Application.objects.get(pk=rp.pk).client_secret
    algorithm, rounds, _salt, _hash = stored.split("$")
    assert (algorithm, rounds) == ("pbkdf2_client_secret", "1")
    assert identify_hasher(stored).algorithm == ClientSecretHasher.algorithm


def test_secrets_hashed_with_a_thousand_rounds_still_verify(client, machine):
    hasher = ClientSecretHasher()
    old = hasher.encode(machine.raw_secret, hasher.salt(), iterations=1_000)
    Application.objects.filter(pk=machine.pk).update(client_secret=old)
    assert client_credentials(client, machine).status_code == 200
    machine.raw_secret = machine.raw_secret[:-1]
    assert client_credentials(client, machine).json()["error"] == "invalid_client"
    assert Application.objects.get(pk=machine.pk).client_secret == old  # kept as it was
