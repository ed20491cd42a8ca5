"""Reactions of the NGSI-LD broker to its own outbox events: a changed entity is matched to the
subscriptions after its transaction committed, and the notifications are queued for ``ngsi.notify``.
Idempotent enough for at-least-once delivery: a repeated event queues the same notification again
(NGSI-LD notifications are at-least-once too)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from hcmgov.core.services import event_subscribe_batch
from hcmgov.ngsi.services import TOPIC_CHANGED
from hcmgov.ngsi.subscriptions import notifications_queue


@event_subscribe_batch(TOPIC_CHANGED)
def _changed(events: list[Any]) -> None:
    if notifications_queue(changes=[event.payload for event in events]):
        from hcmgov.ngsi.tasks import notify

        transaction.on_commit(lambda: notify.apply_async())
