"""Writes of notifications: queue a message (idempotently), send what is queued (e-mail and SMS).

The worker sends (``notifications.send_pending`` every few seconds). Each message is sent at most
once: a worker first *claims* a row with a conditional UPDATE (compare-and-set on the state it
read: ``status``, ``attempts`` and ``claim_token``), and only the worker whose UPDATE changed the
row sends it. A send that fails for a reason that may pass (a timeout, a 5xx, an SMTP 4xx) is tried
again later with a doubling wait, a bounded number of times; any other failure is kept on the row
for the operator and never retried.

The delivery state is in :class:`~hcmgov.notifications.models.Notification`'s columns:

===========  ==========================================================================================
``queued``   waits to be sent: due when ``next_attempt_at`` is empty or past (``attempts`` > 0: a
             retry after a passing error, which ``error`` says)
``held``     its channel is not configured (no SMS gateway): waits, sent once the channel is
             configured; not an attempt (``error`` says why)
``sending``  claimed by a worker at ``claimed_at`` (``claim_token``), attempt number ``attempts``
``sent``     at ``sent_at``; ``provider_message_id`` is the SMS gateway's id of the message
``failed``   given up (a permanent error, or too many attempts): ``error`` says why
===========  ==========================================================================================

A claim older than :data:`LEASE` belongs to a worker that died while sending. An SMS is then sent
again — safely, since its gateway ``RequestId`` is the same and the gateway refuses a duplicate
(which counts as sent). An e-mail is not: nothing stops an SMTP relay from delivering it twice, so
it is marked failed for the operator to check the relay's log.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hcmgov.common.config import config
from hcmgov.common.errors import Message
from hcmgov.notifications.adapters.sms import SmsClient, SmsError, gateway_config
from hcmgov.notifications.models import Notification

log = logging.getLogger(__name__)

MAX_ATTEMPTS = config(
    "HCMGOV_NOTIFY_MAX_ATTEMPTS",
    5,
    help="Attempts to send a notification (e-mail or SMS) before a passing error is given up, kept for the operator.",
    group="notifications",
)
RETRY_SECONDS = config(
    "HCMGOV_NOTIFY_RETRY_SECONDS",
    60,
    help="Wait before retrying a failed send; doubled after each further failure, at most an hour.",
    group="notifications",
)
SMTP_TIMEOUT = config(
    "HCMGOV_SMTP_TIMEOUT",
    20.0,
    help="Seconds to wait for the SMTP relay (Django's EMAIL_TIMEOUT, which the settings leave unset).",
    group="mail",
)
LEASE = timedelta(minutes=15)  # far longer than a send can take with the timeouts above
MAX_WAIT = timedelta(hours=1)

Status = Notification.Status

HELD_SMS = (
    "Chưa cấu hình cổng SMS (HCMGOV_SMS_URL): tin nhắn chờ và sẽ được gửi khi có cổng. / "
    "No SMS gateway configured (HCMGOV_SMS_URL): the message waits and is sent once one is."
)
INTERRUPTED_MAIL = (
    "Gửi bị gián đoạn, không gửi lại để tránh thư trùng; xem nhật ký máy chủ thư. / "
    "Sending was interrupted; not resent to avoid a duplicate mail: check the relay's log."
)


def _city_mailboxes(recipients: list[Any]) -> dict[int, str]:
    """Officials' active city mailboxes (one query): an official's mail goes there, not to the
    address of their account (issue 12: "officials carry their city mailbox address")."""
    from hcmgov.citymail import selectors as citymail  # the city e-mail reads identity: no cycle at import

    officials = [r.pk for r in recipients if getattr(r, "kind", "") == "official" and r.pk is not None]
    return citymail.active_addresses(user_ids=officials) if officials else {}


def _address(recipient: Any, channel: str, city: dict[int, str]) -> str:
    if channel != "email":
        return str(recipient.phone or "")
    return city.get(recipient.pk) or str(recipient.email or "")


def notification_queue(
    *, recipient: Any, subject: str, body: str, dedupe_key: str, channel: str = "email"
) -> Notification | None:
    """Queue a message unless one with ``dedupe_key`` exists (a redelivered event sends nothing twice).

    An SMS's text is its ``body`` (keep it short; it is sent unaccented); ``subject`` names it in lists.
    An official's e-mail goes to their active city mailbox when they have one."""
    address = _address(recipient, channel, _city_mailboxes([recipient]) if channel == "email" else {})
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


def notification_queue_address(*, address: str, subject: str, body: str, dedupe_key: str) -> Notification | None:
    """Queue an e-mail to ``address``, which belongs to no account (a department system's contact),
    unless one with ``dedupe_key`` exists; nothing without an address."""
    if not address:
        return None
    try:
        with transaction.atomic():
            return Notification.objects.create(
                recipient=None, channel="email", address=address, subject=subject[:250], body=body,
                dedupe_key=dedupe_key[:120],
            )  # fmt: skip
    except IntegrityError:
        return None


@dataclass(frozen=True)
class Outgoing:
    """A message to queue with :func:`notification_queue_many` (the arguments of ``notification_queue``)."""

    recipient: Any
    subject: str
    body: str
    dedupe_key: str
    channel: str = "email"


def notification_queue_many(*, messages: list[Outgoing]) -> int:
    """``notification_queue`` of many messages in one statement (an outbox batch's): those whose
    ``dedupe_key`` exists, or whose recipient has no address on their channel, are skipped.
    Returns how many were handed to the database (on PostgreSQL, duplicates ignored among them)."""
    rows = []
    city = _city_mailboxes([m.recipient for m in messages if m.channel == "email"])
    for m in messages:
        address = _address(m.recipient, m.channel, city)
        if address:
            rows.append(
                Notification(
                    recipient=m.recipient,
                    channel=m.channel,
                    address=address,
                    subject=m.subject[:250],
                    body=m.body,
                    dedupe_key=m.dedupe_key[:120],
                )
            )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def notifications_send_pending(*, batch: int = 100) -> int:
    """Send what is due: queued messages, retries whose wait is over, claims of dead workers.

    E-mail goes through Django's configured backend (SMTP when ``EMAIL_HOST`` is set, files in the
    embedded default); SMS through the gateway of ``HCMGOV_SMS_URL`` (none: SMS wait, held).
    Returns how many messages were sent."""
    now = timezone.now()
    channels = ["email"]
    sms: SmsClient | None = None
    held = HELD_SMS
    cfg = gateway_config()
    if cfg.enabled:
        try:
            sms = SmsClient(cfg)
            channels.append("sms")
        except SmsError as exc:
            held = str(exc)
    if sms is None:
        Notification.objects.filter(status=Status.QUEUED, attempts=0, channel="sms").update(
            status=Status.HELD, error=held[:2000]
        )

    sent = 0
    down: set[str] = set()  # channels that failed for a passing reason in this run: the rest waits
    for n in _due(now, channels, batch):
        if n.channel in down:
            continue
        attempt = n.attempts + 1
        if n.status == Status.SENDING and n.channel == "email":
            _settle(_as_read(n), Status.FAILED, INTERRUPTED_MAIL)
            continue
        if attempt > MAX_ATTEMPTS:
            gave_up = f"Đã thử {n.attempts} lần. / Gave up after {n.attempts} attempts."
            _settle(_as_read(n), Status.FAILED, gave_up)
            continue
        token = secrets.token_hex(8)
        claimed = _as_read(n).update(
            status=Status.SENDING, attempts=attempt, claimed_at=timezone.now(), claim_token=token, next_attempt_at=None
        )
        if not claimed:
            continue  # another worker claimed it between our read and our UPDATE
        mine = Notification.objects.filter(pk=n.pk, status=Status.SENDING, claim_token=token)
        try:
            if n.channel == "sms":
                assert sms is not None
                provider_id = _send_sms(n, sms)
            else:
                _send_email(n)
                provider_id = ""
        except _Failure as exc:
            _settle(mine, *_after_failure(exc, attempt))
            if exc.channel_down:  # the gateway or relay is down or slow: spare the others a timeout each
                down.add(n.channel)
            continue
        except Exception as exc:  # a bug, not the channel: keep it for the operator, do not resend blindly
            log.exception("notification send crashed", extra={"notification": n.pk})
            _settle(mine, Status.FAILED, f"Lỗi hệ thống / internal error: {exc!r}")
            continue
        if mine.update(
            status=Status.SENT, sent_at=timezone.now(), error="", provider_message_id=provider_id[:100], claim_token=""
        ):
            sent += 1
    return sent


# --- selecting and settling --------------------------------------------------------------------


def _due(now: datetime, channels: list[str], batch: int) -> list[Notification]:
    waiting = Q(status__in=[Status.QUEUED, Status.HELD]) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    abandoned = Q(status=Status.SENDING, claimed_at__lte=now - LEASE)
    return list(Notification.objects.filter(waiting | abandoned, channel__in=channels).order_by("id")[:batch])


def _as_read(n: Notification) -> QuerySet[Notification]:
    """The row only if it is still in the state ``n`` was read in (the compare of compare-and-set).

    ``attempts`` tells a retry apart from the same row read before another worker tried it, and
    ``claim_token`` one dead worker's claim from a newer one."""
    return Notification.objects.filter(pk=n.pk, status=n.status, attempts=n.attempts, claim_token=n.claim_token)


def _settle(rows: QuerySet[Notification], status: str, error: str, next_attempt_at: datetime | None = None) -> None:
    rows.update(status=status, error=error[:2000], next_attempt_at=next_attempt_at, claim_token="")


class _Failure(Exception):
    """A send that failed; ``retryable``: the same send may succeed later."""

    def __init__(self, text: str, retryable: bool, *, channel_down: bool | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.retryable = retryable
        # the gateway or relay itself failed (not this one recipient): the channel's other messages wait
        self.channel_down = retryable if channel_down is None else channel_down


def _after_failure(exc: _Failure, attempt: int) -> tuple[str, str, datetime | None]:
    """(status, error, next_attempt_at) of a row whose attempt number ``attempt`` failed with ``exc``."""
    if not exc.retryable:
        log.warning("notification refused", extra={"error": exc.text})
        return Status.FAILED, exc.text, None
    if attempt >= MAX_ATTEMPTS:
        log.warning("notification given up", extra={"error": exc.text, "attempts": attempt})
        return Status.FAILED, f"Đã thử {attempt} lần / gave up after {attempt} attempts: {exc.text}", None
    wait = min(timedelta(seconds=RETRY_SECONDS * 2 ** (attempt - 1)), MAX_WAIT)
    log.info("notification will be retried", extra={"error": exc.text, "attempt": attempt})
    return Status.QUEUED, exc.text, timezone.now() + wait


# --- the channels ------------------------------------------------------------------------------


def _fingerprint(n: Notification) -> str:
    return hashlib.sha256(n.dedupe_key.encode()).hexdigest()[:12]


def _send_sms(n: Notification, client: SmsClient) -> str:
    """Send ``n`` as an SMS; the gateway's id of it (empty when it had taken it before: a duplicate)."""
    # the same RequestId on every attempt: the gateway refuses a second copy (≤ 50 characters)
    request_id = f"hcmgov-{n.pk}-{_fingerprint(n)}"
    try:
        return client.send(phone=n.address, text=n.body, request_id=request_id).sms_id
    except SmsError as exc:
        raise _Failure(str(exc), exc.retryable) from exc


_SMTP_TRANSIENT = Message("Máy chủ thư tạm thời từ chối", "The mail relay refused for now")
_SMTP_PERMANENT = Message("Máy chủ thư từ chối thư", "The mail relay refused the message")
_SMTP_UNREACHABLE = Message("Không kết nối được máy chủ thư", "The mail relay could not be reached")


def _smtp_failure(message: Message, detail: str, *, retryable: bool, channel_down: bool = False) -> _Failure:
    return _Failure(f"{message.vi} / {message.en}: {detail}"[:1900], retryable, channel_down=channel_down)


def _send_email(n: Notification) -> None:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    message = EmailMessage(
        subject=n.subject,
        body=n.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[n.address],
        # stable across attempts, so a relay or a mailbox that removes duplicates can
        headers={"Message-ID": f"<notification-{n.pk}.{_fingerprint(n)}@{domain}>"},
    )
    connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or SMTP_TIMEOUT)
    try:
        connection.open()
        try:
            count = connection.send_messages([message])
        finally:
            try:
                connection.close()
            except (smtplib.SMTPException, OSError):  # after DATA was answered: the outcome is known
                log.warning("smtp: closing the connection failed", extra={"notification": n.pk})
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        transient = bool(codes) and all(400 <= code < 500 for code in codes)
        raise _smtp_failure(
            _SMTP_TRANSIENT if transient else _SMTP_PERMANENT, str(exc.recipients), retryable=transient
        ) from exc
    except smtplib.SMTPResponseException as exc:  # sender refused, data refused, authentication failed…
        transient = 400 <= exc.smtp_code < 500
        detail = f"{exc.smtp_code} {exc.smtp_error!r}"
        raise _smtp_failure(
            _SMTP_TRANSIENT if transient else _SMTP_PERMANENT,
            detail,
            retryable=transient,
            channel_down=exc.smtp_code == 421,  # "service not available, closing transmission channel"
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS asked of a relay without it: configuration
        raise _smtp_failure(_SMTP_PERMANENT, str(exc), retryable=False) from exc
    except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused, timed out
        raise _smtp_failure(_SMTP_UNREACHABLE, repr(exc), retryable=True, channel_down=True) from exc
    if count != 1:
        raise _smtp_failure(_SMTP_PERMANENT, f"sent {count} of 1", retryable=False)
