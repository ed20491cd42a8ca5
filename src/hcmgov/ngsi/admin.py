"""Admin of the NGSI-LD broker: entities, subscriptions and queued notifications, read only
(they change through the NGSI-LD API and its services)."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.ngsi.models import Delivery, Entity, Subscription


@admin.register(Entity)
class EntityAdmin(ReadOnlyAdmin):
    list_display = ("entity_id", "type", "modified_at")
    search_fields = ("entity_id",)
    list_filter = ("type",)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("subscription_id", "name", "active", "times_sent", "times_failed", "last_notification")
    search_fields = ("subscription_id", "name")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("pk", "subscription", "created_at", "attempts", "sent_at", "failed")
    list_filter = ("failed",)
    raw_id_fields = ("subscription",)
