"""The connector to the National Public Service Portal (Cổng Dịch vụ công quốc gia): the city's
dossiers' status changes pushed in the national format (Decree 61/2018/NĐ-CP Art. 13 and Decree
107/2021/NĐ-CP: provinces sync their dossiers with the portal; "dossiers synced to the national
portal" is an indicator of the service-quality index, Decision 766/QĐ-TTg), the national procedure
catalogue pulled, and a reconciliation of what the portal holds.

Status changes go through the outbox (``portal_handlers``) into :class:`PortalPush` rows, one per
entry of a dossier's history, numbered per dossier; :func:`portal_push_send` sends them in order
per dossier with back-off. A portal that is down, slow or answers garbage costs one call per tick,
never a user's request: nothing here runs inside one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.common.errors import DomainError, Message
from hcmgov.dossiers import selectors as dossiers
from hcmgov.exchange.adapters import portal as api
from hcmgov.exchange.models import PortalProcedure, PortalPush, PortalPushState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 15  # 30 s doubling, capped at 6 h: about two days of trying
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=6)
PAGE_SIZE = 100
MAX_PAGES = 1000
CATALOG_FIELDS = ("name", "level", "agency_level", "processing_days", "fees")


def portal_enabled() -> bool:
    """The connector is on when the portal's URL is configured (``HCMGOV_PORTAL_URL``)."""
    return bool(settings.HCMGOV_PORTAL_URL)


def _conn() -> dict[str, Any]:
    return {
        "base_url": settings.HCMGOV_PORTAL_URL,
        "token": settings.HCMGOV_PORTAL_TOKEN,
        "timeout": float(settings.HCMGOV_PORTAL_TIMEOUT),
    }


def _unavailable(exc: api.PortalError) -> DomainError:
    return DomainError(
        "portal_unavailable",
        Message(f"Cổng Dịch vụ công quốc gia chưa trả lời được: {exc}", f"The national portal did not answer: {exc}"),
        503,
    )


# --- status push ---------------------------------------------------------------------------------


def _until(value: dt.datetime | None, at: dt.datetime) -> str | None:
    """A date of the dossier as it stood at ``at``: one that had not happened yet is left out."""
    return value.isoformat() if value is not None and value <= at else None


def _appointment(dossier: Any, at: dt.datetime) -> str | None:
    """The appointment for the result (a date ahead), once the dossier was received at ``at``."""
    if dossier.received_at is None or dossier.received_at > at:
        return None
    appointment = dossier.appointment_at or dossier.due_at
    return appointment.isoformat() if appointment is not None else None


def _payload(dossier: Any, status: int, at: dt.datetime, sequence: int) -> dict[str, Any]:
    """One status change in the national format (field names: see ``simulators.portal``)."""
    result_url = ""
    if status in (9, 10):
        result_url = f"{settings.PUBLIC_URL.rstrip('/')}/tra-cuu/?code={dossier.code}"
    return {
        "dossier_code": dossier.code,
        "procedure_code": dossier.procedure.code,
        "agency_code": dossier.agency.code,
        "status": int(status),
        "channel": int(dossier.channel),
        "received_at": _until(dossier.received_at, at),
        "appointment_at": _appointment(dossier, at),
        "finished_at": _until(dossier.finished_at, at),
        "result_url": result_url,
        "fee_required": bool(dossier.fee_required),
        "fee_paid": dossier.fee_paid_at is not None and dossier.fee_paid_at <= at,
        "fee_paid_online": bool(dossier.fee_paid_online) and dossier.fee_paid_at is not None,
        "changed_at": at.isoformat(),
        "sequence": sequence,
    }


def portal_push_record(*, dossier_id: int, now: dt.datetime | None = None) -> int:
    """Queue every entry of the dossier's history not queued yet, numbered from 1 in the history's
    order; returns how many were queued. Idempotent (the outbox delivers at least once), and a
    late delivery still queues each change with the status it had. Nothing is queued while the
    connector is off."""
    if not portal_enabled():
        return 0
    now = now or timezone.now()
    dossier = dossiers.dossier_by_id(dossier_id=dossier_id)
    history = dossiers.dossier_events(dossier=dossier)
    known = set(PortalPush.objects.filter(dossier_code=dossier.code).values_list("sequence", flat=True))
    rows = [
        PortalPush(
            dossier_code=dossier.code,
            sequence=number,
            payload=_payload(dossier, entry.status_to, entry.at, number),
            next_at=now,
            created_at=now,
        )
        for number, entry in enumerate(history, start=1)
        if number not in known
    ]
    PortalPush.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@dataclass
class PushReport:
    """What one run of :func:`portal_push_send` did."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    portal_down: bool = False


def _backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def _failed(row: PortalPush, exc: api.PortalError, now: dt.datetime, report: PushReport) -> None:
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": str(exc)[:2000]}
    if not exc.retry or attempts >= MAX_ATTEMPTS:
        values["state"] = PortalPushState.DEAD
        report.dead += 1
        log.error(
            "portal: status change %s#%s not delivered after %s attempts: %s",
            row.dossier_code,
            row.sequence,
            attempts,
            exc,
        )
    else:
        values["next_at"] = now + _backoff(attempts)
        report.failed += 1
    PortalPush.objects.filter(pk=row.pk).update(**values)


def portal_push_send(*, batch: int = 100, now: dt.datetime | None = None) -> PushReport:
    """Send the status changes that are due, in order per dossier: a dossier's change goes only
    when none of its earlier ones is still pending (a dead one no longer holds the rest back).
    A failure postpones the change with exponential back-off, up to ``MAX_ATTEMPTS`` (then dead,
    logged as an error); a change the portal refuses as invalid is dead at once. When the portal
    is down the run stops at its first failure: the others keep their turn for the next tick.

    Several workers may run this at once: each sends a dossier's changes in order and the portal
    ignores a (dossier, sequence) it already has, so the order and the once-only hold."""
    report = PushReport()
    if not portal_enabled():
        return report
    now = now or timezone.now()
    due = list(
        PortalPush.objects.filter(state=PortalPushState.PENDING, next_at__lte=now).order_by("dossier_code", "sequence")[
            :batch
        ]
    )
    if not due:
        return report
    codes = {row.dossier_code for row in due}
    pending: dict[str, list[int]] = {}
    for code, sequence in (
        PortalPush.objects.filter(dossier_code__in=codes, state=PortalPushState.PENDING)
        .order_by("dossier_code", "sequence")
        .values_list("dossier_code", "sequence")
    ):
        pending.setdefault(code, []).append(sequence)
    conn = _conn()
    blocked: set[str] = set()
    for row in due:
        waiting = pending.get(row.dossier_code, [])
        if row.dossier_code in blocked or not waiting or waiting[0] != row.sequence:
            blocked.add(row.dossier_code)  # an earlier change of this dossier waits its turn
            continue
        try:
            api.status_post(payload=row.payload, **conn)
        except api.PortalError as exc:
            _failed(row, exc, now, report)
            if exc.portal_down:
                report.portal_down = True
                break
            blocked.add(row.dossier_code)
            continue
        PortalPush.objects.filter(pk=row.pk).update(
            state=PortalPushState.SENT, sent_at=timezone.now(), attempts=row.attempts + 1, last_error=""
        )
        waiting.pop(0)
        report.sent += 1
    return report


# --- the national procedure catalogue ------------------------------------------------------------


@dataclass
class CatalogReport:
    """What a catalogue sync found: procedures added to the national catalogue, changed there
    (``{"code", "fields": {name: [before, after]}}``), removed from it; and, for the city's own
    catalogue, where a national procedure's name or processing time differs from the city's
    (``city_differences``) and which added ones the city does not offer (``not_in_city``)."""

    added: list[str] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
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


def _city_differences(code: str, national: dict[str, Any]) -> dict[str, Any] | None:
    procedure = catalog.procedure_get(code=code)
    fields: dict[str, list[Any]] = {}
    if procedure.name != national["name"]:
        fields["name"] = [procedure.name, national["name"]]
    if national["processing_days"] is not None and procedure.statutory_days != national["processing_days"]:
        fields["processing_days"] = [procedure.statutory_days, national["processing_days"]]
    return {"code": code, "fields": fields} if fields else None


def portal_catalog_sync(*, now: dt.datetime | None = None) -> CatalogReport:
    """Pull the national procedure catalogue and keep it (:class:`PortalProcedure`), reporting
    what was added, changed and removed since the last sync. The city's own catalogue is not
    rewritten (its procedures carry forms and flows the portal knows nothing of): the report
    lists where it differs, for the catalogue's editors. A portal that cannot be read or answers
    malformed data changes nothing (``DomainError`` ``portal_unavailable``; try again later)."""
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
        difference = _city_differences(code, values)
        if difference:
            report.city_differences.append(difference)
    return report


# --- reconciliation ------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    """Our dossiers against the portal's records: ``missing`` (ours, unknown there), ``different``
    (``{"code", "ours", "theirs"}`` statuses), ``unknown`` (theirs, not ours), ``in_flight`` (a
    change still queued: not counted as a difference)."""

    missing: list[str] = field(default_factory=list)
    different: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    checked: int = 0


def portal_reconcile(*, since: dt.datetime) -> ReconcileReport:
    """Compare the dossiers changed since ``since`` (ours, and those the portal lists) with what
    the portal holds. Raises ``DomainError`` ``portal_unavailable`` when the portal cannot be read."""
    if not portal_enabled():
        raise DomainError(
            "portal_not_configured",
            Message("Chưa cấu hình Cổng Dịch vụ công quốc gia.", "The national portal is not configured."),
            409,
        )
    conn = _conn()
    try:
        theirs = {i["dossier_code"]: i["status"] for i in api.dossiers_since(since=since.isoformat(), **conn)}
    except api.PortalError as exc:
        raise _unavailable(exc) from exc
    ours = dossiers.dossier_statuses(since=since, codes=sorted(theirs))
    queued = set(
        PortalPush.objects.filter(dossier_code__in=list(ours), state=PortalPushState.PENDING)
        .values_list("dossier_code", flat=True)
        .distinct()
    )
    report = ReconcileReport(checked=len(set(ours) | set(theirs)))
    for code in sorted(set(ours) | set(theirs)):
        if code not in ours:
            report.unknown.append(code)
            continue
        if code in queued:
            report.in_flight.append(code)
            continue
        status = theirs.get(code)
        if status is None:  # not changed there since ``since``: ask for the record itself
            try:
                held = api.dossier_get(code=code, **conn)
            except api.PortalError as exc:
                raise _unavailable(exc) from exc
            if held is None or not isinstance(held.get("latest"), dict):
                report.missing.append(code)
                continue
            status = held["latest"].get("status")
        if status != ours[code]:
            report.different.append({"code": code, "ours": ours[code], "theirs": status})
    return report


def portal_push_stats() -> dict[str, int]:
    """How many status changes are pending, sent, dead (for the command and the operators)."""
    counts = dict(PortalPush.objects.order_by().values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in PortalPushState.values}
