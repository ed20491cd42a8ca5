"""Dossier events reach the applicant by e-mail, once, through the outbox."""

from __future__ import annotations

import pytest
from django.core import mail

from hcmgov.core.models import OutboxEvent
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers.services import dossier_receive
from hcmgov.notifications.models import Notification
from hcmgov.notifications.services import notifications_send_pending

pytestmark = pytest.mark.django_db


def test_submission_and_receipt_are_mailed_once_each_in_both_languages(submit, receiver, version):
    version.fees = []  # a free procedure: no payment order, no wait for a fee (payments' own tests)
    version.save(update_fields=["fees"])
    dossier, _ = submit()
    assert outbox_deliver() == 1
    assert outbox_deliver() == 0  # nothing pending: delivered events are not delivered again
    dossier_receive(dossier=dossier, official=receiver)
    assert outbox_deliver() == 1
    assert notifications_send_pending() == 2
    assert notifications_send_pending() == 0
    assert len(mail.outbox) == 2
    first = mail.outbox[0]
    assert first.to == [dossier.applicant.email]
    assert dossier.code in first.subject
    assert "Đã nhận hồ sơ trực tuyến" in first.body
    assert "Online dossier received" in first.body
    assert dossier.tracking_secret in first.body


def test_a_redelivered_event_does_not_mail_twice(submit):
    from hcmgov.notifications.handlers import _notify

    submit()
    event = OutboxEvent.objects.get(topic="dossier.submitted")
    _notify(event)
    _notify(event)  # at-least-once delivery: the same event again
    assert Notification.objects.count() == 1


def test_a_failing_handler_keeps_the_event_for_a_retry(submit, monkeypatch):
    from hcmgov.core import services

    submit()

    def broken(event):
        raise RuntimeError("SMTP relay unreachable")

    monkeypatch.setitem(services._HANDLERS, "dossier.submitted", [broken])
    assert outbox_deliver() == 0
    event = OutboxEvent.objects.get()
    assert event.delivered_at is None
    assert event.attempts == 1
    assert "SMTP relay unreachable" in event.last_error
