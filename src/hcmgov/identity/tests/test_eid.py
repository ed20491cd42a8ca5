"""National e-ID login end to end: our side through Django's test client, the provider's side over
real HTTP to the simulator (``hcmgov sim eid``). Faults come from the simulator, nothing is patched."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.test import Client

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.identity import eid
from hcmgov.identity.models import Representation, User, UserKind, personal_id_index
from hcmgov.identity.services import user_profile_update
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.simulators import running
from hcmgov.simulators._eid_people import PEOPLE, SIM_PASSWORD

CLIENT = "hcmgov-test"
SECRET = "test-secret-0123456789"
CALLBACK = "http://testserver/dang-nhap/vneid/callback/"
HOME = "http://testserver/"
CLIENTS = {CLIENT: {"client_secret": SECRET, "redirect_uris": [CALLBACK], "post_logout_redirect_uris": [HOME]}}
LEVEL_2, LEVEL_1 = PEOPLE[0], PEOPLE[1]
REPRESENTATIVE = next(p for p in PEOPLE if p.represents)
REFUSED_TEXT = "Không thể đăng nhập bằng định danh điện tử quốc gia"

pytestmark = pytest.mark.django_db


@pytest.fixture
def op(settings):
    eid.provider_cache_clear()
    with running("eid", clients=CLIENTS) as base_url:
        settings.EID_DISCOVERY_URL = base_url + "/.well-known/openid-configuration"
        settings.EID_CLIENT_ID = CLIENT
        settings.EID_CLIENT_SECRET = SECRET
        settings.EID_CLOCK_SKEW = 60
        yield base_url
    eid.provider_cache_clear()


def start(client: Any, **query: str) -> str:
    """Our start page: the redirect to the provider's authorization endpoint."""
    response = client.get("/dang-nhap/vneid/" + (("?" + urlencode(query)) if query else ""))
    assert response.status_code == 302, response.content
    return response["Location"]


def at_provider(authorize_url: str, person: Any = LEVEL_2, **form: str) -> str:
    """The person's browser at the provider: the login form, then its POST; where it sends them back."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    assert 'name="personal_id"' in page.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    data = {**params, "personal_id": person.personal_id, "password": SIM_PASSWORD, "action": "login", **form}
    answer = requests.post(authorize_url.split("?")[0], data=data, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    return location


def back(client: Any, location: str) -> Any:
    parts = urlsplit(location)
    return client.get(parts.path + "?" + parts.query)


def log_in(client: Any, person: Any = LEVEL_2, **form: str) -> Any:
    return back(client, at_provider(start(client), person, **form))


def logged_in(client: Any) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def refusals() -> list[str]:
    return list(AuditEvent.objects.filter(action="security.eid_refused").values_list("object_id", flat=True))


def assert_refused(response: Any, client: Any, reason: str, *, status: int = 400) -> None:
    assert response.status_code == status
    text = response.content.decode()
    assert reason not in text  # the page tells the person what to do, not what went wrong
    assert "code=" not in text
    assert "state=" not in text
    assert logged_in(client) is None
    assert refusals() == [reason]


# --- logging in --------------------------------------------------------------------------------


def test_the_login_page_offers_the_national_e_id(client, op):
    page = client.get("/dang-nhap/?next=/ho-so/").content.decode()
    assert "Đăng nhập bằng định danh điện tử quốc gia (VNeID)" in page
    assert 'action="/dang-nhap/vneid/"' in page
    assert 'name="next" value="/ho-so/"' in page


def test_a_citizen_logs_in_for_the_first_time(client, op):
    authorize_url = start(client, next="/ho-so/")
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(op + "/authorize?")
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT]
    assert query["redirect_uri"] == [CALLBACK]
    assert {"state", "nonce", "code_challenge"} <= query.keys()
    response = back(client, at_provider(authorize_url, LEVEL_1))
    assert (response.status_code, response["Location"]) == (302, "/ho-so/")
    user = logged_in(client)
    assert user is not None
    assert user.kind == UserKind.CITIZEN
    assert not user.has_usable_password()
    assert user.personal_id == LEVEL_1.personal_id
    assert user.eid_subject == LEVEL_1.subject
    assert user.assurance_level == 1
    assert user.full_name == "Trần Thị Bích Ngọc"
    assert str(user.date_of_birth) == "1990-11-05"
    assert user.address == "88 Võ Văn Tần, Phường Xuân Hòa, Thành phố Hồ Chí Minh"
    assert user.verified_attributes == ["address", "date_of_birth", "full_name", "personal_id"]
    assert client.get("/ho-so/").status_code == 200
    assert AuditEvent.objects.filter(action="user.eid_login", object_id=str(user.pk)).exists()
    assert refusals() == []


def test_a_level_2_login(client, op):
    log_in(client, LEVEL_2)
    user = logged_in(client)
    assert user is not None
    assert (user.assurance_level, user.full_name) == (2, "Nguyễn Văn An")


def test_an_existing_citizen_is_linked_by_personal_id(client, op):
    existing = UserFactory(personal_id=LEVEL_2.personal_id, full_name="Nguyen Van An", address="cũ")
    log_in(client, LEVEL_2)
    user = logged_in(client)
    assert user is not None
    assert user.pk == existing.pk
    assert user.eid_subject == LEVEL_2.subject
    assert (user.full_name, user.address) == ("Nguyễn Văn An", "12 Lê Lợi, Phường Sài Gòn, Thành phố Hồ Chí Minh")
    assert user.has_usable_password()  # the portal password the citizen had still works


def test_a_second_login_is_the_same_account(client, op):
    log_in(client, LEVEL_2)
    first = logged_in(client)
    client.logout()
    log_in(client, LEVEL_2)
    assert logged_in(client) == first
    assert User.objects.filter(personal_id_index=personal_id_index(LEVEL_2.personal_id)).count() == 1


def test_a_business_representative_login_records_the_representation(client, op):
    tax_code = REPRESENTATIVE.represents[0]
    log_in(client, REPRESENTATIVE, act_for=tax_code)
    person = logged_in(client)
    assert person is not None
    assert person.kind == UserKind.CITIZEN
    business = User.objects.get(tax_code=tax_code)
    assert (business.kind, business.full_name) == (UserKind.BUSINESS, "Công ty TNHH Sài Gòn Xanh")
    assert not business.has_usable_password()
    [representation] = Representation.objects.filter(person=person)
    assert (representation.business, representation.source, representation.role) == (
        business,
        "eid",
        "legal_representative",
    )
    assert client.session["eid_acting_for"] == tax_code
    client.logout()
    log_in(client, REPRESENTATIVE, act_for=tax_code)  # again: nothing doubles
    assert Representation.objects.filter(person=person).count() == 1
    assert User.objects.filter(tax_code=tax_code).count() == 1


def test_keys_rotated_at_the_provider_are_fetched_again(client, op):
    log_in(client, LEVEL_2)  # the provider's keys are now cached
    client.logout()
    requests.post(op + "/_sim/rotate", timeout=5).raise_for_status()
    log_in(client, LEVEL_2)
    assert logged_in(client) is not None


def test_a_clock_difference_within_the_skew_is_tolerated(client, op):
    requests.post(op + "/_sim/clock", json={"offset": 40}, timeout=5).raise_for_status()
    log_in(client, LEVEL_2)
    assert logged_in(client) is not None


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "reason", "status"),
    [
        ("unknown_key", "signature_invalid", 400),
        ("forged_signature", "signature_invalid", 400),
        ("wrong_audience", "audience_mismatch", 400),
        ("wrong_issuer", "issuer_mismatch", 400),
        ("expired", "token_expired", 400),
        ("not_yet_valid", "token_not_yet_valid", 400),
        ("wrong_nonce", "nonce_mismatch", 400),
        ("unavailable", "provider_unavailable", 502),
    ],
)
def test_a_bad_token_is_refused_and_recorded(client, op, fault, reason, status):
    requests.post(op + "/_sim/faults", json={"fault": fault}, timeout=5).raise_for_status()
    response = log_in(client, LEVEL_2)
    assert_refused(response, client, reason, status=status)
    assert not User.objects.filter(personal_id_index=personal_id_index(LEVEL_2.personal_id)).exists()
    event = AuditEvent.objects.get(action="security.eid_refused")
    assert event.after["reason"] == reason
    assert event.request_id
    assert event.request_id in response.content.decode()  # the reference shown to the person


def test_a_clock_far_ahead_is_refused(client, op):
    requests.post(op + "/_sim/clock", json={"offset": 600}, timeout=5).raise_for_status()
    assert_refused(log_in(client, LEVEL_2), client, "token_not_yet_valid")


def test_a_replayed_callback_is_refused(client, op):
    location = at_provider(start(client), LEVEL_2)
    assert back(client, location).status_code == 302
    client.logout()
    assert_refused(back(client, location), client, "state_mismatch")


def test_a_code_replayed_into_another_session_is_refused_by_the_provider(client, op):
    stolen = at_provider(start(client), LEVEL_2)
    back(client, stolen)  # the victim's login used the code
    attacker = Client()
    attacker_url = start(attacker)
    state = parse_qs(urlsplit(attacker_url).query)["state"][0]
    code = parse_qs(urlsplit(stolen).query)["code"][0]
    response = attacker.get("/dang-nhap/vneid/callback/?" + urlencode({"code": code, "state": state}))
    assert_refused(response, attacker, "token_error")
    assert AuditEvent.objects.get(action="security.eid_refused").after["detail"] == "invalid_grant"


def test_a_tampered_state_is_refused(client, op):
    location = at_provider(start(client), LEVEL_2)
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][:-2] + "xx"
    assert_refused(back(client, urlunsplit(parts._replace(query=urlencode(query)))), client, "state_mismatch")


def test_a_callback_without_a_login_started_is_refused(client, op):
    assert_refused(client.get("/dang-nhap/vneid/callback/?code=abc&state=def"), client, "state_mismatch")


def test_a_nonce_tampered_on_the_way_to_the_provider_is_refused(client, op):
    parts = urlsplit(start(client))
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["nonce"] = "attacker-chosen-nonce"
    assert_refused(
        back(client, at_provider(urlunsplit(parts._replace(query=urlencode(query))))), client, "nonce_mismatch"
    )


def test_a_wrong_client_secret_is_refused(client, op, settings):
    settings.EID_CLIENT_SECRET = "not-the-secret"
    assert_refused(log_in(client, LEVEL_2), client, "token_error")
    assert AuditEvent.objects.get(action="security.eid_refused").after["detail"] == "invalid_client"


def test_an_unknown_client_stops_at_the_provider(client, op, settings):
    settings.EID_CLIENT_ID = "not-registered"
    answer = requests.get(start(client), allow_redirects=False, timeout=5)
    assert answer.status_code == 400  # the provider's error page: no code, no redirect to anyone
    assert "Location" not in answer.headers


def test_a_cancelled_login_is_a_provider_error(client, op):
    authorize_url = start(client)
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    answer = requests.post(op + "/authorize", data={**params, "action": "deny"}, allow_redirects=False, timeout=5)
    response = back(client, answer.headers["Location"])
    assert "Bạn đã hủy đăng nhập bằng VNeID." in response.content.decode()
    assert_refused(response, client, "access_denied")


def test_an_unreachable_provider_is_refused_at_the_start(client, settings):
    eid.provider_cache_clear()
    settings.EID_DISCOVERY_URL = "http://127.0.0.1:9/.well-known/openid-configuration"  # discard port: closed
    settings.EID_CLIENT_ID = CLIENT
    response = client.get("/dang-nhap/vneid/")
    assert_refused(response, client, "provider_unavailable", status=502)


def test_an_officials_account_is_not_taken_over_by_an_e_id_login(client, op):
    official = UserFactory(official=True, personal_id=LEVEL_2.personal_id)
    assert_refused(log_in(client, LEVEL_2), client, "account_conflict")
    official.refresh_from_db()
    assert official.eid_subject is None


def test_without_configuration_the_login_is_off(client, settings):
    settings.EID_DISCOVERY_URL = ""
    assert "chưa sẵn sàng" in client.get("/dang-nhap/").content.decode()
    response = client.get("/dang-nhap/vneid/")
    assert response.status_code == 503
    assert "chưa sẵn sàng" in response.content.decode()
    assert refusals() == []  # a setting, not an attack


# --- after the login ---------------------------------------------------------------------------


def test_logout_ends_the_session_here_then_at_the_provider(client, op):
    log_in(client, LEVEL_2)
    id_token = client.session[eid.SESSION_ID_TOKEN]
    response = client.post("/dang-xuat/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(op + "/logout?")
    query = parse_qs(urlsplit(location).query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == [HOME]
    assert logged_in(client) is None
    answer = requests.get(location, allow_redirects=False, timeout=5)
    assert (answer.status_code, answer.headers["Location"]) == (302, HOME)
    [logout] = requests.get(op + "/_sim/state", timeout=5).json()["logouts"]
    assert logout["sub"] == LEVEL_2.subject


def test_a_password_login_logs_out_locally_only(client, op):
    user = UserFactory()
    client.force_login(user)
    response = client.post("/dang-xuat/")
    assert response["Location"] == "/"


def test_vouched_attributes_are_not_editable(client, op):
    log_in(client, LEVEL_2)
    user = logged_in(client)
    assert user is not None
    with pytest.raises(DomainError) as refused:
        user_profile_update(user=user, full_name="Tên khác", phone="0909000111")
    assert [e.field for e in refused.value.errors] == ["full_name"]
    with pytest.raises(DomainError):
        user_profile_update(user=user, personal_id="079000000000")
    user_profile_update(user=user, phone="0909000111", full_name=user.full_name)  # unchanged: allowed
    user.refresh_from_db()
    assert (user.phone, user.full_name) == ("0909000111", "Nguyễn Văn An")
