"""A standard OpenID Connect client — Authlib's ``OAuth2Session`` — logs in against the city's
provider over real HTTP (pytest-django's ``live_server``), with discovery, PKCE S256, state and
nonce, and verifies the ID token against the provider's JWKS as any relying party would."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urljoin

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from hcmgov.identity.provider import services as provider
from hcmgov.identity.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "https://rp.example.vn/callback"  # never fetched: the client reads the redirect itself


def _follow_until_callback(browser: requests.Session, url: str) -> str:
    """Follow the provider's redirects (login page excluded) until one points at the callback."""
    for _ in range(10):
        response = browser.get(url, allow_redirects=False)
        location = response.headers.get("Location", "")
        if location.startswith(CALLBACK):
            return location
        assert response.status_code == 302, (response.status_code, response.text[:500])
        url = urljoin(url, location)
    raise AssertionError("no redirect to the callback")


def test_authlib_logs_in_over_http_and_verifies_the_id_token(live_server, city):
    user = UserFactory(full_name="Trần Văn Bình")
    app = provider.oidc_client_register(name="Cổng thông tin quận", redirect_uris=[CALLBACK], trusted=True)
    base = live_server.url

    metadata = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == base

    nonce, verifier = generate_token(20), secrets.token_urlsafe(48)
    oauth = OAuth2Session(
        client_id=app.client_id,
        client_secret=app.raw_secret,
        scope="openid profile email",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    url, state = oauth.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce, code_verifier=verifier)

    # the person: sent to the login page, logs in with the form (CSRF and all), sent back
    browser = requests.Session()
    login = browser.get(url, allow_redirects=True, timeout=10)
    assert "/dang-nhap/" in login.url
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    following = re.search(r'name="next" value="([^"]+)"', login.text).group(1).replace("&amp;", "&")
    logged_in = browser.post(
        login.url,
        data={"csrfmiddlewaretoken": token, "username": user.username, "password": PASSWORD, "next": following},
        headers={"Referer": login.url},
        allow_redirects=False,
        timeout=10,
    )
    assert logged_in.status_code == 302, logged_in.text[:500]
    callback = _follow_until_callback(browser, urljoin(base, logged_in.headers["Location"]))

    tokens = oauth.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, state=state, code_verifier=verifier
    )
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"essential": True, "value": base}, "aud": {"essential": True, "value": app.client_id}},
        {"nonce": nonce, "client_id": app.client_id, "access_token": tokens["access_token"]},
    )
    claims.validate()  # iss, aud, exp, iat, nonce, at_hash
    assert claims["sub"] == str(user.pk)
    assert claims["name"] == "Trần Văn Bình"

    info = oauth.get(metadata["userinfo_endpoint"], timeout=10).json()
    assert info["sub"] == claims["sub"]
    assert info["email"] == user.email
