"""Delivery orders of the public postal service (bưu chính công ích) for dossiers, and their tracking.

Decision 45/2016/QĐ-TTg of 19 Oct 2016 lets an applicant send a dossier, receive the result, or
both, through the public postal service (its Art. 5, as published summaries quote it; the
Decision's own text was not read here), carried by the enterprise designated under Art. 32(2) of
the Law on Post — VNPost. Each carriage is one :class:`DeliveryOrder` with the carrier (``pickup``:
collect the paper dossier and carry it to the agency; ``result``: carry the result to the
applicant); its tracking events (:class:`TrackingEvent`) come from the carrier's webhook.
"""

from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    PICKUP = "pickup", "Thu gom hồ sơ về cơ quan"
    RESULT = "result", "Chuyển phát kết quả đến người nhận"


KIND_EN = {Kind.PICKUP: "Collect the dossier and carry it to the agency", Kind.RESULT: "Deliver the result"}


class Status(models.TextChoices):
    """Where a carriage stands: created → accepted → picked_up → in_transit → delivered, with
    failed_attempt between deliveries, returning → returned when it cannot be delivered, and
    cancelled before pickup. ``created``: the carrier made the order; ``accepted``: its first
    tracking event confirmed it."""

    CREATED = "created", "Đã tạo đơn"
    ACCEPTED = "accepted", "Bưu điện đã tiếp nhận đơn"
    PICKED_UP = "picked_up", "Bưu tá đã nhận bưu gửi"
    IN_TRANSIT = "in_transit", "Đang vận chuyển"
    FAILED_ATTEMPT = "failed_attempt", "Phát không thành công"
    DELIVERED = "delivered", "Đã phát thành công"
    RETURNING = "returning", "Đang chuyển hoàn"
    RETURNED = "returned", "Đã chuyển hoàn"
    CANCELLED = "cancelled", "Đã hủy"


STATUS_EN = {
    Status.CREATED: "Order created",
    Status.ACCEPTED: "Accepted by the post",
    Status.PICKED_UP: "Picked up",
    Status.IN_TRANSIT: "In transit",
    Status.FAILED_ATTEMPT: "Delivery attempt failed",
    Status.DELIVERED: "Delivered",
    Status.RETURNING: "Being returned",
    Status.RETURNED: "Returned to sender",
    Status.CANCELLED: "Cancelled",
}
FINAL_STATUSES = (Status.DELIVERED, Status.RETURNED, Status.CANCELLED)
# No longer carrying anything: another order of the same kind may follow (a result sent again
# after it came back, a pickup ordered again after a cancellation).
ENDED_STATUSES = (Status.RETURNED, Status.CANCELLED)
CANCELLABLE_STATUSES = (Status.CREATED, Status.ACCEPTED)


class DeliveryOrder(models.Model):
    """One carriage of a dossier's papers by the postal carrier.

    ``code`` is ours (``<dossier code>-BC<n>``) and is the carrier's client order code, which makes
    creating it idempotent at the carrier; ``tracking_number`` is the carrier's. ``fee`` (đồng) and
    ``expected_days`` are what the carrier quoted when it took the order. ``status_at`` is the
    time, by the carrier's clock, of the event that set ``status``: an older event arriving late
    does not move it back.
    """

    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    code = models.CharField(max_length=64, unique=True)
    tracking_number = models.CharField(max_length=32, unique=True)
    sender_name = models.CharField(max_length=150)
    sender_phone = models.CharField(max_length=20)
    sender_address = models.CharField(max_length=300)
    sender_ward_code = models.CharField(max_length=8)
    receiver_name = models.CharField(max_length=150)
    receiver_phone = models.CharField(max_length=20)
    receiver_address = models.CharField(max_length=300)
    receiver_ward_code = models.CharField(max_length=8)
    weight_grams = models.PositiveIntegerField()
    fee = models.PositiveIntegerField(help_text="Đồng, as quoted by the carrier.")
    expected_days = models.PositiveSmallIntegerField()
    expected_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    status_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            # At most one live order per dossier and kind. Live means "not cancelled" and also "not
            # returned": a result that came back may be sent again, to a corrected address.
            models.UniqueConstraint(
                fields=["dossier", "kind"],
                condition=~models.Q(status__in=["returned", "cancelled"]),
                name="postal_one_live_order_per_kind",
            ),
            models.CheckConstraint(condition=models.Q(weight_grams__gt=0), name="postal_weight_positive"),
        ]
        indexes = [models.Index(fields=["dossier", "created_at"])]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.code} ({self.tracking_number}, {self.status})"


class TrackingEvent(models.Model):
    """One event of a carriage, as the carrier's webhook reported it.

    ``event_id`` is the carrier's, unique per order, so a webhook delivered twice is stored once.
    Events may arrive out of order: all are kept, ordered by ``at`` (the carrier's time).
    ``status`` is the platform's reading of ``carrier_status`` ("" when it has none).
    """

    order = models.ForeignKey(DeliveryOrder, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    carrier_status = models.CharField(max_length=32)
    at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "event_id"], name="postal_event_once")]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.carrier_status} {self.at:%Y-%m-%d %H:%M}"
