"""The National Public Service Portal's procedure catalogue (the national database of
administrative procedures as the portal publishes it), pulled into :class:`PortalProcedure` with a
report of what was added, changed and removed there, and the city's catalogue brought in line with
it where the national side decides (``hcmgov.catalog.services.procedure_national_apply``)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.catalog import services as catalog_services
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.exchange.adapters import portal as api
from hcmgov.exchange.models import PortalProcedure
from hcmgov.exchange.portal import _conn, _unavailable, portal_enabled

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 1000
CATALOG_FIELDS = ("name", "level", "agency_level", "processing_days", "fees")


@dataclass
class CatalogReport:
    """What a catalogue sync found: procedures added to the national catalogue, changed there
    (``{"code", "fields": {name: [before, after]}}``), removed from it; and, for the city's own
    catalogue, what was brought in line with the national one (``applied``, same shape: the name,
    a shorter processing time; ``catalog.services.procedure_national_apply``), where it still
    differs for its editors to decide (``city_differences``: a longer national processing time,
    other fees; or the name too when nothing is applied), and which added ones the city does not
    offer (``not_in_city``; every national procedure stays in :class:`PortalProcedure`)."""

    added: list[str] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    city_differences: list[dict[str, Any]] = field(default_factory=list)
    not_in_city: list[str] = field(default_factory=list)
    total: int = 0


def _procedure(item: dict[str, Any]) -> dict[str, Any]:
    """One catalogue entry checked and reduced to the fields kept; ValueError when malformed."""
    name, days, fees = item.get("name"), item.get("processing_days"), item.get("fees") or []
    if not isinstance(name, str) or not name.strip():
        raise ValueError(item.get("code"))
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise ValueError(item.get("code"))
    if not isinstance(fees, list) or not all(isinstance(fee, dict) for fee in fees):
        raise ValueError(item.get("code"))
    return {
        "name": name.strip()[:400],
        "level": str(item.get("level") or "")[:16],
        "agency_level": str(item.get("agency_level") or "")[:16],
        "processing_days": days,
        "fees": [{"code": f.get("code", ""), "name": f.get("name", ""), "amount": f.get("amount")} for f in fees],
    }


def _catalog_fetch() -> dict[str, dict[str, Any]]:
    conn = _conn()
    found: dict[str, dict[str, Any]] = {}
    for page in range(1, MAX_PAGES + 1):
        answer = api.catalog_page(page=page, page_size=PAGE_SIZE, **conn)
        try:
            for item in answer["items"]:
                found[item["code"][:16]] = _procedure(item)
        except ValueError as exc:
            raise api.PortalError(
                f"Thủ tục {exc} sai định dạng / The procedure {exc} is malformed", status=200
            ) from exc
        total = answer.get("total")
        if len(answer["items"]) < PAGE_SIZE or (isinstance(total, int) and len(found) >= total):
            break
    return found


def _fees(fees: list[dict[str, Any]]) -> dict[str, Any]:
    """Fee lines compared by code and amount (names are worded differently without meaning it)."""
    return {str(fee.get("code") or ""): fee.get("amount") for fee in fees}


Fields = dict[str, list[Any]]  # {field: [before or the city's, after or the national]}


def _city(code: str, national: dict[str, Any], *, apply: bool, today: dt.date) -> tuple[Fields, Fields]:
    """What was applied to the city's procedure ``code`` and where it still differs (each
    ``{field: [city's, national]}``)."""
    procedure = catalog.procedure_get(code=code)
    applied: Fields = {}
    if apply:
        applied = catalog_services.procedure_national_apply(
            procedure=procedure, name=national["name"], processing_days=national["processing_days"], today=today
        )
    fields: Fields = {}
    if procedure.name != national["name"]:
        fields["name"] = [procedure.name, national["name"]]
    if national["processing_days"] is not None and procedure.statutory_days != national["processing_days"]:
        fields["processing_days"] = [procedure.statutory_days, national["processing_days"]]
    try:
        fees = catalog.procedure_version_in_force(procedure=procedure, day=today).fees
    except NotFound:  # a procedure without a version yet: no fees of the city's to compare
        fees = []
    if national["fees"] and _fees(fees) != _fees(national["fees"]):
        fields["fees"] = [_fees(fees), _fees(national["fees"])]
    return applied, fields


def portal_catalog_sync(*, apply: bool = True, now: dt.datetime | None = None) -> CatalogReport:
    """Pull the national procedure catalogue and keep it (:class:`PortalProcedure`), reporting
    what was added, changed and removed since the last sync; then bring the procedures the city
    offers in line with it where the national side decides (the name; a shorter processing time:
    ``catalog.services.procedure_national_apply``, audited) unless ``apply`` is False, and report
    what still differs for the catalogue's editors. Procedures the city does not offer are not
    created (a procedure needs its form, documents and flow, which the portal knows nothing of).
    A portal that cannot be read or answers malformed data changes nothing (``DomainError``
    ``portal_unavailable``; try again later)."""
    if not portal_enabled():
        raise DomainError(
            "portal_not_configured",
            Message("Chưa cấu hình Cổng Dịch vụ công quốc gia.", "The national portal is not configured."),
            409,
        )
    now = now or timezone.now()
    try:
        national = _catalog_fetch()
    except api.PortalError as exc:
        log.warning("portal: catalogue sync failed, will try again: %s", exc)
        raise _unavailable(exc) from exc
    report = CatalogReport(total=len(national))
    with transaction.atomic():
        kept = {p.code: p for p in PortalProcedure.objects.select_for_update()}
        for code, values in sorted(national.items()):
            known = kept.get(code)
            if known is None or known.removed_at is not None:
                report.added.append(code)
                PortalProcedure.objects.update_or_create(
                    code=code, defaults={**values, "synced_at": now, "removed_at": None}
                )
                continue
            changes = {f: [getattr(known, f), values[f]] for f in CATALOG_FIELDS if getattr(known, f) != values[f]}
            if changes:
                report.changed.append({"code": code, "fields": changes})
            PortalProcedure.objects.filter(pk=known.pk).update(**values, synced_at=now)
        for code, known in sorted(kept.items()):
            if code not in national and known.removed_at is None:
                report.removed.append(code)
                PortalProcedure.objects.filter(pk=known.pk).update(removed_at=now)
    for code, values in sorted(national.items()):
        if catalog.procedure_id_by_code(code=code) is None:
            if code in report.added:
                report.not_in_city.append(code)
            continue
        applied, differences = _city(code, values, apply=apply, today=timezone.localdate(now))
        if applied:
            report.applied.append({"code": code, "fields": applied})
        if differences:
            report.city_differences.append({"code": code, "fields": differences})
    return report
