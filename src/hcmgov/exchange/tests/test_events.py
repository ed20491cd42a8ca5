"""Event channels over real HTTP: outbox events reach a subscriber (a small server on loopback that
records what it gets and can answer errors or go away) as signed CloudEvents; a subscriber down for
a while gets everything once it is back; after the last attempt a delivery is dead, the operators
are told, and an admin sends it again; filters; repeats change nothing; the subscription API's rights."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.db.models import Max
from django.utils import timezone

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.core import services as core
from hcmgov.core.models import OutboxEvent
from hcmgov.exchange import envelope, events
from hcmgov.exchange.models import Delivery, DeliveryState, Subscription, SystemState
from hcmgov.exchange.tests.factories import (
    AccessRightFactory,
    ChannelFactory,
    InformationSystemFactory,
    SubscriptionFactory,
)
from hcmgov.exchange.tests.subscriber_support import Subscriber
from hcmgov.identity.provider import services as provider
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.identity.tests.oidc_support import _client_secret_hasher, basic  # noqa: F401 - a fixture
from hcmgov.notifications.models import Notification

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-the-subscriber-0123456789"
TOPIC = "dossier.step_done"  # no other module handles it: the outbox delivers it to the channels alone
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    hook = Subscriber()
    yield hook
    hook.stop()


@pytest.fixture
def world(db, subscriber):
    """A provider's channel of dossier events, a consumer system holding a right to it and
    subscribed (with every event) at ``subscriber``, and a platform administrator."""
    channel = ChannelFactory(topics=["dossier.*", "payment.paid"])
    consumer = InformationSystemFactory(contact_email="lienhe@quan1.example.vn")
    AccessRightFactory(service=channel.service, consumer=consumer)
    subscription = events.subscription_register(
        subscriber=consumer, channel=channel, callback_url=subscriber.url, filters={}, secret=SECRET
    )
    admin = UserFactory(admin=True)
    return channel, consumer, subscription, admin


def publish(key: str = "HS-1", topic: str = TOPIC, **payload: Any) -> OutboxEvent:
    """A platform module's outbox event, handed to its handlers as the worker does."""
    event = core.event_publish(topic=topic, key=key, payload={"dossier_id": 7, **payload})
    core.outbox_deliver()
    return event


def next_round(traveller: Any) -> int:
    """Move the clock past the latest retry time of the pending deliveries, and send."""
    due = Delivery.objects.filter(state=DeliveryState.PENDING).aggregate(at=Max("next_at"))["at"]
    traveller.move_to(max(due or timezone.now(), timezone.now()) + dt.timedelta(seconds=1))
    return events.deliveries_send()


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- delivered, signed ------------------------------------------------------------------------------------


def test_an_outbox_event_reaches_the_subscriber_as_a_signed_cloudevent(world, subscriber):
    channel, _, subscription, _ = world
    with time_machine.travel(T0, tick=False):
        event = publish(key="HS-2026-000123", step="tham-dinh")
        assert events.deliveries_send() == 1
    [(headers, body, _)] = subscriber.requests
    assert headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert headers["ce-id"] == f"hcmgov-{event.pk}"
    assert headers["x-hcmgov-signature"] == signature(body)
    service = channel.service
    assert json.loads(body) == {
        "specversion": "1.0",
        "id": f"hcmgov-{event.pk}",
        "source": f"/x/{service.system.member.code}/{service.system.code}/{service.code}",
        "type": "vn.gov.hochiminhcity.dossier.step_done",
        "time": "2026-03-02T08:00:00Z",
        "datacontenttype": "application/json",
        "subject": "HS-2026-000123",
        "data": {"dossier_id": 7, "step": "tham-dinh", "key": "HS-2026-000123"},
    }
    delivery = Delivery.objects.get()
    assert (delivery.subscription_id, delivery.state, delivery.attempts, delivery.last_status) == (
        subscription.pk,
        DeliveryState.DELIVERED,
        1,
        200,
    )
    assert delivery.delivered_at == T0
    assert events.deliveries_send() == 0  # nothing more to send
    assert len(subscriber.requests) == 1


def test_a_real_submission_goes_out_on_the_channel(world, subscriber, submit):
    dossier, _ = submit()
    core.outbox_deliver()
    assert events.deliveries_send() == 1
    [sent] = [json.loads(body) for _, body, _ in subscriber.requests]
    assert (sent["type"], sent["subject"]) == ("vn.gov.hochiminhcity.dossier.submitted", dossier.code)
    assert sent["data"] == {"dossier_id": dossier.pk, "key": dossier.code}


def test_topics_not_on_any_channel_make_no_delivery(world):
    publish(topic="postal.order_created", key="BC-1")  # no channel lists it
    assert Delivery.objects.count() == 0
    event = publish(topic="dossier.sent_back", key="HS-1")  # under "dossier.*"
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [f"hcmgov-{event.pk}"]
    channel = world[0]
    assert events.channels_for_topic(topic="payment.paid") == [channel]  # listed exactly
    assert events.channels_for_topic(topic="payment.paid_twice") == []
    assert events.channels_for_topic(topic="dossiers.x") == []


def test_finding_the_channels_of_a_topic_is_one_query_then_none(world, django_assert_num_queries):
    """Every outbox event passes here: the open channels are read once, then kept a few seconds
    (a channel saved in this process is seen at once)."""
    ChannelFactory.create_batch(3, topics=["postal.*"])
    with django_assert_num_queries(1):
        assert [c.pk for c in events.channels_for_topic(topic="dossier.finished")] == [world[0].pk]
    with django_assert_num_queries(0):
        assert len(events.channels_for_topic(topic="postal.delivered")) == 3
        assert events.channels_for_topic(topic="feedback.received") == []
    ChannelFactory(topics=["feedback.*"])
    with django_assert_num_queries(1):
        assert len(events.channels_for_topic(topic="feedback.received")) == 1
    assert envelope.channel_source(channel=world[0]).startswith("/x/")


# --- a subscriber down for a while ---------------------------------------------------------------------


def test_a_subscriber_down_for_a_while_gets_every_event_once_when_back(world, subscriber):
    with time_machine.travel(T0, tick=False) as traveller:
        subscriber.stop()  # connection refused
        published = [publish(key=f"HS-{n}") for n in range(5)]
        assert events.deliveries_send() == 0
        assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
        first = Delivery.objects.order_by("id").first()
        assert first is not None
        assert first.last_status is None
        assert "Could not reach the subscriber" in first.last_error
        assert events.deliveries_send() == 0  # nothing is due before its retry time
        assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}

        assert next_round(traveller) == 0  # still down
        subscriber.start()
        subscriber.status = 503  # up, but unwell
        assert next_round(traveller) == 0
        assert next_round(traveller) == 0
        assert len(subscriber.requests) == 2  # one try per round: the rest wait with the same answer
        assert set(Delivery.objects.values_list("attempts", "last_status")) == {(4, 503)}
        waits = [d.next_at - timezone.now() for d in Delivery.objects.all()]
        assert all(dt.timedelta(minutes=2) <= w <= dt.timedelta(minutes=4) for w in waits), waits  # 4 min, jittered

        subscriber.status = 200  # back
        assert next_round(traveller) == 5
    assert sorted(subscriber.accepted()) == sorted(f"hcmgov-{e.pk}" for e in published)  # all, each once
    assert set(Delivery.objects.values_list("state", "attempts")) == {(DeliveryState.DELIVERED, 5)}
    assert not AuditEvent.objects.filter(action="exchange.delivery_dead").exists()


def test_one_delivery_can_be_attempted_on_its_own(world, subscriber):
    publish()
    delivery = events.delivery_attempt(delivery=Delivery.objects.select_related("subscription").get())
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 1)
    events.delivery_attempt(delivery=delivery)  # delivered already: nothing is sent
    assert len(subscriber.requests) == 1
    assert Delivery.objects.get().attempts == 1


def test_the_worker_task_sends_and_the_dead_are_its_doing(world, subscriber, monkeypatch):
    from hcmgov.exchange import tasks

    monkeypatch.setattr(events, "MAX_ATTEMPTS", 1)
    publish(key="HS-1")
    assert tasks.deliveries_send() == 1
    subscriber.status = 500
    publish(key="HS-2")
    assert tasks.deliveries_send() == 0
    assert AuditEvent.objects.get(action="exchange.delivery_dead").actor_label == "worker"


def test_a_redirect_is_not_followed(world, subscriber):
    subscriber.status = 302
    publish()
    assert events.deliveries_send() == 0
    delivery = Delivery.objects.get()
    assert (delivery.state, delivery.last_status) == (DeliveryState.PENDING, 302)
    assert len(subscriber.requests) == 1  # no second request to /elsewhere


def test_a_worker_that_died_holding_a_claim_leaves_it_due_after_the_lease(world, subscriber):
    with time_machine.travel(T0, tick=False) as traveller:
        publish()
        assert [d.pk for d in events._claim(batch=10, now=timezone.now())] == [Delivery.objects.get().pk]
        assert events.deliveries_send() == 0  # claimed by the dead worker: not sent twice
        assert subscriber.requests == []
        traveller.shift(events.LEASE + dt.timedelta(seconds=1))
        assert events.deliveries_send() == 1
    assert len(subscriber.accepted()) == 1


def test_back_off_doubles_and_stops_at_six_hours():
    for attempts, full in ((1, 30), (2, 60), (5, 480), (10, 15360), (11, 21600), (12, 21600)):
        for _ in range(20):
            wait = events.retry_delay(attempts=attempts).total_seconds()
            assert full / 2 <= wait <= full


# --- the dead-letter path ------------------------------------------------------------------------------


def test_after_the_last_attempt_a_delivery_is_dead_and_the_operators_are_told(world, subscriber, monkeypatch, caplog):
    monkeypatch.setattr(events, "MAX_ATTEMPTS", 3)
    _, consumer, subscription, admin = world
    subscriber.status = 500
    with time_machine.travel(T0, tick=False) as traveller, caplog.at_level(logging.ERROR):
        publish(key="HS-1")
        events.deliveries_send()
        next_round(traveller)
        assert Delivery.objects.get().state == DeliveryState.PENDING
        next_round(traveller)
        delivery = Delivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.last_status) == (DeliveryState.DEAD, 3, 500)
        assert "HTTP 500" in delivery.last_error
        assert next_round(traveller) == 0  # a dead delivery is not tried again
        assert len(subscriber.requests) == 3
        publish(key="HS-2")  # a second one dies the same day: the operators get no second mail
        for _ in range(3):
            next_round(traveller)
    dead = AuditEvent.objects.filter(action="exchange.delivery_dead").order_by("id")
    assert dead.count() == 2
    assert dead[0].object_id == str(delivery.pk)
    assert dead[0].after["contact_email"] == "lienhe@quan1.example.vn"
    assert dead[0].after["subscriber"] == str(consumer)
    [mail] = Notification.objects.filter(recipient=admin)
    assert "Gửi sự kiện không thành công" in mail.subject
    assert "failed for good" in mail.subject
    assert subscription.callback_url in mail.body
    assert "lienhe@quan1.example.vn" in mail.body
    [to_contact] = Notification.objects.filter(address="lienhe@quan1.example.vn")  # one a day, as the operators'
    assert to_contact.recipient is None
    assert to_contact.subject == mail.subject
    assert any("failed for good" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_an_admin_sends_dead_deliveries_again_from_the_dead_letter_list(world, subscriber, monkeypatch, client):
    monkeypatch.setattr(events, "MAX_ATTEMPTS", 1)
    _, _, _, admin = world
    subscriber.status = 503
    publish(key="HS-1")
    publish(key="HS-2")
    events.deliveries_send()
    dead = list(Delivery.objects.order_by("id"))
    assert {d.state for d in dead} == {DeliveryState.DEAD}

    client.force_login(admin)
    page = client.get("/admin/exchange/delivery/", {"state__exact": "dead"})
    assert page.status_code == 200
    assert all(d.event_id in page.content.decode() for d in dead)
    answer = client.post(
        "/admin/exchange/delivery/",
        {"action": "redeliver", "index": 0, "_selected_action": [d.pk for d in dead]},
        follow=True,
    )
    assert answer.status_code == 200
    assert "Send again" in client.get("/admin/exchange/delivery/").content.decode()
    assert set(Delivery.objects.values_list("state", "attempts")) == {(DeliveryState.PENDING, 0)}
    assert AuditEvent.objects.filter(action="exchange.delivery_redeliver", actor_id=admin.pk).count() == 2
    assert admin.username in Delivery.objects.first().last_error

    subscriber.status = 200
    assert events.deliveries_send() == 2
    assert sorted(subscriber.accepted()) == sorted(d.event_id for d in dead)
    with pytest.raises(DomainError) as refused:
        events.delivery_redeliver(delivery=dead[0], actor=admin)
    assert (refused.value.code, refused.value.status) == ("exchange_delivery_delivered", 409)


def test_sending_again_what_is_already_pending_changes_nothing(world, subscriber):
    publish()
    delivery = Delivery.objects.get()
    again = events.delivery_redeliver(delivery=delivery, actor="ops")
    assert (again.state, again.attempts, again.next_at) == (delivery.state, 0, delivery.next_at)
    assert not AuditEvent.objects.filter(action="exchange.delivery_redeliver").exists()


def test_the_admin_lists_every_model_and_the_log_is_read_only(world, client):
    client.force_login(world[3])
    for model in (
        "member",
        "peer",
        "informationsystem",
        "service",
        "accessright",
        "channel",
        "subscription",
        "delivery",
        "messagelogrecord",
        "logseal",
        "logarchive",
    ):
        assert client.get(f"/admin/exchange/{model}/").status_code == 200, model
    for model in ("messagelogrecord", "logseal", "logarchive", "delivery"):
        assert client.get(f"/admin/exchange/{model}/add/").status_code == 403, model


# --- filters, repeats, rights ----------------------------------------------------------------------------


def test_filters_choose_the_events_each_subscription_gets(world, subscriber):
    channel, consumer, everything, _ = world
    one = events.subscription_register(
        subscriber=consumer, channel=channel, callback_url=subscriber.url + "/7", filters={"dossier_id": 7}
    )
    some = events.subscription_register(
        subscriber=consumer,
        channel=channel,
        callback_url=subscriber.url + "/some",
        filters={"dossier_id": [8, 9], "step": "tham-dinh"},
    )
    online = events.subscription_register(
        subscriber=consumer, channel=channel, callback_url=subscriber.url + "/online", filters={"online": 1}
    )
    publish(key="HS-7")  # dossier 7, no step
    publish(key="HS-8", dossier_id=8, step="tham-dinh")
    publish(key="HS-9", dossier_id=9, step="ky-duyet")
    publish(key="HS-A", dossier_id=8, online=True)
    got = {
        s.pk: sorted(Delivery.objects.filter(subscription=s).values_list("event__subject", flat=True))
        for s in (everything, one, some, online)
    }
    assert got == {
        everything.pk: ["HS-7", "HS-8", "HS-9", "HS-A"],
        one.pk: ["HS-7"],
        some.pk: ["HS-8"],
        online.pk: [],  # true is not 1
    }
    assert envelope.filters_match(filters={"a": None}, data={"a": None})
    assert not envelope.filters_match(filters={"a": None}, data={})


def test_a_repeated_outbox_event_makes_one_delivery(world, subscriber):
    event = publish()
    OutboxEvent.objects.filter(pk=event.pk).update(delivered_at=None)  # delivered again after a crash
    core.outbox_deliver()
    assert Delivery.objects.count() == 1
    channel = world[0]
    for _ in range(2):
        events.channel_publish(channel=channel, event_id="x-1", type="t", data={"a": 1})
    assert Delivery.objects.filter(event_id="x-1").count() == 1
    assert events.deliveries_send() == 2
    assert len(subscriber.accepted()) == 2


def test_registering_the_same_subscription_again_returns_it(world, subscriber):
    channel, consumer, subscription, _ = world
    again = events.subscription_register(
        subscriber=consumer, channel=channel, callback_url=subscriber.url, filters={}, secret=SECRET
    )
    assert again.pk == subscription.pk
    assert Subscription.objects.count() == 1
    assert AuditEvent.objects.filter(action="exchange.subscription_register").count() == 1
    with pytest.raises(DomainError) as refused:
        events.subscription_register(
            subscriber=consumer, channel=channel, callback_url=subscriber.url, filters={}, secret="another-secret-0123"
        )
    assert (refused.value.code, refused.value.status) == ("exchange_subscription_exists", 409)
    made = events.subscription_register(subscriber=consumer, channel=channel, callback_url=subscriber.url, filters=None)
    assert (made.pk, made.secret) == (subscription.pk, SECRET)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"callback_url": "ftp://example.vn/hook"}, "exchange_callback_url_invalid", "callback_url"),
        ({"callback_url": "không phải url"}, "exchange_callback_url_invalid", "callback_url"),
        ({"callback_url": "https://example.vn/" + "a" * 200}, "exchange_callback_url_invalid", "callback_url"),
        ({"filters": {"a": {"b": 1}}}, "exchange_filters_invalid", "filters.a"),
        ({"filters": {"a": [1, [2]]}}, "exchange_filters_invalid", "filters.a"),
        ({"filters": {"a": []}}, "exchange_filters_invalid", "filters.a"),
        ({"filters": {"a": float("nan")}}, "exchange_filters_invalid", "filters.a"),
        ({"filters": ["a"]}, "exchange_filters_invalid", None),
        ({"secret": "short"}, "exchange_secret_invalid", "secret"),
    ],
)
def test_bad_input_is_refused_with_a_stable_code_and_nothing_written(world, changes, code, field):
    channel, consumer, _, _ = world
    before = (Subscription.objects.count(), AuditEvent.objects.count())
    kwargs = {"subscriber": consumer, "channel": channel, "callback_url": "https://example.vn/hook", "filters": {}}
    with pytest.raises(DomainError) as refused:
        events.subscription_register(**{**kwargs, **changes})
    assert (refused.value.code, refused.value.status) == (code, 400)
    assert all((refused.value.message.vi, refused.value.message.en))
    if field:
        assert [e.field for e in refused.value.errors] == [field]
    assert (Subscription.objects.count(), AuditEvent.objects.count()) == before


def test_only_a_system_holding_a_right_may_subscribe_and_receive(world, subscriber):
    channel, consumer, _, _ = world
    stranger = InformationSystemFactory()
    with pytest.raises(DomainError) as refused:
        events.subscription_register(subscriber=stranger, channel=channel, callback_url=subscriber.url, filters={})
    assert (refused.value.code, refused.value.status) == ("exchange_no_access_right", 403)
    suspended = InformationSystemFactory(state=SystemState.SUSPENDED)
    AccessRightFactory(service=channel.service, consumer=suspended)
    with pytest.raises(DomainError) as refused:
        events.subscription_register(subscriber=suspended, channel=channel, callback_url=subscriber.url, filters={})
    assert refused.value.code == "exchange_system_suspended"

    consumer.rights.update(revoked_at=timezone.now())  # revoked after subscribing: nothing more is sent
    publish()
    assert Delivery.objects.count() == 0
    with pytest.raises(DomainError) as refused:
        events.subscription_register(subscriber=consumer, channel=channel, callback_url=subscriber.url, filters={})
    assert refused.value.code == "exchange_no_access_right"


def test_a_cancelled_subscription_gets_nothing_more(world, subscriber):
    _, _, subscription, admin = world
    subscriber.status = 503
    publish(key="HS-1")
    events.deliveries_send()
    events.subscription_cancel(subscription=subscription)
    events.subscription_cancel(subscription=subscription)  # again: nothing changes
    delivery = Delivery.objects.get()
    assert (delivery.state, "cancelled" in delivery.last_error) == (DeliveryState.DEAD, True)
    assert not Notification.objects.filter(recipient=admin).exists()  # given up by the subscriber: no alert
    publish(key="HS-2")
    assert Delivery.objects.count() == 1
    with pytest.raises(DomainError) as refused:
        events.delivery_redeliver(delivery=delivery, actor=admin)
    assert refused.value.code == "exchange_subscription_inactive"
    assert AuditEvent.objects.filter(action="exchange.subscription_cancel").count() == 1


# --- the subscription API ------------------------------------------------------------------------------


@pytest.fixture
def machine(agency):
    """An information system's OAuth2 client (client credentials) and its access token."""
    app = provider.machine_client_register(name="Hệ thống một cửa Quận 1", agency_id=agency.pk)
    return app


def bearer(client: Any, app: Any) -> dict[str, str]:
    answer = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "hcmgov.api"}, **basic(app))
    assert answer.status_code == 200, answer.content
    return {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['access_token']}"}


def problem_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/" + body["code"])
    return str(body["code"])


@pytest.fixture
def api_world(world, machine, client):
    channel, consumer, _, _ = world
    consumer.client_id = machine.client_id
    consumer.save(update_fields=["client_id"])
    closed = ChannelFactory(topics=["payment.*"])  # no right to it
    return channel, closed, consumer, bearer(client, machine)


def test_a_system_lists_the_channels_it_may_subscribe_to(api_world, client, django_assert_num_queries):
    channel, _, consumer, auth = api_world
    answer = client.get("/api/v1/exchange/channels", **auth)
    assert answer.status_code == 200, answer.content
    assert [c["id"] for c in answer.json()] == [channel.pk]
    assert answer.json()[0]["types"] == ["vn.gov.hochiminhcity.dossier.*", "vn.gov.hochiminhcity.payment.paid"]
    for _ in range(3):
        AccessRightFactory(service=ChannelFactory().service, consumer=consumer)
    with django_assert_num_queries(2):  # the system, the channels (the token is kept per process)
        assert len(client.get("/api/v1/exchange/channels", **auth).json()) == 4


def test_a_system_registers_lists_and_cancels_its_subscriptions(api_world, client, subscriber):
    channel, closed, consumer, auth = api_world
    body = {"channel": channel.pk, "callback_url": "https://quan1.example.vn/events", "filters": {"dossier_id": [7]}}
    made = client.post("/api/v1/exchange/subscriptions", body, content_type="application/json", **auth)
    assert made.status_code == 201, made.content
    assert made["Location"] == f"/api/v1/exchange/subscriptions/{made.json()['id']}"
    assert len(made.json()["secret"]) >= 32
    again = client.post("/api/v1/exchange/subscriptions", body, content_type="application/json", **auth)
    assert again.json()["id"] == made.json()["id"]  # a retried request makes no second subscription

    refused = client.post(
        "/api/v1/exchange/subscriptions", {**body, "channel": closed.pk}, content_type="application/json", **auth
    )
    assert problem_code(refused, 403) == "exchange_no_access_right"
    bad = client.post(
        "/api/v1/exchange/subscriptions", {**body, "filters": {"a": {"b": 1}}}, content_type="application/json", **auth
    )
    assert problem_code(bad, 400) == "exchange_filters_invalid"
    assert bad.json()["errors"][0]["field"] == "filters.a"
    missing = client.post(
        "/api/v1/exchange/subscriptions", {**body, "channel": 10**9}, content_type="application/json", **auth
    )
    assert problem_code(missing, 404) == "not_found"

    listed = client.get("/api/v1/exchange/subscriptions", **auth).json()
    assert sorted(s["id"] for s in listed) == sorted([world_subscription(consumer), made.json()["id"]])
    assert all("secret" not in s for s in listed)

    others = SubscriptionFactory(channel=channel)
    assert problem_code(client.delete(f"/api/v1/exchange/subscriptions/{others.pk}", **auth), 404) == "not_found"
    assert Subscription.objects.get(pk=others.pk).active
    assert client.delete(f"/api/v1/exchange/subscriptions/{made.json()['id']}", **auth).status_code == 204
    assert client.delete(f"/api/v1/exchange/subscriptions/{made.json()['id']}", **auth).status_code == 204
    assert made.json()["id"] not in [s["id"] for s in client.get("/api/v1/exchange/subscriptions", **auth).json()]


def world_subscription(consumer: Any) -> int:
    return Subscription.objects.filter(subscriber=consumer).order_by("id").values_list("id", flat=True)[0]


def test_only_a_registered_system_may_call(api_world, client, agency, subscriber):
    channel, _, _, _ = api_world
    official = RoleAssignmentFactory(agency=agency).user
    person = {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=official, name='thử').raw}"}
    unknown = bearer(client, provider.machine_client_register(name="Không đăng ký", agency_id=agency.pk))
    body = {"channel": channel.pk, "callback_url": subscriber.url}
    for auth in (person, unknown):
        assert problem_code(client.get("/api/v1/exchange/channels", **auth), 403) == "exchange_not_a_system"
        posted = client.post("/api/v1/exchange/subscriptions", body, content_type="application/json", **auth)
        assert problem_code(posted, 403) == "exchange_not_a_system"
    assert client.get("/api/v1/exchange/subscriptions").status_code == 401
    assert Subscription.objects.count() == 1


# --- callback addresses: never the platform's own machines (SSRF) ------------------------------------


def test_a_callback_to_an_internal_address_is_refused_at_subscription(db, settings):
    settings.EXCHANGE_CALLBACK_ALLOWED = []
    channel = ChannelFactory(topics=["dossier.*"])
    consumer = InformationSystemFactory()
    AccessRightFactory(service=channel.service, consumer=consumer)
    for url in ("http://127.0.0.1:8000/admin/", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(DomainError) as refused:
            events.subscription_register(subscriber=consumer, channel=channel, callback_url=url, filters={})
        assert refused.value.code == "exchange_callback_url_refused"
        assert "nội bộ" in refused.value.message.vi
    assert not Subscription.objects.exists()


def test_a_callback_that_became_internal_is_not_called(world, subscriber, settings):
    settings.EXCHANGE_CALLBACK_ALLOWED = []  # e.g. its name now resolves to a private address
    publish()
    events.deliveries_send()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.PENDING
    assert "internal address" in delivery.last_error
    assert subscriber.requests == []


def test_an_event_breaking_the_channels_schema_is_refused_and_kept_in_the_outbox(world, subscriber):
    """Subscribers rely on the schema a channel publishes: an event that breaks it is not sent. A
    platform event stays undelivered in the outbox with the reason (retried, then left for an
    operator), and the others go on."""
    channel = world[0]
    channel.schema = {"type": "object", "required": ["dossier_id", "key"],
                      "properties": {"dossier_id": {"type": "integer"}, "key": {"type": "string"}}}  # fmt: skip
    channel.save()
    events.channels_forget()
    with pytest.raises(DomainError) as refused:
        events.channel_publish(channel=channel, event_id="x-1", type="t", data={"dossier_id": "bảy"})
    assert refused.value.code == "exchange_event_schema"
    assert {e.field for e in refused.value.errors} == {"data", "data.dossier_id"}
    good = publish(key="HS-1")
    bad = core.event_publish(topic=TOPIC, key="HS-2", payload={"dossier_id": "bảy"})
    core.outbox_deliver()
    bad.refresh_from_db()
    good.refresh_from_db()
    assert good.delivered_at is not None
    assert bad.delivered_at is None
    assert bad.attempts == 1
    assert "exchange_event_schema" in bad.last_error
    assert list(Delivery.objects.values_list("event__subject", flat=True)) == ["HS-1"]


def test_a_channels_schema_must_be_a_json_schema():
    assert events.schema_problem({"type": "object"}) is None
    assert events.schema_problem(None) is None
    assert events.schema_problem({"type": "không-phải-kiểu"}) is not None
    assert events.schema_problem(["a"]) == "a JSON Schema must be an object"
