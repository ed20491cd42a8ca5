"""Reactions to feedback events: tell the author by e-mail that the feedback was received (with
the code and secret to look it up) and when it was answered or declined — Vietnamese first, then
English. Delivery is at least once; ``notification_queue``'s dedupe key makes a redelivery send
nothing twice.

Only authors with an account are written to: ``notification_queue`` sends to a user, and an
anonymous author has only an address. Anonymous authors read the answer on the lookup page with
the code and secret they were shown; e-mailing them needs an address-only queue in the
notifications app (asked for in the report of this change).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from hcmgov.core.services import event_subscribe
from hcmgov.feedback import selectors
from hcmgov.notifications.services import notification_queue

log = logging.getLogger(__name__)

TEXTS = {
    "feedback.received": ("Đã tiếp nhận phản ánh, kiến nghị", "Feedback received"),
    "feedback.answered": ("Phản ánh, kiến nghị đã được trả lời", "Your feedback was answered"),
    "feedback.rejected": ("Phản ánh, kiến nghị không được xử lý", "Your feedback will not be handled"),
}


def lookup_url(feedback: Any) -> str:
    query = urlencode({"code": feedback.code, "secret": feedback.secret})
    return f"{settings.PUBLIC_URL.rstrip('/')}{reverse('feedback:lookup')}?{query}"


def _body(event: Any, feedback: Any) -> str:
    vi, en = TEXTS[event.topic]
    due = timezone.localtime(feedback.due_at)
    link = lookup_url(feedback)
    head_vi = f"{vi}: {feedback.code}\n{feedback.subject}\n{feedback.agency.name}\n"
    head_en = f"{en}: {feedback.code}\n{feedback.agency.name_en}\n"
    if event.topic == "feedback.received":
        return (
            f"{head_vi}Hạn xử lý: {due:%H:%M %d/%m/%Y}.\nMã tra cứu: {feedback.secret}\nTra cứu: {link}\n\n"
            f"{head_en}Due: {due:%Y-%m-%d %H:%M}.\nLookup secret: {feedback.secret}\nLook it up: {link}\n"
        )
    if event.topic == "feedback.answered":
        return (
            f"{head_vi}Trả lời của {feedback.agency.name}:\n{feedback.answer}\n\n"
            f"Mời bạn đánh giá mức độ hài lòng với việc trả lời: {link}\n\n"
            f"{head_en}The answer (in Vietnamese) is above. Please rate how satisfied you are: {link}\n"
        )
    reason = selectors.RejectReason(feedback.reject_reason)
    note_vi = f"\nGhi chú: {feedback.reject_note}" if feedback.reject_note else ""
    return (
        f"{head_vi}Lý do: {reason.label}.{note_vi}\nChi tiết: {link}\n\n"
        f"{head_en}Reason: {selectors.REJECT_REASON_EN[reason]}.\nDetails: {link}\n"
    )


def _notify_author(event: Any) -> None:
    feedback = selectors.feedback_by_id(feedback_id=event.payload["feedback_id"])
    if feedback.author is None:
        log.info("feedback author has no account: not e-mailed", extra={"feedback": feedback.code})
        return
    vi, en = TEXTS[event.topic]
    notification_queue(
        recipient=feedback.author,
        subject=f"[{feedback.code}] {vi} / {en}",
        body=_body(event, feedback),
        dedupe_key=f"{event.topic}:{event.pk}",
    )


for _topic in TEXTS:
    event_subscribe(_topic)(_notify_author)
