"""E-mail goes out over real SMTP (Django's SMTP backend) to a minimal relay run by the test.

Python 3.11 has no ``smtpd`` and aiosmtpd is not a dependency: :class:`Relay` answers the few
commands ``smtplib`` sends (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) on a loopback socket."""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.utils import timezone

from hcmgov.notifications.models import Notification
from hcmgov.notifications.services import notification_queue, notifications_send_pending

pytestmark = pytest.mark.django_db

SUBJECT = "[HCM-2026-0001] Đã nhận hồ sơ trực tuyến / Online dossier received"
BODY = "Đã nhận hồ sơ trực tuyến: HCM-2026-0001\nỦy ban nhân dân phường Bến Thành\n"


class _Session(socketserver.StreamRequestHandler):
    server: Relay

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        relay = self.server
        self.reply("220 relay.test ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-relay.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb == "HELO" or verb == "NOOP":
                self.reply("250 OK")
            elif command.upper().startswith("MAIL FROM:"):
                sender, recipients = command[10:].strip(), []
                self.reply("250 OK")
            elif command.upper().startswith("RCPT TO:"):
                code = relay.rcpt_codes.pop(0) if relay.rcpt_codes else 250
                if code == 250:
                    recipients.append(command[8:].strip())
                self.reply(f"{code} {'OK' if code == 250 else 'refused by the test relay'}")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data[1:] if data.startswith(b"..") else data)
                relay.received.append((sender, recipients, b"".join(lines)))
                self.reply("250 OK queued")
            elif verb == "RSET":
                sender, recipients = "", []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.received: list[tuple[str, list[str], bytes]] = []
        self.rcpt_codes: list[int] = []  # the next RCPT answers (250 when empty)

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for _, _, raw in self.received
        ]


@pytest.fixture
def relay(settings):
    server = Relay()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.server_address[1]
    settings.EMAIL_USE_TLS = False
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def queue_mail(citizen, key: str = "mail-1") -> Notification:
    n = notification_queue(recipient=citizen, subject=SUBJECT, body=BODY, dedupe_key=key)
    assert n is not None
    return n


def test_a_mail_arrives_over_smtp_with_its_vietnamese_subject(relay, citizen, settings):
    n = queue_mail(citizen)
    assert notifications_send_pending() == 1
    [(sender, recipients, raw)] = relay.received
    assert sender == f"<{settings.DEFAULT_FROM_EMAIL}>"
    assert recipients == [f"<{citizen.email}>"]
    [message] = relay.messages()
    # Django folds the encoded subject onto a continuation line; unfolding leaves the fold's space
    assert message["Subject"].strip() == SUBJECT
    assert b"utf-8" in raw.lower()  # an encoded-word header, not raw bytes in the header
    assert message.get_content().replace("\r\n", "\n") == BODY  # SMTP lines end in CRLF
    assert message["Message-ID"].startswith(f"<notification-{n.pk}.")
    n.refresh_from_db()
    assert (n.status, n.sent_at is not None, n.error, n.attempts) == (Notification.Status.SENT, True, "", 1)
    assert notifications_send_pending() == 0
    assert len(relay.received) == 1


def test_a_temporary_refusal_is_retried(relay, citizen, time_machine):
    n = queue_mail(citizen)
    relay.rcpt_codes = [451]
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts) == (Notification.Status.QUEUED, 1)
    assert n.next_attempt_at is not None
    assert n.next_attempt_at > timezone.now()
    assert "451" in n.error
    time_machine.move_to(timezone.now() + timedelta(minutes=2))
    assert notifications_send_pending() == 1
    assert len(relay.received) == 1
    n.refresh_from_db()
    assert (n.status, n.attempts, n.error) == (Notification.Status.SENT, 2, "")


def test_a_permanent_refusal_is_kept_and_not_retried(relay, citizen, time_machine):
    n = queue_mail(citizen)
    relay.rcpt_codes = [550]
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts, n.next_attempt_at) == (Notification.Status.FAILED, 1, None)
    assert "550" in n.error
    assert n.error.startswith("Máy chủ thư")  # plain words for the operator, no state prefix
    assert n.error.index("Máy chủ thư") < n.error.index("The mail relay")
    time_machine.move_to(timezone.now() + timedelta(hours=3))
    assert notifications_send_pending() == 0
    assert relay.received == []


def test_an_unreachable_relay_is_retried(settings, citizen, closed_port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    n = queue_mail(citizen)
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts) == (Notification.Status.QUEUED, 1)
    assert n.next_attempt_at is not None
    assert "Không kết nối được máy chủ thư" in n.error


def test_an_interrupted_mail_is_not_sent_again(relay, citizen, time_machine):
    n = queue_mail(citizen)
    Notification.objects.filter(pk=n.pk).update(
        status=Notification.Status.SENDING, attempts=1, claimed_at=timezone.now(), claim_token="dead"
    )
    time_machine.move_to(timezone.now() + timedelta(minutes=20))
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts, n.claim_token) == (Notification.Status.FAILED, 1, "")
    assert "interrupted" in n.error
    assert relay.received == []
