"""Reads of the procedure catalogue."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from django.db.models import Q, QuerySet

from hcmgov.catalog import flows
from hcmgov.catalog.models import Procedure, ProcedureVersion, ProcessFlow
from hcmgov.common.errors import NotFound
from hcmgov.common.text import fold


def procedure_search(
    *, q: str = "", field: str = "", level: str = "", agency_kind: str = "", online_level: str = ""
) -> QuerySet[Procedure]:
    """Procedures matching words of ``q`` (with or without diacritics) and the filters."""
    qs = Procedure.objects.all()
    for word in fold(q).split():
        qs = qs.filter(Q(search_text__contains=word) | Q(code__startswith=word))
    if field:
        qs = qs.filter(field=field)
    if level:
        qs = qs.filter(level=level)
    if agency_kind:
        qs = qs.filter(agency_kind=agency_kind)
    if online_level:
        qs = qs.filter(online_level=online_level)
    return qs.order_by("level", "field", "code")


def procedure_fields() -> list[tuple[str, str]]:
    """The distinct fields (lĩnh vực) with their English names, for the search filter."""
    return list(Procedure.objects.values_list("field", "field_en").distinct().order_by("field"))


def procedure_get(*, code: str) -> Procedure:
    try:
        return Procedure.objects.get(code=code)
    except Procedure.DoesNotExist:
        raise NotFound("thủ tục hành chính", "Procedure") from None


def procedure_id_by_code(*, code: str) -> int | None:
    return Procedure.objects.filter(code=code).values_list("pk", flat=True).first()


def procedure_version_in_force(*, procedure: Procedure, day: dt.date) -> ProcedureVersion:
    """The version of ``procedure`` valid on ``day`` (the latest one if none covers the day)."""
    versions = procedure.versions.order_by("-valid_from")
    version = versions.filter(valid_from__lte=day).exclude(valid_to__lt=day).first() or versions.first()
    if version is None:
        raise NotFound("phiên bản thủ tục", "Procedure version")
    return version


def flow_latest(*, procedure_id: int) -> ProcessFlow | None:
    """The flow version new dossiers of the procedure start on (None: the procedure has no flow)."""
    return ProcessFlow.objects.filter(procedure_id=procedure_id).order_by("-version").first()


def flow_list(*, procedure_id: int) -> list[ProcessFlow]:
    return list(ProcessFlow.objects.filter(procedure_id=procedure_id).order_by("-version"))


def flow_spec(*, flow_id: int) -> flows.FlowSpec:
    """The parsed flow of a stored version. Versions never change, so the parse is kept per process."""
    return _flow_spec(flow_id)


@functools.lru_cache(maxsize=512)
def _flow_spec(flow_id: int) -> flows.FlowSpec:
    content = ProcessFlow.objects.values_list("bpmn", flat=True).get(pk=flow_id)
    return flows.flow_parse(content.encode("utf-8"))


def procedure_online_counts() -> list[dict[str, Any]]:
    """Per level (city, district, commune): procedures in the catalogue, those offered as a
    full-process online service and those offered partly online (Decree 42/2022/NĐ-CP, Art. 11), and
    those with a fee — for the plan's targets and the service-quality index (reporting)."""
    from django.db.models import Count

    from hcmgov.catalog.models import OnlineLevel

    rows = (
        Procedure.objects.values("level")
        .order_by("level")
        .annotate(
            total=Count("id"),
            full=Count("id", filter=Q(online_level=OnlineLevel.FULL)),
            partial=Count("id", filter=Q(online_level=OnlineLevel.PARTIAL)),
            with_fee=Count("id", filter=Q(has_fee=True)),
        )
    )
    return [dict(r) for r in rows]
