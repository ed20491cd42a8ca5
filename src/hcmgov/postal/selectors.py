"""Reads of the postal app: a dossier's delivery orders with their tracking events (its timeline),
one order, and the labels of kinds and statuses in either language."""

from __future__ import annotations

from django.db.models import Prefetch

from hcmgov.common.errors import NotFound
from hcmgov.postal.models import ENDED_STATUSES, KIND_EN, STATUS_EN, DeliveryOrder, Kind, Status, TrackingEvent


def dossier_deliveries(*, dossier_id: int) -> list[DeliveryOrder]:
    """The dossier's delivery orders, oldest first, each with ``events`` (oldest first by the
    carrier's time) prefetched: two queries whatever their number."""
    events = Prefetch("events", queryset=TrackingEvent.objects.order_by("at", "id"))
    return list(
        DeliveryOrder.objects.filter(dossier_id=dossier_id).prefetch_related(events).order_by("created_at", "id")
    )


def delivery_order_get(
    *, order_id: int | None = None, code: str | None = None, tracking_number: str | None = None
) -> DeliveryOrder:
    """One order by its id, our code or the carrier's tracking number (give one); NotFound otherwise."""
    given = {"pk": order_id, "code": code, "tracking_number": tracking_number}
    lookup = {name: value for name, value in given.items() if value is not None}
    if len(lookup) != 1:
        raise ValueError("give exactly one of order_id, code, tracking_number")
    order = DeliveryOrder.objects.filter(**lookup).first()
    if order is None:
        raise NotFound("đơn bưu chính", "Delivery order")
    return order


def delivery_order_live(*, dossier_id: int, kind: str) -> DeliveryOrder | None:
    """The dossier's order of ``kind`` still under way or delivered (not cancelled, not returned)."""
    return DeliveryOrder.objects.filter(dossier_id=dossier_id, kind=kind).exclude(status__in=ENDED_STATUSES).first()


def kind_label(kind: str, language: str = "vi") -> str:
    return KIND_EN[Kind(kind)] if language.startswith("en") else str(Kind(kind).label)


def status_label(status: str, language: str = "vi") -> str:
    """The label of a status ("" for an event whose carrier status has no meaning here)."""
    if not status:
        return ""
    return STATUS_EN[Status(status)] if language.startswith("en") else str(Status(status).label)
