"""Admin of the data sharing platform: the registry (members, systems, services, rights, channels,
subscriptions) is kept here by the platform's administrators; the message log and its seals and
archives are read only (they are evidence); deliveries are read only too, with the dead-letter list
(filter on state) and the action that sends dead ones again (``events.delivery_redeliver``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from hcmgov.common.access import staff_required
from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.common.errors import DomainError
from hcmgov.exchange import events, portal, selectors
from hcmgov.exchange.models import (
    AccessRight,
    Channel,
    Delivery,
    DeliveryState,
    InformationSystem,
    LogArchive,
    LogSeal,
    Member,
    MessageLogRecord,
    Peer,
    PortalPush,
    PortalPushState,
    Service,
    Subscription,
)

# URLs typed without a scheme are taken as https (Django 6's default, asked for now)
URL_FIELDS: dict[Any, dict[str, Any]] = {models.URLField: {"assume_scheme": "https"}}

# --- the registry ------------------------------------------------------------------------------------


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "peer", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name", "name_en")
    raw_id_fields = ("agency",)  # thousands of agencies: no select of them all


@admin.register(Peer)
class PeerAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ("code", "name", "gateway_url", "active")
    search_fields = ("code", "name")


@admin.register(InformationSystem)
class InformationSystemAdmin(admin.ModelAdmin):
    list_display = ("__str__", "name", "state", "client_id", "contact_email", "connected_at")
    list_filter = ("state", "member__kind")
    search_fields = ("code", "name", "name_en", "client_id", "member__code", "member__name")
    list_select_related = ("member",)


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ("__str__", "name", "kind", "upstream_url", "active", "updated_at")
    list_filter = ("kind", "active")
    search_fields = ("code", "name", "name_en", "system__code", "system__member__code")
    list_select_related = ("system__member",)
    change_list_template = "admin/exchange/service/change_list.html"

    def get_urls(self) -> list[Any]:
        # the admin's own checks first (its login page); the rule declared inside is carried out by
        # admin_view's wrapper (functools.update_wrapper copies it)
        view = self.admin_site.admin_view(staff_required(self.operations_view))
        operations = path("operations/", view, name="exchange_service_operations")
        return [operations, *super().get_urls()]

    def operations_view(self, request: HttpRequest) -> TemplateResponse:
        """Operations of the gateway: per service over the last hours, calls, errors and latency
        percentiles from the message log; the information systems connected."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            hours = min(24 * 31, max(1, int(request.GET.get("hours", "24"))))
        except ValueError:
            hours = 24
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "title": "Vận hành cổng LGSP / Gateway operations",
            "hours": hours,
            "rows": selectors.service_calls(since=now - dt.timedelta(hours=hours), now=now),
            "systems": selectors.systems_count(),
            "connected": selectors.systems_connected_count(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/exchange/operations.html", context)


@admin.register(AccessRight)
class AccessRightAdmin(admin.ModelAdmin):
    list_display = ("consumer", "service", "methods", "path_prefix", "granted_by", "granted_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("consumer__code", "consumer__member__code", "service__code", "service__system__code")
    list_select_related = ("consumer__member", "service__system__member")


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ("service", "topics", "schema")

    def clean_schema(self) -> Any:
        schema = self.cleaned_data.get("schema")
        problem = events.schema_problem(schema)
        if problem is not None:
            raise forms.ValidationError(f"Không phải JSON Schema hợp lệ / Not a valid JSON Schema: {problem}")
        return schema


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ("__str__", "topics")
    search_fields = ("service__code", "service__name", "service__system__code")
    list_select_related = ("service__system__member",)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ("subscriber", "channel", "callback_url", "filters", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("callback_url", "subscriber__code", "subscriber__member__code", "channel__service__code")
    list_select_related = ("subscriber__member", "channel__service__system__member")


# --- evidence: read only ----------------------------------------------------------------------------


@admin.register(MessageLogRecord)
class MessageLogRecordAdmin(ReadOnlyAdmin):
    list_display = ("node", "seq", "at", "consumer", "service", "method", "path", "status", "error", "duration_ms")
    list_filter = ("status", "error")
    search_fields = ("request_id", "client_id", "consumer", "service")
    exclude = ("bodies",)  # encrypted bytes: nothing to read here
    date_hierarchy = "at"
    show_full_result_count = False  # millions of rows: no COUNT(*) per page


@admin.register(LogSeal)
class LogSealAdmin(ReadOnlyAdmin):
    list_display = ("node", "seq", "head_hash", "stamped_at")
    search_fields = ("node",)
    exclude = ("token",)


@admin.register(LogArchive)
class LogArchiveAdmin(ReadOnlyAdmin):
    list_display = ("node", "first_seq", "last_seq", "records", "blob_key", "created_at")
    search_fields = ("node", "blob_key")


# --- deliveries: the dead-letter list ----------------------------------------------------------------


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Deliveries change through ``exchange.events`` only; filter ``state`` on «Gửi không thành
    công» for the dead-letter list and send those again with the action."""

    list_display = ("event_id", "subscription", "state", "attempts", "last_status", "next_at", "created_at")
    list_filter = ("state",)
    search_fields = ("event_id", "subscription__callback_url", "subscription__subscriber__code")
    list_select_related = ("subscription__subscriber__member", "subscription__channel__service__system__member")
    actions = ["redeliver"]

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("exchange.change_delivery"))

    @admin.action(description="Gửi lại / Send again", permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        sent, refused = 0, []
        for delivery in queryset.order_by("id"):
            if delivery.state != DeliveryState.DEAD:
                refused.append(f"{delivery.event_id}: chưa hỏng / not dead")
                continue
            try:
                events.delivery_redeliver(delivery=delivery, actor=request.user)
            except DomainError as exc:
                refused.append(f"{delivery.event_id}: {exc.message.vi} / {exc.message.en}")
                continue
            sent += 1
        if sent:
            self.message_user(
                request, f"Đã đưa {sent} sự kiện vào hàng gửi lại / {sent} event(s) queued to send again."
            )
        if refused:
            self.message_user(
                request, "Không gửi lại / Not sent again: " + "; ".join(refused[:20]), level=messages.WARNING
            )


# --- the National Public Service Portal connector --------------------------------------------------


@admin.register(PortalPush)
class PortalPushAdmin(ReadOnlyAdmin):
    """Status changes for the national portal change through ``exchange.portal`` only; filter
    ``state`` on «Gửi thất bại» for the dead ones and send those again with the action."""

    list_display = ("dossier_code", "sequence", "state", "attempts", "next_at", "sent_at", "created_at")
    list_filter = ("state",)
    search_fields = ("dossier_code",)
    actions = ["requeue"]

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("exchange.change_portalpush"))

    @admin.action(description="Gửi lại / Send again", permissions=["requeue"])
    def requeue(self, request: HttpRequest, queryset: QuerySet[PortalPush]) -> None:
        sent, refused = 0, []
        for push in queryset.order_by("dossier_code", "sequence"):
            if push.state != PortalPushState.DEAD:
                refused.append(f"{push}: chưa hỏng / not dead")
                continue
            portal.portal_push_requeue(push=push, actor=request.user)
            sent += 1
        if sent:
            self.message_user(
                request, f"Đã đưa {sent} thay đổi vào hàng gửi lại / {sent} change(s) queued to send again."
            )
        if refused:
            self.message_user(
                request, "Không gửi lại / Not sent again: " + "; ".join(refused[:20]), level=messages.WARNING
            )
