"""Supplements: the request (Form 02) that stops the legal clock, and the applicant's answer that
starts it again (Decree 61/2018/NĐ-CP, Art. 18; Decision 766/QĐ-TTg)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.errors import DomainError, Message
from hcmgov.core.workcalendar import default_calendar
from hcmgov.documents import services as store
from hcmgov.dossiers import clock
from hcmgov.dossiers.files import CONTENT_TYPE, Attachment
from hcmgov.dossiers.models import (
    Dossier,
    DossierDocument,
    DossierStep,
    Status,
    StepState,
    SupplementRequest,
)
from hcmgov.dossiers.services.processing import (
    AUDIT_FIELDS,
    _check_holder,
    _check_running,
    _event,
    _label,
    _lock,
    _open_step,
    _publish,
    _refuse,
    _save,
)
from hcmgov.dossiers.services.submission import attachment_problems
from hcmgov.identity import selectors as identity

# --- supplements ----------------------------------------------------------------------------------


@audited("dossier.request_supplement", target="dossier", fields=AUDIT_FIELDS)
def dossier_request_supplement(
    *,
    dossier: Dossier,
    official: Any,
    step_id: int,
    items: list[dict[str, str]],
    note: str = "",
    now: dt.datetime | None = None,
) -> Dossier:
    """Ask the applicant to supplement the dossier (Form 02), listing what and why. After receipt
    the legal clock stops until the applicant answers; each such request is counted (more than one
    makes the dossier late in the statistics, Decision 766/QĐ-TTg)."""
    now = now or timezone.now()
    cleaned = [
        {"document": (i.get("document") or "").strip()[:300], "reason": (i.get("reason") or "").strip()[:1000]}
        for i in items
        if (i.get("document") or "").strip()
    ]
    if not cleaned:
        raise _refuse(
            "items_required",
            "Vui lòng nêu giấy tờ, nội dung cần bổ sung.",
            "Please list what is to be supplemented.",
            400,
            "items",
        )
    if any("\x00" in i["document"] + i["reason"] for i in cleaned) or "\x00" in note:
        raise _refuse("invalid_character", "Nội dung có ký tự không hợp lệ.", "The text has an invalid character.", 400)
    locked = _lock(dossier)
    step = _open_step(locked, step_id)
    _check_holder(step, official)
    _check_running(locked)
    counts = locked.status != Status.NEW  # at the desk, before receipt, no clock runs yet
    SupplementRequest.objects.create(
        dossier=locked,
        step=step,
        requested_at=now,
        requested_by=official,
        requested_by_label=_label(official),
        items=cleaned,
        note=note.strip()[:4000],
        counts=counts,
    )
    locked.suspended_status = locked.status
    locked.suspended_at = now
    DossierStep.objects.filter(dossier=locked, state=StepState.OPEN).update(waiting=True)
    if counts:
        locked.supplement_count += 1
    summary = "; ".join(i["document"] for i in cleaned)
    _event(locked, to=Status.SUPPLEMENT_REQUESTED, now=now, actor=_label(official), note=f"Cần bổ sung: {summary}")
    _save(locked)
    _publish(locked, "dossier.supplement_requested")
    return locked


def dossier_supplement(
    *,
    dossier: Dossier,
    applicant: Any,
    note: str = "",
    attachments: Iterable[Attachment] = (),
    now: dt.datetime | None = None,
) -> Dossier:
    """The applicant answers a supplement request (online), with the documents asked for. The
    clock starts again and the due moments of the dossier and of its open steps move by exactly
    the working days it stood still. Files are checked before anything is written (and kept as
    draft blobs); the answer and its documents commit together or not at all."""
    now = now or timezone.now()
    attachments = list(attachments)
    problems = attachment_problems(attachments)
    if problems:
        raise DomainError(
            "invalid_supplement",
            Message("Tệp bổ sung chưa hợp lệ.", "A supplementary file is not valid."),
            422,
            errors=problems,
        )
    if "\x00" in note:
        raise _refuse("invalid_character", "Nội dung có ký tự không hợp lệ.", "The text has an invalid character.", 400)
    if not identity.user_acts_for(user=applicant, applicant_id=dossier.applicant_id):
        raise _refuse("forbidden", "Đây không phải hồ sơ của bạn.", "This is not your dossier.", 403)
    return _supplement(dossier=dossier, applicant=applicant, note=note, attachments=attachments, now=now)


@audited("dossier.supplement", target="dossier", fields=AUDIT_FIELDS)
def _supplement(
    *, dossier: Dossier, applicant: Any, note: str, attachments: list[Attachment], now: dt.datetime
) -> Dossier:
    locked = _lock(dossier)
    if not identity.user_acts_for(user=applicant, applicant_id=locked.applicant_id):
        raise _refuse("forbidden", "Đây không phải hồ sơ của bạn.", "This is not your dossier.", 403)
    request = SupplementRequest.objects.filter(dossier=locked, answered_at=None).order_by("-requested_at").first()
    if locked.status != Status.SUPPLEMENT_REQUESTED or request is None or locked.suspended_at is None:
        raise _refuse(
            "no_supplement_requested",
            "Hồ sơ không có yêu cầu bổ sung nào đang chờ.",
            "No supplement is awaited for this dossier.",
        )
    calendar = default_calendar()
    waited = clock.suspended_working_days(calendar, since=locked.suspended_at, until=now)
    days = waited if request.counts else 0  # before receipt no legal clock ran: the dossier's due stays
    if days:
        locked.due_at = clock.due_after_suspension(calendar, due_at=locked.due_at, days=days)
        if locked.appointment_at is not None:
            locked.appointment_at = clock.due_after_suspension(calendar, due_at=locked.appointment_at, days=days)
    if waited:  # the step's holder is never charged for the applicant's wait, before receipt or after
        for step in DossierStep.objects.filter(dossier=locked, state=StepState.OPEN):
            step.due_at = clock.step_due_after_suspension(calendar, due_at=step.due_at, days=waited)
            step.remind_at = clock.step_due_after_suspension(calendar, due_at=step.remind_at, days=waited)
            step.save(update_fields=["due_at", "remind_at"])
    DossierStep.objects.filter(dossier=locked, state=StepState.OPEN).update(waiting=False)
    DossierDocument.objects.bulk_create(_rows(locked, attachments))
    request.answered_at = now
    request.answer_note = note.strip()[:4000]
    request.suspended_days = days
    request.save(update_fields=["answered_at", "answer_note", "suspended_days"])
    locked.suspended_days += days
    resume_to = locked.suspended_status or Status.IN_PROGRESS
    locked.suspended_at = None
    locked.suspended_status = None
    _event(locked, to=resume_to, now=now, actor=_label(applicant), note="Người nộp đã bổ sung hồ sơ.")
    _save(locked)
    _publish(locked, "dossier.supplemented")
    return locked


def _rows(dossier: Dossier, attachments: list[Attachment]) -> list[DossierDocument]:
    """The supplementary files as documents of the dossier; their bytes, accepted as draft blobs
    when checked, are kept with the dossier (inside the caller's transaction)."""
    known = {doc["code"] for doc in dossier.procedure_version.required_documents}
    return [
        DossierDocument(
            dossier=dossier,
            requirement=att.requirement if att.requirement in known else "BOSUNG",
            sha256=store.attachment_keep(data=att.data, filename=att.filename),
            filename=att.filename[:255],
            content_type=CONTENT_TYPE[att.extension],
            size=len(att.data),
            component_code=att.component_code,
        )
        for att in attachments
    ]
