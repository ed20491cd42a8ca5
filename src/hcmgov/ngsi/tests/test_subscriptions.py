"""Subscriptions over HTTP, and notifications delivered by the worker (outbox → ngsi.notify) to a
small HTTP server the test starts."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import time_machine

from hcmgov.core.services import outbox_deliver
from hcmgov.ngsi import notify
from hcmgov.ngsi.models import Delivery

pytestmark = pytest.mark.django_db

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


class Subscriber:
    """An HTTP endpoint on this machine recording what it receives; answers ``status``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 204
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.received.append({"headers": dict(self.headers), "body": json.loads(self.rfile.read(length))})
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def subscriber(settings):
    settings.NGSI_LD_NOTIFY_ALLOWED = ["127.0.0.0/8"]
    server = Subscriber()
    yield server
    server.close()


def _subscription(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "watchedAttributes": ["airQualityIndex"],
        "q": "airQualityIndex>100",
        "notification": {
            "attributes": ["airQualityIndex"],
            "format": "keyValues",
            "endpoint": {"uri": url, "accept": "application/json"},
        },
        **extra,
    }


def _work() -> int:
    outbox_deliver()
    return notify.deliveries_send()


def test_crud(api, subscriber):
    response = api.post("/subscriptions", _subscription(subscriber.url, id="urn:ngsi-ld:Subscription:aqi"))
    assert response.status_code == 201, response.content
    assert response["Location"] == "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:aqi"
    assert (
        api.post("/subscriptions", _subscription(subscriber.url, id="urn:ngsi-ld:Subscription:aqi")).status_code == 409
    )
    got = api.get("/subscriptions/urn:ngsi-ld:Subscription:aqi").json()
    assert got["entities"] == [{"type": "AirQualityObserved"}]
    assert got["watchedAttributes"] == ["airQualityIndex"]
    assert got["notification"]["attributes"] == ["airQualityIndex"]
    assert got["status"] == "active"
    assert (
        api.patch("/subscriptions/urn:ngsi-ld:Subscription:aqi", {"throttling": 5, "isActive": False}).status_code
        == 204
    )
    listed = api.get("/subscriptions", {"count": "true"})
    assert listed["NGSILD-Results-Count"] == "1"
    assert listed.json()[0]["status"] == "paused"
    assert listed.json()[0]["throttling"] == 5
    assert api.delete("/subscriptions/urn:ngsi-ld:Subscription:aqi").status_code == 204
    assert api.get("/subscriptions/urn:ngsi-ld:Subscription:aqi").status_code == 404
    for bad in [
        {"type": "Subscription", "notification": {"endpoint": {"uri": subscriber.url}}},
        {**_subscription(subscriber.url), "q": "(("},
        {**_subscription("not a url")},
        {**_subscription("http://169.254.169.254/latest")},
        {**_subscription(subscriber.url), "geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 1]}},
        [],
    ]:
        response = api.post("/subscriptions", bad)
        assert response.status_code == 400, bad
        assert response.json()["type"] == ERR + "BadRequestData"


def test_notified_through_the_worker(api, air, subscriber):
    assert (
        api.post("/subscriptions", _subscription(subscriber.url, id="urn:ngsi-ld:Subscription:aqi")).status_code == 201
    )
    api.post("/entities", air)  # airQualityIndex 65: q does not match
    assert _work() == 0
    attrs = f"/entities/{air['id']}/attrs"
    assert api.patch(attrs, {"co": {"type": "Property", "value": 900}}).status_code == 204  # not watched
    assert _work() == 0
    assert subscriber.received == []  # nothing is sent from the request
    assert api.patch(attrs, {"airQualityIndex": {"type": "Property", "value": 160}}).status_code == 204
    assert subscriber.received == []
    assert _work() == 1
    (note,) = subscriber.received
    body = note["body"]
    assert body["type"] == "Notification"
    assert body["subscriptionId"] == "urn:ngsi-ld:Subscription:aqi"
    assert body["data"] == [{"id": air["id"], "type": "AirQualityObserved", "airQualityIndex": 160}]
    assert "ngsi-ld-core-context" in note["headers"]["Link"]
    got = api.get("/subscriptions/urn:ngsi-ld:Subscription:aqi").json()["notification"]
    assert got["timesSent"] == 1
    assert got["status"] == "ok"
    assert "lastSuccess" in got


def test_retry_with_backoff_and_throttling(api, air, subscriber):
    api.post("/subscriptions", _subscription(subscriber.url, id="urn:ngsi-ld:Subscription:t", throttling=60))
    api.post("/entities", air)
    subscriber.status = 500
    attrs = f"/entities/{air['id']}/attrs"
    api.patch(attrs, {"airQualityIndex": {"type": "Property", "value": 150}})
    assert _work() == 0
    delivery = Delivery.objects.get()
    assert delivery.attempts == 1
    assert delivery.sent_at is None
    assert "500" in delivery.last_error
    got = api.get("/subscriptions/urn:ngsi-ld:Subscription:t").json()["notification"]
    assert got["status"] == "failed"
    assert got["timesFailed"] == 1
    subscriber.status = 200
    assert notify.deliveries_send() == 0  # not due yet (back-off)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)):
        assert notify.deliveries_send() == 0  # due after back-off, but throttled (60 s after the last)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)):
        assert notify.deliveries_send() == 1
    assert len(subscriber.received) == 2
    assert api.get("/subscriptions/urn:ngsi-ld:Subscription:t").json()["notification"]["timesSent"] == 1


def test_geo_subscription_and_ld_json(api, air, subscriber):
    sub = {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved", "idPattern": "urn:ngsi-ld:AirQualityObserved:.*"}],
        "geoQ": {"georel": "near;maxDistance==1000", "geometry": "Point", "coordinates": [-3.7122, 40.4238]},
        "notification": {"endpoint": {"uri": subscriber.url, "accept": "application/ld+json"}},
    }
    assert api.post("/subscriptions", sub).status_code == 201
    api.post("/entities", air)
    far = {**air, "id": "urn:ngsi-ld:AirQualityObserved:far"}
    far["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [106.7, 10.77]}}
    api.post("/entities", far)
    assert _work() == 1
    (note,) = subscriber.received
    assert note["headers"]["Content-Type"] == "application/ld+json"
    assert note["body"]["data"][0]["id"] == air["id"]
    assert "@context" in note["body"]
