"""Reads of application drafts."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from hcmgov.drafts.models import ApplicationDraft


def draft_get(*, user: Any, procedure_code: str) -> ApplicationDraft | None:
    """The person's draft for this procedure, if they saved one."""
    if not getattr(user, "is_authenticated", False):
        return None
    return ApplicationDraft.objects.filter(user=user, procedure__code=procedure_code).first()


def draft_list(*, user: Any) -> QuerySet[ApplicationDraft]:
    """The person's drafts, the last saved first, with their procedure (one query)."""
    return ApplicationDraft.objects.filter(user=user).select_related("procedure")
