"""Reactions of the dossiers app to other apps' events: the fee requested for a dossier holds it in
status 6; the fee paid releases it and is recorded on it. Idempotent (delivery is at least once)."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from hcmgov.core.services import event_subscribe
from hcmgov.dossiers import selectors
from hcmgov.dossiers.services import payments, post
from hcmgov.payments import selectors as payment_selectors


@event_subscribe("payment.requested")
def _requested(event: Any) -> None:
    if not payment_selectors.order_is_due(order_id=event.payload["order_id"]):
        return  # paid (or cancelled) before this event was delivered: nothing to wait for
    dossier = selectors.dossier_by_id(dossier_id=event.payload["dossier_id"])
    payments.dossier_payment_request(dossier=dossier, amount=int(event.payload.get("amount") or 0))


@event_subscribe("payment.paid")
def _paid(event: Any) -> None:
    paid_at = parse_datetime(str(event.payload.get("paid_at") or "")) or event.created_at
    payments.dossier_payment_settle(
        dossier_id=event.payload["dossier_id"], online=bool(event.payload.get("online")), paid_at=paid_at
    )


@event_subscribe("postal.tracking")
def _tracking(event: Any) -> None:
    from hcmgov.postal import selectors as postal_read

    payload = event.payload
    order = postal_read.delivery_order_get(order_id=payload["order_id"])
    what = postal_read.kind_label(order.kind)
    state = postal_read.status_label(payload.get("status") or "") or payload.get("note") or ""
    detail = f" — {payload['note']}" if payload.get("note") and payload.get("status") else ""
    at = parse_datetime(str(payload.get("at") or "")) or event.created_at
    post.dossier_post_tracking(
        dossier_id=payload["dossier_id"], at=at, note=f"{what} ({order.tracking_number}): {state}{detail}"
    )
