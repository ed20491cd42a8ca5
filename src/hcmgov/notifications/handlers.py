"""Reactions to dossier events: tell the applicant, in Vietnamese then English."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from hcmgov.core.services import event_subscribe
from hcmgov.dossiers import selectors as dossiers
from hcmgov.notifications.services import notification_queue

TEXTS = {
    "dossier.submitted": ("Đã nhận hồ sơ trực tuyến", "Online dossier received"),
    "dossier.received": ("Hồ sơ đã được tiếp nhận", "Dossier accepted for processing"),
    "dossier.refused": ("Hồ sơ không được tiếp nhận", "Dossier not accepted"),
}


def _notify(event: Any) -> None:
    dossier = dossiers.dossier_by_id(dossier_id=event.payload["dossier_id"])
    vi, en = TEXTS[event.topic]
    due = timezone.localtime(dossier.due_at)
    body = (
        f"{vi}: {dossier.code}\n{dossier.procedure.name}\n{dossier.agency.name}\n"
        f"Trạng thái: {dossier.get_status_display()}. Hẹn trả kết quả: {due:%H:%M %d/%m/%Y}.\n"
        + (f"Lý do: {dossier.refusal_reason}\n" if dossier.refusal_reason else "")
        + f"Mã tra cứu: {dossier.tracking_secret}\n\n"
        f"{en}: {dossier.code}\n{dossier.procedure.name_en}\nDue: {due:%Y-%m-%d %H:%M}.\n"
        f"Lookup secret: {dossier.tracking_secret}\n"
    )
    notification_queue(
        recipient=dossier.applicant,
        subject=f"[{dossier.code}] {vi} / {en}",
        body=body,
        dedupe_key=f"{event.topic}:{event.pk}",
    )


for _topic in TEXTS:
    event_subscribe(_topic)(_notify)
