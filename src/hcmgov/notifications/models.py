"""Messages to citizens and officials: e-mail now, SMS and in-app later, from templates."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    """One message to one recipient over one channel, sent by the worker. ``dedupe_key`` makes the
    event handler that creates it idempotent."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8, choices=[("email", "E-mail"), ("sms", "SMS"), ("inapp", "In-app")])
    address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=250)
    body = models.TextField()
    dedupe_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.channel} → {self.address}: {self.subject}"
