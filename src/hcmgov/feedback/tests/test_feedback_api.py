"""/api/v1/feedback over HTTP: public submission and lookup, the official endpoints' authorization
matrix, bad input as bilingual problem details that write nothing, harmless retries."""

from __future__ import annotations

import pytest
from django.test import Client

from hcmgov.feedback.models import Feedback, State
from hcmgov.feedback.tests.conftest import bearer, nothing_written

pytestmark = pytest.mark.django_db


@pytest.fixture
def body(agency):
    return {
        "agency": agency.code,
        "subject": "Niêm yết thủ tục chưa đầy đủ",
        "text": "Bảng niêm yết tại bộ phận một cửa thiếu mức lệ phí.",
        "name": "Phạm Thị Dung",
        "phone": "0912 345 678",
    }


def send(client, body, headers=None, **extra):
    return client.post("/api/v1/feedback", body, content_type="application/json", **(headers or {}), **extra)


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def test_anyone_sends_feedback_and_a_retry_with_the_same_key_is_harmless(client, body):
    first = send(client, body, HTTP_IDEMPOTENCY_KEY="pakn-1")
    assert first.status_code == 201, first.content
    sent = first.json()
    assert first["Location"] == f"/api/v1/feedback/{sent['code']}"
    assert (sent["state"], sent["state_name"], sent["state_name_en"]) == ("received", "Đã tiếp nhận", "Received")
    assert len(sent["secret"]) == 8
    again = send(client, body, HTTP_IDEMPOTENCY_KEY="pakn-1")
    assert again.status_code == 200
    assert (again.json()["code"], again.json()["secret"]) == (sent["code"], sent["secret"])
    other = problem(send(client, {**body, "text": "Khác"}, HTTP_IDEMPOTENCY_KEY="pakn-1"), 422)
    assert other["code"] == "idempotency_key_reused"
    assert Feedback.objects.count() == 1
    assert Feedback.objects.get().author_phone == "0912345678"


def test_a_signed_in_citizen_sends_as_themselves(client, body, citizen, submitted_dossier):
    response = send(client, {**body, "dossier": submitted_dossier.code, "name": ""}, bearer(citizen))
    assert response.status_code == 201, response.content
    feedback = Feedback.objects.get()
    assert (feedback.author_id, feedback.author_name, feedback.dossier_code) == (
        citizen.pk,
        citizen.full_name,
        submitted_dossier.code,
    )
    client.force_login(citizen)  # the browser session works too (the test client skips CSRF checks)
    assert send(client, {**body, "subject": "Lần hai"}).status_code == 201
    assert Feedback.objects.filter(author=citizen).count() == 2


def test_a_bad_token_or_an_official_token_is_refused(client, body, receiver):
    assert problem(send(client, body, {"HTTP_AUTHORIZATION": "Bearer hcm_not-a-token"}), 401)["code"] == (
        "unauthenticated"
    )
    assert problem(send(client, body, bearer(receiver)), 403)["code"] == "forbidden"
    assert Feedback.objects.count() == 0


def test_a_session_post_without_the_csrf_token_is_refused(body, citizen):
    client = Client(enforce_csrf_checks=True)
    client.force_login(citizen)
    assert problem(send(client, body), 403)["code"] == "csrf_failed"
    assert Feedback.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "có ký tự \u0000 NUL"}, "text"),
        ({"subject": "x" * 201}, "subject"),
        ({"text": "x" * 5001}, "text"),
        ({"agency": "000.00.00.X00"}, "agency"),
        ({"name": ""}, "name"),
        ({"phone": "", "email": "khong-phai-email"}, "email"),
        ({"category": "other"}, "category"),
    ],
)
def test_bad_input_is_a_bilingual_problem_and_writes_nothing(client, body, change, field):
    before = nothing_written()
    vi = problem(send(client, {**body, **change}), 422)
    en = problem(send(client, {**body, **change}, HTTP_ACCEPT_LANGUAGE="en"), 422)
    assert field in [e["field"] for e in vi["errors"]]
    assert vi["title"] != en["title"]
    assert en["title"] in {
        "The request is not valid.",
        "What you sent is not valid yet: please check the marked items.",
    }
    assert nothing_written() == before


def test_malformed_json_is_a_problem(client):
    response = client.post("/api/v1/feedback", "{không phải json", content_type="application/json")
    assert response.status_code in {400, 422}
    assert response["Content-Type"] == "application/problem+json"
    assert Feedback.objects.count() == 0


def test_public_lookup_needs_code_and_secret(client, feedback_of):
    feedback = feedback_of(None)
    found = client.get(f"/api/v1/feedback/{feedback.code}", {"secret": feedback.secret})
    assert found.status_code == 200
    assert set(found.json()) >= {"code", "subject", "state", "due_at", "answer"}
    assert "author_name" not in found.json()
    assert "secret" not in found.json()
    problem(client.get(f"/api/v1/feedback/{feedback.code}", {"secret": "AAAAAAAA"}), 404)
    problem(client.get(f"/api/v1/feedback/{feedback.code}", {"secret": "ĐÂY"}), 404)
    problem(client.get(f"/api/v1/feedback/{feedback.code}"), 422)
    problem(client.get("/api/v1/feedback/PAKN-000000-0000", {"secret": feedback.secret}), 404)


def test_official_endpoints_authorization_matrix(client, feedback_of, citizen, other_citizen, other_official, receiver):
    """anonymous · other citizen · official of another agency · the author · the right official"""
    feedback = feedback_of(citizen)
    code = feedback.code
    calls = [
        ("post", f"/api/v1/feedback/{code}/start", {}),
        ("post", f"/api/v1/feedback/{code}/reject", {"reason": "abusive"}),
        ("post", f"/api/v1/feedback/{code}/answer", {"answer": "Đã tiếp thu"}),
    ]
    for method, url, data in calls:
        assert problem(getattr(client, method)(url, data, content_type="application/json"), 401)
        for who in (other_citizen, citizen, other_official):
            # not 403: whether another agency's feedback code exists is not revealed
            assert problem(getattr(client, method)(url, data, content_type="application/json", **bearer(who)), 404)
    assert Feedback.objects.get().state == State.RECEIVED
    started = client.post(f"/api/v1/feedback/{code}/start", **bearer(receiver))
    assert started.status_code == 200, started.content
    assert started.json()["handler"] == receiver.full_name
    bad = problem(client.post(f"/api/v1/feedback/{code}/answer", {"answer": ""}, content_type="application/json",
                              **bearer(receiver)), 422)  # fmt: skip
    assert bad["errors"][0]["field"] == "answer"
    answered = client.post(
        f"/api/v1/feedback/{code}/answer",
        {"answer": "Đã tiếp thu"},
        content_type="application/json",
        **bearer(receiver),
    )
    assert answered.status_code == 200
    assert (answered.json()["state"], answered.json()["timeliness"]) == ("answered", "on_time")
    again = client.post(
        f"/api/v1/feedback/{code}/reject", {"reason": "abusive"}, content_type="application/json", **bearer(receiver)
    )
    assert problem(again, 409)["code"] == "already_closed"


def test_the_list_shows_officials_their_agencies_and_authors_their_own(
    client, feedback_of, citizen, other_citizen, other_official, receiver
):
    mine = feedback_of(citizen)
    anonymous = feedback_of(None)
    assert problem(client.get("/api/v1/feedback"), 401)

    def codes(user, **params):
        response = client.get("/api/v1/feedback", params, **bearer(user))
        assert response.status_code == 200, response.content
        return [item["code"] for item in response.json()["items"]]

    assert codes(citizen) == [mine.code]
    assert codes(other_citizen) == []
    assert codes(other_official) == []
    assert codes(receiver) == [mine.code, anonymous.code]
    assert codes(receiver, q=anonymous.code) == [anonymous.code]
    problem(client.get("/api/v1/feedback", {"state": "lost"}, **bearer(receiver)), 422)


def test_the_author_rates_the_answer_with_the_secret(client, feedback_of, receiver):
    feedback = feedback_of(None)
    url = f"/api/v1/feedback/{feedback.code}/rating"
    rate = {"secret": feedback.secret, "score": 4}
    assert problem(client.post(url, rate, content_type="application/json"), 409)["code"] == "not_answered"
    client.post(
        f"/api/v1/feedback/{feedback.code}/answer", {"answer": "Đã xử lý"}, content_type="application/json",
        **bearer(receiver),
    )  # fmt: skip
    problem(client.post(url, {**rate, "secret": "WRONG234"}, content_type="application/json"), 404)
    problem(client.post(url, {**rate, "score": 0}, content_type="application/json"), 422)
    rated = client.post(url, rate, content_type="application/json")
    assert rated.status_code == 200
    assert rated.json()["answer_score"] == 4
    assert client.post(url, rate, content_type="application/json").status_code == 200
    assert problem(client.post(url, {**rate, "score": 1}, content_type="application/json"), 409)["code"] == (
        "already_rated"
    )


def test_the_list_does_not_grow_queries_with_its_length(client, feedback_of, receiver):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = bearer(receiver)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/feedback", **headers).status_code == 200
        return len(captured)

    feedback_of(None)
    queries()  # the first request also reads the API token, which is then cached
    few = queries()
    for _ in range(5):
        feedback_of(None)
    assert queries() == few
