"""Migration 0002 turns the delivery state once written at the head of ``error`` into columns."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from hcmgov.notifications.models import Notification

migration = importlib.import_module("hcmgov.notifications.migrations.0002_delivery_state")

AT = datetime(2026, 11, 20, 8, 30, 5, tzinfo=UTC)
HELD = (
    "[held] Chưa cấu hình cổng SMS (HCMGOV_SMS_URL): tin nhắn chờ và sẽ được gửi khi có cổng. / "
    "No SMS gateway configured (HCMGOV_SMS_URL): the message waits and is sent once one is."
)
WHY = "Cổng SMS tạm thời không phục vụ. / The SMS gateway is temporarily unavailable. (mã / code HTTP 503)"


@pytest.mark.parametrize(
    ("error", "fields"),
    [
        ("", {"status": "queued"}),
        (HELD, {"status": "held", "error": HELD.removeprefix("[held] ")}),
        (
            "[sending 2026-11-20T08:30:05Z 9f3a01bc 2] Đang gửi / Sending",
            {"status": "sending", "attempts": 2, "claimed_at": AT, "claim_token": "9f3a01bc", "error": ""},
        ),
        (
            f"[retry 2026-11-20T08:30:05Z 3/5] {WHY}",
            {"status": "queued", "attempts": 3, "next_attempt_at": AT, "error": WHY},
        ),
        (
            "[retry 2026-11-20T08:30:05Z 1/5] line one\nline two",
            {"status": "queued", "attempts": 1, "next_attempt_at": AT, "error": "line one\nline two"},
        ),
        (
            "[failed] Sai ApiKey hoặc SecretKey (mã / code 101)",
            {"status": "failed", "error": "Sai ApiKey hoặc SecretKey (mã / code 101)"},
        ),
        (
            "[failed] Đã thử 5 lần. / Gave up after 5 attempts.",
            {"status": "failed", "error": "Đã thử 5 lần. / Gave up after 5 attempts."},
        ),
        # never picked up again by the old code: kept, as failed
        ("[retry soon 1/5] x", {"status": "failed", "error": "[retry soon 1/5] x"}),
        (
            "[sending 2026-13-40T00:00:00Z dead 1] y",
            {"status": "failed", "error": "[sending 2026-13-40T00:00:00Z dead 1] y"},
        ),
        ("SMTP relay unreachable", {"status": "failed", "error": "SMTP relay unreachable"}),
    ],
)
def test_decode_reads_every_old_state(error, fields):
    assert migration.decode(error) == fields


def test_a_sent_row_is_sent_whatever_its_error():
    assert migration.decode("", sent_at=AT) == {"status": "sent"}
    assert migration.decode("[retry 2026-11-20T08:30:05Z 1/5] x", sent_at=AT) == {"status": "sent"}


@pytest.mark.parametrize(
    "error",
    [
        "",
        HELD,
        "[sending 2026-11-20T08:30:05Z 9f3a01bc 2] Đang gửi / Sending",
        f"[retry 2026-11-20T08:30:05Z 3/5] {WHY}",
        "[failed] Sai ApiKey hoặc SecretKey (mã / code 101)",
    ],
)
def test_encode_writes_the_old_text_back(error):
    fields = {"attempts": 0, "next_attempt_at": None, "claimed_at": None, "claim_token": "", "error": ""}
    fields |= migration.decode(error)
    assert migration.encode(**fields) == error


@pytest.mark.django_db
def test_the_migration_converts_the_rows(citizen):
    def row(key: str, error: str, sent_at: datetime | None = None) -> int:
        return Notification.objects.create(
            recipient=citizen, channel="sms", address="0900000000", subject="s", body="b", dedupe_key=key,
            error=error, sent_at=sent_at,
        ).pk  # fmt: skip

    ids = {
        "sent": row("sent", "", AT),
        "new": row("new", ""),
        "held": row("held", HELD),
        "retry": row("retry", f"[retry 2026-11-20T08:30:05Z 3/5] {WHY}"),
        "failed": row("failed", "[failed] Sai ApiKey"),
    }
    schema_editor = SimpleNamespace(connection=connection)
    migration.forwards(apps, schema_editor)
    rows = {name: Notification.objects.get(pk=pk) for name, pk in ids.items()}
    assert {name: n.status for name, n in rows.items()} == {
        "sent": "sent",
        "new": "queued",
        "held": "held",
        "retry": "queued",
        "failed": "failed",
    }
    assert (rows["retry"].attempts, rows["retry"].next_attempt_at, rows["retry"].error) == (3, AT, WHY)
    assert rows["failed"].error == "Sai ApiKey"

    migration.backwards(apps, schema_editor)
    assert Notification.objects.get(pk=ids["retry"]).error == f"[retry 2026-11-20T08:30:05Z 3/5] {WHY}"
    assert Notification.objects.get(pk=ids["held"]).error == HELD
    assert Notification.objects.get(pk=ids["new"]).error == ""
