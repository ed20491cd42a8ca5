"""Ending a dossier early (withdrawal, stop), apologies for late results (Form 04), internal comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.catalog import flows
from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers import engine
from hcmgov.dossiers.models import (
    ApologyLetter,
    Dossier,
    DossierComment,
    DossierStep,
    Status,
    StepState,
)
from hcmgov.dossiers.services.processing import (
    AUDIT_FIELDS,
    _event,
    _label,
    _lock,
    _publish,
    _reason,
    _refuse,
    _save,
    _spec,
)
from hcmgov.identity import selectors as identity

# --- ending early, apologies, comments ---------------------------------------------------------

LEADERSHIP = {"head", "leader", "agency_admin"}  # who stops processing and signs apologies


def _cancel_flow(locked: Dossier, *, now: dt.datetime, outcome: str) -> None:
    DossierStep.objects.filter(dossier=locked, state=StepState.OPEN).update(
        state=StepState.CANCELLED, finished_at=now, outcome=outcome, waiting=False
    )
    if locked.flow_id is not None and locked.workflow_state is not None:
        wf = engine.load(_spec(locked), locked.workflow_state)
        engine.cancel(wf)
        locked.workflow_state = engine.dump(wf)
        locked.save(update_fields=["workflow_state"])


@audited("dossier.withdraw", target="dossier", fields=AUDIT_FIELDS)
def dossier_withdraw(*, dossier: Dossier, by: Any, reason: str, now: dt.datetime | None = None) -> Dossier:
    """Withdraw the dossier at the applicant's request (status 7): by the applicant online, or
    by the desk recording a request made in person. Not once processing is finished."""
    now = now or timezone.now()
    reason = _reason(reason)
    locked = _lock(dossier)
    own = identity.user_acts_for(user=by, applicant_id=locked.applicant_id)  # or a representative of it
    if not own and not identity.user_has_role(
        user=by, agency_id=locked.agency_id, roles={"receiver", "head", "agency_admin"}, field=locked.procedure.field
    ):
        raise _refuse("forbidden", "Bạn không được rút hồ sơ này.", "You may not withdraw this dossier.", 403)
    awaiting_fee_before_result = (
        locked.status == Status.PAYMENT_REQUESTED and locked.suspended_status != Status.FINISHED
    )  # not paying is a reason to withdraw; once the result is made it is too late
    if (
        locked.status not in {Status.NEW, Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED}
        and not awaiting_fee_before_result
    ):
        raise _refuse(
            "wrong_status",
            f"Hồ sơ đang ở trạng thái «{locked.get_status_display()}», không thể rút.",
            "The dossier can no longer be withdrawn.",
        )
    _cancel_flow(locked, now=now, outcome="withdraw")
    _event(locked, to=Status.WITHDRAWN, now=now, actor=_label(by), note=reason)
    locked.finished_at = now
    locked.suspended_at = None
    _save(locked)
    _publish(locked, "dossier.withdrawn")
    return locked


@audited("dossier.stop", target="dossier", fields=AUDIT_FIELDS)
def dossier_stop(*, dossier: Dossier, official: Any, reason: str, now: dt.datetime | None = None) -> Dossier:
    """Stop processing (status 8), with the reason, by the agency's leadership."""
    now = now or timezone.now()
    reason = _reason(reason)
    locked = _lock(dossier)
    if not identity.user_has_role(
        user=official, agency_id=locked.agency_id, roles=LEADERSHIP, field=locked.procedure.field
    ):
        raise _refuse(
            "forbidden",
            "Chỉ lãnh đạo cơ quan được dừng xử lý hồ sơ.",
            "Only the agency's leadership may stop processing.",
            403,
        )
    if locked.status not in {Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED}:
        raise _refuse(
            "wrong_status",
            f"Hồ sơ đang ở trạng thái «{locked.get_status_display()}», không thể dừng xử lý.",
            "Processing of this dossier cannot be stopped now.",
        )
    _cancel_flow(locked, now=now, outcome="stop")
    _event(locked, to=Status.STOPPED, now=now, actor=_label(official), note=reason)
    locked.finished_at = now
    locked.suspended_at = None
    _save(locked)
    _publish(locked, "dossier.stopped")
    return locked


@audited("dossier.apologize", target="dossier", fields=AUDIT_FIELDS)
def dossier_apologize(
    *, dossier: Dossier, official: Any, reason: str, new_date: dt.date, now: dt.datetime | None = None
) -> ApologyLetter:
    """A dossier that will be late: a letter of apology with a new appointment date (Form 04,
    Decree 61/2018/NĐ-CP, Art. 19(4)). The legal due date does not move, so the dossier still
    counts as late if it is finished after it."""
    now = now or timezone.now()
    reason = _reason(reason)
    locked = _lock(dossier)
    if not identity.user_has_role(
        user=official, agency_id=locked.agency_id, roles=LEADERSHIP, field=locked.procedure.field
    ):
        raise _refuse(
            "forbidden",
            "Chỉ lãnh đạo cơ quan được ký phiếu xin lỗi.",
            "Only the agency's leadership may sign an apology letter.",
            403,
        )
    if locked.status not in {Status.RECEIVED, Status.IN_PROGRESS, Status.SUPPLEMENT_REQUESTED}:
        raise _refuse(
            "wrong_status", "Hồ sơ không còn trong quá trình xử lý.", "The dossier is no longer in processing."
        )
    calendar = default_calendar()
    previous = locked.appointment_at or locked.due_at
    if not calendar.is_working_day(new_date) or new_date <= previous.astimezone(calendar.tz).date():
        raise _refuse(
            "bad_date",
            "Ngày hẹn mới phải là ngày làm việc sau ngày hẹn hiện tại.",
            "The new appointment must be a working day after the current one.",
            422,
            "new_date",
        )
    letter = ApologyLetter.objects.create(
        dossier=locked,
        created_at=now,
        created_by=official,
        signer_label=_label(official),
        reason=reason,
        previous_appointment=previous,
        new_appointment=calendar.close_of_business(new_date),
    )
    locked.appointment_at = letter.new_appointment
    _event(
        locked,
        to=locked.status,
        now=now,
        actor=_label(official),
        note=f"Cơ quan xin lỗi vì chậm trả kết quả; hẹn lại ngày {new_date:%d/%m/%Y}. Lý do: {reason}",
    )
    _save(locked)
    _publish(locked, "dossier.apologized", letter=letter.pk)
    letter.dossier = locked
    return letter


def dossier_comment(*, dossier: Dossier, official: Any, text: str, now: dt.datetime | None = None) -> DossierComment:
    """An internal note for the officials handling the dossier."""
    text = _reason(text, "text")
    agencies = set(DossierStep.objects.filter(dossier=dossier).values_list("agency_id", flat=True)) | {
        dossier.agency_id
    }
    if not any(
        identity.user_has_role(
            user=official, agency_id=a, roles=set(flows.ROLES) | {"agency_admin"}, field=dossier.procedure.field
        )
        for a in agencies
    ):
        raise _refuse("forbidden", "Bạn không xử lý hồ sơ này.", "You do not handle this dossier.", 403)
    return DossierComment.objects.create(
        dossier=dossier, author=official, author_label=_label(official), at=now or timezone.now(), text=text
    )
