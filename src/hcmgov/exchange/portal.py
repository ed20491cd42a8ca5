"""The connector to the National Public Service Portal (Cổng Dịch vụ công quốc gia): the city's
dossiers' status changes pushed in the national format (Decree 61/2018/NĐ-CP Art. 13 and Decree
107/2021/NĐ-CP: provinces sync their dossiers with the portal; "dossiers synced to the national
portal" is an indicator of the service-quality index, Decision 766/QĐ-TTg), the national procedure
catalogue pulled (``portal_catalog``), and a reconciliation of what the portal holds.

Status changes go through the outbox (``portal_handlers``) into :class:`PortalPush` rows, one per
entry of a dossier's history, numbered per dossier, and one more when a fee is paid without a
change of status (the portal's payment flags, same status); :func:`portal_push_send` sends them in
order per dossier with back-off, and an operator may send dead ones again
(:func:`portal_push_requeue`). A portal that is down, slow or answers garbage costs one call per tick,
never a user's request: nothing here runs inside one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, F
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.errors import DomainError, Message
from hcmgov.dossiers import selectors as dossiers
from hcmgov.dossiers import selectors_batch as dossiers_batch
from hcmgov.exchange.adapters import portal as api
from hcmgov.exchange.models import PortalPush, PortalPushState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 15  # 30 s doubling, capped at 6 h: about two days of trying
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=6)
BATCH = 400  # changes read per run
CONCURRENCY = 4  # dossiers sent side by side (each one's changes in order); a polite load on the portal
FLAGS = ("fee_required", "fee_paid", "fee_paid_online")
ENTRY = "_entry"  # our bookkeeping in a payload (the history entry it carries), never sent


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
    paid = dossier.fee_paid_at is not None and dossier.fee_paid_at <= at
    return {
        "dossier_code": dossier.code,
        "procedure_code": dossier.procedure_code,
        "agency_code": dossier.agency_code,
        "status": int(status),
        "channel": int(dossier.channel),
        "received_at": _until(dossier.received_at, at),
        "appointment_at": _appointment(dossier, at),
        "finished_at": _until(dossier.finished_at, at),
        "result_url": result_url,
        "fee_required": bool(dossier.fee_required),
        "fee_paid": paid,
        "fee_paid_online": paid and bool(dossier.fee_paid_online),
        "changed_at": at.isoformat(),
        "sequence": sequence,
    }


def _entry(sequence: int, payload: dict[str, Any]) -> int | None:
    """The number of the history entry a row carries (None: a payment row). Rows queued before
    payment rows existed carry none: there, the sequence was the entry's number."""
    return payload.get(ENTRY, sequence)


def _flags(payload: dict[str, Any]) -> tuple[bool, ...]:
    return tuple(bool(payload.get(name)) for name in FLAGS)


def wire(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the portal gets it: the national fields, not our bookkeeping."""
    return {name: value for name, value in payload.items() if not name.startswith("_")}


def portal_push_record(*, dossier_id: int, now: dt.datetime | None = None) -> int:
    """Queue every entry of the dossier's history not queued yet, numbered after the dossier's
    last queued change, in the history's order; then, when the dossier's payment flags now differ
    from those of its last queued change (a fee paid without a change of status: paid before the
    dossier was held for it), one more change carrying the current status with the new flags.
    Returns how many were queued. Idempotent (the outbox delivers at least once: a second
    delivery finds nothing new), and a late delivery still queues each change with the status
    and flags it had. Nothing is queued while the connector is off. ``ObjectDoesNotExist`` when
    the dossier is gone.

    The dossier's queued rows are locked first, so two workers recording the same dossier take
    turns; two first recordings at once that would number different changes alike collide on the
    (dossier, sequence) constraint and the outbox tries the event again."""
    if not portal_enabled():
        return 0
    return _record([dossier_id], now or timezone.now(), missing_ok=False)


def portal_push_record_many(*, dossier_ids: list[int], now: dt.datetime | None = None) -> int:
    """``portal_push_record`` of each of ``dossier_ids`` (the dossiers of an outbox batch) in a
    fixed number of statements: their views, their queued rows (locked, in the order of their
    codes, so that two workers locking overlapping sets wait instead of deadlocking), one insert.
    Dossiers that are gone are skipped. Returns how many changes were queued."""
    if not portal_enabled() or not dossier_ids:
        return 0
    return _record(list(dict.fromkeys(dossier_ids)), now or timezone.now(), missing_ok=True)


def _record(dossier_ids: list[int], now: dt.datetime, *, missing_ok: bool) -> int:
    views = dossiers_batch.dossier_status_views(dossier_ids=dossier_ids)
    if not missing_ok and len(views) < len(dossier_ids):
        raise ObjectDoesNotExist(f"dossier {sorted(set(dossier_ids) - set(views))}")
    views = {pk: view for pk, view in views.items() if view.history}
    if not views:
        return 0
    known: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    mine = PortalPush.objects.filter(dossier_code__in=[view.code for view in views.values()])
    # one statement reads and locks them: wait for another recorder's commit
    for code, sequence, payload in (
        mine.order_by("dossier_code", "sequence").select_for_update().values_list("dossier_code", "sequence", "payload")
    ):
        known.setdefault(code, []).append((sequence, payload))
    rows: list[PortalPush] = []
    for view in sorted(views.values(), key=lambda view: view.code):
        rows.extend(_new_rows(view, known.get(view.code, []), now))
    PortalPush.objects.bulk_create(rows)
    return len(rows)


def _new_rows(dossier: Any, known: list[tuple[int, dict[str, Any]]], now: dt.datetime) -> list[PortalPush]:
    """The rows to queue for ``dossier`` (a status view with a history) given its rows ``known``
    (``(sequence, payload)`` in order of sequence): see ``portal_push_record``."""
    history = dossier.history
    queued = {_entry(sequence, payload) for sequence, payload in known}
    last_sequence, last = known[-1] if known else (0, None)
    rows: list[PortalPush] = []
    for number, (status_to, at) in enumerate(history, start=1):
        if number in queued:
            continue
        last_sequence += 1
        last = {**_payload(dossier, status_to, at, last_sequence), ENTRY: number}
        rows.append(PortalPush(dossier_code=dossier.code, sequence=last_sequence, payload=last, next_at=now))
    latest_status, latest_at = history[-1]
    # the flags as they stand now, dated at the payment (or the last change, if the payment was before it)
    at = max(latest_at, dossier.fee_paid_at or latest_at)
    current = _payload(dossier, latest_status, at, last_sequence + 1)
    if last is not None and _flags(current) != _flags(last):
        rows.append(
            PortalPush(
                dossier_code=dossier.code, sequence=last_sequence + 1, payload={**current, ENTRY: None}, next_at=now
            )
        )
    for row in rows:
        row.created_at = now
    return rows


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


def _chains(due: list[PortalPush]) -> list[list[PortalPush]]:
    """The due changes each dossier may send now, in order: those that follow on from its first
    pending one with none missing (an earlier change not yet due, or held by back-off, waits its
    turn with everything after it; a dead one no longer holds the rest back)."""
    codes = {row.dossier_code for row in due}
    pending: dict[str, list[int]] = {}
    for code, sequence in (
        PortalPush.objects.filter(dossier_code__in=codes, state=PortalPushState.PENDING)
        .order_by("dossier_code", "sequence")
        .values_list("dossier_code", "sequence")
    ):
        pending.setdefault(code, []).append(sequence)
    chains: dict[str, list[PortalPush]] = {}
    closed: set[str] = set()
    for row in due:  # ordered by dossier and sequence
        code = row.dossier_code
        if code in closed:
            continue
        chain = chains.setdefault(code, [])
        waiting = pending.get(code, [])
        if len(chain) < len(waiting) and waiting[len(chain)] == row.sequence:
            chain.append(row)
        else:
            closed.add(code)  # an earlier change is not due yet: the rest of this dossier waits
    return [chain for chain in chains.values() if chain]


def _send_chain(
    chain: list[PortalPush], conn: dict[str, Any], stop: threading.Event
) -> tuple[list[PortalPush], tuple[PortalPush, api.PortalError] | None]:
    """Send one dossier's changes in order until one fails (or the portal is found down by
    another thread); returns those sent and the failure, if any. No database access here."""
    sent: list[PortalPush] = []
    for row in chain:
        if stop.is_set():
            break
        try:
            api.status_post(payload=wire(row.payload), **conn)
        except api.PortalError as exc:
            if exc.portal_down:
                stop.set()
            return sent, (row, exc)
        sent.append(row)
    return sent, None


def portal_push_send(*, batch: int = BATCH, now: dt.datetime | None = None) -> PushReport:
    """Send the status changes that are due, in order per dossier: a dossier's change goes only
    when none of its earlier ones is still pending (a dead one no longer holds the rest back).
    A failure postpones the change with exponential back-off, up to ``MAX_ATTEMPTS`` (then dead,
    logged as an error); a change the portal refuses as invalid is dead at once. When the portal
    is down the run stops at its first failure: the first change is sent alone, so a portal that
    is down costs one call per run; the others keep their turn for the next tick.

    Dossiers are sent side by side (up to :data:`CONCURRENCY` at once, each dossier's changes one
    after the other in one thread): one at a time, the portal's round trip capped the sync far
    below a city's day. What was sent is recorded in one UPDATE at the end of the run; a worker
    killed before that sends those changes again, which the portal ignores (it keeps a (dossier,
    sequence) once). Several workers may run this at once for the same reason."""
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
    chains = _chains(due)
    if not chains:
        return report
    conn, stop = _conn(), threading.Event()
    # the first change alone: a portal that is down costs one call
    first_sent, first_failure = _send_chain(chains[0][:1], conn, stop)
    results = [(first_sent, first_failure)]
    if first_failure is None:
        rest = [chains[0][1:], *chains[1:]]
        rest = [chain for chain in rest if chain]
        if rest:
            with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(rest)), thread_name_prefix="portal") as pool:
                results += list(pool.map(lambda chain: _send_chain(chain, conn, stop), rest))
    sent = [row for done, _ in results for row in done]
    if sent:
        PortalPush.objects.filter(pk__in=[row.pk for row in sent]).update(
            state=PortalPushState.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
        )
        report.sent = len(sent)
    for _, failure in results:
        if failure is not None:
            row, exc = failure
            _failed(row, exc, now, report)
            report.portal_down = report.portal_down or exc.portal_down
    return report


@audited("exchange.portal_push_requeue", target="push", fields=("state", "attempts", "next_at", "last_error"))
def portal_push_requeue(*, push: PortalPush, actor: Any, now: dt.datetime | None = None) -> PortalPush:
    """An operator sends a dead status change again: pending, due now, its attempts counted from 0
    (a further :data:`MAX_ATTEMPTS` before it is dead again); the last error is kept, prefixed by
    who asked. One already pending is left as it is (a repeated request); a sent one is refused.
    The dossier's later changes may have gone meanwhile (a dead one holds nothing back): the
    portal then gets this one late, and keeps the dossier's latest by sequence."""
    locked = PortalPush.objects.select_for_update().get(pk=push.pk)
    if locked.state == PortalPushState.PENDING:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    if locked.state == PortalPushState.SENT:
        raise DomainError(
            "portal_push_sent",
            Message("Thay đổi trạng thái đã được gửi, không gửi lại.", "The status change was sent: not sent again."),
            409,
        )
    who = getattr(actor, "get_username", lambda: str(actor))()
    locked.state = PortalPushState.PENDING
    locked.attempts = 0
    locked.next_at = now or timezone.now()
    locked.last_error = f"Gửi lại theo yêu cầu của {who} / Sent again at the request of {who}. {locked.last_error}"[
        :2000
    ]
    locked.save(update_fields=["state", "attempts", "next_at", "last_error"])
    return locked


def portal_push_requeue_dead(*, actor: Any, dossier_codes: list[str] | None = None) -> int:
    """Send again every dead status change (of ``dossier_codes`` only, when given), each audited
    (:func:`portal_push_requeue`); returns how many. For after an outage longer than the
    back-off's two days, or a refusal the portal has since fixed."""
    dead = PortalPush.objects.filter(state=PortalPushState.DEAD).order_by("dossier_code", "sequence")
    if dossier_codes is not None:
        dead = dead.filter(dossier_code__in=dossier_codes)
    count = 0
    for push in dead.iterator():
        portal_push_requeue(push=push, actor=actor)
        count += 1
    return count


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
