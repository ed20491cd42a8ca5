"""The audit trail: one row per change of state, written in the same transaction as the change."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when, in which request, with the fields before and after;
    and how the actor authenticated: method, assurance level (the scale of ``common.context``) and
    a reference to the login (never the session key or the token itself)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=80)
    request_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # blank/0 on events older than these fields: not recorded, so not counted as authenticated
    auth_method = models.CharField(max_length=20, blank=True, default="")
    assurance_level = models.PositiveSmallIntegerField(default=0)
    session_ref = models.CharField(max_length=32, blank=True, default="")
    # The agency the object belonged to when the event happened (its ``agency_id``), if any: the
    # figures per agency read it without joining another app's tables.
    agency_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action", "at"], name="audit_action_at"),  # transactions of a period
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"
