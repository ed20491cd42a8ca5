"""Deny by default: every route declares who may call it, and the matrix holds."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from hcmgov.api import api
from hcmgov.common.access import is_trusted, view_rule
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def test_every_page_declares_an_access_rule():
    missing = [
        route for route, view in _walk(get_resolver().url_patterns) if view_rule(view) is None and not is_trusted(view)
    ]
    assert missing == []


def test_every_api_operation_declares_who_may_call_it():
    schema = api.get_openapi_schema()
    undeclared = [
        f"{method.upper()} {path}"
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if op.get("x-access") not in {"public", "applicant", "official", "applicant-or-official", "official-or-staff"}
    ]
    assert undeclared == []
    for path, ops in schema["paths"].items():
        for op in ops.values():
            if op["x-access"] != "public":
                assert op.get("security"), f"{path} is not public but has no authentication"


def test_an_undeclared_view_is_refused():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from hcmgov.common.access import AccessMiddleware

    def naked(request):
        return HttpResponse("secret")

    from django.core.exceptions import PermissionDenied

    middleware = AccessMiddleware(lambda r: HttpResponse())
    with pytest.raises(PermissionDenied):
        middleware.process_view(RequestFactory().get("/x"), naked, (), {})


@pytest.mark.django_db
def test_dossier_page_matrix(client, submit, receiver):
    """anonymous · other citizen · other unit's official · the applicant · the right official · admin"""
    dossier, _ = submit()
    pages = [f"/ho-so/{dossier.code}/", f"/ho-so/{dossier.code}/phieu-hen.pdf"]
    office = f"/office/ho-so/{dossier.code}/"
    who = {
        "other citizen": UserFactory(),
        "other official": RoleAssignmentFactory().user,
        "applicant": dossier.applicant,
        "right official": receiver,
        "admin": UserFactory(admin=True),
    }
    for page in [*pages, office]:
        assert client.get(page).status_code == 302  # anonymous → login
    expected = {
        "other citizen": (404, 403),
        "other official": (404, 404),
        "applicant": (200, 403),
        "right official": (200, 200),
        "admin": (404, 403),  # administrators do not read citizens' dossiers by default
    }
    for name, user in who.items():
        client.force_login(user)
        page_status, office_status = expected[name]
        for page in pages:
            assert client.get(page).status_code == page_status, (name, page)
        assert client.get(office).status_code == office_status, (name, office)
        client.logout()


@pytest.mark.django_db
def test_citizen_pages_need_a_citizen(client, receiver):
    assert client.get("/ho-so/").status_code == 302
    client.force_login(receiver)
    assert client.get("/ho-so/").status_code == 403
    assert client.get("/office/").status_code == 200
    client.force_login(UserFactory())
    assert client.get("/office/").status_code == 403
