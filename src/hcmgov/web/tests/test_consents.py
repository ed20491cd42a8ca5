"""The portal's data-sharing page: what the person agreed to, in force and past, and withdrawing
(POST with CSRF, works without JavaScript), in Vietnamese and English."""

from __future__ import annotations

import pytest
from django.test import Client

from hcmgov.audit.models import AuditEvent
from hcmgov.identity.models import Consent
from hcmgov.identity.services import consent_grant, consent_withdraw
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/tai-khoan/chia-se-du-lieu/"


def grant(user, purpose="prefill", recipient="registry"):
    return consent_grant(
        subject=user, purpose=purpose, recipient=recipient, recipient_name="Kho dữ liệu dùng chung",
        data_categories=["identity"],
    )  # fmt: skip


def test_the_page_lists_consents_in_force_and_past_with_a_withdraw_form(client, citizen):
    kept = grant(citizen, purpose="data_store")
    ended = grant(citizen)
    consent_withdraw(subject=citizen, consent_id=ended.pk)
    grant(UserFactory(), purpose="survey")  # someone else's
    client.force_login(citizen)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Kho dữ liệu cá nhân" in html  # in force
    assert "Điền sẵn biểu mẫu" in html  # past
    assert "Khảo sát" not in html
    assert f'action="/tai-khoan/chia-se-du-lieu/{kept.pk}/rut/"' in html
    assert f'action="/tai-khoan/chia-se-du-lieu/{ended.pk}/rut/"' not in html
    assert 'name="csrfmiddlewaretoken"' in html
    client.cookies["django_language"] = "en"
    english = client.get(PAGE).content.decode()
    assert "Personal data store" in english
    assert "Withdrawn or expired" in english


def test_withdrawing_on_the_page_twice_is_harmless(citizen):
    consent = grant(citizen)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(citizen)
    assert browser.post(f"{PAGE}{consent.pk}/rut/").status_code == 403  # no CSRF token
    token = browser.get(PAGE).context["csrf_token"]
    for _ in range(2):
        answer = browser.post(f"{PAGE}{consent.pk}/rut/", {"csrfmiddlewaretoken": str(token)})
        assert (answer.status_code, answer["Location"]) == (302, PAGE)
    assert Consent.objects.get(pk=consent.pk).withdrawn_at is not None
    assert AuditEvent.objects.filter(action="consent.withdraw").count() == 1
    assert browser.get(f"{PAGE}{consent.pk}/rut/").status_code == 405


def test_nobody_else_sees_or_withdraws_a_consent(client, citizen):
    consent = grant(citizen)
    assert client.get(PAGE).status_code == 302  # anonymous → login
    assert client.post(f"{PAGE}{consent.pk}/rut/").status_code == 302
    client.force_login(UserFactory())
    assert client.post(f"{PAGE}{consent.pk}/rut/").status_code == 404
    client.force_login(RoleAssignmentFactory().user)
    assert client.get(PAGE).status_code == 403
    assert Consent.objects.get(pk=consent.pk).withdrawn_at is None


def test_the_account_page_links_to_it(client, citizen):
    client.force_login(citizen)
    assert PAGE in client.get("/tai-khoan/").content.decode()
