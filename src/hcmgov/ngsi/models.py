"""The NGSI-LD context broker's entities, attribute history and subscriptions (issue 11).

Entities are stored normalized and *expanded*: the type and every attribute name is a full IRI,
so that any caller's ``@context`` compacts them back (``ngsi.jsonld``). The ``location``
GeoProperty is also kept as its bounding box in four indexed columns, so that geo-queries narrow
the candidates in SQL (no PostGIS: the same on SQLite and PostgreSQL) before the exact test."""

from __future__ import annotations

from django.db import models


class Entity(models.Model):
    """One NGSI-LD entity. ``attrs`` maps each attribute's IRI to the list of its instances (one per
    ``datasetId``; the default instance has none), each in the normalized form with sub-attribute
    names expanded too, and with ``createdAt``/``modifiedAt``."""

    entity_id = models.CharField(max_length=512, unique=True)
    type = models.CharField(max_length=512, db_index=True)  # an IRI
    attrs = models.JSONField(default=dict)
    scope = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    # bounding box of the ``location`` GeoProperty (degrees, WGS 84), null without one
    min_lon = models.FloatField(null=True, blank=True)
    max_lon = models.FloatField(null=True, blank=True)
    min_lat = models.FloatField(null=True, blank=True)
    max_lat = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["min_lat", "max_lat"], name="ngsi_entity_lat"),
            models.Index(fields=["min_lon", "max_lon"], name="ngsi_entity_lon"),
        ]

    def __str__(self) -> str:
        return self.entity_id


class AttributeInstance(models.Model):
    """The history behind the temporal API: one row for every change of a Property (or
    Relationship) that carries ``observedAt``. The index (entity, attribute, observedAt) serves a
    sensor-day query as one index range scan. ``number`` keeps numeric values for aggregation in
    SQL; ``value`` keeps the value as sent."""

    entity = models.BigIntegerField()  # Entity.pk; no foreign key: history outlives a re-created entity
    attr = models.CharField(max_length=512)  # an IRI
    dataset_id = models.CharField(max_length=512, blank=True, default="")
    observed_at = models.DateTimeField()
    value = models.JSONField(null=True)
    number = models.FloatField(null=True, blank=True)
    instance = models.JSONField(default=dict)  # the attribute's other members (unitCode, sub-attributes)

    class Meta:
        indexes = [models.Index(fields=["entity", "attr", "observed_at"], name="ngsi_instance_day")]

    def __str__(self) -> str:
        return f"{self.entity}/{self.attr}@{self.observed_at}"


class Subscription(models.Model):
    """An NGSI-LD subscription (clause 5.2.12): what to watch and where to notify. Names are kept
    expanded; ``context`` is the subscriber's ``@context`` as given, used to compact its
    notifications. The counters are those of NotificationParams (clause 5.2.14)."""

    subscription_id = models.CharField(max_length=512, unique=True)
    name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    entities = models.JSONField(default=list)  # [{"type": IRI, "id"?: …, "idPattern"?: …}]
    watched_attributes = models.JSONField(default=list)  # IRIs
    q = models.TextField(blank=True, default="")
    geo_q = models.JSONField(null=True, blank=True)
    notification = models.JSONField(default=dict)  # attributes (IRIs), format, endpoint
    throttling = models.PositiveIntegerField(default=0)  # seconds
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    context = models.JSONField(null=True, blank=True)
    owner = models.BigIntegerField(null=True, blank=True)  # the user who created it
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    times_sent = models.PositiveIntegerField(default=0)
    times_failed = models.PositiveIntegerField(default=0)
    last_notification = models.DateTimeField(null=True, blank=True)
    last_success = models.DateTimeField(null=True, blank=True)
    last_failure = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.subscription_id


class Delivery(models.Model):
    """One notification waiting to be POSTed to a subscription's endpoint, retried with back-off
    (``next_attempt_at``) until it is sent or ``NGSI_LD_NOTIFY_MAX_ATTEMPTS`` is reached."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    body = models.JSONField()
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed = models.BooleanField(default=False)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["sent_at", "failed", "next_attempt_at"], name="ngsi_delivery_due")]

    def __str__(self) -> str:
        return f"{self.subscription_id}#{self.pk}"
