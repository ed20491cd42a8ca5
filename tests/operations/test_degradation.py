"""Degradation (issue 13 item 8): with Redis, the broker or an outside system down, the platform
still accepts dossiers and catches up afterwards. Each component is made really unreachable — a
Redis server of the test's own killed mid-test, a broker URL on a port nothing listens on, an
outside system's URL on a closed port — and brought back (the same Redis restarted, the real
RabbitMQ, the simulators started in the test). docs/operations/degradation.md says what degrades
how.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime as dt
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from hcmgov import simulators
from hcmgov.core.models import OutboxEvent
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers.models import Dossier
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.services import api_token_issue
from hcmgov.notifications.models import Notification
from hcmgov.notifications.services import notifications_send_pending

REDIS_PORT = 9170  # this suite's own Redis server (the shared one on 6379 is never stopped)
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def payload(version, agency, pdf_bytes) -> dict[str, Any]:
    return {
        "procedure": version.procedure.code,
        "agency": agency.code,
        "form": dict(VALID_FORM),
        "attachments": [
            {"requirement": "TOKHAI", "filename": "to-khai.pdf", "content_base64": base64.b64encode(pdf_bytes).decode()}
        ],
    }


def submit(client, citizen_token: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A citizen's submission through the API, as the portal's app makes it; must be a 201."""
    response = client.post(
        "/api/v1/dossiers",
        payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {citizen_token}",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


# --- 1. Redis down ---------------------------------------------------------------------------------


class OwnRedis:
    """A redis-server of this test on ``REDIS_PORT``, without persistence (a restart comes back empty,
    the worst case for a cache)."""

    def __init__(self, workdir: Any) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own server binary, fixed arguments
            [
                *(shutil.which("redis-server") or "redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {REDIS_PORT}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=REDIS_PORT, socket_connect_timeout=0.5)

    def keys(self, pattern: str) -> list[bytes]:
        return list(self.client().keys(pattern))


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shared_cache(settings, own_redis, monkeypatch):
    """The settings of a city-scale node: the shared cache in Redis (through the platform's
    backend, as settings.py configures it when REDIS_URL is set) holding the bearer tokens."""
    from hcmgov.common import cache

    monkeypatch.setattr(cache, "RETRY_SECONDS", 0.0)  # try Redis again at once: the test restarts it
    settings.CACHES = {
        "default": {
            "BACKEND": "hcmgov.common.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{REDIS_PORT}/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    settings.TOKEN_CACHE = "shared"
    return own_redis


@pytest.mark.django_db
def test_redis_down_a_citizen_still_submits_and_nothing_is_lost(client, citizen, payload, shared_cache):
    token = api_token_issue(user=citizen, name="test").raw
    first = submit(client, token, payload)
    assert shared_cache.keys("*hcmgov:token:api:*"), "the valid token is kept in Redis while it is up"

    shared_cache.stop()  # Redis dies
    during = [submit(client, token, payload) for _ in range(3)]
    tracked = client.get(f"/api/v1/tracking/{during[0]['code']}", {"secret": during[0]["tracking_secret"]})
    assert tracked.status_code == 200
    assert client.get("/api/v1/dossiers", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    search = client.get("/api/3/action/package_search", {"q": "", "facet.field": '["groups"]'})
    assert search.status_code == 200, search.content  # facet counts are cached: computed again
    assert search.json()["success"] is True

    shared_cache.start()  # back, empty
    after = submit(client, token, payload)
    assert shared_cache.keys("*hcmgov:token:api:*"), "the cache is used again once Redis answers"
    codes = [first["code"], *(d["code"] for d in during), after["code"]]
    assert Dossier.objects.filter(code__in=codes).count() == 5
    submitted = OutboxEvent.objects.filter(topic="dossier.submitted", delivered_at__isnull=True)
    assert submitted.count() == 5  # each submission's event, waiting for the worker
    assert outbox_deliver() >= 5
    assert Notification.objects.filter(dedupe_key__startswith="dossier.submitted:").count() == 5


def test_the_gateways_rate_limits_count_per_process_while_redis_is_down():
    """The data sharing gateway keeps its limits in Redis (EXCHANGE_REDIS_URL): unreachable, they
    count in the process again instead of failing the call — and still refuse a flood."""
    from hcmgov.exchange.gateway.limits import RedisLimiter

    limiter = RedisLimiter(f"redis://127.0.0.1:{closed_port()}/8")

    async def calls(n: int) -> list[bool]:
        now = time.time()
        return [(await limiter.take("sys-a", rate=1, burst=3, daily=0, now=now))[0] for _ in range(n)]

    # in a thread of its own: a browser test's Playwright loop may be running in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, calls(5)).result() == [True, True, True, False, False]


# --- 2. the broker down ----------------------------------------------------------------------------


def broker_app(url: str, queue: str) -> Any:
    """A Celery app of the platform's tasks on ``url``, its default queue ``queue`` (a queue of this
    test's own on the shared RabbitMQ, deleted at the end; other queues are left alone)."""
    from celery import Celery

    import hcmgov.core.tasks  # noqa: F401 - registers core.outbox_deliver on every app

    app = Celery(f"hcmgov-degradation-{queue}", broker=url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_ignore_result=True,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        worker_hijack_root_logger=False,
    )
    return app


@pytest.fixture
def rabbitmq_queue() -> Iterator[str]:
    from kombu import Connection

    queue = f"soak-degradation-{uuid.uuid4().hex[:10]}"
    try:
        with Connection(RABBITMQ, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception:
        pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672")
    yield queue
    with Connection(RABBITMQ, connect_timeout=2) as conn:
        conn.default_channel.queue_delete(queue)


@pytest.mark.django_db(transaction=True)
def test_broker_down_submissions_commit_and_the_outbox_is_delivered_once_when_it_returns(
    client, city, citizen, payload, rabbitmq_queue
):
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun
    from kombu.exceptions import OperationalError

    token = api_token_issue(user=citizen, name="test").raw
    down = broker_app(f"amqp://guest:guest@127.0.0.1:{closed_port()}//", rabbitmq_queue)
    with pytest.raises(OperationalError):  # the beat's tick cannot be queued…
        down.send_task("core.outbox_deliver", retry=False)
    made = [submit(client, token, payload) for _ in range(3)]  # …yet citizens submit
    ids = set(Dossier.objects.filter(code__in=[d["code"] for d in made]).values_list("pk", flat=True))
    events = OutboxEvent.objects.filter(topic="dossier.submitted")
    assert sorted(e.payload["dossier_id"] for e in events) == sorted(ids)  # one each, committed with it
    assert not events.filter(delivered_at__isnull=False).exists()

    up = broker_app(RABBITMQ, rabbitmq_queue)  # the broker is back: the beat's ticks go through again

    ran: list[int] = []

    def close_connection(**_: Any) -> None:  # the worker thread's own database connection
        connection.close()
        ran.append(1)

    task_postrun.connect(close_connection, weak=False)
    try:
        with start_worker(up, perform_ping_check=False, queues=[rabbitmq_queue], shutdown_timeout=30):
            for _ in range(3):  # three ticks: a repeated delivery would show as a second message
                up.send_task("core.outbox_deliver")
            deadline = time.monotonic() + 60
            while len(ran) < 3 and time.monotonic() < deadline:  # no reads meanwhile: SQLite's table locks
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(close_connection)
    assert len(ran) == 3  # every tick went through RabbitMQ to the worker
    assert not events.filter(delivered_at__isnull=True).exists()
    assert set(events.values_list("attempts", flat=True)) == {1}  # each delivered once
    keys = [f"{e.topic}:{e.pk}" for e in events]
    assert sorted(Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)) == sorted(
        keys
    )  # one message per event: nothing lost, nothing twice


# --- 3. an outside system down ---------------------------------------------------------------------


@pytest.mark.django_db
def test_portal_and_sms_down_the_dossier_is_accepted_and_synced_once_they_return(
    client, citizen, receiver, payload, settings, monkeypatch
):
    from hcmgov.exchange import portal
    from hcmgov.exchange.adapters import portal as portal_api
    from hcmgov.exchange.models import PortalPush, PortalPushState
    from hcmgov.simulators.portal import TOKEN
    from hcmgov.simulators.sms import API_KEY, BRANDNAME, SECRET_KEY

    settings.HCMGOV_PORTAL_URL = f"http://127.0.0.1:{closed_port()}"
    settings.HCMGOV_PORTAL_TOKEN = TOKEN
    settings.HCMGOV_PORTAL_TIMEOUT = 1.0
    monkeypatch.setenv("HCMGOV_SMS_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("HCMGOV_SMS_API_KEY", API_KEY)
    monkeypatch.setenv("HCMGOV_SMS_SECRET", SECRET_KEY)
    monkeypatch.setenv("HCMGOV_SMS_BRANDNAME", BRANDNAME)

    made = submit(client, api_token_issue(user=citizen, name="test").raw, payload)
    received = client.post(
        f"/api/v1/dossiers/{made['code']}/receive",
        HTTP_AUTHORIZATION=f"Bearer {api_token_issue(user=receiver, name='test').raw}",
    )
    assert received.status_code == 200, received.content
    outbox_deliver()
    pushes = PortalPush.objects.filter(dossier_code=made["code"])
    assert [p.payload["status"] for p in pushes.order_by("sequence")] == [1, 2]
    sms = Notification.objects.get(recipient=citizen, channel="sms")

    report = portal.portal_push_send()  # the portal is down: one call, then the run stops
    assert (report.sent, report.portal_down) == (0, True)
    first = pushes.order_by("sequence").first()
    assert first is not None
    assert first.attempts == 1
    assert first.next_at > timezone.now()
    notifications_send_pending()  # the e-mails go; the SMS gateway is down
    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == (Notification.Status.QUEUED, 1)
    assert sms.next_attempt_at is not None
    assert sms.next_attempt_at > timezone.now()  # a wait, then again
    assert portal.portal_push_send().sent == 0  # not before the wait
    assert notifications_send_pending() == 0

    later = timezone.now() + dt.timedelta(hours=2)  # past both back-offs
    with simulators.running("portal") as portal_url, simulators.running("sms") as sms_url:
        settings.HCMGOV_PORTAL_URL = portal_url
        monkeypatch.setenv("HCMGOV_SMS_URL", sms_url)
        assert portal.portal_push_send(now=later).sent == 2
        assert portal.portal_push_send(now=later).sent == 0  # nothing twice
        from hcmgov.notifications.tests.conftest import Gateway

        gateway = Gateway(sms_url)
        import time_machine

        with time_machine.travel(later, tick=True):
            assert notifications_send_pending() == 1  # the SMS, its wait over
            assert notifications_send_pending() == 0
        held = portal_api.dossier_get(base_url=portal_url, token=TOKEN, code=made["code"], timeout=2.0)
        assert held is not None
        assert [c["status"] for c in held["history"]] == [1, 2]  # in order, once each
        assert len([m for m in gateway.messages() if made["code"] in m["Content"]]) == 1
    assert set(pushes.values_list("state", flat=True)) == {PortalPushState.SENT}
    sms.refresh_from_db()
    assert sms.status == Notification.Status.SENT
