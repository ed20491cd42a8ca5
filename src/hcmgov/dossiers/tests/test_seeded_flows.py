"""Every seeded procedure runs on its shipped flow from submission to the returned result."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hcmgov.catalog.models import Procedure, ProcessFlow
from hcmgov.common import jsonform
from hcmgov.core.models import Agency
from hcmgov.core.workcalendar import default_calendar
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


def _submitted(code: str, pdf_bytes: bytes, now: dt.datetime, seed: str = "") -> Any:
    procedure = Procedure.objects.get(code=code)
    version = procedure.versions.order_by("-version").first()
    agency = _agency_for(procedure, now.date())
    form = jsonform.sample_valid(version.form_schema, random.Random(code + seed), tries=50)
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
    return dossier


def _open(dossier: Any) -> Any:
    return DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).first()


def _decide(dossier: Any, step: Any, now: dt.datetime) -> Any:
    allowed = next(s["actions"] for s in ProcessFlow.objects.get(pk=dossier.flow_id).steps if s["key"] == step.key)
    action = next(a for a in GOOD if a in allowed)
    official = _official(step.agency_id, step.role)
    return services.dossier_act(dossier=dossier, official=official, step_id=step.pk, action=action, now=now)


@pytest.mark.parametrize("code", SEEDED)
def test_seeded_procedure_late_path_with_supplement_escalation_and_apology(code, pdf_bytes):
    """Received, a supplement asked and answered (the clock stands still), the step let run
    overdue (escalated to the head), an apology with a new date, then finished late and returned."""
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    dossier = _submitted(code, pdf_bytes, now, "late")
    dossier = _decide(dossier, _open(dossier), now + dt.timedelta(minutes=10))
    assert dossier.status == Status.RECEIVED
    step = _open(dossier)
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=VN)
    dossier = services.dossier_request_supplement(
        dossier=dossier, official=_official(step.agency_id, step.role), step_id=step.pk,
        items=[{"document": "Bản sao giấy tờ", "reason": "Bản chụp không rõ"}], now=now,
    )  # fmt: skip
    due_before = dossier.due_at
    dossier = services.dossier_supplement(dossier=dossier, applicant=dossier.applicant, now=now + dt.timedelta(days=1))
    assert dossier.due_at > due_before  # moved by the working day it stood still
    late = dossier.due_at + dt.timedelta(days=3)
    _official(step.agency_id, "head")
    assert services.step_timers_run(now=late)[1] >= 1  # the open step is escalated
    leader = _official(dossier.agency_id, "leader")
    new_date = default_calendar().add_working_days(late.date(), 10)
    services.dossier_apologize(dossier=dossier, official=leader, reason="Chờ xác minh", new_date=new_date, now=late)
    dossier.refresh_from_db()
    for i in range(20):
        step = _open(dossier)
        if step is None:
            break
        dossier = _decide(dossier, step, late + dt.timedelta(hours=i + 1))
    assert dossier.status == Status.RETURNED
    assert dossier.timeliness == "late"
    assert dossier.supplement_count == 1


@pytest.mark.parametrize("code", SEEDED)
def test_seeded_procedure_refusal_and_withdrawal(code, pdf_bytes):
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    refused = _submitted(code, pdf_bytes, now, "refused")
    step = _open(refused)
    refused = services.dossier_act(
        dossier=refused, official=_official(step.agency_id, "receiver"), step_id=step.pk, action="refuse",
        note="Hồ sơ không thuộc thẩm quyền", now=now,
    )  # fmt: skip
    assert refused.status == Status.NOT_RECEIVED
    assert _open(refused) is None
    withdrawn = _submitted(code, pdf_bytes, now, "withdrawn")
    withdrawn = _decide(withdrawn, _open(withdrawn), now)
    withdrawn = services.dossier_withdraw(
        dossier=withdrawn, by=withdrawn.applicant, reason="Không còn nhu cầu", now=now
    )
    assert withdrawn.status == Status.WITHDRAWN
    assert _open(withdrawn) is None


@pytest.mark.parametrize("code", SEEDED)
def test_seeded_procedure_runs_from_submission_to_returned_result(code, pdf_bytes):
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
    dossier = _submitted(code, pdf_bytes, now)
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
