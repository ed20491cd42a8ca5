"""Acceptance: two officials acting on the same open step at the same moment — the first commits,
the second is told the step was already handled (or that the dossier now awaits a supplement), and
the dossier ends with exactly one closed step row and one history event for that step.

Real concurrency needs a database server: on PostgreSQL each thread has its own connection and
the dossier's row lock (``SELECT … FOR UPDATE``) serialises the two actions; the loser either
finds the step closed at once or waits on the lock and then finds it closed. (SQLite's in-memory
test database cannot be shared between connections.)"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, connections

from hcmgov.catalog import selectors as catalog
from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent
from hcmgov.dossiers import engine, services
from hcmgov.dossiers.models import Dossier, DossierEvent, DossierStep, Status, StepState, SupplementRequest
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.tests.factories import RoleAssignmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 20


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by `make test` when PostgreSQL answers)")


@pytest.fixture(autouse=True)
def _city(_postgres_only, city):
    """The city's agencies, reloaded: each transactional test flushes the database at its end, and
    the test flow's upload needs a police agency to exist."""


@pytest.fixture
def staff(agency):
    """Two officials for each role, so that two different people can race for one step."""
    return {
        (role, n): RoleAssignmentFactory(agency=agency, role=role).user
        for role in ("receiver", "specialist", "head")
        for n in (1, 2)
    }


def race(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run the calls at the same moment, each in its own thread with its own connection:
    ``("ok", result)`` or ``("refused", DomainError code)`` for each, in order."""
    start = threading.Barrier(len(calls))

    def one(call: Callable[[], Any]) -> tuple[str, Any]:
        try:
            start.wait(timeout=30)
            return "ok", call()
        except DomainError as exc:
            return "refused", exc.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


def received(submit, staff) -> tuple[Dossier, DossierStep]:
    """A fresh dossier, received at the desk: its review step is open."""
    dossier, created = submit(form_data=dict(VALID_FORM))
    assert created
    desk = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    dossier = services.dossier_act(dossier=dossier, official=staff["receiver", 1], step_id=desk.pk, action="receive")
    review = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    assert review.key == "review"
    return dossier, review


def test_two_officials_receiving_the_same_dossier_at_once(submit, staff):
    """At the desk: one receives, the other refuses, at the same moment."""
    outcomes = Counter()
    for _ in range(ROUNDS):
        dossier, _ = submit(form_data=dict(VALID_FORM))
        desk = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
        results = race(
            lambda d=dossier, s=desk: services.dossier_act(
                dossier=d, official=staff["receiver", 1], step_id=s.pk, action="receive"
            ),
            lambda d=dossier, s=desk: services.dossier_act(
                dossier=d, official=staff["receiver", 2], step_id=s.pk, action="refuse", note="Thiếu giấy tờ"
            ),
        )
        (winner,) = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
        assert results[1 - winner] == ("refused", "step_already_handled")
        outcomes["receive" if winner == 0 else "refuse"] += 1

        steps = list(DossierStep.objects.filter(dossier=dossier, key="receive"))
        assert len(steps) == 1
        assert steps[0].state == StepState.DONE
        assert steps[0].actor_id == staff["receiver", winner + 1].pk
        dossier = Dossier.objects.get(pk=dossier.pk)
        history = list(DossierEvent.objects.filter(dossier=dossier).values_list("status_to", flat=True))
        if winner == 0:
            assert dossier.status == Status.RECEIVED
            assert history == [Status.NEW, Status.RECEIVED]
            assert [s.key for s in DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN)] == ["review"]
        else:
            assert dossier.status == Status.NOT_RECEIVED
            assert history == [Status.NEW, Status.NOT_RECEIVED]
            assert not DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).exists()
    print(f"desk race winners over {ROUNDS} rounds: {dict(outcomes)}")


def test_two_officials_acting_on_the_same_step_at_once(submit, staff):
    for _ in range(ROUNDS):
        dossier, review = received(submit, staff)
        results = race(
            *(
                lambda d=dossier, s=review, n=n: services.dossier_act(
                    dossier=d, official=staff["specialist", n], step_id=s.pk, action="forward"
                )
                for n in (1, 2)
            )
        )
        (winner,) = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
        assert results[1 - winner] == ("refused", "step_already_handled")

        rows = list(DossierStep.objects.filter(dossier=dossier, key="review"))
        assert len(rows) == 1  # one closed step row, by the winner
        assert (rows[0].state, rows[0].outcome) == (StepState.DONE, "forward")
        assert rows[0].actor_id == staff["specialist", winner + 1].pk
        assert [s.key for s in DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN)] == ["approve"]
        events = list(DossierEvent.objects.filter(dossier=dossier).values_list("status_to", flat=True))
        assert events == [Status.NEW, Status.RECEIVED, Status.IN_PROGRESS]  # one history event for the step
        dossier = Dossier.objects.get(pk=dossier.pk)
        assert dossier.status == Status.IN_PROGRESS
        assert OutboxEvent.objects.filter(topic="dossier.step_done", key=dossier.code).count() == 1
        spec = catalog.flow_spec(flow_id=dossier.flow_id)
        assert [s.spec.key for s in engine.open_steps(engine.load(spec, dossier.workflow_state), spec)] == ["approve"]


def test_a_supplement_request_racing_a_decision_on_the_same_step(submit, staff):
    outcomes = Counter()
    for _ in range(ROUNDS):
        dossier, review = received(submit, staff)
        results = race(
            lambda d=dossier, s=review: services.dossier_request_supplement(
                dossier=d, official=staff["specialist", 1], step_id=s.pk, items=[{"document": "Tờ khai"}]
            ),
            lambda d=dossier, s=review: services.dossier_act(
                dossier=d, official=staff["specialist", 2], step_id=s.pk, action="forward"
            ),
        )
        (winner,) = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
        dossier = Dossier.objects.get(pk=dossier.pk)
        rows = list(DossierStep.objects.filter(dossier=dossier, key="review"))
        assert len(rows) == 1
        events = list(DossierEvent.objects.filter(dossier=dossier).values_list("status_to", flat=True))
        if winner == 0:  # the request came first: the decision waits for the applicant
            outcomes["supplement"] += 1
            assert results[1] == ("refused", "awaiting_supplement")
            assert rows[0].state == StepState.OPEN
            assert dossier.status == Status.SUPPLEMENT_REQUESTED
            assert dossier.supplement_count == 1
            assert SupplementRequest.objects.filter(dossier=dossier).count() == 1
            assert events == [Status.NEW, Status.RECEIVED, Status.SUPPLEMENT_REQUESTED]
        else:  # the decision came first: there is no open step to ask from any more
            outcomes["forward"] += 1
            assert results[0] == ("refused", "step_already_handled")
            assert (rows[0].state, rows[0].actor_id) == (StepState.DONE, staff["specialist", 2].pk)
            assert dossier.status == Status.IN_PROGRESS
            assert dossier.supplement_count == 0
            assert not SupplementRequest.objects.filter(dossier=dossier).exists()
            assert events == [Status.NEW, Status.RECEIVED, Status.IN_PROGRESS]
    print(f"supplement/decision race winners over {ROUNDS} rounds: {dict(outcomes)}")
