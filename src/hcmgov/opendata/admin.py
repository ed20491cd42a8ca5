"""Admin of the open data catalogue: publishers (organisations) and who may publish for them,
themes, harvest sources (with the action that harvests one now and its last report), and the
datasets (their metadata; publishers otherwise write through the CKAN API with their tokens)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hcmgov.opendata import harvest, services
from hcmgov.opendata.models import Dataset, Group, HarvestSource, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "agency_id", "state", "created")
    search_fields = ("name", "title")
    list_filter = ("state",)
    inlines = [MembershipInline]


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "state", "created")
    search_fields = ("name", "title")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "organization", "state", "private", "metadata_modified")
    list_filter = ("state", "private", "organization")
    search_fields = ("name", "title")
    readonly_fields = ("metadata_created", "metadata_modified", "search_text", "facet_keys", "harvest_source",
                       "harvest_guid")  # fmt: skip
    filter_horizontal = ("groups", "tags")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Tags and groups are saved after the dataset: searches read them from its index fields."""
        super().save_related(request, form, formsets, change)
        services.search_index(form.instance)


@admin.register(HarvestSource)
class HarvestSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "url", "organization", "frequency_hours", "active", "last_run_at")
    list_filter = ("kind", "active")
    readonly_fields = ("last_run_at", "last_report")
    actions = ["harvest_now"]

    @admin.action(description="Thu thập ngay / Harvest now")
    def harvest_now(self, request: HttpRequest, queryset: QuerySet[HarvestSource]) -> None:
        for source in queryset:
            report = harvest.harvest_source_run(source=source)
            counts = {k: len(v) if isinstance(v, list) else v for k, v in report.items() if k in (
                "created", "updated", "withdrawn", "unchanged")}  # fmt: skip
            error = report.get("error")
            text = f"{error['vi']} / {error['en']}" if isinstance(error, dict) else str(counts)
            self.message_user(request, f"{source.name}: {text}", level=messages.ERROR if error else messages.SUCCESS)
