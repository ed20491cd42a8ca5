"""Read-only admin of ratings and feedback: changes go through the services (audited), never here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hcmgov.feedback.models import Feedback, Rating


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rating)
class RatingAdmin(ReadOnly):
    list_display = ("dossier_code", "score", "agency", "rated_at")
    list_filter = ("score",)
    search_fields = ("dossier_code",)
    list_select_related = ("agency",)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnly):
    list_display = ("code", "agency", "state", "received_at", "due_at", "timeliness")
    list_filter = ("state", "category", "timeliness")
    search_fields = ("code", "dossier_code", "subject")
    list_select_related = ("agency",)
    exclude = ("secret",)  # the author's key to the lookup: not for administrators' eyes
