"""The carrier's tracking webhook end to end: the simulator posts signed events to the real route on
the live server."""

from __future__ import annotations

import json

import pytest

from hcmgov.core.models import OutboxEvent
from hcmgov.postal import selectors, services
from hcmgov.postal.adapters.vnpost import SIGNATURE_HEADER, webhook_signature
from hcmgov.postal.models import DeliveryOrder, Status, TrackingEvent
from hcmgov.simulators.post import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/postal/tracking"


def _order(dossier, parties, kind="result"):
    sender, receiver = parties["receiver"], parties["sender"]  # a result goes from the agency home
    if kind == "pickup":
        sender, receiver = receiver, sender
    return services.delivery_order_create(
        dossier=dossier, kind=kind, sender=sender, receiver=receiver, weight_grams=300
    )


def _topics(prefix: str = "postal.") -> list[str]:
    return list(OutboxEvent.objects.filter(topic__startswith=prefix).order_by("id").values_list("topic", flat=True))


def _statuses(order: DeliveryOrder) -> list[str]:
    return list(order.events.order_by("at", "id").values_list("status", flat=True))


@pytest.mark.parametrize(
    ("scenario", "final", "statuses"),
    [
        ("delivered", Status.DELIVERED, ["accepted", "picked_up", "in_transit", "delivered"]),
        (
            "failed_then_delivered",
            Status.DELIVERED,
            ["accepted", "picked_up", "in_transit", "failed_attempt", "in_transit", "delivered"],
        ),
        (
            "returned",
            Status.RETURNED,
            ["accepted", "picked_up", "in_transit", "failed_attempt", "failed_attempt", "returning", "returned"],
        ),
    ],
)
def test_each_scenario_ends_in_its_status_with_every_event(
    tracked_carrier, dossier, parties, scenario, final, statuses
):
    order = _order(dossier, parties)
    answer = tracked_carrier.advance(order.tracking_number, scenario)
    assert {d["http_status"] for d in answer["deliveries"]} == {200}, answer["deliveries"]
    order.refresh_from_db()
    assert order.status == final
    assert _statuses(order) == statuses
    assert order.status_at == order.events.order_by("-at").first().at
    tracking = OutboxEvent.objects.filter(topic="postal.tracking").order_by("id")
    assert [e.payload["status"] for e in tracking] == statuses
    assert set(tracking[0].payload) == {"dossier_id", "order_id", "status", "at", "note"}
    closing = "postal.delivered" if final == Status.DELIVERED else "postal.returned"
    [event] = OutboxEvent.objects.filter(topic=closing)
    assert event.payload["kind"] == "result"
    assert (event.payload["dossier_id"], event.payload["order_id"]) == (dossier.pk, order.pk)


def test_a_returned_result_may_be_sent_again(tracked_carrier, dossier, parties):
    first = _order(dossier, parties)
    tracked_carrier.advance(first.tracking_number, "returned")
    second = _order(dossier, parties)
    assert second.code == f"{dossier.code}-BC2"
    assert [o.status for o in selectors.dossier_deliveries(dossier_id=dossier.pk)] == [Status.RETURNED, Status.CREATED]


def test_a_webhook_delivered_twice_is_recorded_once(tracked_carrier, dossier, parties):
    order = _order(dossier, parties)
    tracked_carrier.fault(webhook="twice")
    answer = tracked_carrier.advance(order.tracking_number)
    assert len(answer["deliveries"]) == 8
    assert {d["http_status"] for d in answer["deliveries"]} == {200}  # a repeat is acknowledged
    assert order.events.count() == 4
    assert _topics("postal.tracking") == ["postal.tracking"] * 4
    assert _topics("postal.delivered") == ["postal.delivered"]


def test_events_out_of_order_keep_the_newest_status(tracked_carrier, dossier, parties):
    order = _order(dossier, parties, kind="pickup")
    tracked_carrier.fault(webhook="out_of_order")
    answer = tracked_carrier.advance(order.tracking_number)
    assert [d["status"] for d in answer["deliveries"]] == ["delivered", "transporting", "picked", "ready_to_pick"]
    order.refresh_from_db()
    assert order.status == Status.DELIVERED  # never back to in_transit because older events came late
    assert _statuses(order) == ["accepted", "picked_up", "in_transit", "delivered"]
    assert order.delivered_at == order.events.get(status=Status.DELIVERED).at
    assert len(_topics("postal.tracking")) == 4
    [delivered] = OutboxEvent.objects.filter(topic="postal.delivered")
    assert delivered.payload["kind"] == "pickup"


def test_the_timeline_selector_reads_orders_and_events_in_two_queries(
    tracked_carrier, dossier, parties, django_assert_num_queries
):
    tracked_carrier.advance(_order(dossier, parties).tracking_number)
    tracked_carrier.advance(_order(dossier, parties, kind="pickup").tracking_number, "failed_then_delivered")
    with django_assert_num_queries(2):
        orders = selectors.dossier_deliveries(dossier_id=dossier.pk)
        events = [[e.status for e in o.events.all()] for o in orders]
    assert [len(e) for e in events] == [4, 6]


def _post(client, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_X_POST_SIGNATURE": signature}
    return client.post(URL, body, content_type="application/json", **headers)


def _event(order, **overrides) -> bytes:
    event = {
        "EventID": "ev-1",
        "Type": "switch_status",
        "OrderCode": order.tracking_number,
        "ClientOrderCode": order.code,
        "Status": "picked",
        "Time": "2025-08-01T03:00:00Z",
        "Warehouse": "Bưu cục Bến Thành",
        "Description": "Đã lấy hàng",
    }
    return json.dumps({**event, **overrides}).encode()


def test_a_bad_signature_is_401_and_writes_nothing(client, carrier, dossier, parties):
    order = _order(dossier, parties)
    body = _event(order)
    before = _topics()
    for signature in (None, "", "sha256=" + "0" * 64, webhook_signature(body, "another secret")):
        answer = _post(client, body, signature)
        assert answer.status_code == 401, answer.content
        assert answer["Content-Type"].startswith("application/problem+json")
        assert answer.json()["code"] == "bad_signature"
    tampered = _post(client, _event(order, Status="delivered"), webhook_signature(body, WEBHOOK_SECRET))
    assert tampered.status_code == 401
    assert not TrackingEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == Status.CREATED
    assert _topics() == before


def test_a_signed_event_is_accepted_and_its_repeat_acknowledged(client, carrier, dossier, parties):
    order = _order(dossier, parties)
    body = _event(order)
    for _ in range(2):
        answer = _post(client, body, webhook_signature(body, WEBHOOK_SECRET))
        assert (answer.status_code, answer.json()) == (200, {"ok": True})
    [event] = order.events.all()
    assert (event.status, event.carrier_status, event.location) == ("picked_up", "picked", "Bưu cục Bến Thành")
    # an unknown carrier status is kept for the timeline and moves nothing
    odd = _event(order, EventID="ev-2", Status="exception", Time="2025-08-01T04:00:00Z")
    assert _post(client, odd, webhook_signature(odd, WEBHOOK_SECRET)).status_code == 200
    order.refresh_from_db()
    assert order.status == Status.PICKED_UP
    assert [e.status for e in order.events.all()] == ["picked_up", ""]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "unreadable_tracking"),
        (b'{"EventID": "x"}', 400, "unreadable_tracking"),
        (
            b'{"EventID": "x", "OrderCode": "RA000000000VN", "Status": "picked", "Time": "yesterday"}',
            400,
            "unreadable_tracking",
        ),
        (
            b'{"EventID": "x", "OrderCode": "RA000000000VN", "Status": "picked", "Time": "2025-08-01T03:00:00Z"}',
            404,
            "unknown_delivery",
        ),
    ],
)
def test_signed_but_unusable_bodies_are_problems(client, carrier, db, body, status, code):
    answer = _post(client, body, webhook_signature(body, WEBHOOK_SECRET))
    assert answer.status_code == status, answer.content
    assert answer.json()["code"] == code
    assert not TrackingEvent.objects.exists()


def test_an_oversized_body_is_413(client, carrier, db):
    body = b"{" + b" " * (64 * 1024) + b"}"
    assert _post(client, body, webhook_signature(body, WEBHOOK_SECRET)).status_code == 413


def test_without_a_webhook_secret_every_webhook_is_refused(client, carrier, dossier, parties, monkeypatch):
    order = _order(dossier, parties)
    monkeypatch.setenv("HCMGOV_POST_WEBHOOK_SECRET", "")
    body = _event(order)
    answer = _post(client, body, webhook_signature(body, ""))
    assert (answer.status_code, answer.json()["code"]) == (401, "bad_signature")
    assert not TrackingEvent.objects.exists()
    assert SIGNATURE_HEADER == "X-Post-Signature"
