"""The e-ID simulator is a real OpenID provider over HTTP: discovery, keys, code flow with PKCE,
single-use codes, userinfo, logout, key rotation and injected faults."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet

from hcmgov import simulators
from hcmgov.simulators import running
from hcmgov.simulators._eid_people import PEOPLE, SIM_PASSWORD
from hcmgov.simulators.eid import ACR

CLIENT = "portal-test"
SECRET = "s3cret-portal-test"
REDIRECT = "http://rp.test/callback"
BACK = "http://rp.test/"
CLIENTS = {CLIENT: {"client_secret": SECRET, "redirect_uris": [REDIRECT], "post_logout_redirect_uris": [BACK]}}
CITIZEN = PEOPLE[0]  # level 2
LEVEL_1 = PEOPLE[1]
REPRESENTATIVE = next(p for p in PEOPLE if p.represents)


@pytest.fixture
def op():
    with running("eid", clients=CLIENTS) as base_url:
        yield base_url


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def auth_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid profile address",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return params


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def log_in(op: str, params: dict[str, str], person: Any = CITIZEN, **form: str) -> requests.Response:
    data = {**params, "personal_id": person.personal_id, "password": SIM_PASSWORD, "action": "login", **form}
    return requests.post(op + "/authorize", data=data, allow_redirects=False, timeout=5)


def code_for(op: str, person: Any = CITIZEN, **form: str) -> tuple[str, str, dict[str, str]]:
    verifier, challenge = pkce()
    params = auth_params(challenge)
    answer = log_in(op, params, person, **form)
    assert answer.status_code == 302, answer.text
    query = query_of(answer.headers["Location"])
    assert query["state"] == params["state"]
    return query["code"], verifier, params


def exchange(op: str, code: str, verifier: str, *, basic: bool = True, **overrides: str) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    data.update(overrides)
    auth = (CLIENT, SECRET) if basic else None
    if not basic:
        data.update(client_id=CLIENT, client_secret=SECRET)
    return requests.post(op + "/token", data=data, auth=auth, timeout=5)


def decode(op: str, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(requests.get(op + "/jwks", timeout=5).json())
    return jwt.decode(id_token, keys, algorithms=["RS256"]).claims


def sim(op: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = requests.post(op + path, json=body or {}, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_registered_and_served_by_name():
    assert "eid" in simulators.names()


def test_discovery_names_the_simulator_itself_as_issuer(op):
    metadata = requests.get(op + "/.well-known/openid-configuration", timeout=5).json()
    assert metadata["issuer"] == op
    assert metadata["authorization_endpoint"] == op + "/authorize"
    assert metadata["jwks_uri"] == op + "/jwks"
    assert metadata["end_session_endpoint"] == op + "/logout"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    keys = requests.get(op + "/jwks", timeout=5).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0]  # public halves only


def test_the_authorize_page_is_a_login_form(op):
    _, challenge = pkce()
    page = requests.get(op + "/authorize", params=auth_params(challenge), timeout=5)
    assert page.status_code == 200
    assert 'name="personal_id"' in page.text
    assert 'name="password"' in page.text
    assert "Số định danh cá nhân" in page.text


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "stranger"}, {"redirect_uri": "http://evil.test/callback"}, {"redirect_uri": REDIRECT + "x"}],
)
def test_an_unknown_client_or_redirect_gets_an_error_page_not_a_redirect(op, overrides):
    _, challenge = pkce()
    page = requests.get(op + "/authorize", params=auth_params(challenge, **overrides), allow_redirects=False, timeout=5)
    assert page.status_code == 400
    assert "Location" not in page.headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"nonce": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
    ],
)
def test_other_request_errors_are_sent_back_to_the_client(op, overrides, error):
    _, challenge = pkce()
    params = auth_params(challenge, **overrides)
    answer = requests.get(op + "/authorize", params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(REDIRECT + "?")
    query = query_of(answer.headers["Location"])
    assert query["error"] == error
    assert query["state"] == params["state"]
    assert query["iss"] == op


def test_a_missing_state_is_refused(op):
    _, challenge = pkce()
    answer = requests.get(op + "/authorize", params=auth_params(challenge, state=""), allow_redirects=False, timeout=5)
    assert query_of(answer.headers["Location"])["error"] == "invalid_request"


def test_wrong_credentials_show_the_form_again(op):
    _, challenge = pkce()
    answer = log_in(op, auth_params(challenge), password="wrong")
    assert answer.status_code == 401
    assert 'name="personal_id"' in answer.text


def test_the_person_may_cancel(op):
    _, challenge = pkce()
    answer = log_in(op, auth_params(challenge), action="deny")
    assert query_of(answer.headers["Location"])["error"] == "access_denied"


@pytest.mark.parametrize("basic", [True, False])
def test_a_code_gives_signed_tokens_and_userinfo(op, basic):
    code, verifier, params = code_for(op)
    answer = exchange(op, code, verifier, basic=basic)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer"
    claims = decode(op, tokens["id_token"])
    assert claims["iss"] == op
    assert claims["aud"] == CLIENT
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == ACR[2]
    assert claims["personal_id"] == CITIZEN.personal_id
    assert claims["sub"] != CITIZEN.personal_id
    assert claims["exp"] > claims["iat"]
    assert "business" not in claims
    info = requests.get(op + "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=5)
    body = info.json()
    assert body["sub"] == claims["sub"]
    assert body["name"] == "Nguyễn Văn An"
    assert body["birthdate"] == "1985-03-12"
    assert body["address"]["formatted"].endswith("Thành phố Hồ Chí Minh")


def test_level_1_and_the_business_a_representative_acts_for(op):
    code, verifier, _ = code_for(op, LEVEL_1)
    assert decode(op, exchange(op, code, verifier).json()["id_token"])["acr"] == ACR[1]
    tax_code = REPRESENTATIVE.represents[0]
    code, verifier, _ = code_for(op, REPRESENTATIVE, act_for=tax_code)
    tokens = exchange(op, code, verifier).json()
    business = decode(op, tokens["id_token"])["business"]
    assert business == {"tax_code": tax_code, "name": "Công ty TNHH Sài Gòn Xanh", "role": "legal_representative"}
    info = requests.get(op + "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=5)
    assert info.json()["business"] == business


def test_nobody_acts_for_a_business_they_do_not_represent(op):
    _, challenge = pkce()
    answer = log_in(op, auth_params(challenge), CITIZEN, act_for=REPRESENTATIVE.represents[0])
    assert answer.status_code == 403


def test_a_code_is_single_use_and_its_replay_revokes_the_access_token(op):
    code, verifier, _ = code_for(op)
    tokens = exchange(op, code, verifier).json()
    replay = exchange(op, code, verifier)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    info = requests.get(op + "/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=5)
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "overrides",
    [{"redirect_uri": REDIRECT + "?other"}, {"code_verifier": secrets.token_urlsafe(48)}, {"code_verifier": ""}],
)
def test_a_code_is_bound_to_its_redirect_uri_and_verifier(op, overrides):
    code, verifier, _ = code_for(op)
    answer = exchange(op, code, verifier, **overrides)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_client_authentication_is_required(op):
    code, verifier, _ = code_for(op)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    answer = requests.post(op + "/token", data=data, auth=(CLIENT, "wrong"), timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    answer = requests.post(op + "/token", data={**data, "grant_type": "password"}, auth=(CLIENT, SECRET), timeout=5)
    assert answer.json()["error"] == "unsupported_grant_type"


def test_a_code_expires():
    with running("eid", clients=CLIENTS, code_lifetime=-1) as op:
        code, verifier, _ = code_for(op)
        assert exchange(op, code, verifier).json()["error"] == "invalid_grant"


def test_rotation_publishes_the_new_key_and_keeps_the_old(op):
    old = requests.get(op + "/jwks", timeout=5).json()
    rotated = sim(op, "/_sim/rotate")
    kids = [k["kid"] for k in requests.get(op + "/jwks", timeout=5).json()["keys"]]
    assert kids == [old["keys"][0]["kid"], rotated["kid"]]
    code, verifier, _ = code_for(op)
    id_token = exchange(op, code, verifier).json()["id_token"]
    with pytest.raises(InvalidKeyIdError):  # a client holding the old set must fetch it again
        jwt.decode(id_token, KeySet.import_key_set(old), algorithms=["RS256"])
    assert decode(op, id_token)["sub"]


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("wrong_audience", lambda c, now: c["aud"] != CLIENT),
        ("wrong_issuer", lambda c, now: c["iss"] == "https://eid.example.invalid"),
        ("expired", lambda c, now: c["exp"] < now),
        ("not_yet_valid", lambda c, now: c["nbf"] > now),
        ("wrong_nonce", lambda c, now: True),
    ],
)
def test_faults_make_the_next_id_token_wrong_once(op, fault, check):
    assert sim(op, "/_sim/faults", {"fault": fault}) == {"queued": 1}
    code, verifier, params = code_for(op)
    claims = decode(op, exchange(op, code, verifier).json()["id_token"])
    assert check(claims, time.time())
    if fault == "wrong_nonce":
        assert claims["nonce"] != params["nonce"]
    code, verifier, params = code_for(op)
    claims = decode(op, exchange(op, code, verifier).json()["id_token"])
    assert (claims["aud"], claims["nonce"]) == (CLIENT, params["nonce"])


def test_signature_faults(op):
    sim(op, "/_sim/faults", {"fault": "unknown_key"})
    code, verifier, _ = code_for(op)
    with pytest.raises(InvalidKeyIdError):
        decode(op, exchange(op, code, verifier).json()["id_token"])
    sim(op, "/_sim/faults", {"fault": "forged_signature"})
    code, verifier, _ = code_for(op)
    with pytest.raises(BadSignatureError):
        decode(op, exchange(op, code, verifier).json()["id_token"])
    sim(op, "/_sim/faults", {"fault": "unavailable"})
    code, verifier, _ = code_for(op)
    assert exchange(op, code, verifier).status_code == 503
    assert requests.post(op + "/_sim/faults", json={"fault": "nonsense"}, timeout=5).status_code == 400


def test_the_clock_offset_moves_the_token_times(op):
    sim(op, "/_sim/clock", {"offset": 3600})
    code, verifier, _ = code_for(op)
    claims = decode(op, exchange(op, code, verifier).json()["id_token"])
    assert claims["iat"] > time.time() + 3000


def test_logout_with_a_hint_goes_back_to_a_registered_address(op):
    code, verifier, _ = code_for(op)
    id_token = exchange(op, code, verifier).json()["id_token"]
    params = {"id_token_hint": id_token, "post_logout_redirect_uri": BACK, "state": "bye"}
    answer = requests.get(op + "/logout?" + urlencode(params), allow_redirects=False, timeout=5)
    assert (answer.status_code, answer.headers["Location"]) == (302, BACK + "?state=bye")
    [logout] = requests.get(op + "/_sim/state", timeout=5).json()["logouts"]
    assert logout["client_id"] == CLIENT
    assert logout["sub"] == decode(op, id_token)["sub"]
    params["post_logout_redirect_uri"] = "http://evil.test/"
    answer = requests.get(op + "/logout?" + urlencode(params), allow_redirects=False, timeout=5)
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    answer = requests.get(op + "/logout", params={"id_token_hint": "not-a-token"}, allow_redirects=False, timeout=5)
    assert answer.status_code == 400


def test_the_root_describes_the_simulator(op):
    body = requests.get(op + "/", timeout=5).json()
    assert body["simulator"] == "eid"
    assert body["discovery"] == op + "/.well-known/openid-configuration"
    assert {p["personal_id"] for p in body["people"]} == {p.personal_id for p in PEOPLE}
