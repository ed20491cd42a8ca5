"""The NDXP simulator over real HTTP: client-credentials tokens, bearer-protected national services
(population, business registry) with their OpenAPI 3.1 documents, ``X-Request-Id`` echoed, and
the misbehaviour switches (down, slow) and counters tests of the gateway rely on."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from openapi_spec_validator import validate

from hcmgov import simulators
from hcmgov.simulators import _ndxp_data as data
from hcmgov.simulators._eid_people import BUSINESSES, PEOPLE
from hcmgov.simulators.ndxp import CLIENT_ID, CLIENT_SECRET

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CITIZENS = "/VN/BCA/CSDLQGDC"
ENTERPRISES = "/VN/BKHDT/CSDLQGDKDN"


@pytest.fixture
def ndxp() -> Iterator[str]:
    with simulators.running("ndxp") as url:
        yield url


def call(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-case names) and the JSON body of one request."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - ours
    try:
        with _OPENER.open(request, timeout=30) as response:
            status, head, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, head, raw = exc.code, exc.headers, exc.read()
    return status, {k.lower(): v for k, v in head.items()}, json.loads(raw) if raw.startswith(b"{") else raw


def token_request(base: str, form: dict[str, str], basic: tuple[str, str] | None = None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    return call(base + "/token", method="POST", body=urlencode(form).encode(), headers=headers)


def token(base: str) -> str:
    status, _, answer = token_request(base, {"grant_type": "client_credentials"}, (CLIENT_ID, CLIENT_SECRET))
    assert status == 200
    return answer["access_token"]


def get(base: str, path: str, access: str | None, request_id: str = "") -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {access}"} if access else {}
    if request_id:
        headers["X-Request-Id"] = request_id
    return call(base + path, headers=headers)


def set_mode(base: str, **mode: Any) -> tuple[int, dict[str, str], Any]:
    return call(base + "/_sim/mode", method="POST", body=json.dumps(mode).encode())


# --- tokens --------------------------------------------------------------------------------------


def test_the_simulator_is_registered():
    assert "ndxp" in simulators.names()


def test_a_token_by_basic_or_form_credentials(ndxp):
    status, headers, answer = token_request(ndxp, {"grant_type": "client_credentials"}, (CLIENT_ID, CLIENT_SECRET))
    assert status == 200
    assert headers["cache-control"] == "no-store"
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    assert len(answer["access_token"]) >= 32
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": "x"}
    status, _, answer = token_request(ndxp, form)
    assert status == 200
    assert answer["scope"] == "x"


@pytest.mark.parametrize(
    ("form", "basic", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, (CLIENT_ID, "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("someone", CLIENT_SECRET), 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "x"},
            None,
            401,
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, (CLIENT_ID, CLIENT_SECRET), 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "client_secret": "x"},
            (CLIENT_ID, CLIENT_SECRET),
            400,
            "invalid_request",
        ),
    ],
)
def test_token_errors_follow_rfc_6749(ndxp, form, basic, status, error):
    got, headers, answer = token_request(ndxp, form, basic)
    assert (got, answer["error"]) == (status, error)
    if basic and status == 401:
        assert headers["www-authenticate"].startswith("Basic")


def test_the_token_endpoint_takes_post_only(ndxp):
    assert call(ndxp + "/token")[0] == 405


# --- services ------------------------------------------------------------------------------------


def test_services_need_a_live_bearer_token(ndxp):
    path = f"{CITIZENS}/citizens/{PEOPLE[0].personal_id}"
    status, headers, answer = get(ndxp, path, None, "req-1")
    assert (status, answer["error"]) == (401, "unauthorized")
    assert headers["www-authenticate"] == 'Bearer realm="ndxp"'
    assert headers["x-request-id"] == "req-1"
    assert " / " in answer["message"]  # Vietnamese / English
    status, headers, answer = get(ndxp, path, "not-a-token")
    assert (status, answer["error"]) == (401, "invalid_token")
    assert 'error="invalid_token"' in headers["www-authenticate"]
    status, _, _ = call(ndxp + path, headers={"Authorization": "Basic " + base64.b64encode(b"a:b").decode()})
    assert status == 401
    assert get(ndxp, path, token(ndxp))[0] == 200


def test_an_expired_or_forgotten_token_is_refused():
    with simulators.running("ndxp", token_lifetime=1) as base:
        access = token(base)
        assert get(base, f"{CITIZENS}/citizens/079085001234", access)[0] == 200
        time.sleep(1.1)
        assert get(base, f"{CITIZENS}/citizens/079085001234", access)[0] == 401
        access = token(base)
        assert call(base + "/_sim/tokens", method="DELETE")[2] == {"forgotten": 1}
        assert get(base, f"{CITIZENS}/citizens/079085001234", access)[0] == 401


def test_the_request_id_is_echoed_or_made(ndxp):
    access = token(ndxp)
    _, headers, _ = get(ndxp, f"{ENTERPRISES}/enterprises/0312345673", access, "9f1c-ab-42")
    assert headers["x-request-id"] == "9f1c-ab-42"
    _, headers, _ = get(ndxp, f"{ENTERPRISES}/enterprises/0312345673", access)
    assert len(headers["x-request-id"]) == 32


def test_a_seeded_citizen_is_the_e_id_person(ndxp):
    person = PEOPLE[2]
    status, _, record = get(ndxp, f"{CITIZENS}/citizens/{person.personal_id}", token(ndxp))
    assert status == 200
    assert record["full_name"] == person.name
    assert (record["date_of_birth"], record["sex"]) == (person.birthdate, person.gender)
    assert record["permanent_address"]["street_address"] == person.street_address
    assert record["permanent_address"]["ward"] == person.locality
    assert record["permanent_address"]["ward_code"] == "26740"  # Phường Sài Gòn
    assert record["nationality"] == "VN"


def test_any_well_formed_personal_id_is_a_deterministic_person(ndxp):
    access = token(ndxp)
    first = get(ndxp, f"{CITIZENS}/citizens/001190123456", access)[2]
    again = get(ndxp, f"{CITIZENS}/citizens/001190123456", access)[2]
    assert first == again
    assert first["date_of_birth"].startswith("1990-")
    assert first["sex"] == "female"
    assert first["place_of_birth_registration"] == {"province_code": "001", "province": "Hà Nội"}
    assert first["permanent_address"]["province"] == "Thành phố Hồ Chí Minh"
    assert first["permanent_address"]["ward"] in {w["name"] for w in data.wards()}
    assert len(first["full_name"].split()) >= 3
    young = get(ndxp, f"{CITIZENS}/citizens/079205000321", access)[2]
    assert young["date_of_birth"].startswith("2005-")
    assert young["sex"] == "male"


@pytest.mark.parametrize(
    ("personal_id", "status", "error"),
    [
        ("07908500123", 400, "invalid_personal_id"),  # 11 digits
        ("0790850012345", 400, "invalid_personal_id"),
        ("07908500123x", 400, "invalid_personal_id"),
        ("003085001234", 404, "not_found"),  # no province 003
        ("079585001234", 404, "not_found"),  # born 2185
        ("079385001234", 404, "not_found"),  # born 2085
        ("079085000000", 404, "not_found"),  # serial 000000
    ],
)
def test_malformed_and_unknown_personal_ids(ndxp, personal_id, status, error):
    got, _, answer = get(ndxp, f"{CITIZENS}/citizens/{personal_id}", token(ndxp))
    assert (got, answer["error"]) == (status, error)


def test_the_e_id_business_and_its_representative(ndxp):
    access = token(ndxp)
    business = BUSINESSES[0]
    status, _, record = get(ndxp, f"{ENTERPRISES}/enterprises/{business.tax_code}", access)
    assert status == 200
    assert record["name"] == business.name
    assert record["name_en"] == "Sai Gon Xanh Company Limited"
    assert record["address"]["formatted"].startswith(business.address)
    assert record["status"] == "active"
    representative = record["legal_representative"]
    assert representative["personal_id"] == next(p for p in PEOPLE if business.tax_code in p.represents).personal_id
    person = get(ndxp, f"{CITIZENS}/citizens/{representative['personal_id']}", access)[2]
    assert person["full_name"] == representative["full_name"]
    assert record["business_lines"][0]["main"] is True
    assert record["registration_date"] < "2025"


def test_any_valid_tax_code_is_a_deterministic_enterprise_and_its_branches(ndxp):
    access = token(ndxp)
    code = data.tax_code_complete("030123456")
    first = get(ndxp, f"{ENTERPRISES}/enterprises/{code}", access)[2]
    assert first == get(ndxp, f"{ENTERPRISES}/enterprises/{code}", access)[2]
    assert first["tax_code"] == code
    assert first["status"] in {"active", "suspended", "dissolved"}
    assert first["name"].startswith("Công ty")
    assert first["name_en"].isascii()
    person = get(ndxp, f"{CITIZENS}/citizens/{first['legal_representative']['personal_id']}", access)[2]
    assert person["full_name"] == first["legal_representative"]["full_name"]  # the registry and the population agree
    for unit in (f"{code}002", f"{code}-002"):
        status, _, branch = get(ndxp, f"{ENTERPRISES}/enterprises/{unit}", access)
        assert status == 200
        assert branch["tax_code"] == f"{code}-002"
        assert branch["parent_tax_code"] == code
        assert branch["name"].startswith("Chi nhánh 2 - ")


@pytest.mark.parametrize(
    ("tax_code", "status", "error"),
    [
        ("0312345674", 400, "invalid_tax_code"),  # wrong check digit
        ("031234567", 400, "invalid_tax_code"),
        ("03123456730", 400, "invalid_tax_code"),
        ("0312345673000", 400, "invalid_tax_code"),  # unit 000
        ("03123456x3", 400, "invalid_tax_code"),
        (data.tax_code_complete("801234567"), 404, "not_found"),  # an individual's code
        (data.tax_code_complete("001234567"), 404, "not_found"),
    ],
)
def test_malformed_and_unknown_tax_codes(ndxp, tax_code, status, error):
    got, _, answer = get(ndxp, f"{ENTERPRISES}/enterprises/{tax_code}", token(ndxp))
    assert (got, answer["error"]) == (status, error)


def test_the_check_digit_is_the_usual_one():
    assert data.tax_code_check("0312345673") == ("0312345673", "")
    assert data.tax_code_check("0100109106") == ("0100109106", "")  # the check digit of a well-known Hà Nội code
    assert data.tax_code_check("0100109106-017") == ("0100109106", "017")
    assert data.tax_code_check("0100109107") is None
    assert all(
        data.tax_code_check(data.tax_code_complete(f"03{n:07d}"))
        for n in range(0, 5000, 7)
        if data.tax_code_complete(f"03{n:07d}")
    )


@pytest.mark.parametrize("path", ["/VN/BCA/OTHER/citizens/079085001234", "/XX/BCA/CSDLQGDC/x", "/VN/BCA", "/VN"])
def test_unknown_services_and_paths(ndxp, path):
    status, _, answer = get(ndxp, path, token(ndxp))
    assert (status, answer["error"]) == (404, "unknown_service")


def test_unknown_paths_of_a_service_and_other_methods(ndxp):
    access = token(ndxp)
    assert get(ndxp, f"{CITIZENS}/people/079085001234", access)[2]["error"] == "not_found"
    status, headers, _ = call(
        ndxp + f"{CITIZENS}/citizens/079085001234",
        method="POST",
        body=b"{}",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert (status, headers["allow"]) == (405, "GET")


@pytest.mark.parametrize(
    ("service", "schema", "sample"),
    [(CITIZENS, "Citizen", "/citizens/079190005678"), (ENTERPRISES, "Enterprise", "/enterprises/0312345673-001")],
)
def test_each_service_publishes_a_valid_openapi_31_document_its_answers_follow(ndxp, service, schema, sample):
    access = token(ndxp)
    status, _, document = get(ndxp, f"{service}/openapi.json", access)
    assert status == 200
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document["servers"] == [{"url": ndxp + service}]
    assert (
        document["components"]["securitySchemes"]["ndxp"]["flows"]["clientCredentials"]["tokenUrl"] == ndxp + "/token"
    )
    record = get(ndxp, service + sample, access)[2]
    jsonschema.validate(record, {**document, "$ref": f"#/components/schemas/{schema}"})
    error = get(ndxp, service + sample[:-3], access)[2]
    jsonschema.validate(error, {**document, "$ref": "#/components/schemas/Error"})
    assert get(ndxp, f"{service}/openapi.json", None)[0] == 401


# --- misbehaviour and counters -------------------------------------------------------------------


def test_down_answers_503_to_everything_but_the_test_endpoints(ndxp):
    access = token(ndxp)
    assert set_mode(ndxp, mode="down")[2] == {"mode": "down", "delay": 2.0}
    status, headers, answer = get(ndxp, f"{CITIZENS}/citizens/079085001234", access, "r-down")
    assert (status, answer["error"], headers["x-request-id"]) == (503, "unavailable", "r-down")
    assert headers["retry-after"] == "30"
    assert token_request(ndxp, {"grant_type": "client_credentials"}, (CLIENT_ID, CLIENT_SECRET))[0] == 503
    assert call(ndxp + "/_sim/stats")[0] == 200
    set_mode(ndxp, mode="ok")
    assert get(ndxp, f"{CITIZENS}/citizens/079085001234", access)[0] == 200


def test_slow_waits_before_answering(ndxp):
    access = token(ndxp)
    set_mode(ndxp, mode="slow", delay=0.6)
    started = time.monotonic()
    assert get(ndxp, f"{CITIZENS}/citizens/079085001234", access)[0] == 200
    assert time.monotonic() - started >= 0.6
    with pytest.raises(TimeoutError):  # a client with a shorter timeout gives up
        _OPENER.open(urllib.request.Request(ndxp + f"{CITIZENS}/openapi.json"), timeout=0.2)  # noqa: S310


@pytest.mark.parametrize(
    "mode",
    [
        {"mode": "broken"},
        {"mode": "slow", "delay": -1},
        {"mode": "slow", "delay": "x"},
        {"mode": "slow", "delay": 1000},
    ],
)
def test_a_bad_mode_is_refused(ndxp, mode):
    assert set_mode(ndxp, **mode)[0] == 400
    assert call(ndxp + "/_sim/mode")[2] == {"mode": "ok", "delay": 2.0}


def test_the_stats_count_requests(ndxp):
    access = token(ndxp)
    get(ndxp, f"{CITIZENS}/citizens/079085001234", access, "r-1")
    get(ndxp, f"{ENTERPRISES}/enterprises/0312345673", access, "r-2")
    get(ndxp, f"{ENTERPRISES}/enterprises/0312345674", access, "r-3")
    get(ndxp, f"{CITIZENS}/citizens/079085001234", None, "r-4")
    token_request(ndxp, {"grant_type": "client_credentials"}, (CLIENT_ID, "wrong"))
    stats = call(ndxp + "/_sim/stats")[2]
    assert stats["requests"] == 6
    assert (stats["tokens_issued"], stats["token_refused"], stats["unauthorized"]) == (1, 1, 1)
    assert stats["by_service"] == {"VN/BCA/CSDLQGDC": 1, "VN/BKHDT/CSDLQGDKDN": 2}
    assert stats["by_status"] == {"200": 3, "400": 1, "401": 2}
    assert [(r["request_id"], r["status"], r["client_id"]) for r in stats["recent"][1:5]] == [
        ("r-1", 200, CLIENT_ID),
        ("r-2", 200, CLIENT_ID),
        ("r-3", 400, CLIENT_ID),
        ("r-4", 401, ""),
    ]
    assert call(ndxp + "/_sim/stats", method="DELETE")[2]["requests"] == 0


def test_the_root_page_shows_the_test_account(ndxp):
    status, headers, body = call(ndxp + "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert CLIENT_ID.encode() in body
    assert CLIENT_SECRET.encode() in body
