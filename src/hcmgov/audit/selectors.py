"""Reads of the audit trail."""

from __future__ import annotations

from django.db.models import QuerySet

from hcmgov.audit.models import AuditEvent


def audit_events_for(*, object_type: str, object_id: str) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type, object_id=object_id).order_by("id")
