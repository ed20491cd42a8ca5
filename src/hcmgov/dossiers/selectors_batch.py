"""Reads of many dossiers at once, for the outbox's batch handlers (``core.services.
event_subscribe_batch``): the same views as ``selectors.dossier_status_view`` and
``selectors.dossier_for_notice``, for every dossier of a claimed batch in a fixed number of
queries instead of a few per event. A module of its own beside ``selectors.py`` (already the
longest of the app's files); the views are the same classes."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from hcmgov.dossiers.models import Dossier, DossierEvent
from hcmgov.dossiers.selectors import STATUS_VIEW_COLUMNS, StatusView

_STATUS_VIEW_NAMES = [c.replace("__", "_") for c in STATUS_VIEW_COLUMNS]  # procedure__code → procedure_code


def dossier_status_views(*, dossier_ids: list[int]) -> dict[int, StatusView]:
    """``dossier_status_view`` of each of ``dossier_ids`` in two queries: ``{dossier id: view}``;
    a dossier that is gone is left out."""
    rows = Dossier.objects.filter(pk__in=dossier_ids).values_list(*STATUS_VIEW_COLUMNS)
    history: dict[int, list[tuple[int, object]]] = {}
    events = DossierEvent.objects.filter(dossier_id__in=dossier_ids).order_by("dossier_id", "at", "id")
    for dossier_id, status_to, at in events.values_list("dossier_id", "status_to", "at"):
        history.setdefault(dossier_id, []).append((status_to, at))
    views: dict[int, StatusView] = {}
    for row in rows:
        values = dict(zip(_STATUS_VIEW_NAMES, row, strict=True))
        views[row[0]] = StatusView(**values, history=tuple(history.get(row[0], ())))  # type: ignore[arg-type]
    return views


def dossiers_for_notice(*, dossier_ids: list[int]) -> dict[int, tuple[Dossier, str]]:
    """``dossier_for_notice`` of each of ``dossier_ids`` in one query (the latest note a
    subquery): ``{dossier id: (dossier, note)}``; a dossier that is gone is left out."""
    latest_note = DossierEvent.objects.filter(dossier_id=OuterRef("pk")).order_by("-at", "-id").values("note")[:1]
    dossiers = (
        Dossier.objects.filter(pk__in=dossier_ids)
        .select_related("procedure", "agency", "applicant")
        .defer("form_data", "workflow_state", "procedure__search_text")
        .annotate(latest_note=Subquery(latest_note))
    )
    return {d.pk: (d, d.latest_note or "") for d in dossiers}


def dossiers_by_ids(*, dossier_ids: list[int]) -> dict[int, Dossier]:
    """``selectors.dossier_by_id`` of each of ``dossier_ids`` (with its procedure version too) in
    one query: ``{dossier id: dossier}``; a dossier that is gone is left out."""
    dossiers = Dossier.objects.filter(pk__in=dossier_ids).select_related(
        "procedure", "procedure_version", "agency", "applicant"
    )
    return {d.pk: d for d in dossiers}
