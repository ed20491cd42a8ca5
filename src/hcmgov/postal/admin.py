"""Read-only admin of delivery orders and their tracking: changes go through the services (audited)
and the carrier's webhook, never here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.postal.models import DeliveryOrder, TrackingEvent


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    fields = ("at", "status", "carrier_status", "location", "note", "event_id", "received_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DeliveryOrder)
class DeliveryOrderAdmin(ReadOnlyAdmin):
    list_display = ("code", "tracking_number", "kind", "status", "fee", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("code", "tracking_number")
    exclude = ("dossier",)  # a select of every dossier would be slow; the code names it
    inlines = [TrackingEventInline]
