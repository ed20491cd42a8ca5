"""Admin of the reporting cycle. Indicators and templates are kept here by the administrators (a
template change applies to periods opened after it); periods, reports, their history and the
national exports are read only: they change through the services (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.reporting.models import (
    Indicator,
    NationalExport,
    Period,
    Report,
    ReportEvent,
    ReportingRegime,
    ReportTemplate,
    TemplateIndicator,
)


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "type", "unit", "aggregation", "prefill")
    list_filter = ("type", "aggregation")
    search_fields = ("code", "name", "name_en")


class TemplateIndicatorInline(admin.TabularInline):
    model = TemplateIndicator
    extra = 0
    ordering = ("position",)


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "period_kind")
    list_filter = ("period_kind",)
    search_fields = ("code", "name", "name_en")
    inlines = [TemplateIndicatorInline]


@admin.register(Period)
class PeriodAdmin(ReadOnlyAdmin):
    list_display = ("template", "key", "structure_key", "cutoff_start", "cutoff_end", "opened_at")
    list_filter = ("template", "structure_key")


class ReportEventInline(admin.TabularInline):
    model = ReportEvent
    extra = 0
    can_delete = False
    readonly_fields = ("action", "actor", "actor_label", "reason", "version", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("period", "unit_code", "unit_name", "level", "status", "deadline", "late", "version")
    list_filter = ("status", "level", "late", "period__template")
    search_fields = ("unit_code", "unit_name")
    list_select_related = ("period__template",)
    inlines = [ReportEventInline]


@admin.register(NationalExport)
class NationalExportAdmin(ReadOnlyAdmin):
    list_display = ("key", "state", "attempts", "next_at", "sent_at")
    list_filter = ("state",)
    search_fields = ("key",)


@admin.register(ReportingRegime)
class ReportingRegimeAdmin(admin.ModelAdmin):
    """The register of periodic reporting regimes: kept here by the administrators (the plan's
    target "periodic reports made on the reporting system" is read from it)."""

    list_display = ("code", "name", "frequency", "channel", "template_code", "valid_from", "valid_to", "sample")
    list_filter = ("channel", "frequency", "sample")
    search_fields = ("code", "name", "name_en", "legal_basis", "issuing_body")
