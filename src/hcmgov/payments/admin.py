"""Admin of the payments app: the books are read only (changes go through the services, audited);
the agencies' beneficiary accounts are kept here by the finance officers."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.payments.models import Beneficiary, GatewayTransaction, Mismatch, PaymentOrder, Receipt, Refund


@admin.register(PaymentOrder)
class PaymentOrderAdmin(ReadOnlyAdmin):
    list_display = ("dossier_code", "stage", "amount", "state", "method", "paid_at")
    list_filter = ("state", "method", "stage")
    search_fields = ("dossier_code",)


@admin.register(GatewayTransaction)
class GatewayTransactionAdmin(ReadOnlyAdmin):
    list_display = ("ref", "gateway", "amount", "state", "settled_via", "response_code", "overpaid", "created_at")
    list_filter = ("state", "gateway", "overpaid")
    search_fields = ("ref", "gateway_txn_no")


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("transaction", "amount", "state", "attempts", "requested_at", "done_at")
    list_filter = ("state",)


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ("series", "number", "amount", "method", "issued_at", "cancelled_at")
    search_fields = ("series",)


@admin.register(Mismatch)
class MismatchAdmin(ReadOnlyAdmin):
    list_display = ("run", "kind", "ref", "resolved_at")
    list_filter = ("kind",)


@admin.register(Beneficiary)
class BeneficiaryAdmin(admin.ModelAdmin):
    list_display = ("agency", "account_number", "bank_code", "treasury_code")
    search_fields = ("account_number", "agency__name")
