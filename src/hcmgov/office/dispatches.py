"""Writes of the exchange of documents between agencies (liên thông văn bản): an issued outgoing
document is sent to recipient agencies, one :class:`Dispatch` each, through the exchange's event
channel of official documents; the recipient acknowledges (received, processed) or returns it.

**How it travels.** :func:`document_send` writes the dispatches and one outbox event per recipient
(topic :data:`TOPIC`) in one transaction — never a call to another system from the request. The
outbox's worker hands the event to the exchange's handler (``exchange.handlers``), which puts it
on every channel carrying the topic (``exchange.events.channel_publish``); each recipient agency's
system subscribes to the channel with the filter ``{"recipient": "<its agency code>"}``. The
exchange then POSTs it, signed, and retries with growing pauses while a recipient is down (its
delivery policy, dead letters after the last attempt): nothing is lost while a recipient is away.

**Acknowledgements.** A recipient on the platform acknowledges by registering the document as
incoming (``incoming_from_dispatch``: arrival number, then *received*); any recipient may report
through :func:`dispatch_acknowledge` (received, processed, returned with a reason), each with its
time. A dispatch not acknowledged within :data:`ACKNOWLEDGE_WITHIN` is shown overdue
(``selectors.dispatches_overdue``).

Confidential documents (mật and above) are not sent over the channel: state secrets go by the
channels the Law on Protection of State Secrets (2018) allows, which this platform is not.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.office import services
from hcmgov.office.models import (
    Confidentiality,
    Dispatch,
    DispatchState,
    DocumentState,
    IncomingDocument,
    OutgoingDocument,
)

TOPIC = "office.document_sent"
ACKNOWLEDGE_WITHIN = dt.timedelta(hours=24)  # a policy of this platform, not the decree's: see the README
ORDER = {DispatchState.SENT: 0, DispatchState.RECEIVED: 1, DispatchState.PROCESSED: 2}


def dispatch_payload(*, dispatch: Dispatch) -> dict[str, Any]:
    """The event's data: what a recipient's system needs to register the document."""
    document = dispatch.document
    version = services.signature_current(document=document)
    return {
        "dispatch_id": dispatch.pk,
        "document_id": document.pk,
        "recipient": dispatch.recipient.code,
        "sender": document.agency.code,
        "issuing_body": document.agency.name,
        "number_symbol": document.number_symbol,
        "issued_on": document.issued_on.isoformat() if document.issued_on else "",
        "doc_type": document.doc_type,
        "summary": document.summary,
        "urgency": document.urgency,
        "pages": document.pages,
        # the issued file (its number on it, signed at issue); a document issued before the
        # platform wrote the number on it has only its leader-signed file
        "signed_sha256": document.issued_sha256 or (version.signed_sha256 if version else ""),
    }


@audited("office.document_send", target="document", fields=("state",))
def document_send(
    *, document: OutgoingDocument, clerk: Any, recipient_ids: list[int], now: dt.datetime | None = None
) -> list[Dispatch]:
    """Send an issued document to ``recipient_ids`` (agencies): a dispatch and an outbox event
    each. Sending again to an agency already sent to adds nothing (a repeated request)."""
    services._check_role(clerk, document.agency_id, services.CLERK_ROLES)
    if document.state != DocumentState.ISSUED or not document.number_symbol:
        raise services.refuse("not_issued", "Văn bản chưa ban hành.", "The document is not issued.")
    if document.confidentiality != Confidentiality.NORMAL:
        raise services.refuse(
            "confidential_not_sent",
            "Văn bản mật không gửi qua trục liên thông.",
            "A confidential document is not sent over the exchange.",
        )
    now = now or timezone.now()
    recipients = {a.pk: a for a in core.agency_list().filter(pk__in=recipient_ids)}
    missing = set(recipient_ids) - set(recipients)
    if missing or not recipient_ids:
        raise services.refuse("recipient_unknown", "Cơ quan nhận không hợp lệ.", "Unknown recipient agency.", 422)
    made: list[Dispatch] = []
    with transaction.atomic():
        for agency_id in dict.fromkeys(recipient_ids):
            dispatch, created = Dispatch.objects.get_or_create(
                document=document, recipient=recipients[agency_id], defaults={"sent_at": now}
            )
            if created:
                core_services.event_publish(
                    topic=TOPIC,
                    key=f"{document.number_symbol}>{dispatch.recipient.code}"[:80],
                    payload=dispatch_payload(dispatch=dispatch),
                )
            made.append(dispatch)
    return made


@audited("office.dispatch_acknowledge", target="dispatch", fields=("state", "return_reason"))
def dispatch_acknowledge(
    *, dispatch: Dispatch, state: str, reason: str = "", now: dt.datetime | None = None
) -> Dispatch:
    """The recipient's acknowledgement: ``received``, ``processed``, or ``returned`` (with a
    reason). States only move forward; the same acknowledgement again changes nothing."""
    now = now or timezone.now()
    locked = Dispatch.objects.select_for_update().get(pk=dispatch.pk)
    if locked.state == state:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    if locked.state == DispatchState.RETURNED:
        raise services.refuse("dispatch_returned", "Văn bản đã bị trả lại.", "The document was returned.")
    if state == DispatchState.RETURNED:
        if locked.state == DispatchState.PROCESSED:
            raise services.refuse("dispatch_processed", "Văn bản đã xử lý.", "The document was processed.")
        if not reason.strip():
            raise services.refuse("reason_required", "Trả lại cần nêu lý do.", "A return needs a reason.", 422)
        locked.state, locked.returned_at, locked.return_reason = state, now, reason.strip()[:500]
    elif state in (DispatchState.RECEIVED, DispatchState.PROCESSED):
        if ORDER[DispatchState(state)] < ORDER[DispatchState(locked.state)]:
            locked._audit_skip = True  # type: ignore[attr-defined]  # a late "received" after "processed"
            return locked
        locked.received_at = locked.received_at or now
        if state == DispatchState.PROCESSED:
            locked.processed_at = now
        locked.state = state
    else:
        raise services.refuse("state_unknown", "Trạng thái không hợp lệ.", "Unknown state.", 422)
    locked.save(update_fields=["state", "received_at", "processed_at", "returned_at", "return_reason"])
    return locked


def incoming_from_dispatch(*, dispatch: Dispatch, clerk: Any, now: dt.datetime | None = None) -> IncomingDocument:
    """A recipient on the platform registers the dispatched document as incoming (arrival number
    and date, the signed file), which acknowledges it as received. Registering it again returns
    the same entry."""
    existing = IncomingDocument.objects.filter(dispatch=dispatch).first()
    if existing is not None:
        return existing
    document = dispatch.document
    signature = services.signature_current(document=document)
    with transaction.atomic():
        incoming = services.incoming_register(
            official=clerk,
            agency_id=dispatch.recipient_id,
            number_symbol=document.number_symbol,
            issuing_body=document.agency.name,
            doc_type=document.doc_type,
            summary=document.summary,
            issued_on=document.issued_on,
            urgency=document.urgency,
            pages=document.pages,
            electronic=True,
            dispatch=dispatch,
            file_key=document.issued_file_key or (signature.file_key if signature else ""),
            signed_sha256=document.issued_sha256 or (signature.signed_sha256 if signature else ""),
            now=now,
        )
        dispatch_acknowledge(dispatch=dispatch, state=DispatchState.RECEIVED, now=now)
    return incoming
