"""Writes of the core app: sequences, outbox events, heartbeats, loading units and agencies."""

from __future__ import annotations

import datetime as dt
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from hcmgov.common import context, metrics
from hcmgov.common.db import fast_create, fast_cursor
from hcmgov.core.models import DaySequence, Heartbeat, OutboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
Handler = Callable[[OutboxEvent], None]
_HANDLERS: dict[str, list[Handler]] = {}


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
    A failing handler leaves its event pending for a later try, up to ``MAX_ATTEMPTS``.
    """
    done: list[int] = []
    with transaction.atomic():
        pending = OutboxEvent.objects.filter(delivered_at__isnull=True, attempts__lt=MAX_ATTEMPTS).order_by("id")
        if connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        for event in list(pending[:batch]):
            try:
                with transaction.atomic(), context.acting_as(context.Actor.system("worker"), event.request_id or None):
                    for handler in _HANDLERS.get(event.topic, []):
                        handler(event)
            except Exception:  # a handler's failure must not stop the others
                log.exception("outbox handler failed", extra={"event_id": event.pk, "topic": event.topic})
                event.attempts += 1
                event.last_error = traceback.format_exc(limit=5)[-4000:]
                event.save(update_fields=["attempts", "last_error"])
                continue
            done.append(event.pk)
            metrics.OUTBOX_DELIVERED.labels(event.topic).inc()
        if done:  # one UPDATE for the batch, in the transaction the handlers' writes commit in
            OutboxEvent.objects.filter(pk__in=done).update(delivered_at=timezone.now(), attempts=F("attempts") + 1)
    return len(done)


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
