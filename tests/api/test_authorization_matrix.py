"""The authorization matrix over every operation of /api/v1, read from the OpenAPI document: each
operation as every actor of ``hcmgov.web.tests.authz_world`` (personal bearer tokens).

Expected answers come from the operation's ``x-access`` and, for an operation on one object, from
who owns it: anonymous → 401 (public operations aside); a signed-in actor the rule or the object
excludes → 403 or 404 (404 for a dossier the actor's kind could otherwise reach: its existence is
not revealed); the others → none of 401, 403, 404 (GET only: an action's success is tested with
the action). A GET an actor may not make must not show the dossier's code. An operation the table
below does not know fails the test: add it (its object, the query and body it needs)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from hcmgov.api import api
from hcmgov.identity.services import api_token_issue
from hcmgov.web.tests.authz_world import (
    ACTORS,
    ANONYMOUS,
    APPLICANT,
    OTHER_FIELD,
    RIGHT_OFFICIAL,
    RULES,
    World,
    build_world,
)

pytestmark = pytest.mark.django_db

OWNERS = {
    None: set(ACTORS),
    "dossier": {APPLICANT, RIGHT_OFFICIAL},
    "feedback": {RIGHT_OFFICIAL, OTHER_FIELD},  # the agency's back office, any procedure field
    "consent": {APPLICANT},
    "payment_order": {RIGHT_OFFICIAL, OTHER_FIELD},  # the agency's desk collects fees of every field
    "exchange_system": set(),  # a registered information system's machine client: no person, whatever their role
    # a unit's periodic report: its People's Committee's officials (any field), and the reviewers above
    "report": {RIGHT_OFFICIAL, OTHER_FIELD},
}
DOSSIER_PATH = re.compile(r"^/api/v1/dossiers/\{code\}")


@dataclass(frozen=True)
class Op:
    object: str | None = None
    query: dict[str, str] = field(default_factory=dict)  # name → an attribute of the world, or "=literal"
    body: dict[str, Any] | None = None  # values "@attr" are read from the world


PERIOD = {"start": "=2020-01-01", "end": "=2020-01-31"}
REASON = {"reason": "Lý do"}
OPERATIONS: dict[str, Op] = {
    "GET /api/v1/procedures": Op(),
    "GET /api/v1/procedures/{code}": Op(),
    "GET /api/v1/units": Op(),
    "GET /api/v1/agencies": Op(),
    "POST /api/v1/dossiers": Op(body={"procedure": "@procedure_code", "agency": "X", "form": {}}),
    "GET /api/v1/dossiers": Op(),
    "GET /api/v1/dossiers/{code}": Op("dossier"),
    "POST /api/v1/dossiers/{code}/receive": Op("dossier"),
    "POST /api/v1/dossiers/{code}/refuse": Op("dossier", body=REASON),
    "GET /api/v1/dossiers/{code}/steps": Op("dossier"),
    "POST /api/v1/dossiers/{code}/steps/{step_id}/actions": Op("dossier", body={"action": "forward"}),
    "POST /api/v1/dossiers/{code}/steps/{step_id}/send-back": Op("dossier", body=REASON),
    "POST /api/v1/dossiers/{code}/steps/{step_id}/supplement-requests": Op(
        "dossier", body={"items": [{"document": "Tờ khai"}]}
    ),
    "POST /api/v1/dossiers/{code}/supplement": Op("dossier", body={"note": "Bổ sung"}),
    "POST /api/v1/dossiers/{code}/withdraw": Op("dossier", body=REASON),
    "POST /api/v1/dossiers/{code}/stop": Op("dossier", body=REASON),
    "POST /api/v1/dossiers/{code}/apologies": Op("dossier", body={**REASON, "new_date": "2099-01-02"}),
    "GET /api/v1/dossiers/{code}/comments": Op("dossier"),
    "POST /api/v1/dossiers/{code}/comments": Op("dossier", body={"text": "Ghi chú"}),
    "GET /api/v1/tracking/{code}": Op(query={"secret": "dossier.tracking_secret"}),
    "GET /api/v1/office/queues/{queue}": Op(),
    "GET /api/v1/office/queues": Op(),
    "GET /api/v1/office/search": Op(),
    "POST /api/v1/office/assignments": Op(body={"steps": ["@step_id"], "assignee": "@users.right.username"}),
    "GET /api/v1/office/statistics": Op(query=PERIOD),
    "GET /api/v1/office/statistics/authentication": Op(query=PERIOD),
    "GET /api/v1/me/consents": Op(),
    "POST /api/v1/me/consents/{consent_id}/withdraw": Op("consent"),
    "POST /api/v1/feedback": Op(body={"agency": "X", "subject": "Góp ý", "text": "Nội dung"}),
    "GET /api/v1/feedback": Op(),
    "GET /api/v1/feedback/{code}": Op(query={"secret": "feedback_secret"}),
    "POST /api/v1/feedback/{code}/rating": Op(body={"secret": "@feedback_secret", "score": 5}),
    "POST /api/v1/feedback/{code}/start": Op("feedback"),
    "POST /api/v1/feedback/{code}/answer": Op("feedback", body={"answer": "Trả lời"}),
    "POST /api/v1/feedback/{code}/reject": Op("feedback", body={"reason": "out_of_scope"}),
    "POST /api/v1/ratings": Op("dossier", body={"dossier": "@dossier.code", "score": 5}),
    "GET /api/v1/payments/dossiers/{code}": Op("dossier"),
    "POST /api/v1/payments/dossiers/{code}/start": Op("dossier"),
    "POST /api/v1/payments/orders/{order_id}/cash": Op("payment_order"),
    "GET /api/v1/payments/orders/{order_id}/national-bill": Op("dossier"),
    "GET /api/v1/payments/vnpay/ipn": Op(),  # the gateway's server: the signature is the credential
    "POST /api/v1/postal/tracking": Op(),  # the carrier's webhook: the signature is the credential
    "GET /api/v1/postal/quote": Op(query={"from_unit": "=26737", "to_unit": "=26740", "weight": "=300"}),
    "POST /api/v1/documents/verify": Op(),  # anyone holding a result
    "GET /api/v1/documents/results/{token}": Op(),
    "GET /api/v1/exchange/channels": Op("exchange_system"),
    "GET /api/v1/exchange/subscriptions": Op("exchange_system"),
    "POST /api/v1/exchange/subscriptions": Op(
        "exchange_system", body={"channel": 1, "callback_url": "https://example.vn/events"}
    ),
    "DELETE /api/v1/exchange/subscriptions/{subscription_id}": Op("exchange_system"),
    # the reporting system (reporting/api.py): the report of X's unit in the world
    "GET /api/v1/reporting/templates": Op(),
    "GET /api/v1/reporting/periods": Op(),
    "GET /api/v1/reporting/reports": Op(),
    "GET /api/v1/reporting/reports/{report_id}": Op("report"),
    "PUT /api/v1/reporting/reports/{report_id}/values": Op("report", body={"values": {"ghi_chu": "Ma trận"}}),
    "POST /api/v1/reporting/reports/{report_id}/submit": Op("report"),
    "POST /api/v1/reporting/reports/{report_id}/approve": Op("report"),
    "POST /api/v1/reporting/reports/{report_id}/return": Op("report", body=REASON),
    "POST /api/v1/reporting/reports/{report_id}/reopen": Op("report", body=REASON),
    # the dashboards' figures: leaders (every official of the world is one) and administrators
    "GET /api/v1/reporting/quality-index": Op(),
    "GET /api/v1/reporting/targets": Op(),
    # --- helper: office pages ---
    # the electronic office's read API (office/api.py): officials; a document of X for X's officials, any field
    "GET /api/v1/eoffice/documents": Op(),
    "GET /api/v1/eoffice/documents/{document_id}": Op("office_document"),
    "GET /api/v1/eoffice/incoming": Op(),
    # a recipient agency's own document system acknowledges: its machine client only, no person
    "POST /api/v1/eoffice/dispatches/{dispatch_id}/acknowledgement": Op("exchange_system", body={"state": "received"}),
    "GET /api/v1/eoffice/dispatches/{dispatch_id}/file": Op("exchange_system"),
    # --- end helper: office pages ---
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
PATH_PARAMS = {
    "step_id": "step_id",
    "queue": "=mine",
    "consent_id": "consent_id",
    "order_id": "order_id",
    "token": "verify_token",
    "subscription_id": "=1",
    "report_id": "report_id",
}
# --- helper: office pages ---
PATH_PARAMS["document_id"] = "office_document_id"  # an outgoing draft of X (authz_world._office)
PATH_PARAMS["dispatch_id"] = "=1"  # refused before any dispatch is looked up: no person is a system
OWNERS["office_document"] = {RIGHT_OFFICIAL, OTHER_FIELD}  # the agency's officials, any field
# --- end helper: office pages ---
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


def _value(world: World, source: str) -> Any:
    if source.startswith("="):
        return source[1:]
    value: Any = world
    for part in source.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part)
    return value


def _body(world: World, body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _body(world, v) for k, v in body.items()}
    if isinstance(body, list):
        return [_body(world, v) for v in body]
    return _value(world, body[1:]) if isinstance(body, str) and body.startswith("@") else body


def _path(world: World, path: str) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m[1]
        if name == "code":
            if path.startswith("/api/v1/procedures/"):
                return world.procedure_code
            if path.startswith("/api/v1/feedback/"):
                return world.feedback_code
            return world.dossier.code
        assert name in PATH_PARAMS, f"the matrix cannot fill {{{name}}} of {path}: add it to PATH_PARAMS"
        return str(_value(world, PATH_PARAMS[name]))

    return re.sub(r"\{(\w+)\}", fill, path)


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema()
    return [(method.upper(), path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_every_api_operation_as_every_actor(submit, agency, citizen):
    world = build_world(submit=submit, agency=agency, citizen=citizen)
    world.users["right"] = world.users[RIGHT_OFFICIAL]  # for the assignment's body
    tokens = {
        actor: {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=user, name='matrix').raw}"}
        for actor, user in world.users.items()
        if user is not None and actor in ACTORS
    }
    tokens[ANONYMOUS] = {}
    client = Client()
    code = world.dossier.code
    problems: list[str] = []
    operations = _operations()
    for method, path, op in operations:
        key = f"{method} {path}"
        spec = OPERATIONS.get(key)
        if spec is None:
            problems.append(f"{key}: unknown to the authorization matrix — add it to OPERATIONS")
            continue
        rule = op.get("x-access")
        if rule not in RULES:
            problems.append(f"{key}: x-access {rule!r} unknown to the matrix")
            continue
        url = _path(world, path)
        query = {name: _value(world, source) for name, source in spec.query.items()}
        body = json.dumps(_body(world, spec.body or {}))
        allowed = RULES[rule] & OWNERS[spec.object]
        for actor in ACTORS:
            if actor in allowed and method != "GET":
                continue  # an action's success is tested with the action
            if method == "GET":
                response = client.get(url, query, **tokens[actor])
            else:
                response = client.generic(method, url, body, content_type="application/json", **tokens[actor])
            status = response.status_code
            if status == 422:
                problems.append(f"{key} as {actor}: 422 {response.content[:200]!r} — fix the matrix's query or body")
            elif actor in allowed:
                if status in {401, 403, 404}:
                    problems.append(f"{key} as {actor}: refused ({status}), x-access {rule}")
            elif actor == ANONYMOUS:
                if status != 401:
                    problems.append(f"{key} anonymous: {status}, expected 401")
            elif status not in {403, 404}:
                problems.append(f"{key} as {actor}: {status}, expected 403 or 404")
            elif spec.object == "dossier" and actor in RULES[rule] and status != 404:
                problems.append(f"{key} as {actor}: 403 reveals that the dossier exists (404 expected)")
            shown = response.content.decode().replace(url, "")  # a problem's ``instance`` is the caller's own URL
            if rule != "public" and actor not in OWNERS["dossier"] and code in shown:
                problems.append(f"{key} as {actor}: shows the dossier's code")
    assert problems == [], "\n".join(problems)
    assert len(operations) >= 30
