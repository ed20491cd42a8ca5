"""Every transaction records who acted, by which method and assurance level, in which login; the
share of electronically authenticated transactions is read from those records (selector and API)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.test import Client, RequestFactory
from django.utils import timezone

from hcmgov.audit.models import AuditEvent
from hcmgov.audit.selectors import TRANSACTION_ACTIONS, authenticated_transactions
from hcmgov.audit.services import audit_record
from hcmgov.common import context
from hcmgov.common.apiauth import BearerToken, token_assurance
from hcmgov.common.context import AuthMethod
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.dossiers.tests.test_api import bearer, payload  # noqa: F401 - payload is a fixture
from hcmgov.identity.provider import services as provider
from hcmgov.identity.tests.factories import PASSWORD, RoleAssignmentFactory, UserFactory, totp_code
from hcmgov.identity.tests.oidc_support import _client_secret_hasher, basic, rp, tokens_for  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

SAIGON = zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")
STATS = "/api/v1/office/statistics/authentication"


def submit_over_api(client: Client, payload: dict, **headers: str) -> AuditEvent:  # noqa: F811
    response = client.post("/api/v1/dossiers", payload, content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    return AuditEvent.objects.filter(action="dossier.submit").latest("id")


def login_form(client: Client, user, **extra) -> None:
    answer = client.post("/dang-nhap/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.2.2.2")
    assert answer.status_code == 302, answer.content


# --- what each way of logging in records -------------------------------------------------------------


def test_a_password_login_records_one_factor_and_a_login_reference(client, citizen, payload):  # noqa: F811
    login_form(client, citizen)
    record = client.session[context.SESSION_AUTH]
    assert (record["method"], record["level"]) == ("password", 1)
    event = submit_over_api(client, payload)
    assert (event.actor_id, event.auth_method, event.assurance_level) == (citizen.pk, "password", 1)
    assert event.session_ref == record["ref"]
    assert len(event.session_ref) == 16
    assert client.session.session_key not in event.session_ref  # never the session key itself


def test_each_login_has_its_own_reference(citizen, payload):  # noqa: F811
    refs = set()
    for _ in range(2):
        browser = Client()
        login_form(browser, citizen)
        refs.add(submit_over_api(browser, payload).session_ref)
        payload["form"]["full_name"] += " B"  # not a duplicate of the first
    assert len(refs) == 2


def test_an_officials_password_and_code_count_as_two_factors(client, submit, agency):
    dossier, _ = submit()
    official = RoleAssignmentFactory(agency=agency).user
    login_form(client, official)
    ref = client.session[context.SESSION_AUTH]["ref"]
    answer = client.post("/tai-khoan/xac-thuc/", {"token": totp_code(official)}, REMOTE_ADDR="10.2.2.2")
    assert answer.status_code == 302
    assert client.session[context.SESSION_AUTH]["ref"] == ref  # the same login, with a new session key
    assert client.post(f"/api/v1/dossiers/{dossier.code}/receive").status_code == 200
    event = AuditEvent.objects.filter(object_id=str(dossier.pk)).exclude(action="dossier.submit").latest("id")
    assert event.action in TRANSACTION_ACTIONS
    assert (event.actor_id, event.auth_method, event.assurance_level) == (official.pk, "password+totp", 2)
    assert event.session_ref == ref
    assert event.agency_id == agency.pk


def test_a_personal_token_is_one_factor_and_referenced_by_a_keyed_hash(client, citizen, payload):  # noqa: F811
    headers = bearer(citizen)
    event = submit_over_api(client, payload, **headers)
    raw = headers["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    assert (event.auth_method, event.assurance_level) == ("api_token", 1)
    assert event.session_ref == context.secret_ref(raw)
    assert event.session_ref not in raw
    assert event.session_ref not in citizen.api_tokens.get().digest


def test_a_persons_oauth_token_is_one_factor_for_a_citizen(client, citizen, payload, rp):  # noqa: F811
    client.force_login(citizen)
    token = tokens_for(client, rp, scope="openid hcmgov.api")["access_token"]
    client.logout()
    event = submit_over_api(client, payload, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (event.actor_id, event.auth_method, event.assurance_level) == (citizen.pk, "oauth", 1)


def test_an_officials_oauth_token_is_two_factors_and_a_machine_clients_is_oauth_client(client, agency):
    official = RoleAssignmentFactory(agency=agency).user
    assert token_assurance(official, personal=False) == (AuthMethod.OAUTH, 2)
    assert token_assurance(official, personal=True) == (AuthMethod.API_TOKEN, 1)
    machine = provider.machine_client_register(name="Hệ thống của Sở", agency_id=agency.pk)
    answer = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(machine))
    token = answer.json()["access_token"]
    for _ in range(2):  # read from the database, then from the process's cache
        request = RequestFactory().get("/api/v1/dossiers")
        reset = context.set_actor(context.Actor.system())
        try:
            assert BearerToken().authenticate(request, token) is not None
            actor = context.get_actor()
        finally:
            context.reset_actor(reset)
        assert (actor.user_id, actor.auth_method, actor.assurance_level) == (machine.user_id, "oauth_client", 1)


def test_work_done_outside_a_request_is_not_electronically_authenticated(submit):
    with context.acting_as(context.Actor.system("worker")):
        dossier, _ = submit()
    event = AuditEvent.objects.get(action="dossier.submit", object_id=str(dossier.pk))
    assert (event.actor_id, event.auth_method, event.assurance_level, event.session_ref) == (None, "system", 0, "")


# --- the share of electronically authenticated transactions -------------------------------------------


def _event(action: str, actor: context.Actor, agency_id: int | None, at: dt.datetime) -> None:
    class Obj:  # an object of an agency, as a dossier is
        pk = 1
        _meta = type("Meta", (), {"label_lower": "dossiers.dossier"})

    Obj.agency_id = agency_id
    with time_machine.travel(at, tick=False), context.acting_as(actor):
        audit_record(action=action, obj=Obj())  # type: ignore[arg-type]


@pytest.fixture
def period():
    """Events of 1-2 March 2026 (Saigon time) in two agencies, and some outside the figure."""
    a, b = AgencyFactory(), AgencyFactory()
    day = dt.datetime(2026, 3, 1, 9, tzinfo=SAIGON)
    eid2 = context.Actor(1, "citizen", AuthMethod.EID, 2, "r1")
    password = context.Actor(2, "citizen2", AuthMethod.PASSWORD, 1, "r2")
    official = context.Actor(3, "canbo", AuthMethod.PASSWORD_TOTP, 2, "r3")
    _event("dossier.submit", eid2, a.pk, day)
    _event("dossier.submit", password, a.pk, day)
    _event("dossier.act", official, a.pk, day + dt.timedelta(days=1))
    _event("dossier.submit", context.Actor(None, "anonymous", AuthMethod.ANONYMOUS), b.pk, day)
    _event("dossier.stop", context.Actor.system(), b.pk, day)
    _event("dossier.supplement", context.Actor(4, "old", AuthMethod.UNRECORDED, 0), b.pk, day)
    _event("dossier.submit", eid2, a.pk, dt.datetime(2026, 3, 2, 23, 59, tzinfo=SAIGON))  # the last minute
    _event("dossier.submit", eid2, a.pk, dt.datetime(2026, 3, 3, 0, 0, tzinfo=SAIGON))  # the day after
    _event("dossier.submit", eid2, a.pk, dt.datetime(2026, 2, 28, 23, 59, tzinfo=SAIGON))  # the day before
    _event("user.profile_update", eid2, None, day)  # not a transaction
    return a, b


def test_the_share_counts_transactions_by_method_and_level(period):
    a, b = period
    city = authenticated_transactions(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 2))
    assert (city.transactions, city.authenticated, city.share) == (7, 4, round(4 / 7, 4))
    assert city.by_method == {
        "anonymous": 1, "eid": 2, "password": 1, "password+totp": 1, "system": 1, "unrecorded": 1,
    }  # fmt: skip
    assert city.by_level == {0: 3, 1: 1, 2: 3}
    assert city.by_action == {"dossier.act": (1, 1), "dossier.stop": (1, 0), "dossier.submit": (4, 3),
                              "dossier.supplement": (1, 0)}  # fmt: skip
    only_a = authenticated_transactions(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 2), agency_ids=[a.pk])
    assert (only_a.transactions, only_a.authenticated, only_a.share) == (4, 4, 1.0)
    only_b = authenticated_transactions(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 1), agency_ids=[b.pk])
    assert (only_b.transactions, only_b.authenticated, only_b.share) == (3, 0, 0.0)
    none = authenticated_transactions(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 30))
    assert (none.transactions, none.share, none.by_method) == (0, None, {})


def test_the_figure_over_the_api(client, period, django_assert_max_num_queries):
    a, b = period
    official = RoleAssignmentFactory(agency=a).user
    query = {"start": "2026-03-01", "end": "2026-03-02"}
    assert client.get(STATS, query).status_code == 401
    client.force_login(official)
    with django_assert_max_num_queries(6):
        mine = client.get(STATS, query)
    assert mine.status_code == 200, mine.content
    body = mine.json()
    assert (body["transactions"], body["authenticated"], body["share"], body["agency"]) == (4, 4, 1.0, None)
    assert body["by_level"] == {"1": 1, "2": 3}
    assert {"action": "dossier.act", "transactions": 1, "authenticated": 1} in body["by_action"]
    assert client.get(STATS, {**query, "agency": a.code}).json()["transactions"] == 4
    other = client.get(STATS, {**query, "agency": b.code})
    assert other.status_code == 403
    assert other["Content-Type"] == "application/problem+json"
    assert client.get(STATS, {**query, "agency": "KHONG-CO"}).status_code == 404
    backwards = client.get(STATS, {"start": "2026-03-02", "end": "2026-03-01"})
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "end"
    client.force_login(UserFactory(admin=True))
    city = client.get(STATS, query).json()
    assert (city["transactions"], city["authenticated"]) == (7, 4)
    assert client.get(STATS, {**query, "agency": b.code}).json()["transactions"] == 3
    client.force_login(UserFactory())
    assert client.get(STATS, query).status_code == 403


def test_the_period_is_counted_in_the_citys_days(period):
    # 2 March 23:59 in Saigon is 16:59 UTC: inside; 3 March 00:00 in Saigon is 2 March 17:00 UTC: outside
    assert timezone.get_current_timezone_name() == "Asia/Ho_Chi_Minh"
    second = authenticated_transactions(start=dt.date(2026, 3, 2), end=dt.date(2026, 3, 2))
    assert second.by_action == {"dossier.act": (1, 1), "dossier.submit": (1, 1)}
