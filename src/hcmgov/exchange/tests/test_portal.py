"""The National Public Service Portal connector over HTTP against its simulator: a real dossier's
status changes reach the portal in order, once, even after the portal was down, slow or answered
garbage; a change the portal refuses goes dead with an error logged; reconciliation finds planted
differences (the catalogue: ``test_portal_catalog``; payments, requeue, daily tasks:
``test_portal_payments``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from hcmgov import simulators
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers import services as dossier_services
from hcmgov.exchange import portal
from hcmgov.exchange.adapters import portal as api
from hcmgov.exchange.models import PortalPush, PortalPushState
from hcmgov.simulators.portal import TOKEN

pytestmark = pytest.mark.django_db

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
LATER = dt.timedelta(days=3)  # past any back-off


@pytest.fixture
def sim(settings) -> Iterator[str]:
    with simulators.running("portal") as url:
        settings.HCMGOV_PORTAL_URL = url
        settings.HCMGOV_PORTAL_TOKEN = TOKEN
        settings.HCMGOV_PORTAL_TIMEOUT = 1.0
        yield url


def sim_call(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the simulator's http URL
        url + path, data=data, headers={"Content-Type": "application/json"}, method="POST" if data else "GET"
    )
    with _OPENER.open(request, timeout=5) as response:
        return json.loads(response.read())


def mode(url: str, name: str, delay: float = 2.0) -> None:
    sim_call(url, "/_sim/mode", {"mode": name, "delay": delay})


def withdrawn_dossier(submit, receiver, citizen):
    """A dossier submitted (1), received (2) and withdrawn (7), its outbox delivered."""
    dossier, _ = submit()
    dossier = dossier_services.dossier_receive(dossier=dossier, official=receiver)
    dossier = dossier_services.dossier_withdraw(dossier=dossier, by=citizen, reason="Không cần nữa")
    outbox_deliver()
    return dossier


def held(url: str, code: str) -> dict[str, Any]:
    return sim_call(url, f"/api/dossiers/{code}")


def sim_held(code: str) -> dict[str, Any]:
    from django.conf import settings

    found = api.dossier_get(
        base_url=settings.HCMGOV_PORTAL_URL, token=TOKEN, code=code, timeout=settings.HCMGOV_PORTAL_TIMEOUT
    )
    assert found is not None
    return found


def test_a_dossiers_status_changes_reach_the_portal_in_order(sim, submit, receiver, citizen):
    dossier = withdrawn_dossier(submit, receiver, citizen)
    rows = list(PortalPush.objects.filter(dossier_code=dossier.code).order_by("sequence"))
    assert [(r.sequence, r.payload["status"]) for r in rows] == [(1, 1), (2, 2), (3, 7)]

    report = portal.portal_push_send()

    assert (report.sent, report.failed, report.dead) == (3, 0, 0)
    record = sim_held(dossier.code)
    history = record["history"]
    assert [(c["sequence"], c["status"]) for c in history] == [(1, 1), (2, 2), (3, 7)]
    assert record["latest"]["status"] == 7
    first, second = history[0], history[1]
    assert first["channel"] == 2
    assert first["procedure_code"] == dossier.procedure.code
    assert first["agency_code"] == dossier.agency.code
    assert first["received_at"] is None  # not yet received at that change
    assert second["received_at"] is not None
    assert second["appointment_at"] is not None
    stats = sim_call(sim, "/_sim/stats")
    assert (stats["accepted"], stats["duplicates"], stats["out_of_order"]) == (3, 0, 0)
    assert set(PortalPush.objects.values_list("state", flat=True)) == {PortalPushState.SENT}
    assert portal.portal_push_send().sent == 0  # nothing left


def test_the_outbox_handler_is_idempotent_and_off_without_a_portal(sim, submit, settings):
    dossier, _ = submit()
    outbox_deliver()
    portal.portal_push_record(dossier_id=dossier.pk)
    assert PortalPush.objects.filter(dossier_code=dossier.code).count() == 1
    settings.HCMGOV_PORTAL_URL = ""
    other, _ = submit()
    outbox_deliver()
    assert not PortalPush.objects.filter(dossier_code=other.code).exists()
    assert portal.portal_push_send().sent == 0


def test_a_portal_down_for_a_while_gets_everything_once_and_in_order(sim, submit, receiver, citizen):
    first = withdrawn_dossier(submit, receiver, citizen)
    second = withdrawn_dossier(submit, receiver, citizen)
    mode(sim, "down")
    now = timezone.now()

    report = portal.portal_push_send(now=now)
    assert report.portal_down
    assert (report.sent, report.failed) == (0, 1)  # one call, then the run stops
    again = portal.portal_push_send(now=now)  # the failed one waits; the rest wait behind it or their turn
    assert again.sent == 0
    assert (again.sent, again.failed) == (0, 1)  # the other dossier's first change had its own try
    failed = list(PortalPush.objects.filter(attempts=1))
    assert sorted(row.dossier_code for row in failed) == sorted([first.code, second.code])
    assert all(row.sequence == 1 and row.next_at > now and "503" in row.last_error for row in failed)

    mode(sim, "ok")
    report = portal.portal_push_send(now=now + LATER)

    assert (report.sent, report.failed, report.dead) == (6, 0, 0)
    stats = sim_call(sim, "/_sim/stats")
    assert stats["dossiers"] == {first.code: [1, 2, 3], second.code: [1, 2, 3]}
    assert (stats["accepted"], stats["duplicates"], stats["out_of_order"]) == (6, 0, 0)


@pytest.mark.parametrize("misbehaviour", ["garbage", "slow"])
def test_garbage_or_a_timeout_is_tried_again_later(sim, submit, misbehaviour, settings):
    dossier, _ = submit()
    outbox_deliver()
    settings.HCMGOV_PORTAL_TIMEOUT = 0.3
    mode(sim, misbehaviour, delay=1.0)
    now = timezone.now()

    report = portal.portal_push_send(now=now)

    assert (report.sent, report.failed, report.portal_down) == (0, 1, True)
    row = PortalPush.objects.get(dossier_code=dossier.code)
    assert row.state == PortalPushState.PENDING
    assert row.attempts == 1
    assert row.last_error
    mode(sim, "ok")
    assert portal.portal_push_send(now=now + LATER).sent == 1
    assert [c["status"] for c in sim_held(dossier.code)["history"]] == [1]


def test_after_the_last_attempt_a_change_is_dead_and_logged(sim, submit, monkeypatch, caplog):
    dossier, _ = submit()
    outbox_deliver()
    monkeypatch.setattr(portal, "MAX_ATTEMPTS", 2)
    mode(sim, "down")
    now = timezone.now()
    portal.portal_push_send(now=now)
    with caplog.at_level(logging.ERROR, logger="hcmgov.exchange.portal"):
        report = portal.portal_push_send(now=now + LATER)
    assert report.dead == 1
    assert PortalPush.objects.get(dossier_code=dossier.code).state == PortalPushState.DEAD
    assert any(dossier.code in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_a_change_the_portal_refuses_is_dead_at_once_and_holds_nothing_back(sim, caplog):
    now = timezone.now()
    good = {
        "dossier_code": "X-1",
        "procedure_code": "1.000656",
        "agency_code": "A",
        "status": 2,
        "channel": 1,
        "changed_at": now.isoformat(),
    }
    PortalPush.objects.create(
        dossier_code="X-1", sequence=1, payload={**good, "status": 11, "sequence": 1}, next_at=now, created_at=now
    )
    PortalPush.objects.create(
        dossier_code="X-1", sequence=2, payload={**good, "sequence": 2}, next_at=now, created_at=now
    )
    with caplog.at_level(logging.ERROR, logger="hcmgov.exchange.portal"):
        report = portal.portal_push_send(now=now)
    assert (report.dead, report.portal_down) == (1, False)
    assert "400" in PortalPush.objects.get(sequence=1).last_error
    assert portal.portal_push_send(now=now).sent == 1  # the next change goes on the next run
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_reconciliation_finds_planted_differences(sim, submit, receiver, citizen, settings):
    since = timezone.now() - dt.timedelta(hours=1)
    pushed = withdrawn_dossier(submit, receiver, citizen)
    portal.portal_push_send()
    settings.HCMGOV_PORTAL_URL = ""  # a dossier changed while the connector was off
    never, _ = submit()
    outbox_deliver()  # its event handled while off: nothing queued
    settings.HCMGOV_PORTAL_URL = sim
    first_report = portal.portal_reconcile(since=since)
    assert first_report.missing == [never.code], first_report

    changed_at = timezone.now().isoformat()
    sim_call(sim, "/_sim/dossiers", {"dossier_code": pushed.code, "status": 9, "sequence": 4, "changed_at": changed_at})
    sim_call(sim, "/_sim/dossiers", {"dossier_code": "ZZZ-1", "status": 2, "sequence": 1, "changed_at": changed_at})
    queued, _ = submit()
    outbox_deliver()

    report = portal.portal_reconcile(since=since)

    assert report.missing == [never.code]
    assert report.different == [{"code": pushed.code, "ours": 7, "theirs": 9}]
    assert report.unknown == ["ZZZ-1"]
    assert report.in_flight == [queued.code]


def test_the_command(sim, submit, capsys):
    submit()
    outbox_deliver()
    call_command("portal", "push")
    out = json.loads(capsys.readouterr().out)
    assert out["sent"] == 1
    assert out["queue"]["sent"] == 1
    call_command("portal", "sync-catalog")
    assert json.loads(capsys.readouterr().out)["total"] >= 30
    call_command("portal", "reconcile")
    mode(sim, "down")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="portal"):
        call_command("portal", "sync-catalog")


def queued(code: str, sequence: int, now: dt.datetime, **extra: Any) -> PortalPush:
    payload = {
        "dossier_code": code,
        "procedure_code": "1.000656",
        "agency_code": "A",
        "status": min(10, sequence),
        "channel": 2,
        "changed_at": (now + dt.timedelta(seconds=sequence)).isoformat(),
        "sequence": sequence,
    }
    return PortalPush.objects.create(
        dossier_code=code, sequence=sequence, payload=payload, next_at=extra.get("next_at", now), created_at=now
    )


def test_many_dossiers_go_side_by_side_each_in_order(sim):
    now = timezone.now()
    codes = [f"HS-{n:02d}" for n in range(20)]
    for code in codes:
        for sequence in (1, 2, 3, 4):
            queued(code, sequence, now)

    report = portal.portal_push_send(now=now, batch=1000)

    assert (report.sent, report.failed, report.dead) == (80, 0, 0)
    stats = sim_call(sim, "/_sim/stats")
    assert stats["dossiers"] == {code: [1, 2, 3, 4] for code in codes}
    assert (stats["accepted"], stats["duplicates"], stats["out_of_order"]) == (80, 0, 0)
    assert PortalPush.objects.filter(state=PortalPushState.SENT, attempts=1).count() == 80


def test_a_change_not_due_yet_holds_back_the_later_ones_of_its_dossier_only(sim):
    now = timezone.now()
    queued("HS-A", 1, now)
    queued("HS-A", 2, now, next_at=now + LATER)  # postponed (a back-off)
    queued("HS-A", 3, now)
    queued("HS-B", 1, now)

    report = portal.portal_push_send(now=now)

    assert report.sent == 2
    assert sim_call(sim, "/_sim/stats")["dossiers"] == {"HS-A": [1], "HS-B": [1]}
    assert portal.portal_push_send(now=now + LATER).sent == 2
    assert sim_call(sim, "/_sim/stats")["dossiers"] == {"HS-A": [1, 2, 3], "HS-B": [1]}
