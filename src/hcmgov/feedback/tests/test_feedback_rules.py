"""Feedback (phản ánh, kiến nghị) through the services: the deadline in working days, who may send
and handle it, bad input that changes nothing, repeats that are harmless, the e-mail to the author."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError, NotFound
from hcmgov.core.models import OutboxEvent
from hcmgov.core.services import outbox_deliver
from hcmgov.core.workcalendar import default_calendar
from hcmgov.feedback import selectors, services
from hcmgov.feedback.models import Feedback, State
from hcmgov.feedback.tests.conftest import VN, at, nothing_written
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.notifications.models import Notification

pytestmark = pytest.mark.django_db


# --- the deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Wednesday 22/4/2026: Hùng Kings' day (25–27/4) and 30/4–3/5 fall inside the 15 working days
        (dt.datetime(2026, 4, 22, 10, 0, tzinfo=VN), dt.datetime(2026, 5, 18, 17, 0, tzinfo=VN)),
        # Friday 24/4 after closing counts as received when the office opens on Tuesday 28/4
        (dt.datetime(2026, 4, 24, 18, 0, tzinfo=VN), dt.datetime(2026, 5, 21, 17, 0, tzinfo=VN)),
        # the last working day before Tết Bính Ngọ (14–22/2/2026)
        (dt.datetime(2026, 2, 13, 10, 0, tzinfo=VN), dt.datetime(2026, 3, 13, 17, 0, tzinfo=VN)),
        # an ordinary week, for comparison: three weeks later
        (dt.datetime(2026, 3, 2, 9, 0, tzinfo=VN), dt.datetime(2026, 3, 23, 17, 0, tzinfo=VN)),
    ],
)
def test_the_deadline_is_15_working_days_after_receipt_across_holidays(received, due):
    assert services.feedback_due(received_at=received) == due
    calendar = default_calendar()
    assert calendar.working_days_between(calendar.effective_receipt(received).date(), due.date()) == 15


def test_feedback_received_before_the_holiday_carries_its_deadline(feedback_of, citizen):
    feedback = feedback_of(citizen, now=dt.datetime(2026, 4, 29, 16, 0, tzinfo=VN))
    assert feedback.due_at == dt.datetime(2026, 5, 22, 17, 0, tzinfo=VN)
    assert Feedback.objects.get(pk=feedback.pk).due_at == feedback.due_at


# --- sending ---------------------------------------------------------------------------------------


def test_a_citizen_sends_feedback_with_the_account_details(feedback_of, citizen, agency):
    feedback = feedback_of(citizen, category="conduct", now=at(2, 9))
    assert feedback.code.startswith("PAKN-260302-")
    assert len(feedback.secret) == 8
    assert (feedback.state, feedback.category, feedback.agency_id) == (State.RECEIVED, "conduct", agency.pk)
    assert (feedback.author_name, feedback.author_email) == (citizen.full_name, citizen.email)
    assert OutboxEvent.objects.filter(topic="feedback.received", key=feedback.code).count() == 1
    assert AuditEvent.objects.filter(action="feedback.submit", object_id=str(feedback.pk)).count() == 1
    assert selectors.feedback_lookup(code=feedback.code, secret=feedback.secret.lower()) == feedback


def test_anonymous_feedback_needs_a_name_and_a_way_to_answer(feedback_of, agency):
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        services.feedback_submit(author=None, agency_code=agency.code, subject="Góp ý", text="Nội dung")
    assert info.value.status == 422
    assert {e.field: e.code for e in info.value.errors} == {"name": "required", "email": "contact_required"}
    assert nothing_written() == before
    feedback = feedback_of(None, email="", phone="091 234 5678")
    assert (feedback.author_id, feedback.author_phone, feedback.author_email) == (None, "0912345678", "")


def test_the_dossier_named_must_be_the_authors_own(feedback_of, citizen, other_citizen, submitted_dossier):
    mine = feedback_of(citizen, dossier_code=f"  {submitted_dossier.code} ")
    assert mine.dossier_code == submitted_dossier.code
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        feedback_of(other_citizen, dossier_code=submitted_dossier.code)
    assert [(e.field, e.code) for e in info.value.errors] == [("dossier", "unknown_dossier")]
    with pytest.raises(DomainError) as info:  # anonymous: the code alone proves nothing
        feedback_of(None, dossier_code=submitted_dossier.code)
    assert [(e.field, e.code) for e in info.value.errors] == [("dossier_secret", "required")]
    with pytest.raises(DomainError) as info:
        feedback_of(None, dossier_code=submitted_dossier.code, dossier_secret="WRONG234")
    assert [(e.field, e.code) for e in info.value.errors] == [("dossier", "unknown_dossier")]
    assert nothing_written() == before
    anonymous = feedback_of(None, dossier_code=submitted_dossier.code, dossier_secret=submitted_dossier.tracking_secret)
    assert anonymous.dossier_code == submitted_dossier.code


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"text": "   "}, "text", "required"),
        ({"subject": ""}, "subject", "required"),
        ({"text": "Nội dung\x00có NUL"}, "text", "invalid_character"),
        ({"subject": "Tiêu\x00đề"}, "subject", "invalid_character"),
        ({"subject": "Hai\ndòng"}, "subject", "invalid_character"),
        ({"text": "lone surrogate \ud800"}, "text", "invalid_character"),
        ({"subject": "x" * 201}, "subject", "too_long"),
        ({"text": "x" * 5001}, "text", "too_long"),
        ({"agency_code": "999.99.99.H99"}, "agency", "unknown_agency"),
        ({"agency_code": "abc\x00"}, "agency", "unknown_agency"),
        ({"agency_code": ""}, "agency", "required"),
        ({"category": "weather"}, "category", "invalid_choice"),
        ({"name": "y" * 151}, "name", "too_long"),
        ({"email": "not-an-address"}, "email", "invalid_email"),
        ({"phone": "12345", "email": ""}, "phone", "invalid_phone"),
        ({"phone": "٠٩١٢٣٤٥٦٧٨", "email": ""}, "phone", "invalid_phone"),  # Arabic-Indic digits are not a phone
    ],
)
def test_bad_input_is_refused_in_both_languages_and_writes_nothing(agency, overrides, field, code):
    kwargs = {
        "author": None,
        "agency_code": agency.code,
        "subject": "Góp ý",
        "text": "Nội dung",
        "name": "Lê Thị Cúc",
        "email": "cuc@example.vn",
        **overrides,
    }
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        services.feedback_submit(**kwargs)
    assert (info.value.status, info.value.code) == (422, "invalid_input")
    assert (field, code) in [(e.field, e.code) for e in info.value.errors]
    error = next(e for e in info.value.errors if e.field == field)
    assert error.message.vi
    assert error.message.en
    assert error.message.vi != error.message.en
    assert nothing_written() == before


def test_an_official_account_does_not_send_feedback(feedback_of, receiver):
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        feedback_of(receiver)
    assert info.value.status == 403
    assert nothing_written() == before


def test_a_repeat_with_the_same_key_returns_the_first_and_another_content_is_refused(agency, citizen, other_citizen):
    kwargs = {"agency_code": agency.code, "subject": "Góp ý", "text": "Nội dung", "idempotency_key": "k-1"}
    first, created = services.feedback_submit(author=citizen, **kwargs)
    again, created_again = services.feedback_submit(author=citizen, **kwargs)
    assert (created, created_again, again.pk) == (True, False, first.pk)
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        services.feedback_submit(author=citizen, **{**kwargs, "text": "Nội dung khác"})
    assert (info.value.status, info.value.code) == (422, "idempotency_key_reused")
    assert nothing_written() == before
    # keys are scoped: another citizen's "k-1" is their own feedback
    theirs, created = services.feedback_submit(author=other_citizen, **kwargs)
    assert created
    assert theirs.pk != first.pk
    # anonymous repeats too, with the same content only
    anonymous = {**kwargs, "name": "Ẩn danh", "phone": "0912345678"}
    one, _ = services.feedback_submit(author=None, **anonymous)
    two, created = services.feedback_submit(author=None, **anonymous)
    assert (two.pk, created) == (one.pk, False)
    with pytest.raises(DomainError):
        services.feedback_submit(author=None, **{**anonymous, "name": "Người khác"})
    with pytest.raises(DomainError) as info:
        services.feedback_submit(author=None, **{**anonymous, "idempotency_key": "có dấu"})
    assert info.value.errors[0].code == "invalid_key"


# --- handling ---------------------------------------------------------------------------------------


def test_the_agencys_official_takes_up_and_answers_on_time_and_the_author_is_told(
    feedback_of, citizen, receiver, settings
):
    feedback = feedback_of(citizen, now=at(2, 9))
    feedback = services.feedback_start(feedback=feedback, official=receiver, now=at(3, 9))
    assert (feedback.state, feedback.handler_id) == (State.HANDLING, receiver.pk)
    with pytest.raises(DomainError) as info:
        services.feedback_start(feedback=feedback, official=receiver, now=at(3, 10))
    assert info.value.code == "already_handling"
    feedback = services.feedback_answer(
        feedback=feedback, official=receiver, answer="Cơ quan đã chấn chỉnh cán bộ.", now=at(20, 9)
    )
    assert (feedback.state, feedback.timeliness, feedback.closed_at) == (State.ANSWERED, "on_time", at(20, 9))
    outbox_deliver()
    mails = Notification.objects.filter(recipient=citizen).order_by("id")
    assert [m.subject.split("] ")[1] for m in mails] == [
        "Đã tiếp nhận phản ánh, kiến nghị / Feedback received",
        "Phản ánh, kiến nghị đã được trả lời / Your feedback was answered",
    ]
    answered = mails.last()
    assert "Cơ quan đã chấn chỉnh cán bộ." in answered.body
    assert f"code={feedback.code}" in answered.body
    assert f"secret={feedback.secret}" in answered.body
    assert answered.body.index("trả lời") < answered.body.index("answer")  # Vietnamese first
    outbox_deliver()
    assert Notification.objects.filter(recipient=citizen).count() == 2  # a redelivery sends nothing twice
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        services.feedback_answer(feedback=feedback, official=receiver, answer="Lần nữa")
    assert (info.value.status, info.value.code) == (409, "already_closed")
    assert nothing_written() == before


def test_an_answer_after_the_deadline_is_recorded_late(feedback_of, receiver):
    feedback = feedback_of(None, now=at(2, 9))
    assert feedback.due_at == dt.datetime(2026, 3, 23, 17, 0, tzinfo=VN)
    feedback = services.feedback_answer(feedback=feedback, official=receiver, answer="Trả lời", now=at(23, 17, 1))
    assert feedback.timeliness == "late"
    outbox_deliver()  # an anonymous author has no account to write to: nothing is queued, nothing fails
    assert not Notification.objects.exists()
    assert not OutboxEvent.objects.filter(delivered_at__isnull=True).exists()


def test_rejections_name_a_reason_and_count_on_time_within_two_working_days(feedback_of, receiver):
    quick = feedback_of(None, now=at(2, 9))
    with pytest.raises(DomainError) as info:
        services.feedback_reject(feedback=quick, official=receiver, reason="boring")
    assert info.value.errors[0].field == "reason"
    quick = services.feedback_reject(
        feedback=quick, official=receiver, reason="duplicate", note="Trùng PAKN-260301-0001", now=at(4, 17)
    )
    assert (quick.state, quick.reject_reason, quick.timeliness) == (State.REJECTED, "duplicate", "on_time")
    slow = feedback_of(None, now=at(2, 9))
    slow = services.feedback_reject(feedback=slow, official=receiver, reason="out_of_scope", now=at(5, 9))
    assert slow.timeliness == "late"
    assert OutboxEvent.objects.filter(topic="feedback.rejected").count() == 2


def test_only_officials_of_the_agency_handle_its_feedback(feedback_of, citizen, other_official, other_citizen, agency):
    feedback = feedback_of(citizen)
    clerk = RoleAssignmentFactory(agency=agency, role="clerk").user  # hands out results: not a handler
    before = nothing_written()
    attempts = [
        (services.feedback_start, {}),
        (services.feedback_answer, {"answer": "x"}),
        (services.feedback_reject, {"reason": "abusive"}),
    ]
    for who in (other_official, other_citizen, citizen, clerk, UserFactory(admin=True)):
        for service, extra in attempts:
            with pytest.raises(DomainError) as info:
                service(feedback=feedback, official=who, **extra)
            assert info.value.status == 403
        assert list(selectors.feedback_list_for_official(user=who, state="all")) == []
        with pytest.raises(NotFound):
            selectors.feedback_for_official(user=who, code=feedback.code)
    assert nothing_written() == before
    assert Feedback.objects.get(pk=feedback.pk).state == State.RECEIVED


def test_bad_answers_change_nothing(feedback_of, receiver):
    feedback = feedback_of(None)
    for text in ("", "  ", "a\x00b", "x" * 5001):
        with pytest.raises(DomainError) as info:
            services.feedback_answer(feedback=feedback, official=receiver, answer=text)
        assert info.value.status == 422
    assert Feedback.objects.get(pk=feedback.pk).state == State.RECEIVED
    assert not OutboxEvent.objects.filter(topic="feedback.answered").exists()


# --- the author's rating of the answer ----------------------------------------------------------------


def test_the_author_rates_the_answer_once(feedback_of, receiver):
    feedback = feedback_of(None)
    with pytest.raises(DomainError) as info:
        services.feedback_rate_answer(feedback=feedback, score=5)
    assert info.value.code == "not_answered"
    feedback = services.feedback_answer(feedback=feedback, official=receiver, answer="Đã xử lý")
    for bad in (0, 6, "x", None, True):
        with pytest.raises(DomainError) as info:
            services.feedback_rate_answer(feedback=feedback, score=bad)
        assert info.value.status == 422
    rated = services.feedback_rate_answer(feedback=feedback, score="2", comment="Trả lời chung chung")
    assert (rated.answer_score, rated.answer_comment) == (2, "Trả lời chung chung")
    again = services.feedback_rate_answer(feedback=feedback, score=2, comment="Trả lời chung chung")
    assert again.answer_rated_at == rated.answer_rated_at
    with pytest.raises(DomainError) as info:
        services.feedback_rate_answer(feedback=feedback, score=5)
    assert (info.value.status, info.value.code) == (409, "already_rated")
    assert Feedback.objects.get(pk=feedback.pk).answer_score == 2
    assert AuditEvent.objects.filter(action="feedback.rate_answer").count() == 1


# --- the back office's reads and the statistics --------------------------------------------------------


def test_the_office_list_marks_overdue_feedback_and_the_counts_feed_the_index(feedback_of, receiver, agency):
    with time_machine.travel(at(12, 9), tick=False):
        late = feedback_of(None, subject="Cũ", now=dt.datetime(2026, 1, 5, 9, 0, tzinfo=VN))
        fresh = feedback_of(None, subject="Mới", category="conduct", now=at(10, 9))
        answered = feedback_of(None, subject="Đã trả lời", now=at(2, 9))
        services.feedback_answer(feedback=answered, official=receiver, answer="Đã xử lý", now=at(3, 9))
        services.feedback_rate_answer(feedback=answered, score=1)
        open_list = list(selectors.feedback_list_for_official(user=receiver))
        assert [f.code for f in open_list] == [late.code, fresh.code]  # soonest deadline first
        assert [f.overdue for f in open_list] == [True, False]
        assert [f.code for f in selectors.feedback_list_for_official(user=receiver, state="overdue")] == [late.code]
        found = selectors.feedback_list_for_official(user=receiver, state="all", q=answered.code.lower())
        assert [f.code for f in found] == [answered.code]
        counts = selectors.feedback_counts(agency_ids=[agency.pk])
        assert counts == {
            "total": 3, "regulation": 2, "conduct": 1, "on_time": 1, "late": 0, "open": 2, "open_overdue": 1,
            "rated": 1, "dissatisfied": 1,
        }  # fmt: skip
        march = selectors.feedback_counts(agency_ids=[agency.pk], start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
        assert (march["total"], march["open"]) == (2, 1)
        assert selectors.feedback_counts(agency_ids=[])["total"] == 0
