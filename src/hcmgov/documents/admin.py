"""Read-only admin of stored content, components, results and signing certificates: changes go
through the services (audited), never here."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.documents.models import Blob, Component, Result, SigningCertificate


@admin.register(Blob)
class BlobAdmin(ReadOnlyAdmin):
    list_display = ("sha256", "content_type", "size", "pages", "retention", "scan_state", "created_at")
    list_filter = ("content_type", "retention", "scan_state")
    search_fields = ("sha256",)


@admin.register(Component)
class ComponentAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "doc_type", "title", "state", "agency", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("code", "doc_type", "source_dossier_code")
    raw_id_fields = ("owner", "blob", "digitised_by", "confirmed_by")


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ("dossier_code", "number", "title", "agency", "signed_at", "revoked_at")
    search_fields = ("dossier_code", "number", "signed_sha256")


@admin.register(SigningCertificate)
class SigningCertificateAdmin(ReadOnlyAdmin):
    list_display = ("subject", "agency", "serial", "not_after", "source", "active", "revoked_at")
    list_filter = ("source", "active")
    search_fields = ("subject", "serial", "fingerprint_sha256")
