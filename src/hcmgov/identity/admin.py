"""Read-only admin of accounts: changes go through the services (audited), never here.

The personal ID is shown masked, in the list and on the account's page alike: an administrator
manages accounts and has no need of the number (the official handling a dossier sees it in full on
the dossier's page). Searching by the full number finds the account through its blind index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from hcmgov.common import crypto
from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.identity.models import User, personal_id_index


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ("username", "full_name", "kind", "personal_id_masked", "is_active", "date_joined")
    list_filter = ("kind", "is_active", "is_staff")
    search_fields = ("username", "full_name", "email", "tax_code")
    exclude = ("password", "personal_id", "personal_id_index")  # no hash, no full number, no index
    readonly_fields = ("personal_id_masked",)

    @admin.display(description="Số định danh cá nhân / Personal ID")
    def personal_id_masked(self, obj: User) -> str:
        return crypto.mask(obj.personal_id)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit() and len(term) == 12:  # a whole personal ID: only equality can be looked up
            found = found | queryset.filter(personal_id_index=personal_id_index(term))
        return found, may_have_duplicates
