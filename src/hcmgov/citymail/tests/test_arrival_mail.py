"""End to end: a document sent to an agency → the outbox event → arrival mails queued for its
clerks at their city mailboxes → sent through a real SMTP server (the relay simulator), which is
down at first: the mail waits, is retried, and arrives once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from hcmgov.citymail import handlers, services
from hcmgov.citymail.tests.conftest import official
from hcmgov.core import services as core
from hcmgov.core.models import OutboxEvent
from hcmgov.notifications.models import Notification
from hcmgov.notifications.services import notifications_send_pending
from hcmgov.office import dispatches
from hcmgov.office.tests.factories import OutgoingDocumentFactory
from hcmgov.simulators.smtp import running_relay

pytestmark = pytest.mark.django_db


@pytest.fixture
def relay(settings):
    """The relay simulator on a free port, and the platform's mail settings pointing at it."""
    with running_relay() as (server, _base_url):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_TIMEOUT = 5
        yield server


def test_the_clerks_get_a_bilingual_arrival_mail_delivered_once_after_the_relay_comes_back(town, relay):
    sender = official("Phan Hữu Tuấn", town.department, role="clerk")
    clerk = official("Nguyễn Văn Đức", town.ward, role="clerk")
    unprovisioned = official("Trần Thị Ngọc Ánh", town.ward, role="clerk")  # no city mailbox yet
    official("Lê Minh Khoa", town.ward, role="specialist")  # not a clerk: no arrival mail
    services.mailbox_open_for_official(official=clerk, agency=town.ward)
    document = OutgoingDocumentFactory(
        issued=True, agency=town.department, number=12, summary="Về việc kiểm tra công tác văn thư", urgency="urgent"
    )

    relay.stop()  # the relay is down
    dispatches.document_send(document=document, clerk=sender, recipient_ids=[town.ward.pk])
    assert core.outbox_deliver() >= 1
    queued = Notification.objects.order_by("id")
    assert [n.address for n in queued] == ["ducnv@tphcm.gov.vn", unprovisioned.email]
    assert notifications_send_pending() == 0
    first = Notification.objects.get(address="ducnv@tphcm.gov.vn")
    assert (first.status, first.attempts) == ("queued", 1)
    assert "máy chủ thư" in first.error  # "could not be reached", Vietnamese first
    assert first.next_attempt_at is not None

    relay.start()  # back, on the same port
    with time_machine.travel(first.next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert notifications_send_pending() == 2
    messages = relay.snapshot()
    assert sorted(r for m in messages for r in m["rcpt_to"]) == sorted(["ducnv@tphcm.gov.vn", unprovisioned.email])
    mail = next(m for m in messages if m["rcpt_to"] == ["ducnv@tphcm.gov.vn"])
    assert mail["subject"].startswith("[Khẩn / Urgent] Văn bản đến: 12/QĐ-UBND")
    text = mail["text"]
    assert "Về việc kiểm tra công tác văn thư" in text
    assert text.index("Kính gửi Văn thư") < text.index("To the clerical office")  # Vietnamese first
    assert town.department.name in text

    # the event delivered again (at least once): nothing queued twice, nothing sent twice
    event = OutboxEvent.objects.get(topic=handlers.TOPIC)
    handlers._arrival_batch([event])
    assert Notification.objects.count() == 2
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2), tick=True):
        assert notifications_send_pending() == 0
    assert len(relay.snapshot()) == 2


def test_a_recipient_agency_without_clerks_or_outside_the_platform_gets_no_mail(town, relay):
    sender = official("Phan Hữu Tuấn", town.department, role="clerk")
    document = OutgoingDocumentFactory(issued=True, agency=town.department, number=13)
    dispatches.document_send(document=document, clerk=sender, recipient_ids=[town.district.pk])
    core.outbox_deliver()
    event = OutboxEvent.objects.get(topic=handlers.TOPIC)
    event.payload = {**event.payload, "recipient": "no-such-agency"}
    handlers._arrival_batch([event])
    assert not Notification.objects.exists()


def test_the_arrival_text_is_vietnamese_first():
    subject, body = handlers.arrival_text(
        {"number_symbol": "5/TB-STTTT", "issuing_body": "Sở Thông tin và Truyền thông", "summary": "Thông báo"},
        "UBND phường Bến Nghé",
    )
    assert subject == (
        "Văn bản đến: 5/TB-STTTT – Sở Thông tin và Truyền thông / Incoming document: 5/TB-STTTT from Sở Thông tin "
        "và Truyền thông"
    )
    assert body.startswith("Kính gửi Văn thư UBND phường Bến Nghé")
