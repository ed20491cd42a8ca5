"""The city's OpenID provider, one test per module of the OpenID Foundation's Basic OP test plan
that can be reproduced without the conformance suite (names in brackets), plus what the platform
adds: PKCE, code reuse, key rotation, consent in the portal's look, the admin."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import override_settings
from joserfc import jwt
from joserfc.jwk import RSAKey
from oauth2_provider.models import AccessToken, RefreshToken

from hcmgov.audit.models import AuditEvent
from hcmgov.identity.middleware import LOGIN_AT
from hcmgov.identity.provider import services as provider
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.identity.tests.oidc_support import (
    AFTER_LOGOUT,
    ISSUER,
    REDIRECT,
    authorize,
    basic,
    code_for,
    consent,
    exchange,
    id_claims,
    jwks,
    pkce,
    redirected_params,
    second_factor,
    tokens_for,
    userinfo,
)

pytestmark = pytest.mark.django_db


# --- discovery and keys -----------------------------------------------------------------------------


def test_discovery_at_the_issuer(client):  # [oidcc-discovery-*]
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER
    for key, path in [
        ("authorization_endpoint", "/o/authorize/"),
        ("token_endpoint", "/o/token/"),
        ("userinfo_endpoint", "/o/userinfo/"),
        ("jwks_uri", "/o/jwks/"),
        ("end_session_endpoint", "/o/logout/"),
    ]:
        assert doc[key] == ISSUER + path
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(doc["token_endpoint_auth_methods_supported"])
    assert {"openid", "profile", "email", "phone", "hcmgov.api"} <= set(doc["scopes_supported"])
    assert {"sub", "name", "preferred_username", "email", "phone_number", "hcmgov_roles"} <= set(
        doc["claims_supported"]
    )
    assert client.get("/.well-known/oauth-authorization-server").json()["issuer"] == ISSUER


def test_a_configured_issuer_is_published_as_is(client, settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://dichvucong.example.vn"}
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == "https://dichvucong.example.vn"
    assert doc["token_endpoint"] == "https://dichvucong.example.vn/o/token/"


def test_jwks_publishes_the_public_key_only(client):  # [oidcc-server: jwks]
    keys = client.get("/o/jwks/").json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"]
    assert "d" not in key
    assert "p" not in key


# --- the code flow -------------------------------------------------------------------------------


def test_code_flow_with_pkce_and_nonce(client, rp):  # [oidcc-server, oidcc-ensure-request-with-valid-pkce]
    user = UserFactory()
    client.force_login(user)
    page = authorize(client, rp, scope="openid profile")
    assert page.status_code == 200  # the consent page, in the portal's look, Vietnamese first
    html = page.content.decode()
    assert "Hệ thống quản lý văn bản" in html
    assert "Cho phép" in html
    assert "Dịch vụ công TP.HCM" in html
    params = redirected_params(consent(client, page))
    assert params["state"] == "st-123"
    assert params["iss"] == ISSUER  # RFC 9207
    verifier = page.context["form"].initial["code_challenge"]  # not the verifier: the exchange must fail
    assert exchange(client, rp, params["code"], verifier).json()["error"] == "invalid_grant"


def test_the_id_token_verifies_and_echoes_the_nonce(client, rp):  # [oidcc-nonce-*, oidcc-id-token-*]
    user = UserFactory()
    client.force_login(user)
    tokens = tokens_for(client, rp, nonce="nonce-Σ-789")
    assert tokens["token_type"] == "Bearer"
    claims = id_claims(client, tokens["id_token"], rp)
    assert claims["nonce"] == "nonce-Σ-789"
    assert claims["sub"] == str(user.pk)
    assert claims["auth_time"] <= int(time.time())
    assert claims["exp"] > int(time.time())
    assert jwt.decode(tokens["id_token"], jwks(client)).header["kid"] == client.get("/o/jwks/").json()["keys"][0]["kid"]


def test_pkce_is_required_and_only_s256(client, rp):  # [oidcc-ensure-pkce-required]
    client.force_login(UserFactory())
    missing = authorize(client, rp, code_challenge_method=None, code_challenge=None)
    assert redirected_params(missing)["error"] == "invalid_request"
    assert redirected_params(authorize(client, rp, challenge=""))["error"] == "invalid_request"
    plain = authorize(client, rp, code_challenge_method="plain", challenge="x" * 43)
    assert redirected_params(consent(client, plain))["error"] == "invalid_request"  # refused when the code is made


def test_an_unregistered_redirect_uri_is_refused_without_redirecting(
    client, rp
):  # [oidcc-ensure-registered-redirect-uri]
    client.force_login(UserFactory())
    response = authorize(client, rp, redirect_uri="https://attacker.example/cb")
    assert response.status_code == 400
    assert "Location" not in response
    assert "không hợp lệ" in response.content.decode()
    unknown = client.get("/o/authorize/?response_type=code&client_id=nobody&redirect_uri=https://attacker.example/cb")
    assert unknown.status_code == 400
    assert "Location" not in unknown


def test_denying_consent_returns_access_denied(client, rp):
    client.force_login(UserFactory())
    page = authorize(client, rp)
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    assert redirected_params(client.post("/o/authorize/", data))["error"] == "access_denied"


# --- prompt and max_age --------------------------------------------------------------------------------


def test_prompt_none_without_a_session_answers_login_required(client, rp):  # [oidcc-prompt-none-not-logged-in]
    params = redirected_params(authorize(client, rp, prompt="none"))
    assert params == {"error": "login_required", "state": "st-123"}


def test_prompt_none_with_a_session_gives_a_code(client, rp):  # [oidcc-prompt-none-logged-in]
    client.force_login(UserFactory())
    tokens_for(client, rp)  # consented once
    params = redirected_params(authorize(client, rp, prompt="none"))
    assert params["code"]
    assert params["state"] == "st-123"


def test_prompt_none_without_consent_answers_consent_required(client, rp):
    client.force_login(UserFactory())
    assert redirected_params(authorize(client, rp, prompt="none"))["error"] == "consent_required"


def test_prompt_login_forces_a_new_login(client, rp):  # [oidcc-prompt-login]
    user = UserFactory()
    client.force_login(user)
    response = authorize(client, rp, prompt="login")
    assert response.status_code == 302
    login = urlparse(response["Location"])
    assert login.path == "/dang-nhap/"
    following = parse_qs(login.query)["next"][0]
    assert following.startswith("/o/authorize/?")
    assert "prompt" not in following
    assert "_auth_user_id" not in client.session  # the session ended: the login page asks again


def test_max_age_reauthenticates_an_old_session(client, rp):  # [oidcc-max-age-1, oidcc-max-age-10000]
    client.force_login(UserFactory())
    session = client.session
    session[LOGIN_AT] = int(time.time()) - 120
    session.save()
    tokens_for(client, rp)  # consent, without max_age
    response = authorize(client, rp, max_age="60")
    assert response.status_code == 302
    assert urlparse(response["Location"]).path == "/dang-nhap/"
    assert "max_age" not in parse_qs(urlparse(response["Location"]).query)["next"][0]
    assert "_auth_user_id" not in client.session

    client.force_login(UserFactory())  # a fresh login: max_age holds, the ID token says when
    tokens = tokens_for(client, rp, max_age="10000")
    assert abs(id_claims(client, tokens["id_token"], rp)["auth_time"] - time.time()) < 60


def test_an_official_needs_the_second_factor(client, rp):
    official = RoleAssignmentFactory(user__totp_device=False).user
    client.force_login(official)  # password only: no second factor proved in this session
    response = authorize(client, rp)
    assert response.status_code == 302
    assert "/o/authorize/" in parse_qs(urlparse(response["Location"]).query)["next"][0]
    assert "Location" in response
    assert not response["Location"].startswith(REDIRECT)
    assert redirected_params(authorize(client, rp, prompt="none"))["error"] == "login_required"


# --- the token endpoint -------------------------------------------------------------------------------


@pytest.mark.parametrize("post_secret", [False, True], ids=["client_secret_basic", "client_secret_post"])
def test_client_authentication(client, rp, post_secret):  # [oidcc-client-secret-basic / -post]
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp)
    assert exchange(client, rp, code, verifier, post_secret=post_secret).status_code == 200
    rp.raw_secret = "wrong"
    code, verifier = code_for(client, rp)
    refused = exchange(client, rp, code, verifier, post_secret=post_secret)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_an_unknown_client_is_refused(client):
    response = client.post(
        "/o/token/", {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "nothing"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_reusing_a_code_fails_and_revokes_its_tokens(client, rp):  # [oidcc-codereuse, oidcc-codereuse-30seconds]
    client.force_login(UserFactory())
    code, verifier = code_for(client, rp)
    first = exchange(client, rp, code, verifier).json()
    assert userinfo(client, first["access_token"]).status_code == 200
    again = exchange(client, rp, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert userinfo(client, first["access_token"]).status_code == 401
    refreshed = client.post(
        "/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, **basic(rp)
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(action="security.code_reused", object_id=str(rp.pk)).count() == 1
    assert not AccessToken.objects.filter(application=rp).exists()


def test_a_code_never_issued_revokes_nothing(client, rp):
    client.force_login(UserFactory())
    tokens = tokens_for(client, rp)
    assert exchange(client, rp, "no-such-code", pkce()[0]).json()["error"] == "invalid_grant"
    assert userinfo(client, tokens["access_token"]).status_code == 200


def test_refresh_token_rotation(client, rp):  # [oidcc-refresh-token]
    client.force_login(UserFactory())
    first = tokens_for(client, rp, scope="openid profile")
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = client.post("/o/token/", refresh, **basic(rp)).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert id_claims(client, second["id_token"], rp)["sub"] == id_claims(client, first["id_token"], rp)["sub"]
    assert userinfo(client, second["access_token"]).status_code == 200
    # the old refresh token used again: the whole family is revoked (RFC 9700 §4.14.2)
    assert client.post("/o/token/", refresh, **basic(rp)).json()["error"] == "invalid_grant"
    assert userinfo(client, second["access_token"]).status_code == 401
    assert not RefreshToken.objects.filter(application=rp, revoked__isnull=True).exists()


def test_tokens_are_stored_as_digests_only(client, rp):
    client.force_login(UserFactory())
    tokens = tokens_for(client, rp)
    stored = AccessToken.objects.get(application=rp)
    assert stored.token == ""
    assert stored.token_checksum != tokens["access_token"]


# --- claims and userinfo ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "present", "absent"),
    [
        ("openid", set(), {"name", "email", "phone_number", "preferred_username"}),
        ("openid profile", {"name", "preferred_username"}, {"email", "phone_number"}),
        ("openid email", {"email"}, {"name", "phone_number"}),
        ("openid phone", {"phone_number"}, {"name", "email"}),
    ],
)
def test_claims_by_scope(client, rp, scope, present, absent):  # [oidcc-scope-profile/-email/-phone]
    user = UserFactory(full_name="Nguyễn Thị Mai")
    client.force_login(user)
    tokens = tokens_for(client, rp, scope=scope)
    for claims in (id_claims(client, tokens["id_token"], rp), userinfo(client, tokens["access_token"]).json()):
        assert claims["sub"] == str(user.pk)
        assert present <= set(claims), claims
        assert not (absent & set(claims)), claims
        assert "hcmgov_roles" not in claims  # not an official
    if "name" in present:
        assert claims["name"] == "Nguyễn Thị Mai"
        assert claims["preferred_username"] == user.username
    if "email" in present:
        assert claims["email"] == user.email
    if "phone_number" in present:
        assert claims["phone_number"] == user.phone


def test_an_officials_profile_carries_agencies_and_roles(client, rp):
    assignment = RoleAssignmentFactory(role="specialist", field="Đất đai")
    official = assignment.user
    RoleAssignmentFactory(user=official, role="head", agency=assignment.agency)
    second_factor(client, official)
    tokens = tokens_for(client, rp, scope="openid profile")
    claims = userinfo(client, tokens["access_token"]).json()
    code = assignment.agency.code
    assert claims["hcmgov_agencies"] == [code]
    assert claims["hcmgov_roles"] == [
        {"agency": code, "role": "head", "field": ""},
        {"agency": code, "role": "specialist", "field": "Đất đai"},
    ]
    assert id_claims(client, tokens["id_token"], rp)["hcmgov_roles"] == claims["hcmgov_roles"]


def test_userinfo_by_get_and_post(client, rp):  # [oidcc-userinfo-get, oidcc-userinfo-post-header]
    client.force_login(UserFactory())
    tokens = tokens_for(client, rp, scope="openid email")
    by_get = userinfo(client, tokens["access_token"])
    by_post = userinfo(client, tokens["access_token"], method="post")
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.json() == by_post.json()
    assert userinfo(client, "forged").status_code == 401


# --- logout, keys, clients, admin ----------------------------------------------------------------


def test_rp_initiated_logout(client, rp):  # [oidcc-rp-initiated-logout]
    client.force_login(UserFactory())
    tokens = tokens_for(client, rp)
    query = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT, "state": "bye-1"}
    page = client.get("/o/logout/", query)
    assert page.status_code == 200
    assert "Đăng xuất khỏi Cổng dịch vụ công?" in page.content.decode()
    data = {k: v for k, v in page.context["form"].initial.items() if v is not None} | {"allow": "Logout"}
    done = client.post("/o/logout/", data)
    assert done.status_code == 302
    assert done["Location"] == f"{AFTER_LOGOUT}?state=bye-1"
    assert "_auth_user_id" not in client.session
    assert userinfo(client, tokens["access_token"]).status_code == 401  # its tokens went with it
    elsewhere = client.get("/o/logout/", {**query, "post_logout_redirect_uri": "https://attacker.example/"})
    assert elsewhere.status_code == 400
    assert "Location" not in elsewhere


def test_key_rotation_keeps_old_tokens_verifiable(client, rp, settings):  # [oidcc-server-rotate-keys]
    client.force_login(UserFactory())
    old_pem = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    old_token = tokens_for(client, rp)["id_token"]
    new_pem = RSAKey.generate_key(2048, private=True).as_pem(private=True).decode()
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": new_pem,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old_pem],
    }
    published = client.get("/o/jwks/").json()["keys"]
    assert len(published) == 2
    assert id_claims(client, old_token, rp)["sub"]  # signed by the old key: verifies through the JWKS
    new_token = tokens_for(client, rp)["id_token"]
    kids = [k["kid"] for k in published]
    assert (
        jwt.decode(new_token, jwks(client)).header["kid"]
        == kids[0]
        != jwt.decode(old_token, jwks(client)).header["kid"]
    )
    assert jwt.decode(old_token, jwks(client)).header["kid"] == kids[1]


def test_a_trusted_client_skips_consent(client):
    trusted = provider.oidc_client_register(name="Cổng nội bộ", redirect_uris=[REDIRECT], trusted=True)
    client.force_login(UserFactory())
    assert redirected_params(authorize(client, trusted))["code"]


def test_a_public_client_uses_pkce_without_a_secret(client):
    app = provider.oidc_client_register(name="Ứng dụng di động", redirect_uris=[REDIRECT], confidential=False)
    client.force_login(UserFactory())
    code, verifier = code_for(client, app)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    response = client.post("/o/token/", {**data, "client_id": app.client_id})
    assert response.status_code == 200
    assert response.json()["id_token"]


def test_client_secrets_are_hashed(rp):
    from oauth2_provider.models import Application

    stored = Application.objects.get(pk=rp.pk).client_secret
    assert stored.startswith("pbkdf2_client_secret$")
    assert rp.raw_secret not in stored


def test_the_admin_of_clients_is_for_staff_only(client):
    url = "/admin/oauth2_provider/application/"
    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 302  # not staff: the admin's login page
    second_factor(client, UserFactory(admin=True))
    assert client.get(url).status_code == 200


@override_settings(LANGUAGE_CODE="vi")
def test_the_consent_page_in_english(client, rp):
    client.force_login(UserFactory())
    client.cookies["django_language"] = "en"
    page = authorize(client, rp, scope="openid phone")
    html = page.content.decode()
    assert "Your phone number" in html
    assert "Allow" in html
    assert "Số điện thoại" not in html
