"""Reactions of the payments app to dossier events: make the payment order when a dossier is
submitted, request a fee due at the result when the result is ready, give the money back when a
paid dossier is refused, withdrawn or stopped. Delivery is at least once: each reaction is
idempotent."""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_subscribe, event_subscribe_batch
from hcmgov.payments import services
from hcmgov.payments.models import OrderState, PaymentOrder

REFUND_REASONS = {
    "dossier.refused": "Hồ sơ không được tiếp nhận / dossier not received",
    "dossier.withdrawn": "Hồ sơ được rút theo yêu cầu / dossier withdrawn",
    "dossier.stopped": "Hồ sơ bị dừng xử lý / processing stopped",
}


# batch handlers, a query or two for the batch's dossiers: one-event handlers on these hot topics would
# also cut the outbox's batches for notifications and the portal (``core.services._deliver_together``)


@event_subscribe_batch("dossier.submitted")
def _order(events: list[Any]) -> None:
    services.orders_ensure(
        dossier_ids=[event.payload["dossier_id"] for event in events],
        request_ids={event.payload["dossier_id"]: event.request_id for event in events},
    )


@event_subscribe_batch("dossier.finished")
def _at_result(events: list[Any]) -> None:
    services.orders_request_at_result(
        dossier_ids=[event.payload["dossier_id"] for event in events],
        request_ids={event.payload["dossier_id"]: event.request_id for event in events},
    )


def _refund(event: Any) -> None:
    for order in PaymentOrder.objects.filter(dossier_id=event.payload["dossier_id"]).exclude(
        state__in=[OrderState.CANCELLED, OrderState.REFUNDED]
    ):
        services.order_refund(order=order, reason=REFUND_REASONS[event.topic])


for _topic in REFUND_REASONS:
    event_subscribe(_topic)(_refund)
