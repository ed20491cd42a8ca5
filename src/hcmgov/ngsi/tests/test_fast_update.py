"""The hot path of single entity updates (issue 11, ``ngsi.fastwrite``): a PATCH …/attrs written
in one statement on PostgreSQL must store exactly what the locking path stores, append the same
history, never skip a subscription (even one this process has not heard of), and the caches on
the way (the bearer token, "any subscription?") must not let a revoked or expired token through."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hcmgov.identity import services as identity
from hcmgov.identity.models import ApiToken
from hcmgov.ngsi import fastwrite, services
from hcmgov.ngsi.jsonld import DEFAULT_VOCAB
from hcmgov.ngsi.models import AttributeInstance, Entity, Subscription
from hcmgov.ngsi.tests.conftest import Api
from hcmgov.ngsi.tests.test_subscriptions import Subscriber, _subscription, _work

pytestmark = pytest.mark.django_db

SENSOR = "urn:ngsi-ld:AirQualityObserved:fast-1"
PM25 = DEFAULT_VOCAB + "pm25"
only_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's (SQLite takes the locking path)"
)


@pytest.fixture(autouse=True)
def _forget_subscriptions():
    services.subscriptions_active_forget()
    services._active[1] = False
    yield
    services.subscriptions_active_forget()
    services._active[1] = False


@pytest.fixture
def subscriber(settings):
    settings.NGSI_LD_NOTIFY_ALLOWED = ["127.0.0.0/8"]
    server = Subscriber()
    yield server
    server.close()


def _sensor(api: Api) -> None:
    body = {
        "id": SENSOR,
        "type": "AirQualityObserved",
        "pm25": {"type": "Property", "value": 20, "unitCode": "GQ", "observedAt": "2026-11-28T00:00:00Z"},
        "pm10": [
            {"type": "Property", "value": 30},
            {"type": "Property", "value": 31, "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
    }
    assert api.post("/entities", body).status_code == 201


def _reading(value: int, at: str) -> dict[str, Any]:
    return {"pm25": {"type": "Property", "value": value, "unitCode": "GQ", "observedAt": at}}


def test_patch_stores_what_the_locking_path_stores(api):
    _sensor(api)
    before = Entity.objects.get(entity_id=SENSOR)
    created = before.attrs[PM25][0]["createdAt"]
    response = api.patch(f"/entities/{SENSOR}/attrs", _reading(42, "2026-11-28T01:02:03.5Z"))
    assert response.status_code == 204, response.content
    after = Entity.objects.get(entity_id=SENSOR)
    (pm25,) = after.attrs[PM25]
    assert pm25["value"] == 42
    assert pm25["observedAt"] == "2026-11-28T01:02:03.500000Z"
    assert pm25["createdAt"] == created  # kept from the replaced instance
    assert pm25["modifiedAt"] != created
    assert after.modified_at > before.modified_at
    assert after.attrs[DEFAULT_VOCAB + "pm10"] == before.attrs[DEFAULT_VOCAB + "pm10"]  # untouched
    assert (after.min_lon, after.max_lat) == (before.min_lon, before.max_lat)
    history = list(AttributeInstance.objects.filter(entity=after.pk, attr=PM25).order_by("observed_at"))
    assert [(h.value, h.number, h.instance) for h in history] == [
        (20, 20.0, {"type": "Property", "unitCode": "GQ"}),
        (42, 42.0, {"type": "Property", "unitCode": "GQ"}),
    ]
    assert history[1].observed_at == dt.datetime(2026, 11, 28, 1, 2, 3, 500000, tzinfo=dt.UTC)
    temporal = api.get(f"/temporal/entities/{SENSOR}", {"attrs": "pm25", "lastN": "1"}).json()
    assert temporal["pm25"][0]["value"] == 42


def test_patch_keeps_its_answers_where_the_one_statement_path_does_not_apply(api):
    _sensor(api)
    path = f"/entities/{SENSOR}/attrs"
    # a datasetId instance: replaced alone
    assert (
        api.patch(path, {"pm10": {"type": "Property", "value": 77, "datasetId": "urn:ngsi-ld:Dataset:b"}}).status_code
        == 204
    )
    pm10 = api.get(f"/entities/{SENSOR}").json()["pm10"]
    assert sorted(i["value"] for i in pm10) == [30, 77]
    # one attribute missing: the other is written, 207 names the missing one
    partial = api.patch(path, {**_reading(50, "2026-11-28T02:00:00Z"), "nothing": {"type": "Property", "value": 1}})
    assert partial.status_code == 207
    assert partial.json() == {
        "updated": ["pm25"],
        "notUpdated": [{"attributeName": "nothing", "reason": "attribute does not exist / thuộc tính không tồn tại"}],
    }
    assert api.get(f"/entities/{SENSOR}", {"options": "keyValues"}).json()["pm25"] == 50
    missing = api.patch("/entities/urn:ngsi-ld:AirQualityObserved:none/attrs", _reading(1, "2026-11-28T00:00:00Z"))
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    bad = api.patch(path, _reading(1, "yesterday"))
    assert bad.status_code == 400
    assert bad.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


@only_postgresql
def test_one_statement_path_is_taken_and_races_lose_nothing(api):
    _sensor(api)
    pk = Entity.objects.get(entity_id=SENSOR).pk
    now = timezone.now()
    new = {PM25: [{"type": "Property", "value": 5, "createdAt": "x", "modifiedAt": "x"}]}
    assert fastwrite.patchable(new, services.LOCATION)
    assert fastwrite.entity_patch(entity_id=SENSOR, new=new, now=now, history=[]) == fastwrite.WRITTEN
    # a second write with an older clock still moves modifiedAt forward (compare-and-swap readers rely on it)
    first = Entity.objects.get(pk=pk).modified_at
    assert fastwrite.entity_patch(entity_id=SENSOR, new=new, now=now, history=[]) == fastwrite.WRITTEN
    assert Entity.objects.get(pk=pk).modified_at > first
    absent = {DEFAULT_VOCAB + "nothing": new[PM25]}
    assert fastwrite.entity_patch(entity_id=SENSOR, new=absent, now=now, history=[]) == fastwrite.CHANGED
    assert fastwrite.entity_patch(entity_id="urn:x:none", new=new, now=now, history=[]) == fastwrite.CHANGED
    assert not fastwrite.patchable({services.LOCATION: new[PM25]}, services.LOCATION)


def test_a_subscription_created_after_the_cache_warmed_still_fires(api, subscriber):
    _sensor(api)
    path = f"/entities/{SENSOR}/attrs"
    for second in range(3):  # this process now knows "no subscription"
        assert api.patch(path, _reading(10, f"2026-11-28T00:00:0{second}Z")).status_code == 204
    sub = _subscription(subscriber.url, id="urn:ngsi-ld:Subscription:pm25", watchedAttributes=["pm25"], q="pm25>100")
    sub["notification"]["attributes"] = ["pm25"]
    assert api.post("/subscriptions", sub).status_code == 201
    assert api.patch(path, _reading(150, "2026-11-28T00:01:00Z")).status_code == 204
    assert _work() == 1
    assert subscriber.received[0]["body"]["data"][0]["pm25"] == 150


@only_postgresql
def test_a_subscription_made_by_another_process_fires_at_once(api, subscriber):
    """Another worker process created it: this one's "no subscription" knowledge is fresh and
    wrong. The write statement asks the database itself, so the change still publishes."""
    _sensor(api)
    path = f"/entities/{SENSOR}/attrs"
    assert api.patch(path, _reading(10, "2026-11-28T00:00:00Z")).status_code == 204
    now = timezone.now()
    Subscription.objects.create(  # as the other process's service wrote it, without telling this one
        subscription_id="urn:ngsi-ld:Subscription:elsewhere",
        entities=[{"type": DEFAULT_VOCAB + "AirQualityObserved"}],
        watched_attributes=[PM25],
        notification={"attributes": [], "format": "keyValues", "endpoint": {"uri": subscriber.url}},
        created_at=now,
        modified_at=now,
    )
    services._active[:] = [time.monotonic(), False]  # fresh, and wrong
    assert api.patch(path, _reading(11, "2026-11-28T00:00:01Z")).status_code == 204
    assert _work() == 1
    assert subscriber.received[0]["body"]["data"][0]["pm25"] == 11
    history = AttributeInstance.objects.filter(entity=Entity.objects.get(entity_id=SENSOR).pk, attr=PM25)
    assert history.count() == 3  # the locking path appended it, once


@pytest.fixture
def clock(monkeypatch):
    identity.api_token_cache_clear()
    now = [1000.0]
    monkeypatch.setattr(identity, "_clock", lambda: now[0])
    yield now
    identity.api_token_cache_clear()


def test_a_revoked_token_is_refused(api, clock):
    _sensor(api)
    path = f"/entities/{SENSOR}/attrs"
    token = api.headers["HTTP_AUTHORIZATION"].split()[1]
    assert api.patch(path, _reading(1, "2026-11-28T00:00:00Z")).status_code == 204  # verified, kept
    ApiToken.objects.filter(digest=identity.token_digest(token)).update(revoked=True)
    clock[0] += identity.TOKEN_CACHE_SECONDS
    refused = api.patch(path, _reading(2, "2026-11-28T00:00:01Z"))
    assert refused.status_code == 401
    assert refused.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/Unauthorized"
    assert Entity.objects.get(entity_id=SENSOR).attrs[PM25][0]["value"] == 1


def test_an_expired_access_token_is_refused_when_it_expires(client, agency, clock, settings, api):
    """A machine client's access token is kept no longer than it is valid."""
    from oauth2_provider.models import AccessToken

    from hcmgov.identity.provider import services as provider
    from hcmgov.identity.tests.oidc_support import basic

    _sensor(api)
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "hcmgov.identity.provider.hashers.ClientSecretHasher"]
    provider.oauth_token_cache_clear()
    machine = provider.machine_client_register(name="Trạm quan trắc", agency_id=agency.pk)
    answer = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(machine))
    assert answer.status_code == 200, answer.content
    raw = answer.json()["access_token"]
    AccessToken.objects.filter(token_checksum=identity.token_digest(raw)).update(
        expires=timezone.now() + dt.timedelta(seconds=5)
    )
    system = Api(raw)
    path = f"/entities/{SENSOR}/attrs"
    try:
        assert system.patch(path, _reading(3, "2026-11-28T00:00:00Z")).status_code == 204
        clock[0] += 6  # past its expiry, well within TOKEN_CACHE_SECONDS
        AccessToken.objects.filter(token_checksum=identity.token_digest(raw)).update(
            expires=timezone.now() - dt.timedelta(seconds=1)
        )
        assert system.patch(path, _reading(4, "2026-11-28T00:00:01Z")).status_code == 401
    finally:
        provider.oauth_token_cache_clear()
