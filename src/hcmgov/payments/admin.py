"""Admin of the payments app: the books are read only (changes go through the services, audited);
the agencies' beneficiary accounts are kept here by the finance officers."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hcmgov.payments.models import Beneficiary, GatewayTransaction, Mismatch, PaymentOrder, Receipt, Refund


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PaymentOrder)
class PaymentOrderAdmin(ReadOnly):
    list_display = ("dossier_code", "stage", "amount", "state", "method", "paid_at")
    list_filter = ("state", "method", "stage")
    search_fields = ("dossier_code",)


@admin.register(GatewayTransaction)
class GatewayTransactionAdmin(ReadOnly):
    list_display = ("ref", "gateway", "amount", "state", "settled_via", "response_code", "overpaid", "created_at")
    list_filter = ("state", "gateway", "overpaid")
    search_fields = ("ref", "gateway_txn_no")


@admin.register(Refund)
class RefundAdmin(ReadOnly):
    list_display = ("transaction", "amount", "state", "attempts", "requested_at", "done_at")
    list_filter = ("state",)


@admin.register(Receipt)
class ReceiptAdmin(ReadOnly):
    list_display = ("series", "number", "amount", "method", "issued_at", "cancelled_at")
    search_fields = ("series",)


@admin.register(Mismatch)
class MismatchAdmin(ReadOnly):
    list_display = ("run", "kind", "ref", "resolved_at")
    list_filter = ("kind",)


@admin.register(Beneficiary)
class BeneficiaryAdmin(admin.ModelAdmin):
    list_display = ("agency", "account_number", "bank_code", "treasury_code")
    search_fields = ("account_number", "agency__name")
