"""The National Public Service Portal connector, beyond status changes, over HTTP against its
simulator: a fee paid without a change of status reaches the portal as one more change (same
status, new payment flags), once, in order; dead changes are sent again by an operator (service,
command, admin action, audited); the daily catalogue sync and reconciliation log their reports and
do nothing while the connector is off."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from hcmgov import simulators
from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers import services as dossier_services
from hcmgov.exchange import portal, tasks
from hcmgov.exchange.models import PortalPush, PortalPushState
from hcmgov.exchange.tests.test_portal import LATER, mode, sim_call, sim_held
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.payments import services as payments
from hcmgov.payments.tests.conftest import gateway_account  # noqa: F401 - a fixture
from hcmgov.simulators.portal import TOKEN

pytestmark = pytest.mark.django_db

FLAGS = ("fee_required", "fee_paid", "fee_paid_online")


@pytest.fixture
def sim(settings) -> Iterator[str]:
    with simulators.running("portal") as url:
        settings.HCMGOV_PORTAL_URL = url
        settings.HCMGOV_PORTAL_TOKEN = TOKEN
        settings.HCMGOV_PORTAL_TIMEOUT = 1.0
        yield url


def flags(change: dict[str, Any]) -> tuple[bool, ...]:
    return tuple(change[name] for name in FLAGS)


def test_a_fee_paid_without_a_change_of_status_reaches_the_portal(sim, submit, receiver):
    dossier, _ = submit()
    order = payments.order_ensure(dossier_id=dossier.pk)
    assert order is not None
    payments.order_pay_cash(order=order, official=receiver)  # paid before the dossier is held for it
    outbox_deliver()
    dossier.refresh_from_db()
    assert dossier.status == 1
    assert dossier.fee_paid_at is not None

    rows = list(PortalPush.objects.filter(dossier_code=dossier.code).order_by("sequence"))
    assert [(r.sequence, r.payload["status"], flags(r.payload)) for r in rows] == [
        (1, 1, (False, False, False)),
        (2, 1, (True, True, False)),  # the payment: same status, new flags
    ]
    assert rows[1].payload["changed_at"] == dossier.fee_paid_at.isoformat()
    assert portal.portal_push_record(dossier_id=dossier.pk) == 0  # a second delivery queues nothing

    dossier = dossier_services.dossier_receive(dossier=dossier, official=receiver)
    outbox_deliver()
    assert portal.portal_push_send().sent == 3

    history = sim_held(dossier.code)["history"]
    assert [(c["sequence"], c["status"], flags(c)) for c in history] == [
        (1, 1, (False, False, False)),
        (2, 1, (True, True, False)),
        (3, 2, (True, True, False)),  # the next change numbered after the payment
    ]
    assert all(not name.startswith("_") for change in history for name in change)  # our bookkeeping stays here
    stats = sim_call(sim, "/_sim/stats")
    assert (stats["accepted"], stats["duplicates"], stats["out_of_order"], stats["rejected"]) == (3, 0, 0, 0)


def test_a_fee_paid_while_held_for_it_is_carried_by_the_change_of_status(
    sim,
    submit,
    receiver,
    gateway_account,  # noqa: F811 - the imported fixture
):
    dossier, _ = submit()
    while outbox_deliver():  # the fee is asked at submission: the dossier is held (6)
        pass
    dossier.refresh_from_db()
    assert dossier.status == 6
    order = payments.order_ensure(dossier_id=dossier.pk)
    assert order is not None
    payments.order_pay_cash(order=order, official=receiver)
    outbox_deliver()

    rows = list(PortalPush.objects.filter(dossier_code=dossier.code).order_by("sequence"))
    assert [(r.payload["status"], flags(r.payload)) for r in rows] == [
        (1, (False, False, False)),
        (6, (True, False, False)),
        (1, (True, True, False)),  # released: the change of status carries the flags, no extra change
    ]
    assert portal.portal_push_send().sent == 3
    assert [c["sequence"] for c in sim_held(dossier.code)["history"]] == [1, 2, 3]


def test_the_portal_down_when_the_fee_is_paid_gets_it_later_in_order(sim, submit, receiver):
    dossier, _ = submit()
    order = payments.order_ensure(dossier_id=dossier.pk)
    assert order is not None
    mode(sim, "down")
    payments.order_pay_cash(order=order, official=receiver)
    outbox_deliver()
    now = timezone.now()
    assert portal.portal_push_send(now=now).portal_down
    mode(sim, "ok")
    assert portal.portal_push_send(now=now + LATER).sent == 2
    assert [flags(c) for c in sim_held(dossier.code)["history"]] == [(False, False, False), (True, True, False)]


def dead_rows(sim, submit, monkeypatch, count: int = 2) -> list[str]:
    """``count`` submitted dossiers whose first change went dead while the portal was down."""
    codes = []
    for _ in range(count):
        dossier, _ = submit()
        codes.append(dossier.code)
    outbox_deliver()
    monkeypatch.setattr(portal, "MAX_ATTEMPTS", 1)
    mode(sim, "down")
    now = timezone.now()
    for _ in range(count):
        portal.portal_push_send(now=now)
    assert set(PortalPush.objects.values_list("state", flat=True)) == {PortalPushState.DEAD}
    mode(sim, "ok")
    return codes


def test_an_operator_sends_dead_changes_again_with_the_command(sim, submit, monkeypatch, capsys):
    first, second = dead_rows(sim, submit, monkeypatch)
    assert portal.portal_push_send(now=timezone.now() + LATER).sent == 0  # dead: not tried again

    call_command("portal", "requeue", "--dossier", first)
    out = json.loads(capsys.readouterr().out)
    assert out["requeued"] == 1
    assert (out["queue"]["pending"], out["queue"]["dead"]) == (1, 1)
    row = PortalPush.objects.get(dossier_code=first)
    assert (row.state, row.attempts) == (PortalPushState.PENDING, 0)
    assert "hcmgov portal requeue" in row.last_error
    assert "503" in row.last_error  # the error that made it dead is kept
    assert AuditEvent.objects.filter(action="exchange.portal_push_requeue").count() == 1

    assert portal.portal_push_send().sent == 1
    call_command("portal", "requeue")
    assert json.loads(capsys.readouterr().out)["requeued"] == 1
    assert portal.portal_push_send().sent == 1
    assert sim_call(sim, "/_sim/stats")["dossiers"] == {first: [1], second: [1]}
    call_command("portal", "requeue")
    assert json.loads(capsys.readouterr().out)["requeued"] == 0


def test_sending_again_what_is_pending_changes_nothing_and_what_was_sent_is_refused(sim, submit):
    dossier, _ = submit()
    outbox_deliver()
    row = PortalPush.objects.get(dossier_code=dossier.code)
    again = portal.portal_push_requeue(push=row, actor="ops")
    assert (again.state, again.attempts, again.next_at, again.last_error) == (
        row.state,
        0,
        row.next_at,
        "",
    )
    assert not AuditEvent.objects.filter(action="exchange.portal_push_requeue").exists()
    portal.portal_push_send()
    with pytest.raises(DomainError) as refused:
        portal.portal_push_requeue(push=row, actor="ops")
    assert (refused.value.code, refused.value.status) == ("portal_push_sent", 409)
    assert " / " not in refused.value.message.vi  # Vietnamese and English kept apart in the Message


def test_an_admin_sends_dead_changes_again_from_the_list(sim, submit, monkeypatch, client):
    codes = dead_rows(sim, submit, monkeypatch)
    admin = UserFactory(admin=True)
    client.force_login(admin)
    page = client.get("/admin/exchange/portalpush/", {"state__exact": "dead"})
    assert page.status_code == 200
    assert all(code in page.content.decode() for code in codes)
    rows = list(PortalPush.objects.order_by("id"))
    answer = client.post(
        "/admin/exchange/portalpush/",
        {"action": "requeue", "index": 0, "_selected_action": [r.pk for r in rows]},
        follow=True,
    )
    assert answer.status_code == 200
    assert set(PortalPush.objects.values_list("state", "attempts")) == {(PortalPushState.PENDING, 0)}
    assert AuditEvent.objects.filter(action="exchange.portal_push_requeue", actor_id=admin.pk).count() == 2
    assert portal.portal_push_send().sent == 2
    answer = client.post(
        "/admin/exchange/portalpush/",
        {"action": "requeue", "index": 0, "_selected_action": [rows[0].pk]},
        follow=True,
    )
    assert "not dead" in answer.content.decode()


def test_the_daily_catalogue_sync_logs_its_report(sim, caplog):
    with caplog.at_level(logging.INFO, logger="hcmgov.exchange.tasks"):
        assert tasks.portal_catalog_sync() > 30  # the first sync: everything added
        assert tasks.portal_catalog_sync() == 0
    first, second = (r for r in caplog.records if "catalogue synced" in r.getMessage())
    assert first.levelno == logging.WARNING
    assert second.levelno == logging.INFO
    message = first.getMessage()
    report = json.loads(message[message.index("{") :])
    assert "1.000656" in report["added"]
    mode(sim, "down")
    with caplog.at_level(logging.WARNING, logger="hcmgov.exchange.tasks"):
        assert tasks.portal_catalog_sync() == 0
    assert "failed" in caplog.records[-1].getMessage()


def test_the_daily_reconciliation_logs_its_report(sim, submit, caplog):
    dossier, _ = submit()
    outbox_deliver()
    with caplog.at_level(logging.INFO, logger="hcmgov.exchange.tasks"):
        assert tasks.portal_reconcile() == 0  # queued, not sent yet: in flight
        portal.portal_push_send()
        assert tasks.portal_reconcile() == 0
        sim_call(
            sim,
            "/_sim/dossiers",
            {"dossier_code": dossier.code, "status": 9, "sequence": 2, "changed_at": timezone.now().isoformat()},
        )
        assert tasks.portal_reconcile() == 1
    logged = [r for r in caplog.records if "reconciled" in r.getMessage()]
    assert [r.levelno for r in logged] == [logging.INFO, logging.INFO, logging.WARNING]
    assert dossier.code in logged[-1].getMessage()


def test_the_daily_tasks_do_nothing_while_the_connector_is_off(settings, caplog):
    settings.HCMGOV_PORTAL_URL = ""
    with caplog.at_level(logging.INFO, logger="hcmgov.exchange.tasks"):
        assert tasks.portal_catalog_sync() == 0
        assert tasks.portal_reconcile() == 0
    assert not caplog.records
