"""Platform events published on the exchange's channels: outbox topics that a channel lists become
CloudEvents deliveries to its subscribers (``exchange.events``).

The outbox calls handlers per exact topic, while channels list their topics in the registry (a
trailing ``*`` for a prefix) and change at any time: so one handler is registered for every topic
the platform's modules publish (:data:`TOPICS`), and it looks up, in one query, the channels that
carry the event's topic. A topic added to a module must be added here to reach the channels.
"""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_context, event_subscribe_batch
from hcmgov.exchange import envelope, events

# Every topic published through the outbox (grep ``event_publish(`` and ``_publish(``), by module.
TOPICS = (
    # dossiers: submission, processing, supplements, fees, end of life, step timers
    "dossier.submitted",
    "dossier.received",
    "dossier.refused",
    "dossier.step_done",
    "dossier.sent_back",
    "dossier.finished",
    "dossier.returned",
    "dossier.supplement_requested",
    "dossier.supplemented",
    "dossier.payment_requested",
    "dossier.payment_settled",
    "dossier.withdrawn",
    "dossier.stopped",
    "dossier.apologized",
    "step.reminder",
    "step.escalation",
    # payments
    "payment.order_created",
    "payment.requested",
    "payment.paid",
    "payment.refund_requested",
    "payment.refunded",
    # postal service
    "postal.order_created",
    "postal.order_cancelled",
    "postal.tracking",
    "postal.delivered",
    "postal.returned",
    # documents: digitised components, issued results
    "component.digitised",
    "result.issued",
    # feedback and ratings
    "feedback.received",
    "feedback.answered",
    "feedback.rejected",
    "rating.submitted",
    # electronic office: an issued document sent to another agency (office.dispatches)
    "office.document_sent",
    # IoT platform: an alert opened or closed at a station or road segment (iot.alerts)
    "iot.alert_opened",
    "iot.alert_closed",
)


def _to_channels(event: Any) -> None:
    """Put the outbox event on every channel carrying its topic. Idempotent: the CloudEvents id is
    the outbox event's, so a redelivered outbox event adds no delivery."""
    channels = events.channels_for_topic(topic=event.topic)
    if not channels:
        return
    data = {**event.payload, "key": event.key}
    for channel in channels:
        events.channel_publish(
            channel=channel,
            event_id=f"hcmgov-{event.pk}",
            type=envelope.TYPE_PREFIX + event.topic,
            data=data,
            subject=event.key,
            time=event.created_at,
        )


def _to_channels_batch(events: list[Any]) -> None:
    """``_to_channels`` of each event of an outbox batch (every topic passes here: as a batch
    handler it does not cut the batch of the hot topics' batch handlers)."""
    for event in events:
        with event_context(event):
            _to_channels(event)


event_subscribe_batch(*TOPICS)(_to_channels_batch)
