"""Every seeded procedure runs on its shipped flow from submission to the returned result."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hcmgov.catalog.models import Procedure, ProcessFlow
from hcmgov.common import jsonform
from hcmgov.core.models import Agency
from hcmgov.dossiers import services
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.models import DossierStep, Status, StepState
from hcmgov.identity.models import RoleAssignment
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parents[4]
SEEDED = sorted(p.stem for p in (ROOT / "src/hcmgov/catalog/data/procedures").glob("*.yaml"))
GOOD = ("receive", "forward", "approve", "sign", "return")


def _official(agency_id: int, role: str):
    found = RoleAssignment.objects.filter(agency_id=agency_id, role=role).select_related("user").first()
    return found.user if found else RoleAssignmentFactory(agency_id=agency_id, role=role).user


def _agency_for(procedure: Procedure, day: dt.date) -> Agency:
    qs = Agency.objects.filter(kind=procedure.agency_kind, valid_from__lte=day).exclude(valid_to__lt=day)
    if procedure.agency_department:
        qs = qs.filter(department=procedure.agency_department)
    return qs.order_by("code").first()


def test_every_seeded_procedure_has_a_flow():
    with_flow = set(ProcessFlow.objects.values_list("procedure__code", flat=True))
    assert with_flow == set(SEEDED)


def test_the_shipped_flow_files_are_what_the_generator_makes():
    done = subprocess.run(  # noqa: S603 - our own script, with this interpreter
        [sys.executable, str(ROOT / "scripts/flows_generate.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.parametrize("code", SEEDED)
def test_seeded_procedure_runs_from_submission_to_returned_result(code, pdf_bytes):
    procedure = Procedure.objects.get(code=code)
    version = procedure.versions.order_by("-version").first()
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    agency = _agency_for(procedure, now.date())
    form = jsonform.sample_valid(version.form_schema, random.Random(code), tries=50)
    assert form is not None
    attachments = [
        Attachment(doc["code"], f"{doc['code']}.pdf", pdf_bytes)
        for doc in version.required_documents
        if doc.get("required", True) and doc.get("kind") != "present"
    ]
    dossier, _ = services.dossier_submit(
        applicant=UserFactory(), procedure_code=code, agency_code=agency.code, form_data=form,
        attachments=attachments, now=now,
    )  # fmt: skip
    assert dossier.flow_id is not None
    seen = []
    for _ in range(20):
        step = DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).first()
        if step is None:
            break
        spec_actions = ProcessFlow.objects.get(pk=dossier.flow_id).steps
        allowed = next(s["actions"] for s in spec_actions if s["key"] == step.key)
        action = next(a for a in GOOD if a in allowed)
        now += dt.timedelta(hours=1)
        dossier = services.dossier_act(
            dossier=dossier, official=_official(step.agency_id, step.role), step_id=step.pk, action=action, now=now
        )
        seen.append(step.key)
    assert dossier.status == Status.RETURNED, seen
    assert dossier.timeliness in {"early", "on_time"}
    assert dossier.received_at is not None
    assert dossier.finished_at is not None
