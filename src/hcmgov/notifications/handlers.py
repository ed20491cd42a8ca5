"""Reactions to dossier and step events: tell the applicant (e-mail and SMS) at each public change,
and the officials when a step is about to fall due or is overdue — Vietnamese first, then English."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from hcmgov.core.services import event_subscribe, event_subscribe_batch
from hcmgov.dossiers import selectors as dossiers
from hcmgov.dossiers import selectors_batch as dossiers_batch
from hcmgov.identity import selectors as identity
from hcmgov.notifications.services import Outgoing, notification_queue, notification_queue_many

TEXTS = {
    "dossier.submitted": ("Đã nhận hồ sơ trực tuyến", "Online dossier received"),
    "dossier.received": ("Hồ sơ đã được tiếp nhận", "Dossier accepted for processing"),
    "dossier.refused": ("Hồ sơ không được tiếp nhận", "Dossier not accepted"),
    "dossier.supplement_requested": ("Cần bổ sung hồ sơ", "Your dossier needs a supplement"),
    "dossier.finished": ("Hồ sơ đã có kết quả", "Your result is ready"),
    "dossier.returned": ("Đã trả kết quả", "Result returned"),
    "dossier.withdrawn": ("Hồ sơ đã được rút", "Dossier withdrawn"),
    "dossier.stopped": ("Hồ sơ bị dừng xử lý", "Processing stopped"),
    "dossier.apologized": ("Thư xin lỗi và hẹn lại ngày trả kết quả", "Apology and a new appointment"),
    "dossier.payment_requested": ("Cần nộp phí, lệ phí", "Fees to pay"),
    "dossier.payment_settled": ("Đã nhận phí, lệ phí", "Fees received"),
}
SMS_TOPICS = {
    "dossier.received",
    "dossier.supplement_requested",
    "dossier.finished",
    "dossier.apologized",
    "dossier.payment_requested",
}


def _notify(event: Any) -> None:
    """One event's messages (see ``_notify_batch``)."""
    _notify_batch([event])


def _notify_batch(events: list[Any]) -> None:
    """The applicant's e-mail (and SMS, for :data:`SMS_TOPICS`) of each event of an outbox batch:
    its dossiers read in one query, its messages queued in one statement (each once: the dedupe
    key is the event's). An event whose dossier is gone queues nothing."""
    found = dossiers_batch.dossiers_for_notice(dossier_ids=[e.payload["dossier_id"] for e in events])
    messages: list[Outgoing] = []
    for event in events:
        if event.payload["dossier_id"] not in found:
            continue
        dossier, note = found[event.payload["dossier_id"]]
        messages.extend(_messages(event, dossier, note))
    notification_queue_many(messages=messages)


def _messages(event: Any, dossier: Any, note: str) -> list[Outgoing]:
    vi, en = TEXTS[event.topic]
    due = timezone.localtime(dossier.appointment_at or dossier.due_at)
    body = (
        f"{vi}: {dossier.code}\n{dossier.procedure.name}\n{dossier.agency.name}\n"
        f"Trạng thái: {dossier.get_status_display()}. Hẹn trả kết quả: {due:%H:%M %d/%m/%Y}.\n"
        + (f"Ghi chú: {note}\n" if note else "")
        + f"Mã tra cứu: {dossier.tracking_secret}\n\n"
        f"{en}: {dossier.code}\n{dossier.procedure.name_en}\nDue: {due:%Y-%m-%d %H:%M}.\n"
        f"Lookup secret: {dossier.tracking_secret}\n"
    )
    messages = [
        Outgoing(
            recipient=dossier.applicant,
            subject=f"[{dossier.code}] {vi} / {en}",
            body=body,
            dedupe_key=f"{event.topic}:{event.pk}",
        )
    ]
    if event.topic in SMS_TOPICS:
        messages.append(
            Outgoing(
                recipient=dossier.applicant,
                channel="sms",
                subject="",
                body=f"HCMGOV: Ho so {dossier.code}: {vi}. Hen tra: {due:%d/%m/%Y}. Tra cuu: {dossier.tracking_secret}",
                dedupe_key=f"{event.topic}:{event.pk}:sms",
            )
        )
    return messages


def _step_notice(event: Any) -> None:
    """A step about to fall due goes to whoever holds it (its assignee, else every holder of its
    role in its agency); an overdue one to the agency's heads of division (else its leaders)."""
    step = dossiers.step_by_id(step_id=event.payload["step_id"])
    due = timezone.localtime(step.due_at)
    if event.topic == "step.reminder":
        recipients = (
            [step.assignee] if step.assignee else identity.users_with_role(agency_id=step.agency_id, roles={step.role})
        )
        vi, en = "Sắp đến hạn xử lý", "Step falling due"
    else:
        recipients = identity.users_with_role(agency_id=step.agency_id, roles={"head"}) or identity.users_with_role(
            agency_id=step.agency_id, roles={"leader"}
        )
        vi, en = "Quá hạn xử lý", "Step overdue"
    for user in recipients:
        notification_queue(
            recipient=user,
            subject=f"[{step.dossier.code}] {vi}: {step.name} / {en}: {step.name_en}",
            body=(
                f"{vi}: bước «{step.name}» của hồ sơ {step.dossier.code}, hạn {due:%H:%M %d/%m/%Y}.\n\n"
                f"{en}: step “{step.name_en}” of dossier {step.dossier.code}, due {due:%Y-%m-%d %H:%M}.\n"
            ),
            dedupe_key=f"{event.topic}:{step.pk}:{user.pk}",
        )


event_subscribe_batch(*TEXTS)(_notify_batch)
for _topic in ("step.reminder", "step.escalation"):
    event_subscribe(_topic)(_step_notice)
