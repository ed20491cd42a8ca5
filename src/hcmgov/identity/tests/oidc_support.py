"""What the tests of the city's OpenID provider share: clients, PKCE, the steps of the code flow
through Django's test client, and ID-token verification against the provider's own JWKS
(joserfc, as a relying party would)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice
from joserfc import jwt
from joserfc.jwk import KeySet

from hcmgov.identity.provider import services as provider
from hcmgov.identity.provider.hashers import ClientSecretHasher

REDIRECT = "https://rp.example.vn/callback"
AFTER_LOGOUT = "https://rp.example.vn/bye"
ISSUER = "http://testserver"


@pytest.fixture(autouse=True)
def _client_secret_hasher(settings):
    """The root conftest keeps only a fast password hasher; client secrets need theirs listed."""
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, f"{ClientSecretHasher.__module__}.ClientSecretHasher"]
    provider.oauth_token_cache_clear()
    yield
    provider.oauth_token_cache_clear()


@pytest.fixture
def rp(db):
    """A department's relying party (confidential, asks for consent)."""
    return provider.oidc_client_register(
        name="Hệ thống quản lý văn bản", redirect_uris=[REDIRECT], post_logout_redirect_uris=[AFTER_LOGOUT]
    )


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(client: Any, app: Any, *, scope: str = "openid", challenge: str | None = None, **extra: Any) -> Any:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge_method": "S256",
        "code_challenge": challenge if challenge is not None else pkce()[1],
        **extra,
    }
    return client.get("/o/authorize/?" + urlencode({k: v for k, v in params.items() if v is not None}))


def consent(client: Any, page: Any) -> Any:
    """Press “Allow” on the consent page ``page``."""
    form = page.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["allow"] = "Authorize"
    return client.post("/o/authorize/", data)


def redirected_params(response: Any) -> dict[str, str]:
    assert response.status_code == 302, response.status_code
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT, response["Location"]
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def code_for(client: Any, app: Any, *, scope: str = "openid", **extra: Any) -> tuple[str, str]:
    """Log in is already done: authorize, consent, and return (code, verifier)."""
    verifier, challenge = pkce()
    page = authorize(client, app, scope=scope, challenge=challenge, **extra)
    if page.status_code == 200:
        page = consent(client, page)
    params = redirected_params(page)
    assert params["state"] == "st-123"
    return params["code"], verifier


def basic(app: Any) -> dict[str, str]:
    raw = base64.b64encode(f"{app.client_id}:{app.raw_secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {raw}"}


def exchange(client: Any, app: Any, code: str, verifier: str, *, post_secret: bool = False) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    if post_secret:
        data |= {"client_id": app.client_id, "client_secret": app.raw_secret}
        return client.post("/o/token/", data)
    return client.post("/o/token/", data, **basic(app))


def tokens_for(client: Any, app: Any, *, scope: str = "openid", **extra: Any) -> dict[str, Any]:
    code, verifier = code_for(client, app, scope=scope, **extra)
    response = exchange(client, app, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()


def jwks(client: Any) -> KeySet:
    return KeySet.import_key_set(client.get("/o/jwks/").json())


def id_claims(client: Any, id_token: str, app: Any) -> dict[str, Any]:
    """The ID token's claims, once its signature verifies against the JWKS and its iss, aud and
    exp hold (OpenID Connect Core §3.1.3.7)."""
    token = jwt.decode(id_token, jwks(client), algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": app.client_id}
    ).validate(token.claims)
    return dict(token.claims)


def userinfo(client: Any, access_token: str, *, method: str = "get") -> Any:
    return getattr(client, method)("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def second_factor(client: Any, user: Any) -> None:
    """Log ``user`` in with a second factor proved (an official or administrator)."""
    client.force_login(user)
    device = StaticDevice.objects.create(user=user, name="test")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/problem+json"
    return json.loads(response.content)
