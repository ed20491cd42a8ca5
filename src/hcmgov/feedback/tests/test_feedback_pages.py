"""The feedback pages through Django's test client: the public form and lookup, the back office's
list and answer form, who may open them, CSRF on every form, both languages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client

from hcmgov.feedback import services
from hcmgov.feedback.models import Feedback, State
from hcmgov.feedback.tests.conftest import VN

pytestmark = pytest.mark.django_db


@pytest.fixture
def form(agency):
    return {
        "agency": agency.code,
        "category": "regulation",
        "subject": "Lệ phí thu không đúng",
        "text": "Bộ phận một cửa thu lệ phí cao hơn mức niêm yết.",
        "name": "Võ Văn Em",
        "email": "em@example.vn",
        "submission_token": "tok-123456789",
    }


def test_the_form_is_public_and_bilingual(client, agency):
    page = client.get("/phan-anh-kien-nghi/", {"agency": agency.code})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Gửi phản ánh, kiến nghị" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'<option value="{agency.code}" selected>' in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Send feedback or a recommendation" in client.get("/phan-anh-kien-nghi/").content.decode()


def test_sending_shows_the_code_and_secret_once_and_a_resubmitted_page_sends_nothing_twice(client, form):
    sent = client.post("/phan-anh-kien-nghi/", form)
    assert sent.status_code == 200
    feedback = Feedback.objects.get()
    html = sent.content.decode()
    assert feedback.code in html
    assert feedback.secret in html
    assert feedback.due_at.astimezone(VN).strftime("%d/%m/%Y") in html
    again = client.post("/phan-anh-kien-nghi/", form)  # the back button and "send again"
    assert again.status_code == 200
    assert Feedback.objects.count() == 1
    assert feedback.code in again.content.decode()


def test_bad_input_shows_the_marked_fields_and_writes_nothing(client, form):
    page = client.post("/phan-anh-kien-nghi/", {**form, "text": "", "subject": "a\x00b", "email": "", "phone": ""})
    assert page.status_code == 422
    html = page.content.decode()
    assert "Vui lòng nhập nội dung phản ánh." in html
    assert "Tiêu đề có ký tự không hợp lệ." in html
    assert "Vui lòng để lại thư điện tử hoặc số điện thoại" in html
    assert 'aria-invalid="true"' in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.post("/phan-anh-kien-nghi/", {**form, "agency": "nope"}).content.decode()
    assert "There is no agency (in force) with this code." in english
    assert Feedback.objects.count() == 0


def test_a_signed_in_citizen_is_not_asked_for_contacts_and_an_official_is_told_to_log_out(
    client, form, citizen, receiver
):
    client.force_login(citizen)
    html = client.get("/phan-anh-kien-nghi/").content.decode()
    assert 'name="name"' not in html
    assert citizen.full_name in html
    assert client.post("/phan-anh-kien-nghi/", {**form, "name": ""}).status_code == 200
    assert Feedback.objects.get().author_id == citizen.pk
    client.force_login(receiver)
    assert "tài khoản công vụ" in client.get("/phan-anh-kien-nghi/").content.decode()
    assert client.post("/phan-anh-kien-nghi/", {**form, "submission_token": "tok-other-1234"}).status_code == 403
    assert Feedback.objects.count() == 1


def test_lookup_shows_the_answer_and_takes_the_rating(client, feedback_of, receiver):
    feedback = feedback_of(None)
    assert client.get("/phan-anh-kien-nghi/tra-cuu/").status_code == 200
    assert client.get("/phan-anh-kien-nghi/tra-cuu/", {"code": feedback.code, "secret": "WRONG"}).status_code == 404
    nul = client.post("/phan-anh-kien-nghi/tra-cuu/", {"code": "PAKN\x00", "secret": "X", "score": "5"})
    assert nul.status_code == 404
    page = client.get("/phan-anh-kien-nghi/tra-cuu/", {"code": feedback.code, "secret": feedback.secret})
    assert page.status_code == 200
    assert feedback.subject in page.content.decode()
    assert 'name="score"' not in page.content.decode()  # nothing to rate before the answer
    services.feedback_answer(feedback=feedback, official=receiver, answer="Đã hoàn trả phần lệ phí thu thừa.")
    page = client.get("/phan-anh-kien-nghi/tra-cuu/", {"code": feedback.code, "secret": feedback.secret})
    html = page.content.decode()
    assert "Đã hoàn trả phần lệ phí thu thừa." in html
    assert 'name="score"' in html
    rated = client.post(
        "/phan-anh-kien-nghi/tra-cuu/", {"code": feedback.code, "secret": feedback.secret, "score": "5"}
    )
    assert rated.status_code == 302
    assert Feedback.objects.get().answer_score == 5
    assert "Bạn đã đánh giá" in client.get(rated["Location"]).content.decode()
    refused = client.post(
        "/phan-anh-kien-nghi/tra-cuu/", {"code": feedback.code, "secret": feedback.secret, "score": "1"}
    )
    assert refused.status_code == 409
    assert Feedback.objects.get().answer_score == 5


def test_office_pages_matrix(client, feedback_of, citizen, other_citizen, other_official, receiver):
    """anonymous · citizen · official of another agency · the right official"""
    feedback = feedback_of(citizen, now=dt.datetime(2026, 1, 5, 9, 0, tzinfo=VN))  # long overdue
    pages = ["/office/phan-anh/", f"/office/phan-anh/{feedback.code}/"]
    for page in pages:
        assert client.get(page).status_code == 302
    client.force_login(other_citizen)
    assert [client.get(p).status_code for p in pages] == [403, 403]
    client.force_login(other_official)
    listing = client.get(pages[0])
    assert listing.status_code == 200
    assert feedback.code not in listing.content.decode()
    assert client.get(pages[1]).status_code == 404
    assert client.post(pages[1], {"action": "answer", "answer": "x"}).status_code == 404
    client.force_login(receiver)
    listing = client.get(pages[0]).content.decode()
    assert feedback.due_at == dt.datetime(2026, 1, 23, 17, 0, tzinfo=VN)  # Saturday 10/1 is a make-up working day
    assert feedback.code in listing
    assert "Quá hạn" in listing
    assert "23/01/2026" in listing
    detail = client.get(pages[1]).content.decode()
    assert feedback.text in detail
    assert citizen.email in detail
    assert Feedback.objects.get().state == State.RECEIVED


def test_the_official_takes_up_answers_or_declines_on_the_page(client, feedback_of, receiver):
    first, second = feedback_of(None), feedback_of(None, subject="Xúc phạm")
    client.force_login(receiver)
    url = f"/office/phan-anh/{first.code}/"
    assert client.post(url, {"action": "start"}).status_code == 302
    empty = client.post(url, {"action": "answer", "answer": "  "})
    assert empty.status_code == 422
    assert "Vui lòng nhập nội dung trả lời." in empty.content.decode()
    assert client.post(url, {"action": "answer", "answer": "Đã xử lý xong."}).status_code == 302
    first.refresh_from_db()
    assert (first.state, first.answer, first.handler_id) == (State.ANSWERED, "Đã xử lý xong.", receiver.pk)
    closed = client.post(url, {"action": "reject", "reason": "abusive"})
    assert closed.status_code == 409
    url = f"/office/phan-anh/{second.code}/"
    assert client.post(url, {"action": "reject", "reason": "rude"}).status_code == 422
    assert client.post(url, {"action": "reject", "reason": "abusive", "note": ""}).status_code == 302
    assert Feedback.objects.get(pk=second.pk).state == State.REJECTED
    assert client.post(url, {"action": "explode"}).status_code == 404


def test_every_feedback_form_needs_its_csrf_token(feedback_of, form, receiver):
    feedback = feedback_of(None)
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post("/phan-anh-kien-nghi/", form).status_code == 403
    assert (
        anonymous.post("/phan-anh-kien-nghi/tra-cuu/", {"code": feedback.code, "secret": feedback.secret}).status_code
        == 403
    )
    official = Client(enforce_csrf_checks=True)
    official.force_login(receiver)
    page = official.get(f"/office/phan-anh/{feedback.code}/").content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 3  # take up, answer, decline (and the header's forms)
    assert official.post(f"/office/phan-anh/{feedback.code}/", {"action": "start"}).status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert (
        official.post(
            f"/office/phan-anh/{feedback.code}/", {"action": "start", "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().state == State.HANDLING
