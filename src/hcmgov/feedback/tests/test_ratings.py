"""The applicant's rating of a settled dossier: only once the result was returned, only by the
applicant, once; bad input changes nothing — through the service, the API and the page."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError, NotFound
from hcmgov.core.models import OutboxEvent
from hcmgov.feedback import selectors, services
from hcmgov.feedback.models import Rating
from hcmgov.feedback.tests.conftest import bearer, nothing_written

pytestmark = pytest.mark.django_db


def test_a_dossier_is_rated_only_after_its_result_was_returned(submitted_dossier, citizen):
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        services.rating_submit(applicant=citizen, dossier_code=submitted_dossier.code, score=5)
    assert (info.value.status, info.value.code) == (409, "not_returned")
    assert "trả kết quả" in info.value.message.vi
    assert "returned" in info.value.message.en
    assert nothing_written() == before


def test_the_applicant_rates_once_with_the_aspects(returned_dossier, citizen, agency):
    rating, created = services.rating_submit(
        applicant=citizen,
        dossier_code=returned_dossier.code,
        score="4",
        comment="Nhanh, đúng hẹn",
        contacts="0",
        attitude=5,
        publicity="",
        online=None,
    )
    assert created
    assert (rating.score, rating.contacts, rating.attitude, rating.publicity, rating.online) == (4, 0, 5, None, None)
    assert (rating.agency_id, rating.procedure_id, rating.dossier_code) == (
        agency.pk,
        returned_dossier.procedure_id,
        returned_dossier.code,
    )
    assert AuditEvent.objects.filter(action="rating.submit", object_id=str(rating.pk)).count() == 1
    assert OutboxEvent.objects.filter(topic="rating.submitted", key=returned_dossier.code).count() == 1
    # the same rating again (a double click): the first, nothing written
    before = nothing_written()
    again, created = services.rating_submit(
        applicant=citizen,
        dossier_code=returned_dossier.code,
        score=4,
        comment="Nhanh, đúng hẹn",
        contacts=0,
        attitude=5,
    )
    assert (again.pk, created) == (rating.pk, False)
    # another rating is refused: a rating is not changed once given
    with pytest.raises(DomainError) as info:
        services.rating_submit(applicant=citizen, dossier_code=returned_dossier.code, score=1)
    assert (info.value.status, info.value.code) == (409, "already_rated")
    assert nothing_written() == before
    assert selectors.rating_for_dossier(dossier_id=returned_dossier.pk) == rating
    assert selectors.rating_counts(agency_ids=[agency.pk]) == {1: 0, 2: 0, 3: 0, 4: 1, 5: 0}


def test_only_the_applicant_rates(returned_dossier, other_citizen, staff, other_official):
    before = nothing_written()
    with pytest.raises(NotFound):
        services.rating_submit(applicant=other_citizen, dossier_code=returned_dossier.code, score=5)
    for official in (staff["receiver"], other_official):
        with pytest.raises(DomainError) as info:
            services.rating_submit(applicant=official, dossier_code=returned_dossier.code, score=5)
        assert info.value.status == 403
    assert nothing_written() == before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": ""}, "score"),
        ({"score": "năm"}, "score"),
        ({"score": 5, "attitude": 9}, "attitude"),
        ({"score": 5, "contacts": 3}, "contacts"),
        ({"score": 5, "comment": "x" * 1001}, "comment"),
        ({"score": 5, "comment": "có\x00NUL"}, "comment"),
    ],
)
def test_bad_ratings_are_refused_and_write_nothing(returned_dossier, citizen, values, field):
    before = nothing_written()
    with pytest.raises(DomainError) as info:
        services.rating_submit(applicant=citizen, dossier_code=returned_dossier.code, **values)
    assert info.value.status == 422
    assert [e.field for e in info.value.errors] == [field]
    assert info.value.errors[0].message.vi != info.value.errors[0].message.en
    assert nothing_written() == before


# --- over the API ----------------------------------------------------------------------------------


def post_rating(client, body, headers, **extra):
    return client.post("/api/v1/ratings", body, content_type="application/json", **headers, **extra)


def test_rating_over_the_api(client, returned_dossier, citizen, other_citizen, staff):
    body = {"dossier": returned_dossier.code, "score": 5, "attitude": 4}
    assert post_rating(client, body, {}).status_code == 401
    assert post_rating(client, body, bearer(other_citizen)).status_code == 404
    assert post_rating(client, body, bearer(staff["clerk"])).status_code == 403
    bad = post_rating(client, {**body, "score": 7}, bearer(citizen), HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert bad["Content-Type"] == "application/problem+json"
    assert bad.json()["title"] == "The request is not valid."
    assert Rating.objects.count() == 0
    first = post_rating(client, body, bearer(citizen))
    assert first.status_code == 201, first.content
    assert first.json()["score_name"] == "Rất hài lòng"
    assert first.json()["score_name_en"] == "Very satisfied"
    assert post_rating(client, body, bearer(citizen)).status_code == 200
    changed = post_rating(client, {**body, "score": 1}, bearer(citizen))
    assert changed.status_code == 409
    assert changed.json()["type"].endswith("/already_rated")
    assert Rating.objects.count() == 1


def test_rating_a_dossier_not_yet_returned_over_the_api(client, submitted_dossier, citizen):
    response = post_rating(client, {"dossier": submitted_dossier.code, "score": 3}, bearer(citizen))
    assert response.status_code == 409
    assert response.json()["title"].startswith("Hồ sơ chưa trả kết quả")


# --- the page and the include for the dossier page ---------------------------------------------------


def _include(dossier, user) -> str:
    request = RequestFactory().get(f"/ho-so/{dossier.code}/")
    request.user = user
    return render_to_string("feedback/_rating.html", {"dossier": dossier, "user": user}, request=request)


def test_the_include_shows_the_form_to_the_applicant_once_the_result_is_returned(
    submitted_dossier, citizen, other_citizen, staff
):
    assert _include(submitted_dossier, citizen).strip() == ""
    from hcmgov.feedback.tests.conftest import _act, at

    dossier = submitted_dossier
    for role, action, moment in (
        ("receiver", "receive", at(2, 9)),
        ("specialist", "forward", at(2, 15)),
        ("head", "approve", at(3, 8)),
        ("leader", "sign", at(3, 10)),
        ("clerk", "return", at(3, 14)),
    ):
        dossier = _act(dossier, staff[role], action, moment)
    html = _include(dossier, citizen)
    assert f'action="/danh-gia/{dossier.code}/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert html.count('name="score"') == 5
    assert "Rất hài lòng" in html
    assert _include(dossier, other_citizen).strip() == ""
    assert _include(dossier, staff["receiver"]).strip() == ""
    services.rating_submit(applicant=citizen, dossier_code=dossier.code, score=3, comment="Tạm được")
    rated = _include(dossier, citizen)
    assert "Bạn đã đánh giá" in rated
    assert "Bình thường" in rated
    assert "<form" not in rated


def test_the_rating_page_posts_and_returns_to_the_dossier(client, returned_dossier, citizen, other_citizen, staff):
    url = f"/danh-gia/{returned_dossier.code}/"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(other_citizen)
    assert client.get(url).status_code == 404
    client.force_login(staff["receiver"])
    assert client.get(url).status_code == 403
    client.force_login(citizen)
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="score"' in page.content.decode()
    bad = client.post(url, {"score": "9", "comment": "x"})
    assert bad.status_code == 422
    assert "Mức độ hài lòng phải từ 1 đến 5." in bad.content.decode()
    assert Rating.objects.count() == 0
    done = client.post(url, {"score": "5", "attitude": "4", "contacts": "", "comment": "Tốt"})
    assert done.status_code == 302
    assert done["Location"] == f"/ho-so/{returned_dossier.code}/#danh-gia"
    assert Rating.objects.get().attitude == 4
    again = client.post(url, {"score": "1"})
    assert again.status_code == 409
    assert Rating.objects.get().score == 5


def test_the_rating_form_needs_its_csrf_token(returned_dossier, citizen):
    client = Client(enforce_csrf_checks=True)
    client.force_login(citizen)
    assert client.post(f"/danh-gia/{returned_dossier.code}/", {"score": "5"}).status_code == 403
    assert Rating.objects.count() == 0
