"""Read-only admin of the electronic office's registers, documents, records and dispatches: changes
go through the services (audited), never here."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.office.models import Dispatch, IncomingDocument, OutgoingDocument, Register, WorkRecord


@admin.register(Register)
class RegisterAdmin(ReadOnlyAdmin):
    list_display = ("agency", "direction", "year", "confidential", "last")
    list_filter = ("direction", "year", "confidential")


@admin.register(OutgoingDocument)
class OutgoingDocumentAdmin(ReadOnlyAdmin):
    list_display = ("number_symbol", "doc_type", "summary", "agency", "state", "issued_on", "origin")
    list_filter = ("state", "doc_type", "origin", "urgency", "confidentiality")
    search_fields = ("number_symbol", "summary")
    raw_id_fields = ("drafted_by", "signer", "record", "register")


@admin.register(IncomingDocument)
class IncomingDocumentAdmin(ReadOnlyAdmin):
    list_display = ("arrival_number", "arrival_date", "number_symbol", "issuing_body", "agency", "electronic")
    list_filter = ("electronic", "origin", "doc_type")
    search_fields = ("number_symbol", "summary", "issuing_body")
    raw_id_fields = ("register", "dispatch", "record", "registered_by")


@admin.register(WorkRecord)
class WorkRecordAdmin(ReadOnlyAdmin):
    list_display = ("code", "title", "agency", "year", "state", "deadline", "retention_years", "retention_permanent")
    list_filter = ("state", "year")
    search_fields = ("code", "title")
    raw_id_fields = ("lead",)


@admin.register(Dispatch)
class DispatchAdmin(ReadOnlyAdmin):
    list_display = ("document", "recipient", "state", "sent_at", "received_at", "processed_at", "returned_at")
    list_filter = ("state",)
