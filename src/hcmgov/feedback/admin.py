"""Read-only admin of ratings and feedback: changes go through the services (audited), never here."""

from __future__ import annotations

from django.contrib import admin

from hcmgov.common.admin_site import ReadOnlyAdmin
from hcmgov.feedback.models import Feedback, Rating


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdmin):
    list_display = ("dossier_code", "score", "agency", "rated_at")
    list_filter = ("score",)
    search_fields = ("dossier_code",)
    list_select_related = ("agency",)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ("code", "agency", "state", "received_at", "due_at", "timeliness")
    list_filter = ("state", "category", "timeliness")
    search_fields = ("code", "dossier_code", "subject")
    list_select_related = ("agency",)
    exclude = ("secret",)  # the author's key to the lookup: not for administrators' eyes
