"""Processing through the flow: every path of the test flow, the legal clock, refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from hcmgov.common.errors import DomainError
from hcmgov.core.models import Agency
from hcmgov.core.workcalendar import default_calendar
from hcmgov.dossiers import selectors, services
from hcmgov.dossiers.models import (
    ApologyLetter,
    Dossier,
    DossierEvent,
    DossierStep,
    ProcessingStat,
    Status,
    StepState,
    SupplementRequest,
)
from hcmgov.dossiers.tests.conftest import VALID_FORM
from hcmgov.identity.tests.factories import RoleAssignmentFactory
from hcmgov.notifications.models import Notification

pytestmark = pytest.mark.django_db

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)  # an ordinary working week


def at(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A moment in March 2026 (Ho Chi Minh City time)."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=VN)


@pytest.fixture
def staff(agency):
    return {
        role: RoleAssignmentFactory(agency=agency, role=role).user
        for role in ("receiver", "specialist", "head", "leader", "clerk")
    }


def open_step(dossier: Dossier) -> DossierStep:
    steps = list(DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN))
    assert len(steps) == 1, steps
    return steps[0]


def act(dossier, official, action, now, note=""):
    return services.dossier_act(
        dossier=dossier, official=official, step_id=open_step(dossier).pk, action=action, note=note, now=now
    )


def submitted(submit, now=MONDAY, **form):
    with time_machine.travel(now, tick=False):
        dossier, _ = submit(form_data={**VALID_FORM, **form})
    return dossier


def test_the_whole_flow_from_submission_to_returned_result(submit, staff, agency):
    dossier = submitted(submit)
    first = open_step(dossier)
    assert (first.key, first.role, first.agency_id, dossier.status) == ("receive", "receiver", agency.pk, Status.NEW)

    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    assert dossier.status == Status.RECEIVED
    assert dossier.due_at == dt.datetime(2026, 3, 5, 17, 0, tzinfo=VN)  # 3 working days after Monday
    review = open_step(dossier)
    assert review.key == "review"
    assert review.due_at == dt.datetime(2026, 3, 3, 9, 0, tzinfo=VN)  # 1 working day (8 h) after 09:00

    dossier = act(dossier, staff["specialist"], "forward", at(2, 15))
    assert dossier.status == Status.IN_PROGRESS
    assert open_step(dossier).key == "approve"  # purpose "work": no police check
    dossier = act(dossier, staff["head"], "approve", at(3, 8))
    dossier = act(dossier, staff["leader"], "sign", at(3, 10))
    assert dossier.status == Status.FINISHED
    assert dossier.timeliness == "early"
    assert open_step(dossier).role == "clerk"
    dossier = act(dossier, staff["clerk"], "return", at(3, 14))

    assert dossier.status == Status.RETURNED
    assert dossier.returned_at == at(3, 14)
    assert not DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).exists()
    assert list(DossierEvent.objects.filter(dossier=dossier).values_list("status_to", flat=True)) == [1, 2, 4, 9, 10]
    steps = DossierStep.objects.filter(dossier=dossier).order_by("id")
    assert [(s.key, s.outcome, s.timeliness) for s in steps] == [
        ("receive", "receive", "on_time"),
        ("review", "forward", "early"),
        ("approve", "approve", "on_time"),
        ("sign", "sign", "on_time"),
        ("give", "return", "on_time"),
    ]
    stat = ProcessingStat.objects.get(kind="dossier", agency_id=agency.pk)
    assert (stat.early, stat.on_time, stat.late) == (1, 0, 0)
    by_official = ProcessingStat.objects.get(kind="step", official_id=staff["specialist"].pk)
    assert (by_official.step_key, by_official.early) == ("review", 1)


def test_refusal_at_the_desk_ends_the_flow(submit, staff):
    dossier = submitted(submit)
    with pytest.raises(DomainError) as info:
        act(dossier, staff["receiver"], "refuse", at(2, 9), note="  ")
    assert info.value.code == "reason_required"
    dossier = services.dossier_refuse(dossier=dossier, official=staff["receiver"], reason="Thiếu tờ khai", now=at(2, 9))
    assert dossier.status == Status.NOT_RECEIVED
    assert dossier.refusal_reason == "Thiếu tờ khai"
    assert not DossierStep.objects.filter(dossier=dossier, state=StepState.OPEN).exists()


def test_a_condition_on_the_form_sends_the_dossier_to_the_commune_police_and_back(submit, staff, agency):
    dossier = submitted(submit, purpose="study")
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    dossier = act(dossier, staff["specialist"], "forward", at(2, 10))
    check = open_step(dossier)
    assert check.key == "police_check"
    police = Agency.objects.get(pk=check.agency_id)
    assert police.kind == "police"
    assert "Công an" in DossierEvent.objects.filter(dossier=dossier).last().note
    with pytest.raises(DomainError) as info:  # the home agency's specialist holds no role at the police
        act(dossier, staff["specialist"], "forward", at(2, 11))
    assert info.value.status == 403
    police_officer = RoleAssignmentFactory(agency=police, role="specialist").user
    dossier = act(dossier, police_officer, "forward", at(2, 11))
    back_home = open_step(dossier)
    assert (back_home.key, back_home.agency_id) == ("approve", agency.pk)


def test_an_action_the_step_does_not_allow_is_refused_and_changes_nothing(submit, staff):
    dossier = submitted(submit)
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    before = (Dossier.objects.get(pk=dossier.pk).workflow_state, DossierEvent.objects.count())
    with pytest.raises(DomainError) as info:
        act(dossier, staff["specialist"], "sign", at(2, 10))
    assert info.value.code == "action_not_allowed"
    assert "forward" in info.value.message.en
    with pytest.raises(DomainError) as info:
        act(dossier, staff["clerk"], "forward", at(2, 10))  # a clerk is not the specialist
    assert info.value.status == 403
    assert (Dossier.objects.get(pk=dossier.pk).workflow_state, DossierEvent.objects.count()) == before
    assert open_step(dossier).key == "review"


def test_the_second_official_acting_on_a_closed_step_is_told_who_acted(submit, staff, agency):
    dossier = submitted(submit)
    step = open_step(dossier)
    services.dossier_act(dossier=dossier, official=staff["receiver"], step_id=step.pk, action="receive", now=at(2, 9))
    other = RoleAssignmentFactory(agency=agency, role="receiver").user
    with pytest.raises(DomainError) as info:
        services.dossier_act(dossier=dossier, official=other, step_id=step.pk, action="refuse", note="x", now=at(2, 9))
    assert info.value.code == "step_already_handled"
    assert staff["receiver"].full_name in info.value.message.vi
    assert Dossier.objects.get(pk=dossier.pk).status == Status.RECEIVED


def test_a_supplement_stops_the_clock_and_moves_the_due_date_by_the_working_days_suspended(submit, staff, citizen):
    dossier = submitted(submit)
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    due, step_due = dossier.due_at, open_step(dossier).due_at
    dossier = services.dossier_request_supplement(
        dossier=dossier, official=staff["specialist"], step_id=open_step(dossier).pk,
        items=[{"document": "Bản sao giấy khai sinh", "reason": "Bản chụp bị mờ"}], now=at(2, 10),
    )  # fmt: skip
    assert dossier.status == Status.SUPPLEMENT_REQUESTED
    head = staff["head"]
    assert open_step(dossier).waiting
    assert [s.dossier_id for s in selectors.step_queue(user=head, queue="supplement", now=at(2, 11))] == [dossier.pk]
    assert not selectors.step_queue(user=head, queue="unit", now=at(2, 11)).exists()  # out of the work queues
    with pytest.raises(DomainError) as info:
        act(dossier, staff["specialist"], "forward", at(3, 9))
    assert info.value.code == "awaiting_supplement"
    # answered on Friday 6 March: Tue, Wed, Thu, Fri = 4 working days stood still
    dossier = services.dossier_supplement(dossier=dossier, applicant=citizen, note="Đã gửi bản rõ", now=at(6, 10))
    assert dossier.status == Status.RECEIVED
    assert dossier.suspended_days == 4
    calendar = default_calendar()
    assert dossier.due_at.date() == calendar.add_working_days(due.astimezone(VN).date(), 4)
    assert calendar.working_hours_between(step_due, open_step(dossier).due_at) == dt.timedelta(hours=32)
    assert SupplementRequest.objects.get(dossier=dossier).suspended_days == 4
    assert dossier.supplement_count == 1
    assert not open_step(dossier).waiting
    assert selectors.queue_counts(user=head, now=at(6, 11))["supplement"] == 0
    assert [s.dossier_id for s in selectors.step_queue(user=head, queue="unit", now=at(6, 11))] == [dossier.pk]


def test_more_than_one_supplement_request_counts_as_late(submit, staff, citizen):
    dossier = submitted(submit)
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    for day in (2, 3):
        dossier = services.dossier_request_supplement(
            dossier=dossier, official=staff["specialist"], step_id=open_step(dossier).pk,
            items=[{"document": "Tờ khai", "reason": "Thiếu chữ ký"}], now=at(day, 10),
        )  # fmt: skip
        dossier = services.dossier_supplement(dossier=dossier, applicant=citizen, now=at(day, 11))
    for role, action in (("specialist", "forward"), ("head", "approve"), ("leader", "sign")):
        dossier = act(dossier, staff[role], action, at(3, 14))
    assert dossier.status == Status.FINISHED
    assert dossier.timeliness == "late"  # finished early, but two supplement requests


def test_supplement_refused_for_someone_else_and_without_items(submit, staff, citizen):
    from hcmgov.identity.tests.factories import UserFactory

    dossier = submitted(submit)
    with pytest.raises(DomainError) as info:
        services.dossier_request_supplement(
            dossier=dossier, official=staff["receiver"], step_id=open_step(dossier).pk, items=[{"document": " "}]
        )
    assert info.value.code == "items_required"
    dossier = services.dossier_request_supplement(
        dossier=dossier, official=staff["receiver"], step_id=open_step(dossier).pk, items=[{"document": "Tờ khai"}]
    )
    assert dossier.supplement_count == 0  # before receipt no clock runs: not counted
    with pytest.raises(DomainError) as info:
        services.dossier_supplement(dossier=dossier, applicant=UserFactory())
    assert info.value.status == 403
    assert services.dossier_supplement(dossier=dossier, applicant=citizen).status == Status.NEW


def test_late_dossier_gets_an_apology_with_a_new_appointment_and_still_counts_late(submit, staff):
    dossier = submitted(submit)
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    legal_due = dossier.due_at
    with pytest.raises(DomainError) as info:
        services.dossier_apologize(
            dossier=dossier, official=staff["specialist"], reason="Chờ xác minh", new_date=dt.date(2026, 3, 10)
        )
    assert info.value.status == 403
    with pytest.raises(DomainError) as info:  # a Saturday
        services.dossier_apologize(dossier=dossier, official=staff["leader"], reason="x", new_date=dt.date(2026, 3, 7))
    assert info.value.code == "bad_date"
    letter = services.dossier_apologize(
        dossier=dossier, official=staff["leader"], reason="Chờ kết quả xác minh", new_date=dt.date(2026, 3, 10),
        now=at(5, 9),
    )  # fmt: skip
    dossier = Dossier.objects.get(pk=dossier.pk)
    assert letter.new_appointment == dt.datetime(2026, 3, 10, 17, 0, tzinfo=VN)
    assert dossier.appointment_at == letter.new_appointment
    assert dossier.due_at == legal_due
    for role, action, day in (("specialist", "forward", 9), ("head", "approve", 9), ("leader", "sign", 9)):
        dossier = act(dossier, staff[role], action, at(day, 10))
    assert dossier.timeliness == "late"
    assert ApologyLetter.objects.filter(dossier=dossier).count() == 1


def test_withdrawal_and_stopping(submit, staff, citizen):
    first = submitted(submit)
    first = services.dossier_withdraw(dossier=first, by=citizen, reason="Không còn nhu cầu", now=at(2, 9))
    assert first.status == Status.WITHDRAWN
    assert not DossierStep.objects.filter(dossier=first, state=StepState.OPEN).exists()
    with pytest.raises(DomainError):
        services.dossier_withdraw(dossier=first, by=citizen, reason="again")

    second = submitted(submit, full_name="Lê Văn Bảo")
    second = act(second, staff["receiver"], "receive", at(2, 9))
    with pytest.raises(DomainError) as info:
        services.dossier_stop(dossier=second, official=staff["specialist"], reason="x")
    assert info.value.status == 403
    second = services.dossier_stop(dossier=second, official=staff["leader"], reason="Có tranh chấp", now=at(3, 9))
    assert second.status == Status.STOPPED
    assert DossierStep.objects.filter(dossier=second, state=StepState.CANCELLED).count() == 1


def test_sending_back_reopens_the_previous_step_for_whoever_did_it(submit, staff):
    dossier = submitted(submit)
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    dossier = act(dossier, staff["specialist"], "forward", at(2, 10))
    approve = open_step(dossier)
    dossier = services.dossier_send_back(
        dossier=dossier, official=staff["head"], step_id=approve.pk, reason="Thiếu ý kiến thẩm định", now=at(2, 11)
    )
    reopened = open_step(dossier)
    assert (reopened.key, reopened.assignee_id) == ("review", staff["specialist"].pk)
    assert DossierStep.objects.get(pk=approve.pk).state == StepState.CANCELLED
    with pytest.raises(DomainError) as info:  # the receipt cannot be undone
        services.dossier_send_back(dossier=dossier, official=staff["specialist"], step_id=reopened.pk, reason="x")
    assert info.value.code == "cannot_send_back"
    dossier = act(dossier, staff["specialist"], "forward", at(2, 14))
    assert open_step(dossier).key == "approve"


def test_assignment_by_the_head_and_taking_a_step(submit, staff, agency):
    dossier = submitted(submit)
    dossier = act(dossier, staff["receiver"], "receive", at(2, 9))
    step = open_step(dossier)
    colleague = RoleAssignmentFactory(agency=agency, role="specialist").user
    with pytest.raises(DomainError):  # a specialist may not assign to someone else
        services.step_assign(step_ids=[step.pk], assignee=colleague, by=staff["specialist"])
    with pytest.raises(DomainError) as info:  # the clerk is no specialist
        services.step_assign(step_ids=[step.pk], assignee=staff["clerk"], by=staff["head"])
    assert info.value.code == "assignee_role"
    assert services.step_assign(step_ids=[step.pk], assignee=colleague, by=staff["head"]) == 1
    with pytest.raises(DomainError) as info:
        act(dossier, staff["specialist"], "forward", at(2, 10))
    assert info.value.code == "assigned_to_other"
    act(dossier, colleague, "forward", at(2, 10))


def test_reminders_and_escalations_fire_once(submit, staff, agency, django_capture_on_commit_callbacks):
    from hcmgov.core.services import outbox_deliver

    dossier = submitted(submit)
    act(dossier, staff["receiver"], "receive", at(2, 9))
    assert services.step_timers_run(now=at(2, 12)) == (0, 0)
    assert services.step_timers_run(now=at(2, 16, 45)) == (1, 0)  # 6 of 8 hours used at 16:30
    assert services.step_timers_run(now=at(2, 16, 45)) == (0, 0)
    assert services.step_timers_run(now=at(3, 9, 30)) == (0, 1)
    assert services.step_timers_run(now=at(4, 9)) == (0, 0)
    outbox_deliver()
    outbox_deliver()  # a redelivery sends nothing twice
    reminders = Notification.objects.filter(dedupe_key__startswith="step.reminder")
    escalations = Notification.objects.filter(dedupe_key__startswith="step.escalation")
    assert {n.recipient_id for n in reminders} == {staff["specialist"].pk}
    assert {n.recipient_id for n in escalations} == {staff["head"].pk}
    assert "Thẩm định hồ sơ" in escalations.get().body


def test_queue_counts_stop_at_the_cap(submit, staff, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    for _ in range(4):
        submitted(submit)
    counts = selectors.queue_counts(user=staff["receiver"])
    assert counts["receive"] == 3  # "2+": one more than the cap says there are more
    assert selectors.step_queue(user=staff["receiver"], queue="receive").count() == 4  # the list is whole


def test_statistics_rows_are_appended_and_compacted_without_changing_a_sum(submit, staff):
    from django.db.models import Sum

    from hcmgov.dossiers.services.processing import _stat_add

    def totals():
        return ProcessingStat.objects.values("day", "kind", "official_id", "step_key").annotate(
            e=Sum("early"), o=Sum("on_time"), la=Sum("late")
        )

    yesterday, today = dt.date(2026, 3, 2), dt.date(2026, 3, 3)
    for day, timeliness in [(yesterday, "early"), (yesterday, "late"), (yesterday, "late"), (today, "early")]:
        for official in (1, 2):
            _stat_add(day=day, kind="step", agency_id=1, procedure_id=1, official_id=official, step_key="review",
                      timeliness=timeliness)  # fmt: skip
    before = sorted(map(repr, totals()))
    assert ProcessingStat.objects.count() == 8  # appended: no counter row to wait on
    assert services.processing_stats_compact(before=today) == 4  # 3 rows → 1, for each official
    assert sorted(map(repr, totals())) == before
    assert ProcessingStat.objects.filter(day=yesterday).count() == 2
    assert ProcessingStat.objects.filter(day=today).count() == 2  # today is still being counted
    assert services.processing_stats_compact(before=today) == 0
