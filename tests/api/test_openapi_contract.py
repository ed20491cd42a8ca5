"""The API keeps its published contract (docs/api/openapi.json): a valid OpenAPI document, and for
every operation, with generated valid and invalid requests: no server error, responses as
documented, errors as RFC 9457 problem details. The WSGI application is called in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hcmgov.wsgi import application

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"
MAX_EXAMPLES = 25

# Loaded from the application itself (the schema endpoint needs no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


def test_committed_openapi_document_is_valid():
    from openapi_spec_validator import validate

    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    validate(document)
    assert document["openapi"].startswith("3.")


def test_committed_document_has_the_operations_the_app_serves():
    committed = json.loads(OPENAPI.read_text(encoding="utf-8"))

    def operations(doc: dict[str, Any]) -> set[str]:
        return {f"{method.upper()} {path}" for path, item in doc["paths"].items() for method in item}

    assert operations(committed) == operations(schema.raw_schema)


def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error answer is ``application/problem+json`` with at least type, title and status."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.split(";")[0].strip() == "application/problem+json", (
        f"{response.status_code} answered as {content_type!r}, not application/problem+json: {response.content[:200]!r}"
    )
    body = json.loads(response.content)
    missing = {"type", "title", "status"} - set(body)
    assert not missing, f"problem details without {sorted(missing)}: {body}"
    assert body["status"] == response.status_code, body
    return True


CHECKS = [not_a_server_error, response_schema_conformance, problem_details]


@dataclass
class Seed:
    procedure: str
    agency: str
    dossier: str
    secret: str
    citizen_token: str
    official_token: str
    step_id: int
    feedback: str
    feedback_secret: str
    consent_id: int
    order_id: int | None


@pytest.fixture
def seed(transactional_db: Any, settings: Any, pdf_bytes: bytes, monkeypatch: Any) -> Seed:
    """A procedure, an agency, a citizen's dossier at it (its open step and payment order), the
    citizen's feedback to the agency and consent, and API tokens for the citizen and for an
    official of the agency (fresh for every operation: the database is flushed between)."""
    from hcmgov.catalog.tests.factories import ProcedureVersionFactory
    from hcmgov.core.tests.factories import AgencyFactory
    from hcmgov.dossiers.files import Attachment
    from hcmgov.dossiers.services import dossier_submit
    from hcmgov.feedback.services import feedback_submit
    from hcmgov.identity.services import api_token_issue, consent_grant
    from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
    from hcmgov.payments.services import order_ensure

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # the gateway account of the payment simulator (starting a payment only signs an address; without
    # an account the start is the documented 503, which the server-error check counts as a failure)
    from hcmgov.simulators.pay import HASH_SECRET, TMN_CODE

    monkeypatch.setenv("HCMGOV_VNPAY_PAY_URL", "http://127.0.0.1:9/paymentv2/vpcpay.html")
    monkeypatch.setenv("HCMGOV_VNPAY_TMN_CODE", TMN_CODE)
    monkeypatch.setenv("HCMGOV_VNPAY_HASH_SECRET", HASH_SECRET)
    monkeypatch.setenv("HCMGOV_VNPAY_API_URL", "")
    agency = AgencyFactory()
    version = ProcedureVersionFactory()
    citizen = UserFactory()
    official = RoleAssignmentFactory(agency=agency).user
    dossier, _ = dossier_submit(
        applicant=citizen,
        procedure_code=version.procedure.code,
        agency_code=agency.code,
        form_data={
            "full_name": "Nguyễn Văn An",
            "personal_id": "079123456789",
            "purpose": "work",
            "mother": {"full_name": "Trần Thị Bình"},
        },
        attachments=[Attachment("TOKHAI", "to-khai.pdf", pdf_bytes)],
    )
    feedback, _ = feedback_submit(
        author=citizen, agency_code=agency.code, subject="Đường ngập nước", text="Đường trước nhà ngập sau mưa."
    )
    consent = consent_grant(
        subject=citizen, purpose="prefill", recipient="registry", data_categories=["identity", "address"]
    )
    order = order_ensure(dossier_id=dossier.pk)
    return Seed(
        procedure=version.procedure.code,
        agency=agency.code,
        dossier=dossier.code,
        secret=dossier.tracking_secret,
        citizen_token=api_token_issue(user=citizen, name="contract").raw,
        official_token=api_token_issue(user=official, name="contract").raw,
        step_id=dossier.steps.order_by("-pk").values_list("pk", flat=True).first() or 0,
        feedback=feedback.code,
        feedback_secret=feedback.secret,
        consent_id=consent.pk,
        order_id=order.pk if order is not None else None,
    )


def _aim_at_real_data(case: Any, seed: Seed, *, everything: bool) -> None:
    """Point the generated request at the seeded records: the codes in the path, and with
    ``everything`` also the tracking secret and the submission's procedure and agency."""
    path = case.operation.path
    if "{code}" in path:
        case.path_parameters["code"] = (
            seed.procedure
            if path.startswith("/api/v1/procedures")
            else seed.feedback
            if path.startswith("/api/v1/feedback")
            else seed.dossier
        )
    for name, value in (("step_id", seed.step_id), ("consent_id", seed.consent_id), ("order_id", seed.order_id)):
        if "{" + name + "}" in path and value is not None:
            case.path_parameters[name] = value
    if not everything:
        return
    if path.startswith("/api/v1/tracking") and isinstance(case.query, dict):
        case.query["secret"] = seed.secret
    if path.startswith("/api/v1/feedback/") and isinstance(case.query, dict):
        case.query["secret"] = seed.feedback_secret
    if case.method.upper() == "POST" and path == "/api/v1/dossiers" and isinstance(case.body, dict):
        case.body["procedure"] = seed.procedure
        case.body["agency"] = seed.agency


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@schema.given(
    aim=st.sampled_from(["generated", "codes", "everything"]),
    caller=st.sampled_from(["citizen", "official"]),  # for operations either may call
)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a red build is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api_keeps_its_contract(case: Any, aim: str, caller: str, seed: Seed) -> None:
    if aim != "generated":
        _aim_at_real_data(case, seed, everything=aim == "everything")
    case.call_and_validate(headers=_auth(case, seed, caller), checks=CHECKS)


def _auth(case: Any, seed: Seed, caller: str) -> dict[str, str]:
    """The bearer token a secured operation is meant for, so that requests reach its handler: an
    official's for "official" and "official-or-staff", the citizen's for "applicant", and either
    (``caller``) for "applicant-or-official"; none for a public operation."""
    raw = case.operation.definition.raw
    if not raw.get("security"):
        return {}
    access = raw.get("x-access", "public")
    official = access.startswith("official") or (access == "applicant-or-official" and caller == "official")
    return {"Authorization": f"Bearer {seed.official_token if official else seed.citizen_token}"}


# --- sequences of calls (stateful) ---------------------------------------------------------------------


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of calls along the links schemathesis infers from the document (a dossier listed →
    its page, steps, comments, payments; a step → its actions; feedback listed → answered …), each
    answer checked as above. ``seed`` and ``caller`` are set by the test before it runs."""

    seed: Seed
    caller: str = "citizen"

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": _auth(case, self.seed, self.caller)}

    def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("caller", ["citizen", "official"])
def test_sequences_of_calls_keep_the_contract(seed: Seed, caller: str) -> None:
    Workflow.seed, Workflow.caller = seed, caller
    Workflow.run(
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


# --- beyond generated requests --------------------------------------------------------------------------


@pytest.fixture
def client(client: Any) -> Any:
    client.raise_request_exception = False  # a server error is an answer to check, not a test crash
    return client


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:200])
    assert response["Content-Type"].split(";")[0] == "application/problem+json", response["Content-Type"]
    body = json.loads(response.content)
    assert {"type", "title", "status"} <= set(body), body
    assert body["status"] == status, body
    return body


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/dossiers"),
        ("post", "/api/v1/dossiers"),
        ("get", "/api/v1/dossiers/{code}"),
        ("post", "/api/v1/dossiers/{code}/receive"),
        ("post", "/api/v1/dossiers/{code}/refuse"),
    ],
)
def test_dossier_operations_without_a_valid_token_answer_401_problem(client, seed, method, path):
    url = path.format(code=seed.dossier)
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer hcm_not-a-token"}):
        body = _problem(getattr(client, method)(url, content_type="application/json", data={}, **headers), 401)
        assert body["type"].endswith("/unauthenticated")


@pytest.mark.django_db(transaction=True)
def test_an_official_token_cannot_submit_and_a_citizen_token_cannot_receive(client, seed):
    official = {"HTTP_AUTHORIZATION": f"Bearer {seed.official_token}"}
    citizen = {"HTTP_AUTHORIZATION": f"Bearer {seed.citizen_token}"}
    body = {"procedure": seed.procedure, "agency": seed.agency, "form": {}}
    _problem(client.post("/api/v1/dossiers", body, content_type="application/json", **official), 403)
    _problem(client.post(f"/api/v1/dossiers/{seed.dossier}/receive", **citizen), 403)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/procedures", "/api/v1/units", "/api/v1/agencies"])
def test_a_page_number_out_of_range_is_a_422_problem(client, path):
    _problem(client.get(path, {"page": 10**20}), 422)


@pytest.mark.django_db(transaction=True)
def test_a_non_ascii_tracking_secret_is_a_404_problem(client, seed):
    _problem(client.get(f"/api/v1/tracking/{seed.dossier}", {"secret": "ĐÂY"}), 404)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/procedures/a%2Fb", 404),  # a code with a slash (percent-encoded)
        ("get", "/api/v1/no-such-thing", 404),
        ("delete", "/api/v1/dossiers", 405),
    ],
)
def test_unrouted_api_requests_answer_problem_details(client, seed, method, path, status):
    _problem(getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {seed.citizen_token}"), status)
