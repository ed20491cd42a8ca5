"""The WSGI fast path of sensors' updates (``ngsi.fastpath``, decision 0033): requests go through
the application ``hcmgov.wsgi`` serves (the fast layer around Django's handler), as a server sends
them. Each behaviour of the Django path must hold: the answers and their headers, the errors (made
by Django: the fast path only ever answers 204), the token checked at once, the @context of a Link
header, subscriptions notified, the history row written, two updates of one entity both kept. On
SQLite the fast path is off and Django answers everything."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection, connections

from hcmgov.common import fastpath as shared_fastpath
from hcmgov.common import metrics
from hcmgov.common.tests.wsgi import WsgiServer
from hcmgov.identity import services as identity
from hcmgov.identity.models import ApiToken
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.ngsi import fastpath, services
from hcmgov.ngsi.jsonld import DEFAULT_VOCAB
from hcmgov.ngsi.models import AttributeInstance, Entity
from hcmgov.ngsi.tests.test_subscriptions import Subscriber, _subscription, _work

SENSOR = "urn:ngsi-ld:AirQualityObserved:wsgi-1"
PATH = f"/ngsi-ld/v1/entities/{SENSOR}/attrs"
PM25 = DEFAULT_VOCAB + "pm25"
PROBLEM = "https://uri.etsi.org/ngsi-ld/errors/"
on_postgresql = connection.vendor == "postgresql"
only_postgresql = pytest.mark.skipif(not on_postgresql, reason="the fast path is PostgreSQL's")


class Server(WsgiServer):
    def __init__(self) -> None:
        super().__init__(fastpath.FastPatch)

    def call(  # type: ignore[override]
        self, method: str, path: str, body: Any = b"", *, token: str | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("CONTENT_TYPE", "application/json")
        return super().call(method, path, data, token=token, **headers)

    def patch(self, body: Any, *, token: str | None, path: str = PATH, **headers: str) -> Any:
        return self.call("PATCH", path, body, token=token, **headers)


@pytest.fixture(autouse=True)
def _no_subscription_known():
    services._active[:] = [0.0, False]
    yield
    services._active[:] = [0.0, False]


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def official(db) -> str:
    return api_token_issue(user=UserFactory(official=True), name="sensor gateway").raw


def _reading(value: int, at: str) -> dict[str, Any]:
    return {"pm25": {"type": "Property", "value": value, "unitCode": "GQ", "observedAt": at}}


def _sensor(server: Server, token: str) -> None:
    body = {"id": SENSOR, "type": "AirQualityObserved", **_reading(1, "2026-11-28T00:00:00Z")}
    status, _, content = server.call("POST", "/ngsi-ld/v1/entities", body, token=token)
    assert status == 201, content


def _history() -> list[Any]:
    entity = Entity.objects.get(entity_id=SENSOR)
    return list(AttributeInstance.objects.filter(entity=entity.pk, attr=PM25).order_by("observed_at"))


def _warm(server: Server, token: str) -> None:
    """The first update goes through Django, which teaches the fast path its answer's headers."""
    status, _, content = server.patch(_reading(2, "2026-11-28T00:00:01Z"), token=token)
    assert status == 204, content


def test_the_platform_stack_is_the_reviewed_one(settings):
    """A middleware added or removed turns the fast path off until its effect on this path is
    reviewed (``shared_fastpath.REVIEWED_MIDDLEWARE``): this test names the change."""
    assert tuple(settings.MIDDLEWARE) == shared_fastpath.REVIEWED_MIDDLEWARE


@pytest.mark.django_db
def test_an_update_is_answered_by_the_fast_path_with_the_django_answers_headers(server, official):
    _sensor(server, official)
    counted = metrics.REQUESTS.labels("PATCH", fastpath.ROUTE, "204")
    status, django_headers, _ = server.patch(_reading(2, "2026-11-28T00:00:01Z"), token=official)
    assert status == 204
    before, seen = server.inner.calls, counted._value.get()
    status, headers, content = server.patch(_reading(42, "2026-11-28T00:00:02.5Z"), token=official)
    assert (status, content) == (204, b"")
    assert server.inner.calls == before + (0 if on_postgresql else 1)  # PostgreSQL: Django not called
    assert counted._value.get() == seen + 1  # counted under the route's name, as Django's path counts it
    assert headers.pop("X-Request-ID") != django_headers.pop("X-Request-ID")
    assert headers == django_headers  # every security header, the CSP, Content-Language, Vary …
    assert "Content-Security-Policy" in headers
    assert headers["X-Frame-Options"] == "DENY"
    stored = Entity.objects.get(entity_id=SENSOR).attrs[PM25][0]
    assert (stored["value"], stored["observedAt"]) == (42, "2026-11-28T00:00:02.500000Z")
    assert [(h.value, h.instance) for h in _history()][-1] == (42, {"type": "Property", "unitCode": "GQ"})
    assert len(_history()) == 3


@only_postgresql
@pytest.mark.django_db
def test_the_request_id_is_taken_or_made(server, official):
    _sensor(server, official)
    _warm(server, official)
    _, headers, _ = server.patch(_reading(3, "2026-11-28T00:00:03Z"), token=official, X_REQUEST_ID="sensor-abc-123")
    assert headers["X-Request-ID"] == "sensor-abc-123"
    _, headers, _ = server.patch(_reading(4, "2026-11-28T00:00:04Z"), token=official, X_REQUEST_ID="bad id!")
    assert len(headers["X-Request-ID"]) == 32
    assert headers["X-Request-ID"] != "bad id!"


@pytest.mark.django_db
def test_every_other_answer_is_djangos_and_nothing_is_written(server, official):
    _sensor(server, official)
    _warm(server, official)
    citizen = api_token_issue(user=UserFactory(), name="c").raw
    cases = [
        # (body, token, headers, path) → (status, ProblemDetails type or None)
        (_reading(5, "2026-11-28T00:00:05Z"), None, {}, PATH, 401, "Unauthorized"),
        (_reading(5, "2026-11-28T00:00:05Z"), "hcm_not-a-token", {}, PATH, 401, "Unauthorized"),
        (_reading(5, "2026-11-28T00:00:05Z"), citizen, {}, PATH, 403, "Forbidden"),
        (_reading(5, "2026-11-28T00:00:05Z"), official, {"CONTENT_TYPE": "text/plain"}, PATH, 415, None),
        (b"{not json", official, {}, PATH, 400, "InvalidRequest"),
        ({"@context": "x", **_reading(5, "2026-11-28T00:00:05Z")}, official, {}, PATH, 400, "BadRequestData"),
        (_reading(5, "yesterday"), official, {}, PATH, 400, "BadRequestData"),
        (
            _reading(5, "2026-11-28T00:00:05Z"),
            official,
            {},
            "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:none/attrs",
            404,
            "ResourceNotFound",
        ),
        (_reading(5, "2026-11-28T00:00:05Z"), official, {}, "/ngsi-ld/v1/entities/not%20a%20uri/attrs", 400, None),
    ]
    for body, token, headers, path, status, kind in cases:
        calls = server.inner.calls
        got, answer_headers, content = server.patch(body, token=token, path=path, **headers)
        assert got == status, (path, token, headers, content)
        assert server.inner.calls == calls + 1  # Django answered
        if kind:
            assert json.loads(content)["type"] == PROBLEM + kind
        assert "Content-Security-Policy" in answer_headers
    # an attribute the entity lacks: 207 from Django, the one that exists written
    both = {**_reading(6, "2026-11-28T00:00:06Z"), "nothing": {"type": "Property", "value": 1}}
    status, _, content = server.patch(both, token=official)
    assert status == 207
    assert json.loads(content)["notUpdated"][0]["attributeName"] == "nothing"
    assert [h.value for h in _history()] == [1, 2, 6]


@pytest.mark.django_db
def test_a_revoked_token_stops_at_once(server, official):
    """The fast path reads no cache: the token is checked in the write's own statement. (Django's
    path may go on trusting it for ``TOKEN_CACHE_SECONDS`` in this process; its own tests bound
    that.) Here the revocation is from another process: this one's cache is not told."""
    _sensor(server, official)
    _warm(server, official)
    assert server.patch(_reading(3, "2026-11-28T00:00:03Z"), token=official)[0] == 204
    ApiToken.objects.filter(digest=identity.token_digest(official)).update(revoked=True)
    identity.api_token_cache_clear()  # (so that Django's path, answering next, refuses too)
    status, _, content = server.patch(_reading(4, "2026-11-28T00:00:04Z"), token=official)
    assert status == 401, content
    assert Entity.objects.get(entity_id=SENSOR).attrs[PM25][0]["value"] == 3


@only_postgresql
@pytest.mark.django_db
def test_the_statement_refuses_revoked_tokens_and_readers(server, official):
    """``fastwrite.entity_patch`` with a token: the write happens only for a caller who may write,
    whatever any process's cache of tokens holds."""
    from django.utils import timezone

    from hcmgov.ngsi import fastwrite

    _sensor(server, official)
    new = {PM25: [{"type": "Property", "value": 5, "createdAt": "x", "modifiedAt": "x"}]}
    kw = {"entity_id": SENSOR, "new": new, "now": timezone.now(), "history": []}
    citizen = api_token_issue(user=UserFactory(), name="c").raw
    assert fastwrite.entity_patch(**kw, token=citizen) == fastwrite.REFUSED
    assert fastwrite.entity_patch(**kw, token="hcm_unknown") == fastwrite.REFUSED
    assert fastwrite.entity_patch(**kw, token="an-oauth-token-nobody-issued") == fastwrite.REFUSED
    assert server.patch(_reading(3, "2026-11-28T00:00:03Z"), token=official)[0] == 204  # warms the cache
    ApiToken.objects.filter(digest=identity.token_digest(official)).update(revoked=True)
    assert fastwrite.entity_patch(**kw, token=official) == fastwrite.REFUSED
    assert Entity.objects.get(entity_id=SENSOR).attrs[PM25][0]["value"] == 3


@only_postgresql
@pytest.mark.django_db
def test_a_machine_clients_access_token_writes(server, official, client, agency, settings):
    from hcmgov.identity.provider import services as provider
    from hcmgov.identity.tests.oidc_support import basic

    _sensor(server, official)
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "hcmgov.identity.provider.hashers.ClientSecretHasher"]
    machine = provider.machine_client_register(name="Trạm quan trắc", agency_id=agency.pk)
    answer = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(machine))
    raw = answer.json()["access_token"]
    _warm(server, raw)
    calls = server.inner.calls
    assert server.patch(_reading(7, "2026-11-28T00:00:07Z"), token=raw)[0] == 204
    assert server.inner.calls == calls  # the fast path answered
    assert _history()[-1].value == 7


@only_postgresql
@pytest.mark.django_db
def test_a_link_header_context_is_applied(server, official, settings, tmp_path):
    url = "https://example.org/context/air.jsonld"
    (tmp_path / "air.jsonld").write_text(json.dumps({"@context": {"pm": "https://example.org/air#pm25"}}))
    (tmp_path / "index.json").write_text(json.dumps({url: "air.jsonld"}))
    settings.NGSI_LD_CONTEXT_DIR = str(tmp_path)
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    body = {"id": SENSOR, "type": "AirQualityObserved", "pm": {"type": "Property", "value": 1}}
    assert server.call("POST", "/ngsi-ld/v1/entities", body, token=official, LINK=link)[0] == 201
    reading = {"pm": {"type": "Property", "value": 8, "observedAt": "2026-11-28T00:00:08Z"}}
    assert server.patch(reading, token=official, LINK=link)[0] == 204  # Django, learning
    calls = server.inner.calls
    reading["pm"]["value"] = 9
    assert server.patch(reading, token=official, LINK=link)[0] == 204
    assert server.inner.calls == calls
    attrs = Entity.objects.get(entity_id=SENSOR).attrs
    assert attrs["https://example.org/air#pm25"][0]["value"] == 9
    assert PM25 not in attrs
    # without the Link header "pm" is another attribute, which the entity lacks: Django's 207
    assert server.patch(reading, token=official)[0] == 207


@pytest.mark.django_db
def test_subscriptions_are_notified(server, official, settings):
    settings.NGSI_LD_NOTIFY_ALLOWED = ["127.0.0.0/8"]
    subscriber = Subscriber()
    try:
        _sensor(server, official)
        _warm(server, official)
        sub = _subscription(
            subscriber.url, id="urn:ngsi-ld:Subscription:wsgi", watchedAttributes=["pm25"], q="pm25>100"
        )
        sub["notification"]["attributes"] = ["pm25"]
        assert server.call("POST", "/ngsi-ld/v1/subscriptions", sub, token=official)[0] == 201
        services._active[:] = [0.0, False]  # as if made by another process: this one has not heard
        calls = server.inner.calls
        assert server.patch(_reading(150, "2026-11-28T00:01:00Z"), token=official)[0] == 204
        assert server.inner.calls == calls + 1  # the statement saw the subscription: Django's locking path
        assert _work() == 1
        assert subscriber.received[0]["body"]["data"][0]["pm25"] == 150
        assert [h.value for h in _history()] == [1, 2, 150]  # written once
    finally:
        subscriber.close()


@pytest.mark.django_db
def test_sqlite_and_a_switched_off_fast_path_take_djangos_path(official, settings):
    settings.NGSI_LD_FAST_PATH = False
    server = Server()
    _sensor(server, official)
    for second in (1, 2, 3):
        assert server.patch(_reading(second, f"2026-11-28T00:00:0{second}Z"), token=official)[0] == 204
    assert server.inner.calls == 4
    assert [h.value for h in _history()] == [1, 1, 2, 3]
    assert not fastpath.enabled()


@pytest.mark.django_db
def test_a_changed_middleware_stack_turns_the_fast_path_off(official, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "clickjacking" not in m]
    assert not fastpath.enabled()


@only_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_of_one_entity_all_land(official):
    server = Server()
    _sensor(server, official)
    _warm(server, official)
    errors: list[Any] = []
    per_thread = 10

    def run(thread: int) -> None:
        try:
            for i in range(per_thread):
                at = f"2026-11-28T01:{thread:02d}:{i:02d}Z"
                status, _, content = server.patch(_reading(100 * thread + i, at), token=official)
                if status != 204:
                    errors.append((status, content))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.inner.calls == 2  # the POST and the first PATCH: the rest were the fast path's
    values = {h.value for h in _history()}
    assert {100 * t + i for t in range(4) for i in range(per_thread)} <= values
    assert len(_history()) == 2 + 4 * per_thread
