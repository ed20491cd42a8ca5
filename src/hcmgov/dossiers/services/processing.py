"""Processing a dossier through its flow: the actions of the one-stop-shop mechanism.

Every action locks the dossier row, checks that the step is still open, that the official holds
the step's role in the step's agency and that the step allows the decision; then moves the engine,
closes the step, opens the next ones with their own clock, changes the public status and writes
the history, the audit event and the outbox event in one transaction. Two officials acting on the
same step: the first commits, the second finds the step closed and is told who acted and when.

Legal basis: Decree 61/2018/NĐ-CP on the one-stop-shop mechanism (amended by Decree
107/2021/NĐ-CP), Art. 18-20 (receiving, forwarding and processing dossiers; supplements;
apologies for late results, Form 04) and Circular 01/2018/TT-VPCP (Forms 01-06).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.catalog import flows
from hcmgov.catalog import selectors as catalog
from hcmgov.common.db import fast_insert
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers import clock, engine
from hcmgov.dossiers.models import (
    CLOSED,
    Dossier,
    DossierEvent,
    DossierStep,
    ProcessingStat,
    Status,
    StepState,
)
from hcmgov.identity import selectors as identity

AUDIT_FIELDS = ("status", "due_at", "appointment_at", "suspended_at", "supplement_count", "timeliness", "finished_at")
TERMINAL = CLOSED
LOCAL_TZ = dt.timezone(dt.timedelta(hours=7))


def _label(user: Any) -> str:
    return (user.full_name or user.get_username())[:150]


def _refuse(code: str, vi: str, en: str, status: int = 409, field: str | None = None) -> DomainError:
    message = Message(vi, en)
    return DomainError(code, message, status, errors=[FieldError(field, code, message)] if field else [])


def _reason(text: str | None, field: str = "reason") -> str:
    text = (text or "").strip()
    if not text:
        raise _refuse("reason_required", "Vui lòng ghi rõ lý do.", "Please give the reason.", 400, field)
    if "\x00" in text:
        raise _refuse(
            "invalid_character", "Nội dung có ký tự không hợp lệ.", "The text has an invalid character.", 400, field
        )
    return text[:4000]


# --- starting -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowRun:
    """A dossier's flow, started before its row is written: the row is inserted with its engine
    state, and :func:`flow_open` then opens the first step (no UPDATE of the new row, no read of
    steps it cannot have yet)."""

    flow_id: int
    spec: flows.FlowSpec
    workflow: Any

    @property
    def state(self) -> dict[str, Any]:
        return engine.dump(self.workflow)


def flow_start(*, procedure_id: int, form_data: dict[str, Any]) -> FlowRun | None:
    """Start a new dossier on the flow its procedure has now (it keeps this version to the end);
    None for a procedure without a flow (received and settled by hand: desk actions only)."""
    flow = catalog.flow_latest(procedure_id=procedure_id)
    if flow is None:
        return None
    spec = catalog.flow_spec(flow_id=flow.pk)
    return FlowRun(flow.pk, spec, engine.start(spec, facts=flows.condition_facts(form_data)))


def flow_open(*, dossier: Dossier, run: FlowRun, now: dt.datetime) -> None:
    """Open the first steps (the desk's receipt) of a dossier just written with ``run``'s state.
    Called inside the submission's transaction."""
    _open_steps(dossier, run.spec, engine.open_steps(run.workflow, run.spec), now=now, have=set())


def _open_steps(
    dossier: Dossier,
    spec: flows.FlowSpec,
    ready: list[engine.OpenStep],
    *,
    now: dt.datetime,
    have: set[Any] | None = None,
) -> list[DossierStep]:
    """Create a step row for each task the engine has made ready and no open row holds yet
    (``have``: the task ids of the open rows, when the caller knows them)."""
    if have is None:
        have = set(DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).values_list("task_id", flat=True))
    calendar = default_calendar()
    home = None
    made = []
    for item in ready:
        if item.task_id in have:
            continue
        step = item.spec
        agency_id = dossier.agency_id
        if step.agency:
            home = home or core.agency_list().get(pk=dossier.agency_id)
            partner = core.agency_partner(selector=step.agency, home=home, day=now.astimezone(LOCAL_TZ).date())
            if partner is None:
                raise engine.EngineError(f"không có cơ quan «{step.agency}» / no agency “{step.agency}”")
            agency_id = partner.pk
        opened = calendar.effective_receipt(now) if step.status != 1 else now
        made.append(
            DossierStep(
                dossier=dossier,
                task_id=item.task_id,
                key=step.key,
                name=step.name[:200],
                name_en=step.name_en[:200],
                role=step.role,
                agency_id=agency_id,
                opened_at=now,
                due_at=clock.step_due(calendar, opened_at=opened, allotment=step.allotment),
                remind_at=clock.reminder_at(calendar, opened_at=opened, allotment=step.allotment),
            )
        )
    DossierStep.objects.bulk_create(made)
    for row in made:
        if row.agency_id != dossier.agency_id:
            partner_agency = core.agency_list().get(pk=row.agency_id)
            _event(
                dossier,
                to=dossier.status,
                now=now,
                actor="",
                note=f"Hồ sơ được chuyển đến {partner_agency.name} để phối hợp giải quyết ({row.name}).",
            )
    return made


# --- helpers ---------------------------------------------------------------------------------------


def _event(dossier: Dossier, *, to: int, now: dt.datetime, actor: str, note: str = "") -> None:
    """A line of the dossier's public history (one prepared INSERT: every change of status writes one)."""
    fast_insert(
        DossierEvent,
        {
            "dossier": dossier.pk,
            "at": now,
            "status_from": dossier.status,
            "status_to": to,
            "actor_label": actor[:150],
            "note": note,
        },
    )
    dossier.status = to


def _lock(dossier: Dossier) -> Dossier:
    """The dossier's row, locked for this transaction, with what the answer shows of it (its
    procedure and agency: read in the same statement, not locked)."""
    return (
        Dossier.objects.select_for_update(of=("self",))
        .select_related("procedure_version", "procedure", "agency")
        .get(pk=dossier.pk)
    )


def _open_step(locked: Dossier, step_id: int, others: list[DossierStep] | None = None) -> DossierStep:
    """The open step ``step_id`` of the locked dossier, or a refusal saying who already acted.
    ``others`` (if given) receives the dossier's other open steps, read in the same statement."""
    if others is None:
        step = DossierStep.objects.filter(pk=step_id, dossier=locked).first()
    else:
        rows = list(DossierStep.objects.filter(dossier=locked, state=StepState.OPEN))
        step = next((r for r in rows if r.pk == step_id), None)
        others.extend(r for r in rows if r.pk != step_id)
        if step is None:
            step = DossierStep.objects.filter(pk=step_id, dossier=locked).first()
    if step is None:
        raise _refuse("step_not_found", "Không tìm thấy bước xử lý này.", "No such step of this dossier.", 404)
    step.dossier = locked  # the row just locked: no second read of it through the step
    if step.state != StepState.OPEN:
        when = timezone.localtime(step.finished_at) if step.finished_at else None
        who = step.actor_label or "người khác"
        raise _refuse(
            "step_already_handled",
            f"Bước «{step.name}» đã được {who} xử lý" + (f" lúc {when:%H:%M %d/%m/%Y}." if when else "."),
            f"Step “{step.name_en}” was already handled by {step.actor_label or 'someone else'}"
            + (f" at {when:%Y-%m-%d %H:%M}." if when else "."),
        )
    return step


def _check_holder(step: DossierStep, official: Any) -> None:
    """The official must hold the step's role in the step's agency; an assigned step is the
    assignee's (the head of division may act on any step of the unit)."""
    roles = {step.role, "agency_admin"}
    field = step.dossier.procedure.field  # a role limited to procedure fields covers only theirs
    if not identity.user_has_role(user=official, agency_id=step.agency_id, roles=roles | {"head"}, field=field):
        raise _refuse(
            "forbidden",
            f"Bạn không giữ vai trò «{flows.ROLES[step.role].vi}» tại cơ quan xử lý bước này.",
            f"You do not hold the role “{flows.ROLES[step.role].en}” in the agency handling this step.",
            403,
        )
    if (
        step.assignee_id
        and step.assignee_id != official.pk
        and not identity.user_has_role(user=official, agency_id=step.agency_id, roles={"head", "agency_admin"})
    ):
        raise _refuse(
            "assigned_to_other",
            "Bước này đã được phân công cho cán bộ khác.",
            "This step is assigned to another official.",
            403,
        )


def _check_running(locked: Dossier, action: str = "") -> None:
    if locked.status in TERMINAL:
        raise _refuse(
            "wrong_status",
            f"Hồ sơ đang ở trạng thái «{locked.get_status_display()}», không thể thực hiện thao tác này.",
            "The dossier's status does not allow this action.",
        )
    if locked.status == Status.SUPPLEMENT_REQUESTED:
        raise _refuse(
            "awaiting_supplement",
            "Hồ sơ đang chờ người nộp bổ sung; tiếp tục xử lý sau khi có hồ sơ bổ sung.",
            "The dossier is waiting for the applicant's supplement.",
        )
    if locked.status == Status.PAYMENT_REQUESTED and action != "refuse":  # the desk may still refuse it
        raise _refuse(
            "awaiting_payment",
            "Hồ sơ đang chờ người nộp thanh toán phí, lệ phí; tiếp tục xử lý sau khi đã thanh toán.",
            "The dossier is waiting for the applicant to pay the fees.",
        )


def _spec(locked: Dossier) -> flows.FlowSpec:
    if locked.flow_id is None or locked.workflow_state is None:
        raise _refuse("no_flow", "Hồ sơ không có quy trình xử lý.", "The dossier has no processing flow.")
    return catalog.flow_spec(flow_id=locked.flow_id)


def _close_step(
    step: DossierStep, *, state: str, outcome: str, official: Any | None, note: str, now: dt.datetime, stat: bool = True
) -> None:
    step.state = state
    step.outcome = outcome
    step.finished_at = now
    step.note = note
    if official is not None:
        step.actor = official
        step.actor_label = _label(official)
    if state == StepState.DONE:
        step.timeliness = clock.timeliness(default_calendar(), finished_at=now, due_at=step.due_at)
    step.save(update_fields=["state", "outcome", "finished_at", "note", "actor", "actor_label", "timeliness"])
    if stat and state == StepState.DONE:
        _stat_add(
            day=now.astimezone(LOCAL_TZ).date(),
            kind="step",
            agency_id=step.agency_id,
            procedure_id=step.dossier.procedure_id,
            official_id=official.pk if official else 0,
            step_key=step.key,
            timeliness=step.timeliness,
        )


def _stat_add(
    *, day: dt.date, kind: str, agency_id: int, procedure_id: int, official_id: int, step_key: str, timeliness: str
) -> None:
    """Count one early/on-time/late on the day: a row appended (no counter row to lock; see
    :class:`ProcessingStat`)."""
    ProcessingStat.objects.create(
        day=day,
        kind=kind,
        agency_id=agency_id,
        procedure_id=procedure_id,
        official_id=official_id,
        step_key=step_key,
        early=int(timeliness == "early"),
        on_time=int(timeliness == "on_time"),
        late=int(timeliness == "late"),
    )


def _finish(locked: Dossier, *, now: dt.datetime) -> None:
    """Processing is finished: the dossier is classed early, on time or late once, for good."""
    if locked.finished_at is not None:
        return
    locked.finished_at = now
    locked.timeliness = clock.timeliness(
        default_calendar(), finished_at=now, due_at=locked.due_at, supplements=locked.supplement_count
    )
    _stat_add(
        day=now.astimezone(LOCAL_TZ).date(),
        kind="dossier",
        agency_id=locked.agency_id,
        procedure_id=locked.procedure_id,
        official_id=0,
        step_key="",
        timeliness=locked.timeliness,
    )


def _publish(locked: Dossier, topic: str, **extra: Any) -> None:
    core_services.event_publish(topic=topic, key=locked.code, payload={"dossier_id": locked.pk, **extra})


def _save(locked: Dossier, wf: Any | None = None, *, also: tuple[str, ...] = ()) -> None:
    """Save the lifecycle fields of the locked dossier (and its workflow state, and ``also``) in one UPDATE."""
    fields = [
        *also,
        "status",
        "received_at",
        "due_at",
        "appointment_at",
        "finished_at",
        "returned_at",
        "refusal_reason",
        "suspended_at",
        "suspended_status",
        "suspended_days",
        "supplement_count",
        "timeliness",
        "updated_at",
    ]
    if wf is not None:
        locked.workflow_state = engine.dump(wf)
        fields.append("workflow_state")
    locked.save(update_fields=fields)


# --- the step actions ------------------------------------------------------------------------------


@audited("dossier.act", target="dossier", fields=AUDIT_FIELDS)
def dossier_act(
    *, dossier: Dossier, official: Any, step_id: int, action: str, note: str = "", now: dt.datetime | None = None
) -> Dossier:
    """Take the decision ``action`` on an open step (receive, refuse, forward, approve, decline,
    sign, return — as the step allows) and move the dossier on."""
    now = now or timezone.now()
    locked = _lock(dossier)
    others: list[DossierStep] = []
    step = _open_step(locked, step_id, others)
    _check_holder(step, official)
    _check_running(locked, action)
    spec = _spec(locked)
    step_spec = spec.steps.get(step.key)
    if step_spec is None or action not in step_spec.actions:
        allowed = ", ".join(step_spec.actions) if step_spec else ""
        raise _refuse(
            "action_not_allowed",
            f"Thao tác «{flows.ACTIONS[action].vi if action in flows.ACTIONS else action}» không được phép ở bước "
            f"«{step.name}» (được phép: {allowed}).",
            f"Action “{action}” is not allowed at step “{step.name_en}” (allowed: {allowed}).",
            409,
            "action",
        )
    if action in {"refuse", "decline"}:
        note = _reason(note, "note")
    if "\x00" in note:
        raise _refuse(
            "invalid_character", "Nội dung có ký tự không hợp lệ.", "The text has an invalid character.", 400, "note"
        )
    wf = engine.load(spec, locked.workflow_state or {})
    engine.complete(wf, task_id=step.task_id, outcome=action)
    _close_step(step, state=StepState.DONE, outcome=action, official=official, note=note, now=now)
    actor = _label(official)
    calendar = default_calendar()
    if action == "receive":
        _event(locked, to=Status.RECEIVED, now=now, actor=actor, note=note)
        locked.received_at = now
        locked.due_at = calendar.appointment_date(now, working_days=locked.procedure_version.statutory_days)
        locked.appointment_at = locked.due_at
        topic = "dossier.received"
    elif action == "refuse":
        _event(locked, to=Status.NOT_RECEIVED, now=now, actor=actor, note=note)
        locked.refusal_reason = note[:2000]
        locked.finished_at = now
        topic = "dossier.refused"
    elif action == "return":
        _finish(locked, now=now)
        _event(locked, to=Status.RETURNED, now=now, actor=actor, note=note)
        locked.returned_at = now
        topic = "dossier.returned"
    else:
        topic = "dossier.step_done"
        if locked.status == Status.RECEIVED:
            _event(locked, to=Status.IN_PROGRESS, now=now, actor=actor)
    ready = engine.open_steps(wf, spec)
    _open_steps(locked, spec, ready, now=now, have={o.task_id for o in others})
    if locked.status == Status.IN_PROGRESS and any(o.spec.status == Status.FINISHED for o in ready):
        _finish(locked, now=now)
        outcome_vi = "không đủ điều kiện giải quyết, có văn bản trả lời" if _declined(locked) else "có kết quả"
        _event(locked, to=Status.FINISHED, now=now, actor=actor, note=f"Hồ sơ đã xử lý xong, {outcome_vi}.")
        topic = "dossier.finished"
    _save(locked, wf)
    _publish(locked, topic, step=step.key, action=action)
    return locked


def _declined(locked: Dossier) -> bool:
    return DossierStep.objects.filter(dossier=locked, outcome="decline", state=StepState.DONE).exists()


def dossier_receive(*, dossier: Dossier, official: Any, now: dt.datetime | None = None) -> Dossier:
    """Receive a dossier at the desk (status 1 → 2; Form 01 receipt and appointment slip). The
    appointment is set from the moment of receipt (Decree 61/2018/NĐ-CP, Art. 18)."""
    return _desk_action(dossier=dossier, official=official, action="receive", note="", now=now)


def dossier_refuse(*, dossier: Dossier, official: Any, reason: str, now: dt.datetime | None = None) -> Dossier:
    """Refuse to receive a dossier, with the reason (status 1 → 3; Form 03 refusal slip)."""
    return _desk_action(dossier=dossier, official=official, action="refuse", note=_reason(reason), now=now)


def _desk_action(*, dossier: Dossier, official: Any, action: str, note: str, now: dt.datetime | None) -> Dossier:
    desk, field = {"receiver", "head", "agency_admin"}, dossier.procedure.field
    if not identity.user_has_role(user=official, agency_id=dossier.agency_id, roles=desk, field=field):
        raise _refuse(
            "forbidden",
            "Bạn không có quyền tiếp nhận hồ sơ của cơ quan này.",
            "You may not receive dossiers of this agency.",
            403,
        )
    step = DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN, role="receiver").first()
    if step is None:
        if dossier.flow_id is None:
            raise _refuse("no_flow", "Hồ sơ không có quy trình xử lý.", "The dossier has no processing flow.")
        raise _refuse(
            "wrong_status",
            f"Hồ sơ đang ở trạng thái «{dossier.get_status_display()}», không thể thực hiện thao tác này.",
            "The dossier's status does not allow this action.",
        )
    return dossier_act(dossier=dossier, official=official, step_id=step.pk, action=action, note=note, now=now)


@audited("dossier.send_back", target="dossier", fields=AUDIT_FIELDS)
def dossier_send_back(
    *, dossier: Dossier, official: Any, step_id: int, reason: str, now: dt.datetime | None = None
) -> Dossier:
    """Send the dossier back to the step before (with the reason); that step opens again with a
    fresh allotment. The receipt cannot be undone this way."""
    now = now or timezone.now()
    reason = _reason(reason)
    locked = _lock(dossier)
    step = _open_step(locked, step_id)
    _check_holder(step, official)
    _check_running(locked)
    spec = _spec(locked)
    previous = (
        DossierStep.objects.filter(dossier=locked, state=StepState.DONE, finished_at__lte=step.opened_at)
        .exclude(key=step.key)
        .order_by("-finished_at", "-id")
        .first()
    )
    if previous is None or spec.steps[previous.key].status == Status.NEW:
        raise _refuse(
            "cannot_send_back",
            "Không có bước xử lý trước để chuyển lại (không thể trả lại bước tiếp nhận).",
            "There is no earlier processing step to send the dossier back to (the receipt cannot be undone).",
        )
    wf = engine.load(spec, locked.workflow_state or {})
    engine.back(wf, to_step=previous.key)
    _close_step(step, state=StepState.CANCELLED, outcome="send_back", official=official, note=reason, now=now)
    DossierStep.objects.filter(dossier=locked, state=StepState.OPEN).exclude(pk=step.pk).update(
        state=StepState.CANCELLED, finished_at=now, outcome="send_back"
    )
    made = _open_steps(locked, spec, engine.open_steps(wf, spec), now=now)
    for row in made:  # back to whoever did it before
        if row.key == previous.key and previous.actor_id:
            DossierStep.objects.filter(pk=row.pk).update(assignee_id=previous.actor_id)
    _save(locked, wf)
    _publish(locked, "dossier.sent_back", step=previous.key)
    return locked


def step_assign(*, step_ids: Iterable[int], assignee: Any, by: Any) -> int:
    """Assign open steps to an official who holds the step's role in its agency. A head of division
    (or the agency's administrator) assigns any open step of the agency; an official may take
    (assign to themselves) an unassigned step of their role. Returns how many were assigned."""
    count = 0
    steps = DossierStep.objects.filter(pk__in=list(step_ids), state=StepState.OPEN).select_related("dossier")
    for step in steps.annotate(field=F("dossier__procedure__field")):
        # a role limited to procedure fields neither takes nor hands out steps of other fields
        field = step.field
        is_head = identity.user_has_role(user=by, agency_id=step.agency_id, roles={"head", "agency_admin"}, field=field)
        holds = identity.user_has_role(user=assignee, agency_id=step.agency_id, roles={step.role}, field=field)
        if not is_head and not (by.pk == assignee.pk and step.assignee_id is None and holds):
            raise _refuse("forbidden", "Bạn không được phân công bước này.", "You may not assign this step.", 403)
        if not holds:
            raise _refuse(
                "assignee_role",
                f"{_label(assignee)} không giữ vai trò «{flows.ROLES[step.role].vi}» tại cơ quan này.",
                f"{_label(assignee)} does not hold the role “{flows.ROLES[step.role].en}” in this agency.",
                422,
                "assignee",
            )
        count += _assign_one(step=step, assignee=assignee)
    return count


@audited("dossier.step_assign", target="step", fields=("assignee",))
def _assign_one(*, step: DossierStep, assignee: Any) -> int:
    return DossierStep.objects.filter(pk=step.pk, state=StepState.OPEN).update(assignee=assignee)
