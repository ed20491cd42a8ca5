"""Workers sending at the same moment send every message exactly once (the claim is a conditional UPDATE).

Real concurrency needs a database server: on PostgreSQL each thread has its own connection
(SQLite's in-memory test database cannot be shared between connections)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import connection, connections

from hcmgov.notifications.models import Notification
from hcmgov.notifications.services import notification_queue, notifications_send_pending

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 4


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by `make test` when PostgreSQL answers)")


def test_concurrent_workers_send_each_message_once(sms_gateway, citizen):
    for i in range(12):
        notification_queue(recipient=citizen, subject="SMS", body=f"Tin {i}", dedupe_key=f"sms-{i}", channel="sms")
        notification_queue(recipient=citizen, subject=f"Thư {i}", body="Nội dung", dedupe_key=f"mail-{i}")
    sms_gateway.fault(delay=0.05, times=12)  # slow answers widen the window between read and claim
    start = threading.Barrier(WORKERS)

    def worker(_: int) -> int:
        try:
            start.wait(timeout=30)
            return notifications_send_pending()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        counts = list(pool.map(worker, range(WORKERS)))
    assert sum(counts) == 24
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    assert len(mail.outbox) == 12
    received = sms_gateway.messages()
    assert len(received) == 12
    assert len({m["RequestId"] for m in received}) == 12
    assert sms_gateway.requests() == 12  # no worker even tried a message another had claimed
