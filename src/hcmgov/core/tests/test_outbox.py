"""The outbox: events written in the caller's transaction, delivered at least once to their
handlers, a failing handler retried without stopping the others, the worker draining more than
one batch per beat tick."""

from __future__ import annotations

import datetime as dt

import pytest

from hcmgov.core import services
from hcmgov.core.models import OutboxEvent

pytestmark = pytest.mark.django_db
TOPIC = "test.outbox"
FAILING = "test.outbox_failing"
seen: list[str] = []


@services.event_subscribe(TOPIC)
def _record(event: OutboxEvent) -> None:
    seen.append(event.key)


@services.event_subscribe(FAILING)
def _fail(event: OutboxEvent) -> None:
    raise RuntimeError("the handler's system is down")


@pytest.fixture(autouse=True)
def _clean():
    seen.clear()
    OutboxEvent.objects.all().delete()  # earlier events of the test database's fixtures


def test_a_drain_delivers_batch_after_batch_until_the_outbox_is_empty():
    for n in range(25):
        services.event_publish(topic=TOPIC, key=f"k{n}", payload={})
    assert services.outbox_drain(batch=10) == 25
    assert seen == [f"k{n}" for n in range(25)]
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}
    assert services.outbox_drain(batch=10) == 0  # delivered once


def test_a_drain_stops_at_its_budget():
    for n in range(30):
        services.event_publish(topic=TOPIC, key=f"k{n}", payload={})
    assert services.outbox_drain(batch=10, budget=dt.timedelta(0)) == 10  # one batch, then the time is up
    assert OutboxEvent.objects.filter(delivered_at__isnull=True).count() == 20


def test_a_failing_handler_is_retried_later_and_does_not_stop_the_others():
    services.event_publish(topic=FAILING, key="bad", payload={})
    services.event_publish(topic=TOPIC, key="good", payload={})
    assert services.outbox_drain(batch=10) == 1
    assert seen == ["good"]
    bad = OutboxEvent.objects.get(key="bad")
    assert bad.delivered_at is None
    assert bad.attempts == 1
    assert "the handler's system is down" in bad.last_error


def test_an_event_written_by_the_prepared_insert_reads_back_as_written():
    payload = {"dossier_id": 7, "note": "Đã nộp phí, lệ phí", "lines": [{"amount": 150_000}], "online": True}
    event = services.event_publish(topic=TOPIC, key="000.00.31.H29-250701-0001", payload=payload)
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert (stored.topic, stored.key, stored.payload) == (TOPIC, "000.00.31.H29-250701-0001", payload)
    assert (stored.attempts, stored.delivered_at, stored.last_error) == (0, None, "")
    assert stored.created_at == event.created_at


def test_a_drain_that_runs_out_of_time_reports_the_backlog():
    for n in range(30):
        services.event_publish(topic=TOPIC, key=f"k{n}", payload={})
    assert services.outbox_drain_report(batch=10, budget=dt.timedelta(0)) == (10, True)
    assert services.outbox_drain_report(batch=10) == (20, False)  # the last batch came back short


@pytest.mark.django_db(transaction=True)
def test_workers_draining_side_by_side_deliver_each_event_once():
    """On PostgreSQL several workers share a backlog (each claims rows with SKIP LOCKED): every
    event is delivered, none twice."""
    from django.db import connection

    if not services.outbox_parallel():
        pytest.skip("SQLite: one drain at a time (no row locks)")
    import threading

    from django.db import connections

    OutboxEvent.objects.all().delete()
    for n in range(300):
        services.event_publish(topic=TOPIC, key=f"k{n}", payload={})
    counts: list[int] = []
    start = threading.Barrier(3)

    def drain() -> None:
        start.wait()
        try:
            counts.append(services.outbox_drain(batch=10))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 300
    assert sorted(seen) == sorted(f"k{n}" for n in range(300))  # each once
    assert len([c for c in counts if c]) >= 2, counts  # they shared it
    assert connection.vendor == "postgresql"
