"""ASVS 2.4.1 (anti-automation): the public lookups and the feedback form refuse a client address
past its rate, an API token past its own, with a 429 in the caller's language and ``Retry-After``;
what was refused writes nothing, and another address or token is not affected
(``hcmgov.common.ratelimit``; decision 0036)."""

from __future__ import annotations

import json

import pytest

from hcmgov.common import ratelimit
from hcmgov.feedback.models import Feedback
from hcmgov.identity.services import api_token_issue

pytestmark = pytest.mark.django_db

SLOW = 0.001  # tokens per second: nothing refills during a test


@pytest.fixture
def limits(settings):
    def set_limit(name: str, burst: int) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, name: (SLOW, burst)}
        ratelimit.reset()

    return set_limit


def test_the_tracking_page_refuses_an_address_past_its_burst_in_both_languages(client, limits, submit):
    limits("public_lookup", 3)
    dossier, _ = submit()
    query = {"code": dossier.code, "secret": dossier.tracking_secret}
    assert [client.get("/tra-cuu/", query).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/tra-cuu/", query)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    html = refused.content.decode()
    assert "Quá nhiều yêu cầu" in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get("/tra-cuu/", query)
    assert english.status_code == 429
    assert "Too many requests" in english.content.decode()
    other = client.get("/tra-cuu/", query, REMOTE_ADDR="203.0.113.7")
    assert other.status_code == 200  # another address has its own bucket


def test_the_tracking_api_answers_a_problem_document_past_the_limit(client, limits, submit):
    limits("public_lookup", 2)
    dossier, _ = submit()
    url = f"/api/v1/tracking/{dossier.code}"
    for _ in range(2):
        assert client.get(url, {"secret": dossier.tracking_secret}).status_code == 200
    refused = client.get(url, {"secret": dossier.tracking_secret}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused["Retry-After"]
    body = json.loads(refused.content)
    assert body["code"] == "rate_limited"
    assert body["title"].startswith("Too many requests")


def test_a_new_feedback_past_the_limit_is_refused_and_not_written(client, limits, agency):
    limits("public_feedback", 2)
    form = {
        "agency": agency.code,
        "category": "regulation",
        "subject": "Lệ phí thu không đúng",
        "text": "Bộ phận một cửa thu lệ phí cao hơn mức niêm yết.",
        "name": "Võ Văn Em",
        "email": "em@example.vn",
    }
    for n in range(2):
        assert client.post("/phan-anh-kien-nghi/", {**form, "submission_token": f"tok-{n:09d}"}).status_code == 200
    refused = client.post("/phan-anh-kien-nghi/", {**form, "submission_token": "tok-999999999"})
    assert refused.status_code == 429
    assert "Không có dữ liệu nào của bạn bị mất" in refused.content.decode()
    assert Feedback.objects.count() == 2
    assert client.get("/phan-anh-kien-nghi/").status_code == 200  # reading the form is not counted


def test_an_api_token_past_its_rate_is_refused_and_another_token_is_not(client, limits, citizen):
    limits("api_token", 3)
    first = api_token_issue(user=citizen, name="script").raw
    second = api_token_issue(user=citizen, name="other").raw
    codes = [client.get("/api/v1/dossiers", HTTP_AUTHORIZATION=f"Bearer {first}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/api/v1/dossiers", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200
    refused = client.get("/api/v1/dossiers", HTTP_AUTHORIZATION=f"Bearer {first}")
    assert json.loads(refused.content)["code"] == "rate_limited"
    assert refused["Retry-After"]


def test_a_wrong_token_is_not_counted_against_the_right_one(client, limits, citizen):
    limits("api_token", 1)
    token = api_token_issue(user=citizen, name="script").raw
    for _ in range(3):
        assert client.get("/api/v1/dossiers", HTTP_AUTHORIZATION="Bearer hcm_not-a-token").status_code == 401
    assert client.get("/api/v1/dossiers", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_a_local_limiter_forgets_refilled_buckets_rather_than_grow(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_LOCAL_KEYS", 100)
    limiter = ratelimit.RateLimiter(rate=10.0, burst=2)
    for n in range(100):
        assert limiter.take(f"198.51.100.{n}", now=0.0)
    assert limiter.take("203.0.113.1", now=1.0)  # the others have refilled: forgotten
    assert len(limiter.buckets) == 1
