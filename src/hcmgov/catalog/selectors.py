"""Reads of the procedure catalogue."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from hcmgov.catalog import flows, publicity
from hcmgov.catalog.models import DeskPosting, Procedure, ProcedureVersion, ProcessFlow, Publication
from hcmgov.common.errors import NotFound
from hcmgov.common.text import fold
from hcmgov.core.workcalendar import WorkCalendar


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


# --- publicity (Decision 766/QĐ-TTg, indicators 1.1–1.3, 3.2) ---------------------------------------


@dataclass(frozen=True)
class VersionFacts:
    """A version's span and what it holds: every part to publish (``publicity.parts_held``), a fee."""

    id: int
    valid_from: dt.date
    valid_to: dt.date | None
    complete: bool
    missing: tuple[str, ...]
    fee: bool


@dataclass(frozen=True)
class PublicationFacts:
    """One publication decision with the index's judgement of it (None: not judged yet)."""

    decision_number: str
    decision_date: dt.date
    national_updated_on: dt.date | None
    published_on_time: bool | None
    updated_on_time: bool | None


@dataclass(frozen=True)
class ProcedureFacts:
    """What the index reads of one procedure: who carries it out, its versions, publications and
    desk postings (oldest first)."""

    code: str
    agency_kind: str
    agency_department: str
    versions: tuple[VersionFacts, ...]
    publications: tuple[PublicationFacts, ...]
    postings: tuple[tuple[dt.date, int], ...]  # (posted_on, version id)

    def version_on(self, day: dt.date) -> VersionFacts | None:
        """The version in force on ``day`` (None before the first)."""
        found = [v for v in self.versions if v.valid_from <= day and (v.valid_to is None or v.valid_to >= day)]
        return max(found, key=lambda v: v.valid_from) if found else None

    def posting_on(self, day: dt.date) -> int | None:
        """The version the desks show on ``day`` (its latest posting on or before); None: unknown."""
        found = [p for p in self.postings if p[0] <= day]
        return max(found)[1] if found else None


def procedure_publicity_facts(*, calendar: WorkCalendar | None = None) -> list[ProcedureFacts]:
    """Every procedure's publicity facts, read in four queries (the catalogue has hundreds of
    procedures, not millions): the service-quality index counts them per agency and period."""
    versions: dict[int, list[VersionFacts]] = {}
    for v in ProcedureVersion.objects.select_related("procedure").order_by("procedure_id", "valid_from"):
        held = publicity.parts_held(
            name=v.procedure.name, online_level=v.procedure.online_level, statutory_days=v.statutory_days,
            fees=v.fees, required_documents=v.required_documents, legal_basis=v.legal_basis, result=v.result,
            form_schema=v.form_schema, steps=v.steps, applicants=v.applicants,
        )  # fmt: skip
        missing = tuple(k for k, ok in held.items() if not ok)
        versions.setdefault(v.procedure_id, []).append(
            VersionFacts(v.pk, v.valid_from, v.valid_to, not missing, missing, publicity.has_positive_fee(v.fees))
        )
    publications: dict[int, list[PublicationFacts]] = {}
    for p in Publication.objects.order_by("procedure_id", "decision_date", "decision_number"):
        publications.setdefault(p.procedure_id, []).append(
            PublicationFacts(
                p.decision_number, p.decision_date, p.national_updated_on,
                publicity.published_on_time(
                    decision_date=p.decision_date, reference_date=p.reference_date, calendar=calendar
                ),
                publicity.updated_on_time(
                    decision_date=p.decision_date, national_updated_on=p.national_updated_on, calendar=calendar
                ),
            )
        )  # fmt: skip
    postings: dict[int, list[tuple[dt.date, int]]] = {}
    for procedure_id, posted_on, version_id in DeskPosting.objects.order_by("posted_on").values_list(
        "procedure_id", "posted_on", "version_id"
    ):
        postings.setdefault(procedure_id, []).append((posted_on, version_id))
    return [
        ProcedureFacts(
            p.code, p.agency_kind, p.agency_department, tuple(versions.get(p.pk, ())),
            tuple(publications.get(p.pk, ())), tuple(postings.get(p.pk, ())),
        )
        for p in Procedure.objects.order_by("code")
    ]  # fmt: skip


def publication_list(*, procedure_code: str) -> list[Publication]:
    return list(Publication.objects.filter(procedure__code=procedure_code).order_by("decision_date"))
