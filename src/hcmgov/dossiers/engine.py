"""SpiffWorkflow behind a small interface: start a dossier's flow, list its open steps, complete one
with a decision, go back to an earlier step, cancel.

The engine's state is kept with the dossier as JSON (``Dossier.workflow_state``), without the
flow's own definition: that is re-read from the flow version the dossier started on (immutable),
which keeps the stored state a few kilobytes. The state carries SpiffWorkflow's serializer version,
and an older state is migrated by SpiffWorkflow's own migrations when it is read, so stored
dossiers survive an upgrade of the library (tested with a state written by an older release).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from hcmgov.catalog.flows import SCRIPT_ENGINE, SERIALIZER, SERIALIZER_VERSION, FlowSpec, StepSpec
from hcmgov.common.errors import DomainError, Message

VERSION_KEY = SERIALIZER.VERSION_KEY


class EngineError(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            "flow_error",
            Message(
                f"Quy trình không thể tiếp tục: {detail}. Vui lòng báo quản trị hệ thống.",
                f"The flow cannot go on: {detail}. Please tell the platform administrator.",
            ),
            409,
        )


@dataclass(frozen=True)
class OpenStep:
    task_id: uuid.UUID
    spec: StepSpec


_SPEC_JSON: dict[str, str] = {}  # flow content hash → the engine's serialized definition


def _spec_json(spec: FlowSpec) -> str:
    found = _SPEC_JSON.get(spec.sha256)
    if found is None:
        found = _SPEC_JSON[spec.sha256] = json.dumps(SERIALIZER.to_dict(spec.workflow_spec))
    return found


def start(spec: FlowSpec, *, facts: dict[str, Any]) -> BpmnWorkflow:
    """A new run of ``spec`` whose conditions read ``facts`` (the dossier's form, flattened)."""
    wf = BpmnWorkflow(spec.workflow_spec, script_engine=SCRIPT_ENGINE)
    for task in wf.get_tasks(state=TaskState.READY):
        task.data.update(facts)
    _advance(wf)
    return wf


# Where each of SpiffWorkflow's migrations leaves a state: they do not all chain to the end
# (1.0-1.2 stop at 1.3, each later one goes one step), so ``load`` applies them until current.
_MIGRATED_TO = {"1.0": "1.3", "1.1": "1.3", "1.2": "1.3", "1.3": "1.4", "1.4": "1.5"}


def load(spec: FlowSpec, state: dict[str, Any]) -> BpmnWorkflow:
    """The run of ``spec`` stored as ``state`` (which is left untouched).

    Two things the storage does to the state are undone first: an older serializer format is
    migrated step by step to the current one, and the tasks are put back parents first —
    SpiffWorkflow 3.2 stores a task's data as a change from its parent's and restores tasks in the
    order given, while PostgreSQL's ``jsonb`` gives an object's keys back in its own order."""
    dct = copy.deepcopy(state)  # the migrations change nested dicts in place
    dct["spec"] = json.loads(_spec_json(spec))
    dct.setdefault("subprocess_specs", {})
    version = str(dct.pop(VERSION_KEY, SERIALIZER_VERSION))
    while version != SERIALIZER_VERSION:
        if version not in MIGRATIONS:
            raise EngineError(f"trạng thái lưu ở định dạng lạ {version!r} / stored state in unknown format {version!r}")
        MIGRATIONS[version](dct)
        version = _MIGRATED_TO[version]
    _parents_first(dct)
    for sub in (dct.get("subprocesses") or {}).values():
        _parents_first(sub)
    wf = SERIALIZER.from_dict(dct)
    wf.script_engine = SCRIPT_ENGINE
    return wf


def _parents_first(dct: dict[str, Any]) -> None:
    """Order ``dct["tasks"]`` so that every task comes after its parent (breadth first from the root)."""
    tasks = dct.get("tasks")
    root = dct.get("root")
    if not isinstance(tasks, dict) or root not in tasks:
        return
    ordered: dict[str, Any] = {}
    queue: list[str] = [str(root)]
    while queue:
        key = queue.pop(0)
        if key in ordered or key not in tasks:
            continue
        ordered[key] = tasks[key]
        queue.extend(tasks[key].get("children") or [])
    for key, task in tasks.items():  # anything unreachable keeps its place at the end
        ordered.setdefault(key, task)
    dct["tasks"] = ordered


def dump(wf: BpmnWorkflow) -> dict[str, Any]:
    dct = SERIALIZER.to_dict(wf)
    dct.pop("spec", None)
    dct.pop("subprocess_specs", None)
    dct[VERSION_KEY] = SERIALIZER_VERSION
    return dct


def open_steps(wf: BpmnWorkflow, spec: FlowSpec) -> list[OpenStep]:
    """The user tasks waiting for someone, in the flow's order."""
    found = []
    for task in wf.get_tasks(state=TaskState.READY):
        step = spec.steps.get(task.task_spec.name)
        if step is not None:
            found.append(OpenStep(task_id=task.id, spec=step))
    return found


def complete(wf: BpmnWorkflow, *, task_id: uuid.UUID, outcome: str) -> None:
    """Complete an open step with its decision and run the flow on to the next wait."""
    task = wf.get_task_from_id(task_id)
    if task is None or task.state != TaskState.READY:
        raise EngineError("bước không còn chờ xử lý / the step is no longer waiting")
    task.data["outcome"] = outcome
    task.run()
    _advance(wf)


def back(wf: BpmnWorkflow, *, to_step: str) -> None:
    """Reopen the last completed run of step ``to_step`` (the open one is discarded)."""
    done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.name == to_step]
    if not done:
        raise EngineError(f"không có bước trước «{to_step}» / no earlier step “{to_step}”")
    target = max(done, key=lambda t: t.last_state_change)
    wf.reset_from_task_id(target.id)
    target.data.pop("outcome", None)


def cancel(wf: BpmnWorkflow) -> None:
    wf.cancel()


def finished(wf: BpmnWorkflow) -> bool:
    return bool(wf.is_completed())


def _advance(wf: BpmnWorkflow) -> None:
    try:
        wf.do_engine_steps()
    except SpiffWorkflowException as exc:  # a gateway none of whose conditions held, a bad condition
        raise EngineError(str(exc).splitlines()[0][:300]) from exc
