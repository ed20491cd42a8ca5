"""Batch handlers of the outbox (``event_subscribe_batch``): one call for a claimed batch's events
of their topics, in order; put off no later than a one-event handler that may depend on them; a
failure anywhere delivers the batch again one event at a time, so that only the bad event stays
pending (with the attempts and error of a one-event failure) and the others are delivered once."""

from __future__ import annotations

import pytest

from hcmgov.common import context
from hcmgov.core import services
from hcmgov.core.models import OutboxEvent

pytestmark = pytest.mark.django_db
BATCHED = "test.batched"
BATCHED_TOO = "test.batched_too"
ALONE = "test.one_event"
TRACED = "test.batched_traced"
calls: list[list[str]] = []
seen_by_one_event: list[tuple[str, list[str]]] = []
traced: list[str] = []


@services.event_subscribe_batch(BATCHED, BATCHED_TOO)
def _batched(events: list[OutboxEvent]) -> None:
    if any(e.payload.get("bad") for e in events):
        raise RuntimeError("a bad event in the batch")
    calls.append([e.key for e in events])


@services.event_subscribe(ALONE)
def _one_event(event: OutboxEvent) -> None:
    seen_by_one_event.append((event.key, [key for call in calls for key in call]))


@services.event_subscribe_batch(TRACED)
def _traced(events: list[OutboxEvent]) -> None:
    for event in events:
        with services.event_context(event):
            traced.append(context.get_request_id())


@pytest.fixture(autouse=True)
def _clean():
    losses.clear()
    calls.clear()
    seen_by_one_event.clear()
    traced.clear()
    OutboxEvent.objects.all().delete()


def test_a_batch_handler_gets_the_batch_s_events_of_all_its_topics_in_one_call_in_order():
    for n in range(6):
        services.event_publish(topic=BATCHED if n % 2 else BATCHED_TOO, key=f"k{n}", payload={})
    assert services.outbox_deliver(batch=10) == 6
    assert calls == [[f"k{n}" for n in range(6)]]
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()
    assert services.outbox_deliver(batch=10) == 0


def test_a_one_event_handler_sees_the_earlier_events_handled_by_the_batch_handlers():
    """As delivered one at a time: the batch handler's call is put off no later than the next
    one-event handler (the portal's record of a submission comes before the payment settled on
    the dossier by ``dossiers.handlers``)."""
    services.event_publish(topic=BATCHED, key="a", payload={})
    services.event_publish(topic=BATCHED, key="b", payload={})
    services.event_publish(topic=ALONE, key="c", payload={})
    services.event_publish(topic=BATCHED, key="d", payload={})
    assert services.outbox_deliver(batch=10) == 4
    assert seen_by_one_event == [("c", ["a", "b"])]
    assert calls == [["a", "b"], ["d"]]


def test_a_bad_event_fails_alone_and_the_others_are_delivered_once():
    services.event_publish(topic=BATCHED, key="good1", payload={})
    services.event_publish(topic=BATCHED, key="bad", payload={"bad": True})
    services.event_publish(topic=BATCHED_TOO, key="good2", payload={})
    assert services.outbox_deliver(batch=10) == 2
    assert calls == [["good1"], ["good2"]]  # the batch's call was undone, then one event at a time
    bad = OutboxEvent.objects.get(key="bad")
    assert bad.delivered_at is None
    assert bad.attempts == 1
    assert "a bad event in the batch" in bad.last_error
    assert set(OutboxEvent.objects.filter(delivered_at__isnull=False).values_list("key", flat=True)) == {
        "good1",
        "good2",
    }


def test_an_event_that_failed_before_is_delivered_alone_and_spares_the_batch():
    services.event_publish(topic=BATCHED, key="bad", payload={"bad": True})
    assert services.outbox_deliver(batch=10) == 0  # alone in its batch: one at a time
    for n in range(3):
        services.event_publish(topic=BATCHED, key=f"k{n}", payload={})
    assert services.outbox_deliver(batch=10) == 3
    assert calls == [["k0", "k1", "k2"]]  # one call: the bad event did not make the batch fall back
    assert OutboxEvent.objects.get(key="bad").attempts == 2


def test_a_batch_handler_called_directly_with_one_event_is_the_fallback_s_call():
    services.event_publish(topic=BATCHED, key="only", payload={})
    assert services.outbox_deliver(batch=10) == 1
    assert calls == [["only"]]


def test_a_batch_handler_s_writes_for_an_event_trace_back_to_the_event_s_request():
    for request_id in ("req-a", "req-b"):
        with context.acting_as(context.Actor.system("test"), request_id):
            services.event_publish(topic=TRACED, key=request_id, payload={})
    assert services.outbox_deliver(batch=10) == 2
    assert traced == ["req-a", "req-b"]


RACING = "test.batched_racing"
losses: list[int] = []  # how many more deliveries lose a race (a deadlock) before one goes through


def _deadlock() -> Exception:
    """What Django raises when PostgreSQL picks this transaction as a deadlock's victim."""
    import psycopg
    from django.db import OperationalError

    exc = OperationalError("deadlock detected")
    exc.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return exc


@services.event_subscribe_batch(RACING)
def _racing(events: list[OutboxEvent]) -> None:
    if losses:
        losses.pop()
        raise _deadlock()
    calls.append([e.key for e in events])


def test_a_batch_that_loses_a_race_is_tried_together_again_not_split():
    """A deadlock says nothing about the events: the batch goes through together on its next try
    (before, it was delivered again one event at a time: 200 events, 200 savepoints)."""
    losses[:] = [1]
    for n in range(3):
        services.event_publish(topic=RACING, key=f"r{n}", payload={})
    assert services.outbox_deliver(batch=10) == 3
    assert calls == [["r0", "r1", "r2"]]
    assert set(OutboxEvent.objects.values_list("attempts", "last_error")) == {(1, "")}


def test_races_lost_again_and_again_end_as_failures_tried_later():
    losses[:] = [1] * (services.TRIES + 3 * services.TRIES)  # every try, together and alone
    for n in range(3):
        services.event_publish(topic=RACING, key=f"r{n}", payload={})
    assert services.outbox_deliver(batch=10) == 0
    assert calls == []
    assert losses == []
    for event in OutboxEvent.objects.all():
        assert event.attempts == 1
        assert "deadlock detected" in event.last_error
    assert services.outbox_deliver(batch=10) == 3  # the race is over: delivered (alone, as failed once)
    assert calls == [["r0"], ["r1"], ["r2"]]
