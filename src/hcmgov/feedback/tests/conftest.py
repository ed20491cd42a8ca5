"""Fixtures of the feedback tests: the agency's staff, a dossier brought through the test flow to
"result returned" (status 10), feedback sent by a citizen or anonymously, and API helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from hcmgov.core.models import OutboxEvent
from hcmgov.dossiers import services as dossier_services
from hcmgov.dossiers.models import DossierStep, StepState
from hcmgov.feedback import services
from hcmgov.feedback.models import Feedback, Rating
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)  # an ordinary working week


def at(day: int, hour: int = 9, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=VN)


@pytest.fixture
def staff(agency) -> dict[str, Any]:
    return {
        role: RoleAssignmentFactory(agency=agency, role=role).user
        for role in ("receiver", "specialist", "head", "leader", "clerk")
    }


@pytest.fixture
def other_official(db) -> Any:
    """An official holding every handling role — in another agency."""
    assignment = RoleAssignmentFactory(role="head")
    RoleAssignmentFactory(user=assignment.user, agency=assignment.agency, role="receiver")
    return assignment.user


@pytest.fixture
def other_citizen(db) -> Any:
    return UserFactory()


def _act(dossier: Any, official: Any, action: str, now: dt.datetime) -> Any:
    step = DossierStep.objects.get(dossier=dossier, state=StepState.OPEN)
    return dossier_services.dossier_act(dossier=dossier, official=official, step_id=step.pk, action=action, now=now)


@pytest.fixture
def submitted_dossier(submit) -> Any:
    with time_machine.travel(MONDAY, tick=False):
        dossier, _ = submit()
    return dossier


@pytest.fixture
def returned_dossier(submitted_dossier, staff) -> Any:
    """The citizen's dossier, received, forwarded, approved, signed and returned (status 10)."""
    dossier = submitted_dossier
    for role, action, moment in (
        ("receiver", "receive", at(2, 9)),
        ("specialist", "forward", at(2, 15)),
        ("head", "approve", at(3, 8)),
        ("leader", "sign", at(3, 10)),
        ("clerk", "return", at(3, 14)),
    ):
        dossier = _act(dossier, staff[role], action, moment)
    assert dossier.status == 10
    return dossier


@pytest.fixture
def feedback_of(agency) -> Any:
    """``feedback_of(author, **overrides)``: feedback to the agency, by a citizen or anonymously."""

    def make(author: Any = None, **overrides: Any) -> Feedback:
        kwargs: dict[str, Any] = {
            "author": author,
            "agency_code": agency.code,
            "subject": "Thủ tục đòi giấy tờ không có trong quy định",
            "text": "Cán bộ yêu cầu nộp thêm bản sao sổ hộ khẩu dù thủ tục không quy định.",
        }
        if author is None:
            kwargs.update(name="Trần Văn Bình", email="binh@example.vn")
        kwargs.update(overrides)
        feedback, created = services.feedback_submit(**kwargs)
        assert created
        return feedback

    return make


def bearer(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_issue(user=user, name='test').raw}"}


def nothing_written() -> tuple[int, int, int]:
    """Feedback, ratings and their outbox events: what a refused request must leave untouched."""
    events = OutboxEvent.objects.filter(topic__startswith="feedback.").count()
    events += OutboxEvent.objects.filter(topic="rating.submitted").count()
    return Feedback.objects.count(), Rating.objects.count(), events
