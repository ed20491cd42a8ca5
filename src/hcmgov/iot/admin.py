"""Admin of the IoT platform, read only: devices change through their services (audited:
``hcmgov iot device``, ``services.device_register``, ``device_status_set``,
``device_credentials_reset``); the quarantine is evidence of what devices sent."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.iot.models import Alert, AlertRule, Device, Quarantine


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ["code", "kind", "name", "status", "ward_code", "calibrated_on"]
    list_filter = ["kind", "status"]
    search_fields = ["code", "name", "name_en", "ward_code"]
    readonly_fields = ["entity_id", "mqtt_username", "mqtt_password_hash", "created_at", "updated_at"]


@admin.register(Quarantine)
class QuarantineAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "reason", "channel", "device_code", "detail"]
    list_filter = ["reason", "channel"]
    search_fields = ["device_code", "source"]
    date_hierarchy = "received_at"


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdmin):
    list_display = ["code", "kind", "threshold", "level", "intervals", "active"]
    list_filter = ["kind", "active"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["rule", "device", "started_at", "opened_at", "closed_at", "value", "peak"]
    list_filter = ["rule"]
    date_hierarchy = "opened_at"
