"""V3.4 Browser security mechanism headers and V3.4.2 CORS (OWASP ASVS 5.0), on a page, an API
answer, an API error made by ``PlatformMiddleware`` and an error page; over HTTPS, HSTS too."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

EVIL = "https://evil.example"


def _directives(policy: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {name: (rest[0] if rest else "") for name, *rest in parts}


def _assert_browser_headers(response) -> None:
    policy = _directives(response["Content-Security-Policy"])
    assert policy["frame-ancestors"] == "'none'"  # V3.4.6: no page of ours is framed by another site
    assert policy["object-src"] == "'none'"  # V3.4.3's minimum
    assert policy["base-uri"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "*" not in policy["default-src"]
    assert response["X-Content-Type-Options"] == "nosniff"  # V3.4.4
    assert response["Referrer-Policy"] in {"same-origin", "strict-origin", "no-referrer"}  # V3.4.5
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),  # a page
        ("/api/v1/procedures", 200),  # an API answer
        ("/api/v1/dossiers", 401),  # an API refusal (the API's own handler)
        ("/api/v1/khong-co-dau", 404),  # an API error replaced by a problem document
        ("/khong-co-trang-nay/", 404),  # an error page
        ("/healthz", 200),  # an operations endpoint
    ],
)
def test_every_kind_of_answer_carries_the_security_headers(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    _assert_browser_headers(response)


def test_an_early_refusal_carries_them_too(client):
    """Refused before any other layer reads the request (a NUL in the address, hcmgov.common.middleware)."""
    response = client.get("/api/v1/procedures", QUERY_STRING="q=%00")
    assert response.status_code == 400
    _assert_browser_headers(response)


@pytest.mark.parametrize("path", ["/", "/api/v1/procedures", "/api/v1/khong-co-dau", "/khong-co-trang-nay/"])
def test_over_https_every_answer_carries_hsts_for_a_year_and_subdomains(client, https_settings, path):
    response = client.get(path, secure=True)
    hsts = {part.strip().split("=")[0]: part for part in response["Strict-Transport-Security"].split(";")}
    assert int(hsts["max-age"].split("=")[1]) >= 365 * 24 * 3600  # V3.4.1
    assert "includeSubDomains" in hsts  # level 2: subdomains too
    _assert_browser_headers(response)


# --- V3.4.2 CORS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/procedures", "/api/v1/dossiers", "/o/userinfo/", "/api/3/action/package_list", "/"]
)
def test_another_sites_origin_gets_no_cors_permission(client, path):
    response = client.get(path, HTTP_ORIGIN=EVIL)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.parametrize("path", ["/api/v1/dossiers", "/o/token/"])
def test_a_preflight_from_another_site_is_not_granted(client, path):
    response = client.options(
        path,
        HTTP_ORIGIN=EVIL,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response


@pytest.mark.parametrize("path", ["/catalog.ttl", "/.well-known/openid-configuration", "/o/jwks/"])
def test_public_documents_are_shared_with_any_site_but_never_with_credentials(client, path):
    """The DCAT catalogue (open data) and the OpenID provider's discovery document and public keys
    (django-oauth-toolkit's own choice, as OpenID Connect Discovery expects): a fixed ``*``, which
    V3.4.2 allows for content without sensitive information, and never credentials with it."""
    response = client.get(path, HTTP_ORIGIN=EVIL)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


# --- V14.3.2 no caching of what a logged-in caller sees ---------------------------------------------


def test_answers_to_a_logged_in_caller_are_not_cached(client, citizen):
    assert "no-store" not in client.get("/api/v1/procedures").get("Cache-Control", "")  # public, anonymous
    client.force_login(citizen)
    for path in ("/ho-so/", "/api/v1/dossiers", "/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response["Cache-Control"] == "no-store", path


def test_a_pdf_keeps_only_the_framing_rule_so_the_browsers_viewer_works(rf):
    """The browser's PDF viewer runs its own scripts in the document: a PDF answer gets
    ``frame-ancestors 'none'`` alone (V3.4.6 still holds), with the other headers."""
    from django.http import HttpResponse

    from hcmgov.common.headers import SecurityHeadersMiddleware

    layer = SecurityHeadersMiddleware(lambda request: HttpResponse(b"%PDF-1.7", content_type="application/pdf"))
    response = layer(rf.get("/ho-so/abc/bien-nhan.pdf"))
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
