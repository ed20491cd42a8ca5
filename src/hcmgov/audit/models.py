"""The audit trail: one row per change of state, written in the same transaction as the change,
each row linked to the one before by a hash chain (:mod:`hcmgov.audit.chain`) once committed."""

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
    # The hash chain: ``seq`` counts from 1 without gaps; ``hash`` is the SHA-256 of ``prev_hash``
    # (the previous event's hash) and the fields above in canonical JSON (``chain.event_hash``).
    # NULL and empty from the INSERT until the event is linked, just after its transaction commits
    # (``chain.link_pending``): the business transaction never waits for the chain's head.
    seq = models.PositiveBigIntegerField(null=True, unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["action", "at"], name="audit_action_at"),  # transactions of a period
            # the events waiting to be linked, in id order: a handful of rows, whatever the trail's size
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unlinked"),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The chain's head: the seq and hash of the last event linked (one row, ``id`` 1). Linking
    locks it (``SELECT … FOR UPDATE``) in a short transaction of its own, after the events'
    transactions committed, so concurrent linkers link one after the other, never onto the same
    event; verification also holds the chain's last event to it, so cutting off the
    tail is seen even before the next anchor."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class AuditAnchor(models.Model):
    """An RFC 3161 time stamp over the chain's head: every event up to ``seq`` is proven to have
    existed, as it is, at the stamp's time."""

    seq = models.PositiveBigIntegerField(unique=True)
    head_hash = models.CharField(max_length=64)
    token = models.BinaryField(help_text="The DER TimeStampToken of the time-stamping authority.")
    stamped_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} @ {self.stamped_at:%Y-%m-%d %H:%M:%S}"
