"""Reads of the documents app: a person's data store, what they may reuse for a new dossier, what
officials have to confirm."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from hcmgov.common.errors import NotFound
from hcmgov.documents.models import Certification, CertificationKind, Component, ComponentState, Result
from hcmgov.identity import selectors as identity


def store_of(*, owner_ids: list[int]) -> list[Component]:
    """The data store of these owners (a person, or the businesses they represent): everything not
    revoked, newest first, each with its content's facts and, for results, the result."""
    return list(
        Component.objects.filter(owner_id__in=owner_ids)
        .exclude(state=ComponentState.REVOKED)
        .select_related("blob", "agency", "result")
        .order_by("-created_at", "-id")
    )


def components_reusable(
    *, owner_ids: list[int], doc_types: set[str], today: dt.date | None = None
) -> dict[str, list[Component]]:
    """Confirmed, unexpired components of these owners for each of ``doc_types`` (newest first)."""
    today = today or timezone.localdate()
    found: dict[str, list[Component]] = {code: [] for code in doc_types}
    rows = (
        Component.objects.filter(owner_id__in=owner_ids, state=ComponentState.CONFIRMED, doc_type__in=doc_types)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .select_related("blob")
        .order_by("-created_at", "-id")
    )
    for component in rows:
        found[component.doc_type].append(component)
    return found


def component_visible(*, user: Any, code: str) -> Component:
    """A component ``user`` may open: its owner (or one acting for the owner), or an official of
    the agency that digitised or issued it. NotFound otherwise (its existence is not revealed)."""
    component = Component.objects.select_related("blob", "agency").filter(code=code).first()
    if component is not None and user.is_authenticated:
        if identity.user_acts_for(user=user, applicant_id=component.owner_id):
            return component
        agency_ids = identity.user_agency_ids(user=user)
        if component.agency_id is not None and component.agency_id in agency_ids:
            return component
    raise NotFound("giấy tờ", "Document")


def components_pending(*, agency_ids: list[int], limit: int = 200) -> list[Component]:
    """Components digitised at these agencies and waiting for an official's confirmation, oldest first."""
    return list(
        Component.objects.filter(agency_id__in=agency_ids, state=ComponentState.PENDING)
        .select_related("blob", "owner")
        .order_by("created_at", "id")[:limit]
    )


def component_of_dossier(*, dossier_code: str) -> list[Component]:
    """Components digitised from one dossier (to show which of its documents already are)."""
    return list(Component.objects.filter(source_dossier_code=dossier_code).order_by("created_at", "id"))


def results_of_dossier(*, dossier_id: int) -> list[Result]:
    return list(
        Result.objects.filter(dossier_id=dossier_id).select_related("component", "agency").order_by("signed_at")
    )


def signing_certificate(*, agency_id: int, now: dt.datetime | None = None) -> Any:
    """The agency's signing certificate in force (``results.certificate_for``), for other apps that
    sign in the agency's name (the electronic office)."""
    from hcmgov.documents.results import certificate_for

    return certificate_for(agency_id=agency_id, now=now)


def warehouse_results(*, codes: list[str]) -> dict[str, tuple[bool, bool]]:
    """For the analytics warehouse (Decision 766/QĐ-TTg, 4.1 and 4.5): for each of the dossiers
    ``codes``, (an electronic result in force — issued, not revoked; that result kept in the
    applicant's data store — its component not revoked)."""
    found = dict.fromkeys(codes, (False, False))
    rows = Result.objects.filter(dossier_code__in=codes, revoked_at__isnull=True).values_list(
        "dossier_code", "component__state"
    )
    for code, state in rows:
        found[code] = (True, found[code][1] or state != ComponentState.REVOKED)
    return found


def warehouse_results_changed(*, since: dt.datetime) -> set[str]:
    """The codes of the dossiers a result of which was issued, revoked or changed in the data store
    at or after ``since``."""
    changed = Q(signed_at__gte=since) | Q(revoked_at__gte=since) | Q(component__updated_at__gte=since)
    return set(Result.objects.filter(changed).values_list("dossier_code", flat=True).distinct())


# --- the certification book (documents.certification) ----------------------------------------------


def certifications_of(*, agency_ids: list[int], year: int | None = None, kind: str = "") -> QuerySet[Certification]:
    """The entries of these agencies' certification books, newest first (a year's, a kind's)."""
    qs = Certification.objects.filter(agency_id__in=agency_ids).select_related("agency", "official")
    if year:
        qs = qs.filter(year=year)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-year", "-number")


def certification_visible(*, user: Any, pk: int) -> Certification:
    """An entry ``user`` may open: an official of the agency whose book it is. NotFound otherwise."""
    found = (
        Certification.objects.select_related("agency", "official", "signed", "original", "certificate")
        .filter(pk=pk, agency_id__in=identity.user_agency_ids(user=user))
        .first()
    )
    if found is None:
        raise NotFound("chứng thực", "Certification")
    return found


def certification_figures_by_agency_month() -> list[dict[str, Any]]:
    """For the service-quality index (Decision 766/QĐ-TTg, 4.3): per agency (with its unit) and city
    month certified, the certifications and the electronic ones among them."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    rows = (
        Certification.objects.annotate(month=TruncMonth("certified_at", tzinfo=timezone.get_default_timezone()))
        .values("agency__code", "agency__unit__code", "month")
        .annotate(total=Count("id"), electronic=Count("id", filter=Q(kind=CertificationKind.ELECTRONIC)))
        .order_by()
    )
    return [
        {
            "agency_code": r["agency__code"],
            "unit_code": r["agency__unit__code"] or "",
            "month": f"{r['month']:%Y-%m}",
            "total": r["total"],
            "electronic": r["electronic"],
        }
        for r in rows
    ]


def certification_by_signed(*, sha256: str) -> Certification | None:
    """The electronic certification whose signed copy has this SHA-256 (the verification path)."""
    return Certification.objects.select_related("agency").filter(signed_sha256=sha256).first()


def warehouse_components_digitised(*, codes: list[str]) -> dict[str, bool]:
    """For the analytics warehouse (Decision 766/QĐ-TTg, 4.2): for each of the dossiers ``codes``,
    every component of it held electronically — uploaded, reused, or scanned at the desk
    (``desk.warehouse_components_digitised``, where the rule is written)."""
    from hcmgov.documents import desk

    return desk.warehouse_components_digitised(codes=codes)


def warehouse_digitised_changed(*, since: dt.datetime) -> set[str]:
    """The codes of the dossiers a desk scan of which changed at or after ``since``."""
    from hcmgov.documents import desk

    return desk.warehouse_digitised_changed(since=since)
