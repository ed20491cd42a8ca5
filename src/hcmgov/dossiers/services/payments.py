"""A dossier waiting for its fees (status 6, payment requested) and its release when they are paid.

The payments app owns the orders; it announces ``payment.requested`` (a fee due before
processing, or at the result) and ``payment.paid``, and the dossier follows (``dossiers.handlers``).
While the fee is awaited the dossier's steps wait and their holders are not charged for the wait:
the time belongs to the applicant, as with a supplement (a platform reading of Decree
61/2018/NĐ-CP, Art. 18, which stops the clock for what the applicant owes; the decree does not
name fees here). Before receipt no legal clock runs; at the result the dossier is already classed.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from hcmgov.audit.services import audit_record, audited, snapshot
from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers import clock
from hcmgov.dossiers.models import Dossier, DossierStep, Status, StepState
from hcmgov.dossiers.services.processing import AUDIT_FIELDS, TERMINAL, _event, _lock, _publish, _save

WAITABLE = {Status.NEW, Status.RECEIVED, Status.IN_PROGRESS, Status.FINISHED}


@audited("dossier.payment_request", target="dossier", fields=(*AUDIT_FIELDS, "fee_required"))
def dossier_payment_request(*, dossier: Dossier, amount: int, now: dt.datetime | None = None) -> Dossier:
    """Hold the dossier until its fee of ``amount`` đồng is paid (status 6). Idempotent; a dossier
    closed, or waiting for something else (a supplement), is left as it is."""
    now = now or timezone.now()
    locked = _lock(dossier)
    if locked.status == Status.PAYMENT_REQUESTED or locked.status in TERMINAL or locked.status not in WAITABLE:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    locked.fee_required = True
    locked.suspended_status = locked.status
    locked.suspended_at = now
    DossierStep.objects.filter(dossier=locked, state=StepState.OPEN).update(waiting=True)
    _event(
        locked,
        to=Status.PAYMENT_REQUESTED,
        now=now,
        actor="",
        note=f"Cần nộp phí, lệ phí {amount:,} đồng để tiếp tục.".replace(",", "."),
    )
    _save(locked, also=("fee_required",))
    _publish(locked, "dossier.payment_requested", amount=amount)
    return locked


SETTLE_AUDIT_FIELDS = (*AUDIT_FIELDS, "fee_paid_at", "fee_paid_online")


def dossier_payment_settle(
    *, dossier_id: int, online: bool, paid_at: dt.datetime, now: dt.datetime | None = None
) -> Dossier:
    """The fee is paid: record it, and release a dossier held for it (back to the status it had,
    its open steps' due moments moved by the working days they waited). Idempotent.

    The reaction to every online payment, so it reads only the dossier's row, locked, without its
    form and workflow state (it changes neither), and audits what it changed from that row."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):  # inside the outbox's delivery: its savepoint is enough
        locked = Dossier.objects.select_for_update().defer("form_data", "workflow_state").get(pk=dossier_id)
        before = snapshot(locked, SETTLE_AUDIT_FIELDS)
        first = locked.fee_paid_at is None
        if _settle(locked, first=first, online=online, paid_at=paid_at, now=now) or first:
            audit_record(
                action="dossier.payment_settle", obj=locked, before=before, after=snapshot(locked, SETTLE_AUDIT_FIELDS)
            )
    return locked


def _settle(locked: Dossier, *, first: bool, online: bool, paid_at: dt.datetime, now: dt.datetime) -> bool:
    """Record the payment on the locked dossier; True when it was waiting for it and is released."""
    locked.fee_required = True
    if first:
        locked.fee_paid_at = paid_at
        locked.fee_paid_online = online
    fields = ("fee_required", "fee_paid_at", "fee_paid_online", "updated_at")
    if locked.status != Status.PAYMENT_REQUESTED:
        locked.save(update_fields=fields)
        return False
    calendar = default_calendar()
    waited = clock.suspended_working_days(calendar, since=locked.suspended_at or now, until=now)
    for step in DossierStep.objects.filter(dossier=locked, state=StepState.OPEN):
        if waited:
            step.due_at = clock.step_due_after_suspension(calendar, due_at=step.due_at, days=waited)
            step.remind_at = clock.step_due_after_suspension(calendar, due_at=step.remind_at, days=waited)
        step.waiting = False
        step.save(update_fields=["due_at", "remind_at", "waiting"])
    resume_to = locked.suspended_status or Status.NEW
    if waited and resume_to in {Status.RECEIVED, Status.IN_PROGRESS}:  # the legal clock was running
        locked.due_at = clock.due_after_suspension(calendar, due_at=locked.due_at, days=waited)
        if locked.appointment_at is not None:
            locked.appointment_at = clock.due_after_suspension(calendar, due_at=locked.appointment_at, days=waited)
        locked.suspended_days += waited
    locked.suspended_at = None
    locked.suspended_status = None
    how = "trực tuyến" if online else "tại bộ phận một cửa"
    _event(locked, to=resume_to, now=now, actor="", note=f"Đã nộp phí, lệ phí ({how}).")
    _save(locked, also=fields)
    _publish(locked, "dossier.payment_settled")
    return True
