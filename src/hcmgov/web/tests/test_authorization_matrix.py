"""The authorization matrix over every page: each URL pattern, as every actor of ``authz_world``.

What each actor should get comes from the route's declared rule (``view.access``) and, for a route
about one object, from who owns it: anonymous → the login page; a signed-in actor the rule or the
object excludes → 403 or 404 (404 for an object: its existence is not revealed); the others → an
answer that is none of these. A GET that an actor may not make must not show the dossier's code.
A route this table does not know fails the test: add it here (with its object) when adding it.

The API's operations are checked the same way from the OpenAPI document, in
``tests/api/test_authorization_matrix.py``; the admin site's own patterns are checked together
(the admin decides: staff only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from hcmgov.common.access import view_rule
from hcmgov.web.tests.authz_world import (
    ACTORS,
    ADMIN,
    ANONYMOUS,
    APPLICANT,
    OFFICIALS,
    OTHER_FIELD,
    REPORT_PERIOD,
    REPORT_TEMPLATE,
    RIGHT_OFFICIAL,
    RULES,
    World,
    build_world,
)

pytestmark = pytest.mark.django_db

# who may see or act on each kind of object (intersected with the rule's actors)
OWNERS = {
    None: set(ACTORS),
    "procedure": set(ACTORS),  # the public catalogue
    "dossier": {APPLICANT, RIGHT_OFFICIAL},
    # feedback is the agency's, whatever the procedure field: its back office, any field
    "feedback": {RIGHT_OFFICIAL, OTHER_FIELD},
    "consent": {APPLICANT},
    "official": {RIGHT_OFFICIAL, OTHER_FIELD},  # an official of X: their agency's administrators
    # a document of a data store: its owner, and the officials of the agency that digitised it
    "component": {APPLICANT, RIGHT_OFFICIAL, OTHER_FIELD},
    # a unit's periodic report: its People's Committee's officials (any field), and the reviewers above
    "report": {RIGHT_OFFICIAL, OTHER_FIELD},
}


@dataclass(frozen=True)
class Route:
    params: dict[str, str]  # URL parameter → an attribute of the world (or a literal after "=")
    object: str | None = None
    only: frozenset[str] | None = None  # narrower than the rule says (the view refuses the others: 404)


CODE = {"code": "dossier.code"}
# --- helper: office pages (hcmgov.office) ---
OFFICE_X = frozenset({RIGHT_OFFICIAL, OTHER_FIELD})  # X's officials, any field
# --- end helper: office pages ---
# --- helper: desk-766 ---
BOOK_X = frozenset({RIGHT_OFFICIAL, OTHER_FIELD})  # an entry of X's certification book: X's officials, any field
# --- end helper: desk-766 ---
# --- helper: asvs ---
# --- end helper: asvs ---
# --- helper: fuzz ---
# --- end helper: fuzz ---
# --- helper: quality766 ---
# --- end helper: quality766 ---
# --- helper: soak ---
# --- end helper: soak ---
# --- helper: a11y ---
# --- end helper: a11y ---
REPORT = {"template": "=" + REPORT_TEMPLATE, "period": "=" + REPORT_PERIOD, "unit": "report_unit"}
ROUTES: dict[str, Route] = {
    "healthz": Route({}),
    "readyz": Route({}),
    "metrics": Route({}),
    "i18n/setlang/": Route({}),
    "ngon-ngu/": Route({}),  # the language switch (decision 0039): anyone
    "api/v1/openapi.json": Route({}),
    "api/v1/docs": Route({}),
    "api/3/action/<str:name>": Route({"name": "=status_show"}),  # CKAN's API: public reads, token writes
    "api/action/<str:name>": Route({"name": "=status_show"}),
    # the open data catalogue as DCAT-AP: anyone (open data)
    "catalog": Route({}),
    "catalog.ttl": Route({}),
    "catalog.jsonld": Route({}),
    "catalog.rdf": Route({}),
    # one open dataset of the world, as DCAT-AP
    "dataset/<slug:name>.ttl": Route({"name": "=du-lieu-ma-tran"}),
    "dataset/<slug:name>.jsonld": Route({"name": "=du-lieu-ma-tran"}),
    "dataset/<slug:name>.rdf": Route({"name": "=du-lieu-ma-tran"}),
    # the open data portal's pages: anyone (open data)
    "du-lieu-mo/": Route({}),
    "du-lieu-mo/to-chuc/": Route({}),
    "du-lieu-mo/chu-de/": Route({}),
    "du-lieu-mo/<slug:name>/": Route({"name": "=du-lieu-ma-tran"}),
    # a resource of it (a link: the download answers with its address); ``open_resource_id`` is
    # that resource's id, which ``authz_world.World`` has to carry
    "du-lieu-mo/<slug:name>/tai-nguyen/<uuid:resource_id>.<str:fmt>": Route(
        {"name": "=du-lieu-ma-tran", "resource_id": "open_resource_id", "fmt": "=csv"}
    ),
    "": Route({}),
    "thu-tuc/<str:code>/": Route({"code": "procedure_code"}, "procedure"),
    "thu-tuc/<str:code>/nop-ho-so/": Route({"code": "procedure_code"}, "procedure"),
    "thu-tuc/<str:code>/dien-san/": Route({"code": "procedure_code"}, "procedure"),
    "ho-so/": Route({}),
    "ho-so/<str:code>/": Route(CODE, "dossier"),
    "ho-so/<str:code>/phieu-hen.pdf": Route(CODE, "dossier"),
    "ho-so/<str:code>/giay-to/<int:document_id>/": Route({**CODE, "document_id": "document_id"}, "dossier"),
    "ho-so/<str:code>/phieu-tu-choi.pdf": Route({"code": "refused.code"}, "dossier"),
    "ho-so/<str:code>/bo-sung/": Route(CODE, "dossier"),
    "ho-so/<str:code>/rut/": Route(CODE, "dossier"),
    "ho-so/<str:code>/phieu-bo-sung-<int:number>.pdf": Route({**CODE, "number": "=1"}, "dossier"),
    "ho-so/<str:code>/phieu-xin-loi-<int:number>.pdf": Route({**CODE, "number": "=1"}, "dossier"),
    "ho-so/<str:code>/thanh-toan/": Route(CODE, "dossier"),
    "ho-so/<str:code>/bien-lai-<int:order_id>.pdf": Route({**CODE, "order_id": "order_id"}, "dossier"),
    # the gateway's return: anyone's browser, carrying a result signed by the gateway
    "thanh-toan/vnpay/ket-qua/": Route({}),
    "ho-so/<str:code>/buu-chinh/<str:kind>/": Route({**CODE, "kind": "=ket-qua"}, "dossier"),
    "danh-gia/<str:code>/": Route(CODE, "dossier"),
    "tra-cuu/": Route({}),
    # verification of results: anyone (the QR code's page names a result the city issued)
    "xac-thuc/": Route({}),
    "xac-thuc/<str:token>/": Route({"token": "verify_token"}),
    "kho-du-lieu/": Route({}),
    "kho-du-lieu/<str:code>/tep": Route({"code": "component_code"}, "component"),
    "office/so-hoa/": Route({}),
    "phan-anh-kien-nghi/": Route({}),
    "phan-anh-kien-nghi/tra-cuu/": Route({}),
    "office/phan-anh/": Route({}),
    "office/phan-anh/<str:code>/": Route({"code": "feedback_code"}, "feedback"),
    "dang-nhap/": Route({}),
    "dang-nhap/vneid/": Route({}),
    "dang-nhap/vneid/callback/": Route({}),
    "dang-xuat/": Route({}),
    "tai-khoan/": Route({}),
    "tai-khoan/xac-thuc/": Route({}),
    # enrolling an authenticator app: officials and administrators (citizens log in with the e-ID)
    "tai-khoan/xac-thuc/dang-ky/": Route({}, only=frozenset(OFFICIALS | {ADMIN})),
    "tai-khoan/ma-du-phong/": Route({}),
    "tai-khoan/mat-khau/": Route({}),
    "tai-khoan/dang-xuat-moi-noi/": Route({}),
    "tai-khoan/chia-se-du-lieu/": Route({}),
    "tai-khoan/chia-se-du-lieu/<int:consent_id>/rut/": Route({"consent_id": "consent_id"}, "consent"),
    "tai-khoan/dat-mat-khau/<uidb64>/<token>/": Route({"uidb64": "=MQ", "token": "=set-password"}),
    "office/": Route({}),
    "office/tim-kiem/": Route({}),
    "office/don-vi/": Route({}),
    "office/so-theo-doi.pdf": Route({}),
    "office/ho-so/<str:code>/": Route(CODE, "dossier"),
    "office/ho-so/<str:code>/phieu-kiem-soat.pdf": Route(CODE, "dossier"),
    "office/quy-trinh/<str:code>/": Route({"code": "procedure_code"}, "procedure"),
    "office/can-bo/": Route({}),
    "office/can-bo/moi/": Route({}),
    "office/can-bo/<int:user_id>/": Route({"user_id": "official_id"}, "official"),
    # the officials' periodic reports (reporting/urls_reports.py): the list (each official's own),
    # a report and its review (the report of X's unit in the world)
    "office/bao-cao/": Route({}),
    "office/bao-cao/<str:template>/<str:period>/<str:unit>/": Route(REPORT, "report"),
    "office/bao-cao/<str:template>/<str:period>/<str:unit>/xem-xet/": Route(REPORT, "report"),
    # the city's OpenID provider: its authorization and logout pages declare rules (above the
    # table: ``o/authorize/`` authenticated, ``o/logout/`` public)
    ".well-known/openid-configuration": Route({}),
    ".well-known/oauth-authorization-server": Route({}),
    "o/authorize/": Route({}),
    "o/logout/": Route({}),
    "o/jwks/": Route({}),
    # the leaders' dashboards (reporting/urls_dashboard.py): leaders and administrators, every agency
    "dashboard/": Route({}),
    "dashboard/chi-so-766/": Route({}),
    "dashboard/chi-so-766.xlsx": Route({}),
    "dashboard/chi-so-766.pdf": Route({}),
    "dashboard/chi-so-766/co-quan/<str:code>/": Route({"code": "dossier.agency.code"}),
    "dashboard/chi-so-766/co-quan/<str:code>/<str:indicator>/": Route(
        {"code": "dossier.agency.code", "indicator": "=2.1"}
    ),
    # the NGSI-LD core @context the broker serves: anyone (the other NGSI-LD routes: PROTOCOL below)
    "ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld": Route({}),
    # IoT batch ingestion (hcmgov.iot.views): POST only, the device authenticates itself (HTTP Basic)
    "iot/v1/readings": Route({}),
    # --- helper: office pages (hcmgov.office) ---
    # the electronic office (office/urls.py): officials; a document or record of X is seen by X's
    # officials (any field), another agency's official gets a 404
    "office/van-ban/": Route({}),
    "office/van-ban/moi/": Route({}),
    "office/van-ban/<int:pk>/": Route({"pk": "office_document_id"}, only=OFFICE_X),
    "office/van-ban/<int:pk>/tep.pdf": Route({"pk": "office_document_id"}, only=OFFICE_X),
    "office/van-ban-den/": Route({}),
    "office/van-ban-den/moi/": Route({}),
    "office/ho-so-cong-viec/": Route({}),
    "office/ho-so-cong-viec/moi/": Route({}),
    "office/ho-so-cong-viec/<int:pk>/": Route({"pk": "office_record_id"}, only=OFFICE_X),
    # --- end helper: office pages ---
    # --- helper: desk-766 ---
    # the certification book (documents/urls.py): officials; an entry of X is seen by X's officials
    # (any field), another agency's official gets a 404; the desk's digitisation of a dossier: the
    # officials who see the dossier
    "office/chung-thuc/": Route({}),
    "office/chung-thuc/moi/": Route({}),
    "office/chung-thuc/<int:pk>/": Route(
        __import__("hcmgov.documents.tests.matrix", fromlist=["_"]).CERTIFICATION_PARAMS, only=BOOK_X
    ),
    "office/chung-thuc/<int:pk>/ban-sao.pdf": Route(
        __import__("hcmgov.documents.tests.matrix", fromlist=["_"]).CERTIFICATION_PARAMS, only=BOOK_X
    ),
    "office/so-hoa/ho-so/<str:code>/": Route(CODE, "dossier"),
    # --- end helper: desk-766 ---
    # --- helper: reporting-pages ---
    # the dashboards' breakdowns (reporting/views_breakdowns.py): leaders and administrators, every
    # unit; the drill-down by unit names the unit of the world's agency (a unit the core knows)
    "dashboard/chi-so-766/don-vi/": Route({}),
    "dashboard/chi-so-766/don-vi.xlsx": Route({}),
    "dashboard/chi-so-766/don-vi.pdf": Route({}),
    "dashboard/chi-so-766/don-vi/<str:code>/<str:indicator>/": Route(
        {"code": "dossier.agency.unit.code", "indicator": "=2.1"}
    ),
    "dashboard/chi-so-766/linh-vuc/": Route({}),
    "dashboard/chi-so-766/linh-vuc.xlsx": Route({}),
    "dashboard/chi-so-766/linh-vuc.pdf": Route({}),
    "dashboard/ban-do/": Route({}),
    "dashboard/che-do-bao-cao/": Route({}),
    # --- end helper: reporting-pages ---
    # --- helper: office directory and mail ---
    # the directory of agencies and officials with their city mailboxes (hcmgov.citymail): any official
    "office/danh-ba/": Route({}),
    # --- end helper: office directory and mail ---
    # --- helper: iot dashboard ---
    # the IoT dashboard (hcmgov.iot.views_dashboard): public, like the air quality and traffic it
    # shows; the world has no device yet, so the sensor page's parameters register one when read
    # (hcmgov/iot/tests/matrix.py) — an unknown code answers 404 (test_dashboard.py)
    "iot/ban-do/": Route({}),
    "iot/khu-vuc/": Route({}),
    "iot/cam-bien/<str:device_id>/": Route(__import__("hcmgov.iot.tests.matrix", fromlist=["_"]).DEVICE_PARAMS),
    # --- end helper: iot dashboard ---
    # --- helper: asvs ---
    # --- end helper: asvs ---
    # --- helper: fuzz ---
    # --- end helper: fuzz ---
    # --- helper: quality766 ---
    # --- end helper: quality766 ---
    # --- helper: soak ---
    # --- end helper: soak ---
    # --- helper: a11y ---
    # --- end helper: a11y ---
}
# OAuth 2.0 endpoints that authenticate the client or the bearer token themselves: a browser
# session counts for nothing there, so every actor gets the same refusal.
PROTOCOL = {
    "api/v1/": {404},  # the API's root: nothing there
    "o/token/": {400, 401, 405},
    "o/revoke_token/": {400, 401, 405},
    "o/introspect/": {401, 403, 405},
    "o/userinfo/": {401, 403},
    # NGSI-LD (hcmgov.ngsi, rule "bearer"): a bearer token or nothing, whoever the session is; with a
    # token, reads for any caller and writes for machine clients, officials and administrators
    # (tested in hcmgov/ngsi/tests/test_entities.py)
    "ngsi-ld/v1/entities": {401},
    "ngsi-ld/v1/entities/<str:entity_id>": {401},
    "ngsi-ld/v1/entities/<str:entity_id>/attrs": {401},
    "ngsi-ld/v1/entities/<str:entity_id>/attrs/<str:attr>": {401},
    "ngsi-ld/v1/entityOperations/create": {401},
    "ngsi-ld/v1/entityOperations/upsert": {401},
    "ngsi-ld/v1/entityOperations/update": {401},
    "ngsi-ld/v1/entityOperations/delete": {401},
    "ngsi-ld/v1/entities/": {401},  # the same, with the trailing slash client libraries write
    "ngsi-ld/v1/entityOperations/create/": {401},
    "ngsi-ld/v1/entityOperations/upsert/": {401},
    "ngsi-ld/v1/entityOperations/update/": {401},
    "ngsi-ld/v1/entityOperations/delete/": {401},
    "ngsi-ld/v1/types": {401},
    "ngsi-ld/v1/types/<str:type_name>": {401},
    "ngsi-ld/v1/attributes": {401},
    "ngsi-ld/v1/attributes/<str:attr>": {401},
    "ngsi-ld/v1/subscriptions": {401},
    "ngsi-ld/v1/subscriptions/<str:subscription_id>": {401},
    "ngsi-ld/v1/temporal/entities": {401},
    "ngsi-ld/v1/temporal/entities/<str:entity_id>": {401},
}
_CONVERTER = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def _walk(patterns: list[Any], prefix: str = "") -> Any:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def _value(world: World, source: str) -> str:
    if source.startswith("="):
        return source[1:]
    value: Any = world
    for part in source.split("."):
        value = getattr(value, part)
    return str(value)


def _fill(route: str, params: dict[str, str], world: World) -> str:
    missing = [m["name"] for m in _CONVERTER.finditer(route) if m["name"] not in params]
    assert not missing, f"the matrix cannot fill {missing} of {route!r}: declare them in ROUTES"
    return "/" + _CONVERTER.sub(lambda m: _value(world, params[m["name"]]), route)


def _admin_path(route: str) -> str:
    """A path of the admin site's pattern, with the id of a row of its model when there is one (the
    admin looks only once it let the caller in; some of its plugins' pages fail on a missing row)."""
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<app_label>([\w]+)[^)]*\)", r"\1", route)
    route = route.replace("(?P<url>.*)", "no-such-page/")
    parts = route.split("/")
    try:
        row = apps.get_model(parts[1], parts[2]).objects.order_by("pk").first() if len(parts) > 3 else None
    except (LookupError, ValueError):
        row = None
    return "/" + _CONVERTER.sub(lambda m: str(row.pk if row is not None else 1), route)


def _is_login(response: Any, admin: bool = False) -> bool:
    where = response.get("Location", "") if response.status_code == 302 else ""
    return where.startswith("/admin/login/" if admin else "/dang-nhap/")


def _clients(world: World) -> dict[str, Client]:
    clients = {}
    for actor, user in world.users.items():
        client = Client()
        if user is not None:
            client.force_login(user)
        clients[actor] = client
    return clients


def _call(client: Client, path: str) -> tuple[str, Any]:
    """GET; a route that takes POST only answers 405 to a GET once the actor passed its rule,
    so then POST an empty form: the object check comes next."""
    response = client.get(path)
    if response.status_code == 405:
        return "POST", client.post(path, {})
    return "GET", response


def test_every_page_as_every_actor(submit, agency, citizen):
    world = build_world(submit=submit, agency=agency, citizen=citizen)
    clients = _clients(world)
    secret = world.dossier.code
    problems: list[str] = []
    checked = 0
    for route, view in _walk(get_resolver().url_patterns):
        if route.startswith("api/v1/") and route not in ROUTES:
            continue  # the API's operations: tests/api/test_authorization_matrix.py, from the OpenAPI document
        if route.startswith("admin/"):
            problems += _admin(route, clients)
            checked += 1
            continue
        if route in PROTOCOL:
            for actor, client in clients.items():
                status = client.get("/" + route).status_code
                if status not in PROTOCOL[route]:
                    problems.append(f"{route} as {actor}: {status}, expected one of {sorted(PROTOCOL[route])}")
            checked += 1
            continue
        spec = ROUTES.get(route)
        if spec is None:
            problems.append(f"{route}: unknown to the authorization matrix — add it to ROUTES with its object")
            continue
        rule = view_rule(view) or "public"  # trusted framework views (API schema, language switch)
        if rule not in RULES:
            problems.append(f"{route}: rule {rule!r} unknown to the matrix")
            continue
        allowed = RULES[rule] & OWNERS[spec.object] & (spec.only or set(ACTORS))
        path = _fill(route, spec.params, world)
        checked += 1
        for actor in ACTORS:
            client = clients[actor]
            if actor in allowed:
                response = client.get(path)
                if response.status_code == 405:
                    continue  # a POST-only action: its success is tested with the action, not here
                if response.status_code in {401, 403, 404} or (rule != "public" and _is_login(response)):
                    problems.append(f"GET {path} as {actor}: refused ({response.status_code}), rule {rule}")
                continue
            method, response = _call(client, path)
            if actor == ANONYMOUS:
                if not _is_login(response):
                    problems.append(f"{method} {path} anonymous: {response.status_code}, expected the login page")
            elif response.status_code not in {403, 404}:
                problems.append(f"{method} {path} as {actor}: {response.status_code}, expected 403 or 404")
            elif spec.object == "dossier" and actor in RULES[rule] and response.status_code != 404:
                problems.append(f"{method} {path} as {actor}: 403 reveals that the dossier exists (404 expected)")
            if method == "GET" and secret in response.content.decode(errors="replace"):
                problems.append(f"GET {path} as {actor}: shows the dossier's code")
    assert problems == [], "\n".join(problems)
    assert checked > 50


def _admin(route: str, clients: dict[str, Client]) -> list[str]:
    """The admin site: staff only (its login and logout pages aside)."""
    path = _admin_path(route)
    if route in {"admin/login/", "admin/logout/"}:
        return []
    problems = []
    for actor, client in clients.items():
        response = client.get(path)
        if actor == ADMIN:  # what the administrator may do there is the admin's own permissions (403)
            if response.status_code == 401 or _is_login(response, admin=True):
                problems.append(f"GET {path} as {actor}: refused ({response.status_code})")
        elif not _is_login(response, admin=True) and response.status_code not in {403, 404}:
            problems.append(f"GET {path} as {actor}: {response.status_code}, expected the admin's login page")
    return problems
