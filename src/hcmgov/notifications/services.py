"""Writes of notifications: queue a message (idempotently), send what is queued."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from hcmgov.notifications.models import Notification

log = logging.getLogger(__name__)


def notification_queue(
    *, recipient: Any, subject: str, body: str, dedupe_key: str, channel: str = "email"
) -> Notification | None:
    """Queue a message unless one with ``dedupe_key`` exists (a redelivered event sends nothing twice)."""
    address = recipient.email if channel == "email" else recipient.phone
    if not address:
        return None
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient=recipient,
                channel=channel,
                address=address,
                subject=subject[:250],
                body=body,
                dedupe_key=dedupe_key[:120],
            )
    except IntegrityError:
        return None


def notifications_send_pending(*, batch: int = 100) -> int:
    """Send queued e-mails through the configured backend (SMTP relay, or files in the embedded default)."""
    sent = 0
    pending = Notification.objects.filter(sent_at__isnull=True, channel="email", error="").order_by("id")[:batch]
    for n in pending:
        try:
            EmailMessage(subject=n.subject, body=n.body, from_email=settings.DEFAULT_FROM_EMAIL, to=[n.address]).send()
        except Exception as exc:  # keep the others going; the error is kept for the operator
            log.warning("e-mail failed", extra={"notification": n.pk})
            Notification.objects.filter(pk=n.pk).update(error=str(exc)[:2000])
            continue
        Notification.objects.filter(pk=n.pk, sent_at__isnull=True).update(sent_at=timezone.now())
        sent += 1
    return sent
