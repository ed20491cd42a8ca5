"""Bearer tokens: found by their digest, kept per process for at most ``TOKEN_CACHE_SECONDS``."""

from __future__ import annotations

import pytest

from hcmgov.common import tokencache
from hcmgov.identity import services
from hcmgov.identity.models import ApiToken
from hcmgov.identity.services import TOKEN_CACHE_SECONDS, api_token_issue, api_token_user
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The cache's clock, moved by hand."""
    services.api_token_cache_clear()
    now = [1000.0]
    monkeypatch.setattr(services, "_clock", lambda: now[0])
    yield now
    services.api_token_cache_clear()


def test_a_token_gives_its_active_user_and_nothing_else():
    user = UserFactory()
    token = api_token_issue(user=user, name="integration")
    found = api_token_user(raw=token.raw)
    assert found is not None
    assert (found.pk, found.username, found.kind, found.is_authenticated) == (user.pk, user.username, user.kind, True)
    assert not found._state.adding
    again = api_token_user(raw=token.raw)
    assert again is not found  # requests never share an instance
    assert again.pk == user.pk
    assert api_token_user(raw="hcm_not-a-token") is None
    assert api_token_user(raw=token.raw + "x") is None


def test_a_revoked_token_stops_working_within_the_bound(clock, django_assert_num_queries):
    token = api_token_issue(user=UserFactory(), name="integration")
    with django_assert_num_queries(1):
        assert api_token_user(raw=token.raw) is not None
    with django_assert_num_queries(0):  # kept: no query
        assert api_token_user(raw=token.raw) is not None

    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    clock[0] += TOKEN_CACHE_SECONDS - 1  # still within the bound: this process has not looked again
    assert api_token_user(raw=token.raw) is not None
    clock[0] += 1
    assert api_token_user(raw=token.raw) is None
    assert api_token_user(raw=token.raw) is None  # a refusal is not kept either


def test_a_deactivated_account_is_refused_within_the_bound(clock):
    user = UserFactory()
    token = api_token_issue(user=user, name="integration")
    assert api_token_user(raw=token.raw) is not None
    user.is_active = False
    user.save()
    clock[0] += TOKEN_CACHE_SECONDS
    assert api_token_user(raw=token.raw) is None


def test_a_revoked_token_is_refused_at_once_where_it_was_never_seen():
    token = api_token_issue(user=UserFactory(), name="integration")
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    assert api_token_user(raw=token.raw) is None


def test_the_api_refuses_a_revoked_token_within_the_bound(client, clock):
    token = api_token_issue(user=UserFactory(), name="integration")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token.raw}"}
    assert client.get("/api/v1/dossiers", **headers).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    clock[0] += TOKEN_CACHE_SECONDS
    refused = client.get("/api/v1/dossiers", **headers)
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(tokencache, "MAX_PER_PROCESS", 2)
    tokens = [api_token_issue(user=UserFactory(), name=f"t{i}") for i in range(4)]
    for token in tokens:
        assert api_token_user(raw=token.raw) is not None
    assert len(services.api_tokens) == 2
    assert all(api_token_user(raw=token.raw) is not None for token in tokens)
