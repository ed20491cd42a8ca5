"""Acceptance: a dossier's stored engine state survives an upgrade of SpiffWorkflow.

``Dossier.workflow_state`` holds SpiffWorkflow's serialization without the flow's definition
(``engine.dump``); ``engine.load`` puts the definition back from the flow and lets SpiffWorkflow's
own migrations lift an older format to the current one.

How the fixtures were made (see ``data/make_old_state.py``, which documents the commands): each
older SpiffWorkflow release was installed in a throwaway virtual environment in /tmp
(``python3 -m venv /tmp/spiffold && /tmp/spiffold/bin/pip install spiffworkflow==<release>``);
the script, run there, parses the test flow ``catalog/tests/flows/test.bpmn``, starts a run with a
dossier's facts (purpose "work"), completes the desk's receipt with ``outcome = "receive"``,
serializes the workflow with that release's ``BpmnWorkflowSerializer.serialize_json`` and drops
``spec`` and ``subprocess_specs`` as ``engine.dump`` does (the ``serializer_version`` key kept).
The review step is then the one waiting.

=====================  ====================================
SpiffWorkflow release  fixture (serializer format version)
=====================  ====================================
1.2.1                  ``data/workflow_state_1.0.json``
2.0.1                  ``data/workflow_state_1.2.json``
3.0.0                  ``data/workflow_state_1.3.json``
3.1.2                  ``data/workflow_state_1.4.json``
=====================  ====================================
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hcmgov.catalog.flows import flow_parse
from hcmgov.catalog.tests.factories import TEST_FLOW
from hcmgov.dossiers import engine, services
from hcmgov.dossiers.models import Dossier, DossierStep, Status, StepState
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.tests.factories import RoleAssignmentFactory

DATA = Path(__file__).resolve().parent / "data"
RELEASES = {"1.0": "1.2.1", "1.2": "2.0.1", "1.3": "3.0.0", "1.4": "3.1.2"}  # format → SpiffWorkflow release
READY = 16  # TaskState.READY in every one of these formats
VN = ZoneInfo("Asia/Ho_Chi_Minh")
#: the rest of the test flow after the receipt (purpose "work": no police check)
REST = [("review", "forward"), ("approve", "approve"), ("sign", "sign"), ("give", "return")]

by_format = pytest.mark.parametrize("fmt", list(RELEASES), ids=[f"spiff-{r}" for r in RELEASES.values()])


@pytest.fixture(scope="module")
def spec():
    return flow_parse(TEST_FLOW.read_bytes(), filename=TEST_FLOW.name)


def stored(fmt: str) -> dict[str, Any]:
    return json.loads((DATA / f"workflow_state_{fmt}.json").read_text(encoding="utf-8"))


def waiting_task(state: dict[str, Any], name: str) -> uuid.UUID:
    (task_id,) = [t["id"] for t in state["tasks"].values() if t["task_spec"] == name and t["state"] == READY]
    return uuid.UUID(task_id)


def through_the_database(state: dict[str, Any]) -> dict[str, Any]:
    """What a JSONField gives back."""
    return json.loads(json.dumps(state))


def test_every_format_older_than_the_current_one_has_a_fixture():
    assert engine.SERIALIZER_VERSION not in RELEASES
    assert {p.name for p in DATA.glob("workflow_state_*.json")} == {f"workflow_state_{f}.json" for f in RELEASES}


@by_format
def test_the_fixture_is_stored_the_way_the_platform_stores_state(fmt):
    state = stored(fmt)
    assert state[engine.VERSION_KEY] == fmt
    assert fmt != engine.SERIALIZER_VERSION
    assert "spec" not in state
    assert "subprocess_specs" not in state
    waiting_task(state, "review")  # exactly one review task waiting


@by_format
def test_an_old_state_is_migrated_and_runs_to_the_end(spec, fmt):
    state = stored(fmt)
    review = waiting_task(state, "review")
    wf = engine.load(spec, state)
    steps = engine.open_steps(wf, spec)
    assert [s.spec.key for s in steps] == ["review"]
    assert steps[0].task_id == review  # the dossier's step row keeps pointing at the same task
    receipt = [t for t in wf.get_tasks() if t.task_spec.name == "receive"]
    assert receipt[0].data["outcome"] == "receive"
    assert receipt[0].data["purpose"] == "work"
    for key, action in REST:
        assert [s.spec.key for s in engine.open_steps(wf, spec)] == [key]
        engine.complete(wf, task_id=engine.open_steps(wf, spec)[0].task_id, outcome=action)
    assert engine.open_steps(wf, spec) == []
    assert engine.finished(wf)


@by_format
def test_an_old_state_is_saved_in_the_current_format_after_the_next_action(spec, fmt):
    """As the platform does it: load, act, dump, store, at every step."""
    state = stored(fmt)
    for key, action in REST:
        wf = engine.load(spec, through_the_database(state))
        (step,) = engine.open_steps(wf, spec)
        assert step.spec.key == key
        engine.complete(wf, task_id=step.task_id, outcome=action)
        state = engine.dump(wf)
        assert state[engine.VERSION_KEY] == engine.SERIALIZER_VERSION
        assert "spec" not in state
    assert engine.finished(engine.load(spec, through_the_database(state)))


@pytest.mark.django_db
@by_format
def test_a_stored_dossier_with_an_old_state_is_processed_to_the_end(submit, agency, fmt):
    """The whole platform path: a received dossier whose stored state was written by the old
    release is forwarded, approved, signed and returned through ``dossier_act``."""
    staff = {
        role: RoleAssignmentFactory(agency=agency, role=role).user
        for role in ("receiver", "specialist", "head", "leader", "clerk")
    }
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    dossier, _ = submit(form_data=dict(VALID_FORM), now=now)
    desk = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    dossier = services.dossier_act(
        dossier=dossier, official=staff["receiver"], step_id=desk.pk, action="receive", now=now
    )
    # the dossier as an older release left it: its state, and its open step's task in that state
    old = stored(fmt)
    Dossier.objects.filter(pk=dossier.pk).update(workflow_state=old)
    DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).update(task_id=waiting_task(old, "review"))
    dossier = Dossier.objects.get(pk=dossier.pk)
    roles = {"review": "specialist", "approve": "head", "sign": "leader", "give": "clerk"}
    for hours, (key, action) in enumerate(REST, start=1):
        step = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
        assert step.key == key
        dossier = services.dossier_act(
            dossier=dossier, official=staff[roles[key]], step_id=step.pk, action=action,
            now=now + dt.timedelta(hours=hours),
        )  # fmt: skip
    dossier = Dossier.objects.get(pk=dossier.pk)
    assert dossier.status == Status.RETURNED
    assert dossier.workflow_state[engine.VERSION_KEY] == engine.SERIALIZER_VERSION
    assert not DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).exists()


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=(), id=f"spiff-{r}") for f, r in RELEASES.items()])
def test_loading_leaves_the_stored_state_untouched(spec, fmt):
    state = stored(fmt)
    before = copy.deepcopy(state)
    engine.load(spec, state)
    assert state == before
    again = engine.load(spec, state)  # e.g. a second action on the same loaded Dossier object
    assert [s.spec.key for s in engine.open_steps(again, spec)] == ["review"]


# --- a state dumped today ----------------------------------------------------------------------------


def _facts(**form: Any) -> dict[str, Any]:
    from hcmgov.catalog.flows import condition_facts

    return condition_facts({**VALID_FORM, **form})


def test_a_state_dumped_today_round_trips(spec):
    wf = engine.start(spec, facts=_facts())
    (receipt,) = engine.open_steps(wf, spec)
    engine.complete(wf, task_id=receipt.task_id, outcome="receive")
    state = through_the_database(engine.dump(wf))
    assert state[engine.VERSION_KEY] == engine.SERIALIZER_VERSION
    assert "spec" not in state
    assert "subprocess_specs" not in state
    again = engine.load(spec, state)
    assert through_the_database(engine.dump(again)) == state  # nothing lost or changed
    assert [(s.task_id, s.spec.key) for s in engine.open_steps(again, spec)] == [
        (s.task_id, s.spec.key) for s in engine.open_steps(wf, spec)
    ]
    for key, action in REST:  # and it goes on exactly as the run that was never stored
        for run in (wf, again):
            (step,) = engine.open_steps(run, spec)
            assert step.spec.key == key
            engine.complete(run, task_id=step.task_id, outcome=action)
        again = engine.load(spec, through_the_database(engine.dump(again)))
    assert engine.finished(wf)
    assert engine.finished(again)


def test_a_stored_state_keeps_the_form_facts_the_gateways_read(spec):
    """purpose "study" sends the dossier to the police check: the facts survive storage."""
    wf = engine.start(spec, facts=_facts(purpose="study"))
    for action in ("receive", "forward"):
        wf = engine.load(spec, through_the_database(engine.dump(wf)))
        (step,) = engine.open_steps(wf, spec)
        engine.complete(wf, task_id=step.task_id, outcome=action)
    wf = engine.load(spec, through_the_database(engine.dump(wf)))
    assert [s.spec.key for s in engine.open_steps(wf, spec)] == ["police_check"]


def test_sending_back_works_on_a_reloaded_state(spec):
    wf = engine.start(spec, facts=_facts())
    for action in ("receive", "forward"):
        (step,) = engine.open_steps(wf, spec)
        engine.complete(wf, task_id=step.task_id, outcome=action)
        wf = engine.load(spec, through_the_database(engine.dump(wf)))
    assert [s.spec.key for s in engine.open_steps(wf, spec)] == ["approve"]
    engine.back(wf, to_step="review")
    wf = engine.load(spec, through_the_database(engine.dump(wf)))
    assert [s.spec.key for s in engine.open_steps(wf, spec)] == ["review"]


# --- key order: PostgreSQL's jsonb keeps none ---------------------------------------------------------

#: SpiffWorkflow 3.2 stores a task's data as a delta against its parent's and rebuilds it from
#: ``task.parent.data`` while restoring ``tasks`` in the dict's order: a child restored before its
#: parent loses its data. ``Dossier.workflow_state`` is a JSONField, a ``jsonb`` column on
#: PostgreSQL, which gives objects back with their keys sorted (by length, then bytes), i.e. the
#: task UUIDs in random order.


def jsonb_order(value: Any) -> Any:
    """What PostgreSQL's jsonb gives back: object keys sorted by length, then bytewise."""
    if isinstance(value, dict):
        return {k: jsonb_order(value[k]) for k in sorted(value, key=lambda k: (len(k), k.encode()))}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


def children_first(state: dict[str, Any]) -> dict[str, Any]:
    """The same state with its tasks listed leaves first (the worst order a store could give)."""
    state = through_the_database(state)
    state["tasks"] = dict(reversed(list(state["tasks"].items())))
    return state


def police_check_reached(spec, store) -> list[str]:
    wf = engine.start(spec, facts=_facts(purpose="study"))
    for action in ("receive", "forward"):
        wf = engine.load(spec, store(engine.dump(wf)))
        (step,) = engine.open_steps(wf, spec)
        engine.complete(wf, task_id=step.task_id, outcome=action)
    wf = engine.load(spec, store(engine.dump(wf)))
    return [s.spec.key for s in engine.open_steps(wf, spec)]


def test_a_stored_state_does_not_depend_on_the_order_of_its_tasks(spec):
    assert police_check_reached(spec, children_first) == ["police_check"]


def test_a_stored_state_survives_jsonb_key_order(spec):
    # a task UUID sorts before its parent's about half the time: over ten runs one is certain enough
    assert all(police_check_reached(spec, jsonb_order) == ["police_check"] for _ in range(10))


@pytest.mark.django_db
def test_the_form_facts_survive_the_database_column(spec, submit):
    """Through the real column, ten times (on PostgreSQL a jsonb column, which reorders the tasks)."""
    dossier, _ = submit(form_data={**VALID_FORM, "purpose": "study"})

    def column(state: dict[str, Any]) -> dict[str, Any]:
        Dossier.objects.filter(pk=dossier.pk).update(workflow_state=state)
        return Dossier.objects.get(pk=dossier.pk).workflow_state

    assert all(police_check_reached(spec, column) == ["police_check"] for _ in range(10))
