"""SMS notifications reach the eSMS.vn gateway simulator over HTTP: once, retried when it may help."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from hcmgov.notifications import services
from hcmgov.notifications.adapters.sms import national_number, unaccent
from hcmgov.notifications.models import Notification
from hcmgov.notifications.services import LEASE, MAX_ATTEMPTS, notification_queue, notifications_send_pending
from hcmgov.simulators.sms import BRANDNAME

pytestmark = pytest.mark.django_db

Status = Notification.Status
TEXT = "Hồ sơ HCM-2026-0001 đã được tiếp nhận. Mã tra cứu: K7PQ2MXA. Đăng ký khai sinh – UBND phường Bến Thành"


def queue_sms(citizen, key: str = "sms-1", body: str = TEXT) -> Notification:
    n = notification_queue(recipient=citizen, subject="Hồ sơ đã tiếp nhận", body=body, dedupe_key=key, channel="sms")
    assert n is not None
    return n


def later(time_machine, minutes: float) -> None:
    time_machine.move_to(timezone.now() + timedelta(minutes=minutes))


def test_a_queued_sms_is_delivered_unaccented_with_the_brandname(sms_gateway, citizen):
    n = queue_sms(citizen)
    assert notifications_send_pending() == 1
    n.refresh_from_db()
    assert n.sent_at is not None
    assert (n.status, n.attempts, n.error, n.claim_token) == (Status.SENT, 1, "", "")
    [received] = sms_gateway.messages()
    assert received["SMSID"]
    assert n.provider_message_id == received["SMSID"]  # the gateway's id, to look the SMS up there
    assert received["Phone"] == citizen.phone
    assert received["Brandname"] == BRANDNAME
    assert received["SmsType"] == "2"
    assert received["IsUnicode"] == "0"
    assert received["Content"] == (
        "Ho so HCM-2026-0001 da duoc tiep nhan. Ma tra cuu: K7PQ2MXA. Dang ky khai sinh - UBND phuong Ben Thanh"
    )
    assert received["RequestId"].startswith(f"hcmgov-{n.pk}-")
    assert len(received["RequestId"]) <= 50


def test_sending_twice_sends_nothing_twice(sms_gateway, citizen):
    queue_sms(citizen, "a")
    queue_sms(citizen, "b")
    assert notifications_send_pending() == 2
    assert notifications_send_pending() == 0
    assert len(sms_gateway.messages()) == 2
    assert sms_gateway.requests() == 2


def test_wrong_credentials_are_kept_on_the_row_and_not_retried(sms_gateway, citizen, monkeypatch, time_machine):
    monkeypatch.setenv("HCMGOV_SMS_SECRET", "not-the-secret")
    n = queue_sms(citizen)
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert n.sent_at is None
    assert (n.status, n.attempts, n.next_attempt_at) == (Status.FAILED, 1, None)
    assert "101" in n.error
    assert n.error.startswith("Sai ApiKey")  # plain words for the operator, no state prefix
    assert "Sai ApiKey hoặc SecretKey" in n.error  # Vietnamese first
    assert n.error.index("Sai ApiKey") < n.error.index("Wrong ApiKey")
    later(time_machine, 120)
    assert notifications_send_pending() == 0
    assert sms_gateway.requests() == 1  # never asked again
    assert sms_gateway.messages() == []


def test_a_gateway_5xx_is_retried_after_a_wait(sms_gateway, citizen, time_machine):
    n = queue_sms(citizen)
    sms_gateway.fault(status=503)
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert n.sent_at is None
    assert (n.status, n.attempts) == (Status.QUEUED, 1)
    assert n.next_attempt_at is not None
    assert n.claimed_at is not None
    wait = timedelta(seconds=services.RETRY_SECONDS)
    assert wait <= n.next_attempt_at - n.claimed_at < wait + timedelta(seconds=30)  # the first, shortest wait
    assert "503" in n.error
    assert notifications_send_pending() == 0  # not due yet
    assert sms_gateway.requests() == 1
    later(time_machine, 1.5)
    assert notifications_send_pending() == 1
    n.refresh_from_db()
    assert (n.sent_at is not None, n.error, n.status, n.attempts) == (True, "", Status.SENT, 2)
    assert len(sms_gateway.messages()) == 1
    assert sms_gateway.requests() == 2


def test_retries_are_bounded_and_the_waits_grow(sms_gateway, citizen, time_machine):
    n = queue_sms(citizen)
    sms_gateway.fault(status=502, times=MAX_ATTEMPTS + 1)
    waits = []
    for _ in range(MAX_ATTEMPTS):
        before = timezone.now()
        assert notifications_send_pending() == 0
        n.refresh_from_db()
        if n.status == Status.QUEUED:
            assert n.next_attempt_at is not None
            waits.append((n.next_attempt_at - before).total_seconds())
        later(time_machine, 61)
    assert (n.status, n.attempts, n.next_attempt_at) == (Status.FAILED, MAX_ATTEMPTS, None)
    assert f"{MAX_ATTEMPTS}" in n.error
    assert len(waits) == MAX_ATTEMPTS - 1
    assert waits == sorted(waits)
    assert waits[1] > waits[0]
    assert notifications_send_pending() == 0
    assert sms_gateway.requests() == MAX_ATTEMPTS


def test_a_lost_answer_is_resent_and_the_gateway_refuses_the_copy(sms_gateway, citizen, monkeypatch, time_machine):
    monkeypatch.setenv("HCMGOV_SMS_TIMEOUT", "0.3")
    n = queue_sms(citizen)
    sms_gateway.fault(delay=1.0)  # the gateway takes the message, its answer comes too late
    assert notifications_send_pending() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts) == (Status.QUEUED, 1)
    assert len(sms_gateway.wait_for_messages(1)) == 1
    later(time_machine, 2)
    assert notifications_send_pending() == 1  # the same RequestId again: 124, already sent
    n.refresh_from_db()
    assert n.sent_at is not None
    assert (n.status, n.attempts) == (Status.SENT, 2)
    assert len(sms_gateway.messages()) == 1
    assert sms_gateway.requests() == 2


def test_an_unreachable_gateway_is_retried_and_spares_the_other_messages(citizen, monkeypatch, closed_port):
    monkeypatch.setenv("HCMGOV_SMS_URL", f"http://127.0.0.1:{closed_port}")
    first, second = queue_sms(citizen, "a"), queue_sms(citizen, "b")
    assert notifications_send_pending() == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (Status.QUEUED, 1)
    assert "Không kết nối được cổng SMS" in first.error
    assert (second.status, second.attempts, second.error) == (Status.QUEUED, 0, "")  # not tried: the gateway is down


def test_a_claim_held_by_another_worker_is_left_alone(sms_gateway, citizen):
    n = queue_sms(citizen)
    claimed_at = timezone.now()
    Notification.objects.filter(pk=n.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=claimed_at, claim_token="other"
    )
    assert notifications_send_pending() == 0
    assert sms_gateway.requests() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts, n.claimed_at, n.claim_token) == (Status.SENDING, 1, claimed_at, "other")


def test_a_row_read_before_another_worker_tried_it_is_not_claimed(sms_gateway, citizen, monkeypatch, time_machine):
    """The claim compares the attempts too: a stale read of a row another worker has since tried
    (and set to wait for a retry that is now due) cannot claim it a second time."""
    n = queue_sms(citizen)
    stale = Notification.objects.get(pk=n.pk)  # read as queued, never tried
    Notification.objects.filter(pk=n.pk).update(attempts=1, next_attempt_at=timezone.now(), error="503")
    later(time_machine, 1)
    monkeypatch.setattr(services, "_due", lambda now, channels, batch: [stale])
    assert notifications_send_pending() == 0
    assert sms_gateway.requests() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts) == (Status.QUEUED, 1)


def test_the_claim_of_a_dead_worker_is_resent_safely(sms_gateway, citizen, monkeypatch, time_machine):
    n = queue_sms(citizen)
    # a worker claims the row and sends, the gateway takes the message, the worker dies before it
    # records the result: its claim stays on the row
    sms_gateway.fault(delay=1.0)
    monkeypatch.setenv("HCMGOV_SMS_TIMEOUT", "0.2")
    notifications_send_pending()
    monkeypatch.delenv("HCMGOV_SMS_TIMEOUT")
    assert len(sms_gateway.wait_for_messages(1)) == 1
    Notification.objects.filter(pk=n.pk).update(
        status=Status.SENDING, attempts=1, claimed_at=timezone.now(), claim_token="dead", next_attempt_at=None
    )
    assert notifications_send_pending() == 0  # within the lease: maybe still sending
    later(time_machine, LEASE.total_seconds() / 60 + 1)
    assert notifications_send_pending() == 1
    [received] = sms_gateway.messages()
    n.refresh_from_db()
    assert (n.status, n.attempts, n.claim_token) == (Status.SENT, 2, "")
    assert n.provider_message_id == ""  # the gateway answered "duplicate" (124): the answer with the id was lost
    assert received["RequestId"] == f"hcmgov-{n.pk}-{services._fingerprint(n)}"


def test_a_dead_worker_on_the_last_attempt_is_given_up(sms_gateway, citizen, time_machine):
    n = queue_sms(citizen)
    Notification.objects.filter(pk=n.pk).update(
        status=Status.SENDING, attempts=MAX_ATTEMPTS, claimed_at=timezone.now(), claim_token="dead"
    )
    later(time_machine, LEASE.total_seconds() / 60 + 1)
    assert notifications_send_pending() == 0
    assert sms_gateway.requests() == 0
    n.refresh_from_db()
    assert (n.status, n.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in n.error


def test_without_a_gateway_sms_wait_with_a_note_and_mail_still_goes(no_sms_gateway, citizen, sms_gateway_later):
    sms = queue_sms(citizen)
    notification_queue(recipient=citizen, subject="Thư", body="Nội dung", dedupe_key="mail-1")
    assert notifications_send_pending() == 1
    assert len(mail.outbox) == 1
    sms.refresh_from_db()
    assert sms.sent_at is None
    assert (sms.status, sms.attempts) == (Status.HELD, 0)  # waiting for a gateway is not an attempt
    assert "HCMGOV_SMS_URL" in sms.error
    assert notifications_send_pending() == 0  # still no gateway: still held
    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == (Status.HELD, 0)
    gateway = sms_gateway_later()
    assert notifications_send_pending() == 1
    sms.refresh_from_db()
    assert (sms.sent_at is not None, sms.error, sms.status, sms.attempts) == (True, "", Status.SENT, 1)
    assert len(gateway.messages()) == 1


@pytest.fixture
def sms_gateway_later(request):
    def start():
        return request.getfixturevalue("sms_gateway")

    return start


def test_an_sms_without_a_phone_number_is_not_queued(citizen):
    citizen.phone = ""
    assert notification_queue(recipient=citizen, subject="x", body="x", dedupe_key="k", channel="sms") is None


def test_unaccent_keeps_case_and_gives_ascii():
    assert unaccent("Đăng ký khai sinh – HCM-ABC “OK”…") == 'Dang ky khai sinh - HCM-ABC "OK"...'
    assert unaccent("Ưu tiên ĐẶC BIỆT") == "Uu tien DAC BIET"
    assert unaccent("emoji 😀").isascii()


@pytest.mark.parametrize(
    ("raw", "national"),
    [
        ("0901888484", "0901888484"),
        ("+84 90 188 8484", "0901888484"),
        ("84901888484", "0901888484"),
        ("090.188-8484", "0901888484"),
    ],
)
def test_national_number(raw, national):
    assert national_number(raw) == national
