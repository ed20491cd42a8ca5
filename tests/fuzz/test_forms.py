"""Fuzzing the portal's public forms through the Django test client: the dossier application form
(built from the procedure's form schema), the tracking lookup, feedback (phản ánh, kiến nghị) and
its lookup, the rating of a dossier, and the e-ID login's callback (``code``/``state``). Whatever
the fields hold — any text with NUL, control characters, right-to-left marks, very long, a number
too big for a float, bytes that are not UTF-8 — the answer is below 500; a refused form is shown
again with its errors in Vietnamese first, and nothing is stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_from_bytes, urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz._strategies import wire_text

from hcmgov.common import jsonform
from hcmgov.dossiers.models import Dossier
from hcmgov.feedback.models import Feedback, Rating

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
NUMBERISH = st.sampled_from(["1e400", "-1e400", "nan", "inf", "1,5", "99999999999999999999999", "-0", "0x10", "１２"])
field_text = wire_text | NUMBERISH
raw_form = st.binary(max_size=200) | st.lists(
    st.sampled_from([b"%00", b"%ED%A0%80", b"%FF", b"&", b"=", b"a", b"+"])  # NUL, a surrogate, not UTF-8
).map(b"".join)


@pytest.fixture
def client(client: Any) -> Any:
    client.raise_request_exception = False  # a 500 is an answer to check, not a crash
    return client


def assert_page(response: Any, *, statuses: tuple[int, ...]) -> str:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response.status_code in statuses, response.status_code
    if response.status_code in (301, 302, 303):
        return ""
    body = response.content.decode()
    if response["Content-Type"].startswith("text/html"):
        assert 'lang="vi"' in body[:400], body[:400]
    return body


def assert_errors_in_vietnamese_first(response: Any, body: str, key: str = "error") -> None:
    """The refusal is shown in Vietnamese, before its English: each field's error, or the
    refusal's own message when it names no field."""
    error = (response.context or {}).get(key)
    assert error is not None, "a refused form says why"
    messages = [e.message for e in error.errors] or [error.message]
    for message in messages:
        vi = escape(message.vi)
        assert vi in body, message.vi
        if message.en and message.en != message.vi and escape(message.en) in body:
            assert body.index(vi) <= body.index(escape(message.en)), message


@FUZZ
@given(data=st.data(), with_file=st.booleans(), aim=st.booleans())
def test_the_dossier_form_refuses_any_bad_input_and_stores_nothing(
    client, citizen, version, agency, pdf_bytes, data, with_file, aim
):
    client.force_login(citizen)
    post: dict[str, Any] = {}
    for field in jsonform.flat_fields(version.form_schema):
        if data.draw(st.booleans(), label=f"fill {field.name}"):
            post[field.name] = data.draw(field_text, label=field.name)
    post.update(data.draw(st.dictionaries(wire_text, wire_text, max_size=3), label="extra fields"))
    post["agency"] = agency.code if aim else data.draw(wire_text, label="agency")
    post["submission_token"] = data.draw(wire_text, label="token")
    if with_file:
        for doc in version.required_documents:
            if doc.get("kind") != "present":
                post[f"doc-{doc['code']}"] = SimpleUploadedFile(f"{doc['code']}.pdf", pdf_bytes, "application/pdf")
    before = Dossier.objects.count()
    try:
        response = client.post(f"/thu-tuc/{version.procedure.code}/nop-ho-so/", post)
    except ValueError:  # the multipart encoder of the test client refuses a field name with a newline
        return
    body = assert_page(response, statuses=(200, 302, 400, 413, 422))
    if response.status_code == 302:  # a valid application: one dossier, shown on its page
        assert Dossier.objects.count() == before + 1
        assert response["Location"].startswith("/ho-so/")
        return
    assert Dossier.objects.count() == before
    if response.status_code == 422:
        assert "Hồ sơ chưa hợp lệ" in body
        assert_errors_in_vietnamese_first(response, body)


@FUZZ
@given(code=wire_text, secret=wire_text, raw=raw_form)
def test_the_tracking_lookup_answers_any_code_and_secret(client, submit, code, secret, raw):
    dossier, _ = submit()
    assert_page(client.get("/tra-cuu/?" + urlencode({"code": code, "secret": secret})), statuses=(200, 400, 404))
    assert_page(client.get("/tra-cuu/?" + quote_from_bytes(raw, safe="=&%+")), statuses=(200, 400, 404))
    found = client.get("/tra-cuu/?" + urlencode({"code": dossier.code, "secret": dossier.tracking_secret}))
    assert found.status_code == 200
    assert dossier.code in found.content.decode()


@FUZZ
@given(
    values=st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("agency", "category", "dossier", "dossier_secret", "subject", "text", "name", "email", "phone"), field_text
        ),
    ),
    token=wire_text,
    signed_in=st.booleans(),
)
def test_the_feedback_form_refuses_any_bad_input_and_stores_nothing(client, citizen, agency, values, token, signed_in):
    if signed_in:
        client.force_login(citizen)
    before = Feedback.objects.count()
    response = client.post("/phan-anh-kien-nghi/", {**values, "submission_token": token})
    body = assert_page(response, statuses=(200, 400, 403, 404, 409, 413, 422))
    if response.status_code == 200 and "error" in (response.context or {}) and response.context["error"] is None:
        assert "feedback" in response.context  # the submitted page: stored once
        assert Feedback.objects.count() == before + 1
        return
    assert Feedback.objects.count() == before
    if response.status_code >= 400 and response.context is not None and response.context.get("error") is not None:
        assert_errors_in_vietnamese_first(response, body)


@FUZZ
@given(code=wire_text, secret=wire_text, score=field_text, comment=field_text, raw=raw_form)
def test_the_feedback_lookup_and_its_rating_answer_anything(client, code, secret, score, comment, raw):
    before = Feedback.objects.count()
    assert_page(client.get("/phan-anh-kien-nghi/tra-cuu/?" + urlencode({"code": code, "secret": secret})),
                statuses=(200, 400, 404))  # fmt: skip
    response = client.post(
        "/phan-anh-kien-nghi/tra-cuu/", {"code": code, "secret": secret, "score": score, "comment": comment}
    )
    assert_page(response, statuses=(200, 302, 400, 404, 409, 422))
    response = client.post("/phan-anh-kien-nghi/tra-cuu/", raw, content_type="application/x-www-form-urlencoded")
    assert_page(response, statuses=(200, 302, 400, 404, 409, 422))
    assert Feedback.objects.count() == before


@FUZZ
@given(
    values=st.fixed_dictionaries(
        {}, optional=dict.fromkeys(("score", "contacts", "publicity", "attitude", "online", "comment"), field_text)
    )
)
def test_the_rating_form_refuses_any_bad_input_and_stores_nothing(client, submit, citizen, values):
    dossier, _ = submit()
    client.force_login(citizen)
    before = Rating.objects.count()
    response = client.post(f"/danh-gia/{dossier.code}/", values)
    body = assert_page(response, statuses=(200, 302, 400, 403, 404, 409, 422))
    if response.status_code == 302:
        assert Rating.objects.count() in (before, before + 1)  # a second rating of the same dossier: kept once
        return
    assert Rating.objects.count() == before
    if response.status_code >= 400:
        assert_errors_in_vietnamese_first(response, body, key="rating_error")


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["code", "state", "error", "error_description", "iss", "session_state"]) | wire_text,
        wire_text,
        max_size=5,
    ),
    raw=raw_form,
)
def test_the_eid_callback_refuses_any_answer_it_did_not_ask_for(client, params, raw):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.count()
    callback = "/dang-nhap/vneid/callback/?"
    for query in (urlencode(params), quote_from_bytes(raw, safe="=&%+")):
        response = client.get(callback + query)
        if response.status_code == 503:  # no e-ID provider is configured here: refused as unavailable
            assert "VNeID" in response.content.decode() or "e-ID" in response.content.decode()
            continue
        assert_page(response, statuses=(200, 302, 400, 403, 404))
        if response.status_code == 302:  # back to the login page, not logged in
            assert "_auth_user_id" not in client.session
    assert get_user_model().objects.count() == users


def test_a_submission_token_with_a_nul_is_replaced_not_a_500(client, citizen, version):
    """Regression: the dossier form's ``submission_token`` went into the idempotency key as
    posted; a NUL in it made PostgreSQL refuse the insert (500)."""
    client.force_login(citizen)
    response = client.post(f"/thu-tuc/{version.procedure.code}/nop-ho-so/", {"submission_token": "\x00"})
    assert response.status_code == 422
    assert "\x00" not in response.context["token"]
    assert Dossier.objects.count() == 0
