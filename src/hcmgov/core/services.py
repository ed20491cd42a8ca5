"""Writes of the core app: sequences, outbox events, heartbeats, loading units and agencies."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from hcmgov.common import context, metrics
from hcmgov.common.db import fast_create, fast_cursor
from hcmgov.core.models import DaySequence, Heartbeat, OutboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# PostgreSQL's deadlock_detected and serialization_failure: a delivery that lost a race with another
# drain, tried again (_in_savepoint) rather than counted as the events' failure
TRANSIENT_SQLSTATES = {"40P01", "40001"}
TRIES = 3
Handler = Callable[[OutboxEvent], None]
BatchHandler = Callable[[list[OutboxEvent]], None]
# per topic, in the order registered: one-event handlers, and batch handlers' subscriptions (_Batch)
_HANDLERS: dict[str, list[Handler | _Batch]] = {}
_REGISTERED = itertools.count()


def sequence_next(*, scope: str, day: dt.date) -> int:
    """Issue the next number of ``scope`` on ``day``, gap-free.

    One upsert statement: the row stays locked until the caller's transaction ends, so concurrent
    callers queue on it and a rollback returns the number (Circular 01/2018/TT-VPCP wants the
    day's sequence without gaps). Must run inside a transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("sequence_next must run inside transaction.atomic()")
    table = DaySequence._meta.db_table
    with fast_cursor() as cursor:  # prepared on PostgreSQL: it runs with every dossier and receipt
        cursor.execute(
            f"INSERT INTO {table} (scope, day, last) VALUES (%s, %s, 1) "  # noqa: S608 - table name is ours
            f"ON CONFLICT (scope, day) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [scope, day],
        )
        (value,) = cursor.fetchone()
    return int(value)


def event_subscribe(topic: str) -> Callable[[Handler], Handler]:
    """Register a handler for an outbox topic. Handlers must be idempotent: delivery is at least once."""

    def register(handler: Handler) -> Handler:
        _HANDLERS.setdefault(topic, []).append(handler)
        return handler

    return register


@dataclass(frozen=True, eq=False)
class _Batch:
    """A batch handler's subscription: one object for all its topics, so that a claimed batch's
    events of any of them reach it in one call."""

    handler: BatchHandler
    rank: int = field(default_factory=lambda: next(_REGISTERED))  # batch handlers run in this order


def event_subscribe_batch(*topics: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register a *batch* handler for outbox ``topics``: it is called once per claimed batch with
    the batch's events of any of those topics, in the outbox's order (by id), so that it can read
    and write for all of them in a few statements instead of a few per event.

    Its call is put off until a one-event handler is about to run, or the batch ends (see
    ``_deliver_together``): one-event handlers still see the events before theirs handled by all,
    as when delivered one at a time (the portal's record of a submission, then ``dossiers.
    handlers`` settling a payment, then the portal's record of the payment). So the hot topics'
    handlers are all batch handlers, or every one-event handler among them cuts the batch. It runs
    attributed to the worker under a request id of its own (the events' differ): around writes
    that carry a request id (audit, events it publishes), enter ``event_context(event)``. It must
    be idempotent, as any
    handler, and must give the same result when called with one event at a time: if anything
    fails in a batch, the batch is delivered again one event at a time (a batch handler then gets
    a list of one), so that one bad event fails alone and the others are delivered."""

    def register(handler: BatchHandler) -> BatchHandler:
        entry = _Batch(handler)
        for topic in dict.fromkeys(topics):
            _HANDLERS.setdefault(topic, []).append(entry)
        return handler

    return register


def event_context(event: OutboxEvent) -> contextlib.AbstractContextManager[context.Actor]:
    """The context a handler's work for ``event`` runs in: the worker, under the request id the
    event was published in (what it writes and publishes traces back to that request). Batch
    handlers run under one of their own: they enter this around each event's own writes."""
    return context.acting_as(context.Actor.system("worker"), event.request_id or None)


def event_publish(*, topic: str, key: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write an event to the outbox in the caller's transaction (one prepared INSERT: every
    change of state writes one)."""
    values = {
        "topic": topic,
        "key": key,
        "payload": payload,
        "request_id": context.get_request_id(),
        "created_at": timezone.now(),
        "delivered_at": None,
        "attempts": 0,
        "last_error": "",
    }
    return fast_create(OutboxEvent, values)


def outbox_deliver(*, batch: int = 200) -> int:
    """Deliver pending events to their handlers; returns how many were delivered.

    Several workers may run this at once: on PostgreSQL each claims rows with SKIP LOCKED.
    The claimed events are delivered together (:func:`_deliver_together`: batch handlers get them
    all in one call); if anything fails there, they are delivered again one at a time, each in its
    own savepoint, so that a failing handler leaves only its event pending for a later try, up to
    ``MAX_ATTEMPTS``. An event that failed before goes one at a time at once: a bad event does
    not make every batch it is claimed in run twice."""
    done: list[int] = []
    with transaction.atomic():
        pending = OutboxEvent.objects.filter(delivered_at__isnull=True, attempts__lt=MAX_ATTEMPTS).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        events = list(pending[:batch])
        fresh = [event for event in events if event.attempts == 0]
        alone = [event for event in events if event.attempts > 0]
        if len(fresh) > 1 and _deliver_together(fresh):
            done.extend(event.pk for event in fresh)
        else:
            alone = events
        for event in alone:
            if _deliver_alone(event):
                done.append(event.pk)
        delivered = set(done)
        for event in events:
            if event.pk in delivered:
                metrics.OUTBOX_DELIVERED.labels(event.topic).inc()
        if done:  # one UPDATE for the batch, in the transaction the handlers' writes commit in
            OutboxEvent.objects.filter(pk__in=done).update(delivered_at=timezone.now(), attempts=F("attempts") + 1)
    return len(done)


def _deliver_together(events: list[OutboxEvent]) -> bool:
    """Deliver ``events`` in one savepoint, in the outbox's order, as if one at a time: each batch
    handler's events are gathered, and its call is put off until a one-event handler is about to
    run or the batch ends. So a one-event handler sees every earlier event handled by every
    handler (as delivered one at a time), and a batch handler sees what the one-event handlers
    before it did. A lost race with another drain (a deadlock, a serialization failure: nothing
    wrong with the events) is tried together again (``_in_savepoint``). False, and
    nothing kept, if anything else failed: the caller then delivers the events one at a time."""
    gathered: dict[_Batch, list[OutboxEvent]] = {}

    def flush() -> None:  # under a request id of its own: not that of the event that cut the batch
        with context.acting_as(context.Actor.system("worker"), context.new_request_id()):
            for entry in sorted(gathered, key=lambda entry: entry.rank):
                entry.handler(gathered[entry])
        gathered.clear()

    def deliver() -> None:
        gathered.clear()
        for event in events:
            with event_context(event):
                for handler in _HANDLERS.get(event.topic, []):
                    if isinstance(handler, _Batch):
                        gathered.setdefault(handler, []).append(event)
                        continue
                    if gathered:
                        flush()
                    handler(event)
        if gathered:
            flush()

    try:
        _in_savepoint(deliver)
    except Exception:  # one bad event: the batch is delivered again one event at a time
        log.warning("outbox batch failed: delivered one event at a time", exc_info=True)
        return False
    return True


def _in_savepoint(deliver: Callable[[], None]) -> None:
    """``deliver()`` in a savepoint of its own; tried again, up to ``TRIES`` in all, when it loses
    a race with another drain: a deadlock or a serialization failure, which PostgreSQL resolves by
    failing one of the transactions involved — nothing wrong with the events, and the next try
    waits for the other's commit. Any other failure, or the last try's, is raised."""
    for attempt in range(1, TRIES + 1):
        try:
            with transaction.atomic():
                deliver()
            return
        except Exception as exc:
            if attempt == TRIES or getattr(exc.__cause__, "sqlstate", None) not in TRANSIENT_SQLSTATES:
                raise
            log.info("outbox delivery lost a race (%s): tried again", type(exc.__cause__).__name__)
            metrics.OUTBOX_RETRIED.inc()


def _deliver_alone(event: OutboxEvent) -> bool:
    """Deliver one event to all its handlers in a savepoint (a lost race tried again, as
    ``_in_savepoint`` does); on failure count the attempt and keep the error on the event (it stays
    pending until ``MAX_ATTEMPTS``)."""

    def deliver() -> None:
        for handler in _HANDLERS.get(event.topic, []):
            if isinstance(handler, _Batch):
                handler.handler([event])
            else:
                handler(event)

    try:
        with event_context(event):
            _in_savepoint(deliver)
    except Exception:  # a handler's failure must not stop the others
        log.exception("outbox handler failed", extra={"event_id": event.pk, "topic": event.topic})
        event.attempts += 1
        event.last_error = traceback.format_exc(limit=5)[-4000:]
        event.save(update_fields=["attempts", "last_error"])
        return False
    return True


def outbox_drain(*, batch: int = 200, budget: dt.timedelta = dt.timedelta(seconds=1.5)) -> int:
    """Deliver batch after batch while full batches come back, for at most ``budget`` (a little
    less than the beat's period, so that the next tick finds the worker free). One batch per tick
    capped delivery at ``batch`` events per period (100/s), below what a busy hour of payments
    produces; now the worker keeps up as far as its CPU allows. Returns how many were delivered."""
    return outbox_drain_report(batch=batch, budget=budget)[0]


def outbox_drain_report(*, batch: int = 200, budget: dt.timedelta = dt.timedelta(seconds=1.5)) -> tuple[int, bool]:
    """As ``outbox_drain``, and whether the budget ran out while full batches still came back (a
    backlog remains: more workers could take part, see ``outbox_parallel``)."""
    deadline = time.monotonic() + budget.total_seconds()
    total = 0
    while True:
        delivered = outbox_deliver(batch=batch)
        total += delivered
        if delivered < batch:
            return total, False
        if time.monotonic() >= deadline:
            return total, True


def outbox_parallel() -> bool:
    """Whether several workers may drain the outbox at once: each claims its rows with SKIP LOCKED
    (PostgreSQL). SQLite has no row locks: there one drain at a time (the embedded worker)."""
    return bool(connection.features.has_select_for_update_skip_locked)


def heartbeat_beat(*, process: str, info: dict[str, Any] | None = None) -> None:
    Heartbeat.objects.update_or_create(process=process, defaults={"beat_at": timezone.now(), "info": info or {}})


def sequences_store(*, values: dict[tuple[str, dt.date], int]) -> None:
    """Bulk-set day sequences after a bulk import (demo data, legacy dossiers) that continued them
    from ``core.selectors.sequences_in``: one upsert per batch, not a query per day."""
    rows = [DaySequence(scope=scope, day=day, last=last) for (scope, day), last in values.items()]
    DaySequence.objects.bulk_create(
        rows, batch_size=2000, update_conflicts=True, unique_fields=["scope", "day"], update_fields=["last"]
    )
