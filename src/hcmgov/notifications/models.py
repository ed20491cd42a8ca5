"""Messages to citizens and officials: e-mail now, SMS and in-app later, from templates."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    """One message to one recipient over one channel, sent by the worker. ``dedupe_key`` makes the
    event handler that creates it idempotent.

    Its delivery state (see :mod:`hcmgov.notifications.services`): ``status``; ``attempts`` started
    so far; ``next_attempt_at``, when a queued message that failed for a passing reason is due again
    (empty: due now); ``claimed_at`` and ``claim_token``, the worker's claim while it sends (a claim
    older than the lease belongs to a dead worker); ``provider_message_id``, the gateway's id of a
    sent SMS; ``error``, the last error in words, for the operator."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Chờ gửi / Queued"
        HELD = "held", "Chờ cấu hình kênh / Held (channel not configured)"
        SENDING = "sending", "Đang gửi / Sending"
        SENT = "sent", "Đã gửi / Sent"
        FAILED = "failed", "Gửi không được / Failed"

    # the account it goes to; None: a plain address with no account (a department system's contact)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    channel = models.CharField(max_length=8, choices=[("email", "E-mail"), ("sms", "SMS"), ("inapp", "In-app")])
    address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=250)
    body = models.TextField()
    dedupe_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]

    def __str__(self) -> str:
        return f"{self.channel} → {self.address}: {self.subject}"
