"""The city mailboxes in the admin site: read-mostly (provisioning and the services change them)."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.citymail.models import Mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ("address", "kind", "display_name", "agency", "state", "created_at")
    list_filter = ("state", "kind")
    search_fields = ("address", "search_name")
    readonly_fields = ("address", "kind", "owner", "created_at", "suspended_at", "closed_at", "search_name")
    raw_id_fields = ("agency",)
