"""Write ``workflow_state_<serializer version>.json``: a dossier's engine state as an OLDER SpiffWorkflow
release stored it, for ``test_engine_upgrade.py``.

Run it with the old release in a throwaway virtual environment, never with the project's one
(from the repository root)::

    python3 -m venv /tmp/spiffold
    /tmp/spiffold/bin/pip install 'spiffworkflow==3.1.2'
    /tmp/spiffold/bin/python src/hcmgov/dossiers/tests/data/make_old_state.py

The fixtures here were made that way (Python 3.11) with:

=====================  ================================
SpiffWorkflow release  file (serializer version)
=====================  ================================
1.2.1                  ``workflow_state_1.0.json``
2.0.1                  ``workflow_state_1.2.json``
3.0.0                  ``workflow_state_1.3.json``
3.1.2                  ``workflow_state_1.4.json``
=====================  ================================

It parses the test flow (``src/hcmgov/catalog/tests/flows/test.bpmn``), starts a run with the
dossier's facts, completes the desk's receipt (``outcome = "receive"``), serializes the workflow
with that release's ``BpmnWorkflowSerializer.serialize_json`` and then drops ``spec`` and
``subprocess_specs`` exactly as ``hcmgov.dossiers.engine.dump`` does (keeping the serializer
version key), so the file is what the platform would have stored in ``Dossier.workflow_state``.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

try:  # SpiffWorkflow 3.x
    from SpiffWorkflow.util.task import TaskState
except ImportError:  # SpiffWorkflow 2.x
    from SpiffWorkflow.task import TaskState  # type: ignore[no-redef]

READY = TaskState.READY

HERE = Path(__file__).resolve().parent
FLOW = HERE.parents[2] / "catalog" / "tests" / "flows" / "test.bpmn"
FACTS = {
    "full_name": "Nguyễn Văn An",
    "personal_id": "079123456789",
    "purpose": "work",
    "mother__full_name": "Trần Thị Bình",
}


def main() -> None:
    parser = BpmnParser()
    parser.add_bpmn_file(str(FLOW))
    spec = parser.get_spec("flow_test")
    wf = BpmnWorkflow(spec)
    for task in wf.get_tasks(state=READY):
        task.data.update(FACTS)
    wf.do_engine_steps()
    ready = [t for t in wf.get_tasks(state=READY) if t.task_spec.name == "receive"]
    assert len(ready) == 1, ready
    ready[0].data["outcome"] = "receive"
    (getattr(ready[0], "run", None) or ready[0].complete)()  # 1.x called it complete()
    wf.do_engine_steps()
    waiting = sorted(t.task_spec.name for t in wf.get_tasks(state=READY))
    assert waiting == ["review"], waiting

    serializer = BpmnWorkflowSerializer()
    dct = json.loads(serializer.serialize_json(wf))
    dct.pop("spec", None)
    dct.pop("subprocess_specs", None)
    key = serializer.VERSION_KEY
    assert key in dct, sorted(dct)
    out = HERE / f"workflow_state_{dct[key]}.json"
    out.write_text(json.dumps(dct, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{out} (SpiffWorkflow {version('SpiffWorkflow')}, serializer {dct[key]})", file=sys.stderr)


if __name__ == "__main__":
    main()
