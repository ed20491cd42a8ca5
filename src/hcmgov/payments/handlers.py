"""Reactions of the payments app to dossier events: make the payment order when a dossier is
submitted, request a fee due at the result when the result is ready, give the money back when a
paid dossier is refused, withdrawn or stopped. Delivery is at least once: each reaction is
idempotent."""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_subscribe
from hcmgov.payments import services
from hcmgov.payments.models import OrderState, PaymentOrder

REFUND_REASONS = {
    "dossier.refused": "Hồ sơ không được tiếp nhận / dossier not received",
    "dossier.withdrawn": "Hồ sơ được rút theo yêu cầu / dossier withdrawn",
    "dossier.stopped": "Hồ sơ bị dừng xử lý / processing stopped",
}


@event_subscribe("dossier.submitted")
def _order(event: Any) -> None:
    services.order_ensure(dossier_id=event.payload["dossier_id"])


@event_subscribe("dossier.finished")
def _at_result(event: Any) -> None:
    services.order_request_at_result(dossier_id=event.payload["dossier_id"])


def _refund(event: Any) -> None:
    for order in PaymentOrder.objects.filter(dossier_id=event.payload["dossier_id"]).exclude(
        state__in=[OrderState.CANCELLED, OrderState.REFUNDED]
    ):
        services.order_refund(order=order, reason=REFUND_REASONS[event.topic])


for _topic in REFUND_REASONS:
    event_subscribe(_topic)(_refund)
