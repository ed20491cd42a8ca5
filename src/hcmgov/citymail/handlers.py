"""Arrival mails: when an official document is sent to an agency (outbox topic
``office.document_sent``, one event per recipient agency, ``office.dispatches``), the recipient
agency's clerks (văn thư, who register incoming documents: Decree 30/2020/NĐ-CP, Art. 22) are told
by e-mail at their city mailboxes — Vietnamese first, then English.

The mails go through the notifications queue, not straight to the relay: queued in the outbox
worker's transaction, sent by the notifications worker, which retries while the relay is down
(``notifications.services``). Each mail's dedupe key is the dispatch's and the clerk's, so a
redelivered event queues nothing twice. A clerk without an active city mailbox gets the mail at
their account's address instead (nobody is left out while provisioning catches up)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from hcmgov.citymail import selectors
from hcmgov.core import selectors as core
from hcmgov.core.services import event_subscribe_batch
from hcmgov.identity import selectors as identity
from hcmgov.notifications.services import notification_queue, notification_queue_address

TOPIC = "office.document_sent"
CLERK_ROLES = {"clerk"}
URGENCY = {"urgent": ("Khẩn", "Urgent"), "very_urgent": ("Thượng khẩn", "Very urgent"),
           "express": ("Hỏa tốc", "Express")}  # fmt: skip


def arrival_text(payload: dict[str, Any], agency_name: str) -> tuple[str, str]:
    """(subject, body) of the arrival mail of one dispatched document: Vietnamese, then English."""
    number = payload.get("number_symbol", "")
    sender = payload.get("issuing_body", "") or payload.get("sender", "")
    summary = payload.get("summary", "")
    mark_vi, mark_en = URGENCY.get(payload.get("urgency", ""), ("", ""))
    prefix = f"[{mark_vi} / {mark_en}] " if mark_vi else ""
    subject = f"{prefix}Văn bản đến: {number} – {sender} / Incoming document: {number} from {sender}"
    where = f"{str(settings.PUBLIC_URL).rstrip('/')}/office/"
    body = (
        f"Kính gửi Văn thư {agency_name},\n\n"
        f"Cơ quan {agency_name} vừa nhận một văn bản điện tử qua trục liên thông:\n"
        f"  Số, ký hiệu: {number}\n  Cơ quan ban hành: {sender}\n  Ngày ban hành: {payload.get('issued_on', '')}\n"
        f"  Trích yếu: {summary}\n"
        + (f"  Độ khẩn: {mark_vi}\n" if mark_vi else "")
        + f"Vui lòng vào sổ văn bản đến trên hệ thống ({where}).\n\n"
        "---\n\n"
        f"To the clerical office of {agency_name},\n\n"
        "An electronic document has arrived through the document exchange:\n"
        f"  Number and symbol: {number}\n  Issued by: {sender}\n  Issued on: {payload.get('issued_on', '')}\n"
        f"  Summary: {summary}\n"
        + (f"  Urgency: {mark_en}\n" if mark_en else "")
        + f"Please register it in the incoming register on the platform ({where}).\n"
    )
    return subject, body


def _arrival(event: Any) -> None:
    payload = event.payload
    agency = core.agency_list().filter(code=payload.get("recipient", "")).first()
    if agency is None:
        return  # a recipient outside the platform: its own system tells its clerks
    clerks = identity.users_with_role(agency_id=agency.pk, roles=CLERK_ROLES)
    if not clerks:
        return
    mailboxes = selectors.active_addresses(user_ids=[c.pk for c in clerks])
    subject, body = arrival_text(payload, agency.name)
    for clerk in clerks:
        key = f"citymail.arrival:{payload.get('dispatch_id', event.key)}:{clerk.pk}"
        address = mailboxes.get(clerk.pk)
        if address:
            notification_queue_address(address=address, subject=subject, body=body, dedupe_key=key)
        else:
            notification_queue(recipient=clerk, subject=subject, body=body, dedupe_key=key)


def _arrival_batch(events: list[Any]) -> None:
    """The arrival mails of each ``office.document_sent`` event of an outbox batch (not a hot
    topic: a few queries per event; a batch handler all the same, so that it never cuts a batch)."""
    for event in events:
        _arrival(event)


event_subscribe_batch(TOPIC)(_arrival_batch)
