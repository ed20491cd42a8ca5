"""Consent to share one's data: granted, listed, withdrawn (twice harmlessly), asked by later uses
(``consent_active``), and never seen nor withdrawn by anyone else."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError, NotFound
from hcmgov.identity.models import Consent
from hcmgov.identity.purposes import CATEGORIES, PURPOSES
from hcmgov.identity.selectors import consent_active, consents_of
from hcmgov.identity.services import consent_grant, consent_withdraw
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/consents"


def grant(user, purpose="prefill", recipient="registry", **extra):
    return consent_grant(
        subject=user, purpose=purpose, recipient=recipient, data_categories=["identity", "address"], **extra
    )


def events(action):
    return AuditEvent.objects.filter(action=action).count()


def test_the_register_names_every_purpose_and_category_in_both_languages():
    texts = [(p.name, p.description) for p in PURPOSES.values()]
    assert all(m.vi and m.en for pair in texts for m in pair)
    assert all(name.vi and name.en for name in CATEGORIES.values())


def test_grant_is_audited_and_granting_the_same_again_changes_nothing(citizen):
    consent = grant(citizen, recipient_name="Kho dữ liệu dùng chung")
    assert consent.data_categories == ["address", "identity"]
    assert "13/2023" in consent.legal_basis
    assert consent.source == "portal"
    assert events("consent.grant") == 1
    assert grant(citizen, recipient_name="Kho dữ liệu dùng chung").pk == consent.pk
    assert events("consent.grant") == 1
    wider = consent_grant(
        subject=citizen, purpose="prefill", recipient="registry", data_categories=["identity", "address", "household"]
    )
    assert wider.pk == consent.pk  # one consent in force per purpose and recipient: renewed
    assert wider.data_categories == ["address", "household", "identity"]
    assert events("consent.grant") == 2
    assert Consent.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("purpose", {"purpose": "marketing"}),
        ("data_categories", {"data_categories": []}),
        ("data_categories", {"data_categories": ["religion"]}),
        ("recipient", {"recipient": " "}),
        ("expires_at", {"expires_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)}),
    ],
)
def test_a_grant_outside_the_register_is_refused(citizen, field, kwargs):
    arguments = {"subject": citizen, "purpose": "prefill", "recipient": "registry", "data_categories": ["identity"]}
    with pytest.raises(DomainError) as refused:
        consent_grant(**{**arguments, **kwargs})
    assert (refused.value.status, refused.value.errors[0].field) == (422, field)
    assert Consent.objects.count() == 0


def test_withdrawing_twice_is_harmless_and_someone_elses_consent_is_not_found(citizen):
    consent = grant(citizen)
    other = UserFactory()
    with pytest.raises(NotFound):
        consent_withdraw(subject=other, consent_id=consent.pk)
    first = consent_withdraw(subject=citizen, consent_id=consent.pk)
    assert first.withdrawn_at is not None
    again = consent_withdraw(subject=citizen, consent_id=consent.pk)
    assert again.withdrawn_at == first.withdrawn_at
    assert events("consent.withdraw") == 1
    event = AuditEvent.objects.get(action="consent.withdraw")
    assert (event.object_id, event.after["withdrawn_at"]) == (str(consent.pk), str(first.withdrawn_at))


def test_consent_active_respects_withdrawal_expiry_recipient_and_category(citizen):
    assert consent_active(user=citizen, purpose="prefill") is None
    now = timezone.now()
    consent = grant(citizen, expires_at=now + dt.timedelta(days=30))
    assert consent_active(user=citizen, purpose="prefill") == consent
    assert consent_active(user=citizen, purpose="prefill", recipient="registry") == consent
    assert consent_active(user=citizen, purpose="prefill", recipient="other-system") is None
    assert consent_active(user=citizen, purpose="prefill", category="address") == consent
    assert consent_active(user=citizen, purpose="prefill", category="results") is None
    assert consent_active(user=citizen, purpose="survey") is None
    assert consent_active(user=UserFactory(), purpose="prefill") is None
    with time_machine.travel(now + dt.timedelta(days=31)):
        assert consent_active(user=citizen, purpose="prefill") is None  # expired
        renewed = grant(citizen, expires_at=None)  # granting again after expiry renews it
        assert renewed.pk == consent.pk
        assert consent_active(user=citizen, purpose="prefill") == renewed
        consent_withdraw(subject=citizen, consent_id=consent.pk)
        assert consent_active(user=citizen, purpose="prefill") is None
        again = grant(citizen)  # a new consent after a withdrawal: a new record
        assert again.pk != consent.pk
        assert consent_active(user=citizen, purpose="prefill") == again
        assert [c.in_force for c in consents_of(user=citizen)] == [True, False]


# --- over the API ---------------------------------------------------------------------------------


def test_my_consents_over_the_api(client, citizen, django_assert_max_num_queries):
    kept = grant(citizen, purpose="notifications", recipient="hcmgov", expires_at=timezone.now() + dt.timedelta(days=1))
    withdrawn = grant(citizen)
    consent_withdraw(subject=citizen, consent_id=withdrawn.pk)
    grant(UserFactory())  # someone else's
    assert client.get(ME).status_code == 401
    client.force_login(citizen)
    with django_assert_max_num_queries(4):
        listed = client.get(ME, HTTP_ACCEPT_LANGUAGE="en")
    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert [(c["id"], c["in_force"]) for c in body] == [(withdrawn.pk, False), (kept.pk, True)]
    assert body[1]["purpose_name"] == "Nhận thông báo"
    assert body[1]["purpose_name_en"] == "Notifications"
    assert body[1]["data_category_names"] == ["Address", "Name, personal ID, date of birth"]
    answer = client.post(f"{ME}/{kept.pk}/withdraw")
    assert answer.status_code == 200, answer.content
    assert answer.json()["in_force"] is False
    assert answer.json()["withdrawn_at"] is not None
    assert client.post(f"{ME}/{kept.pk}/withdraw").status_code == 200  # again: no change
    assert events("consent.withdraw") == 2
    assert consent_active(user=citizen, purpose="notifications") is None


def test_another_persons_consent_is_not_found_over_the_api(client, citizen):
    theirs = grant(UserFactory())
    client.force_login(citizen)
    missing = client.post(f"{ME}/{theirs.pk}/withdraw")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert client.get(ME).json() == []
    assert Consent.objects.get(pk=theirs.pk).withdrawn_at is None


def test_officials_have_no_consents_here(client):
    client.force_login(RoleAssignmentFactory().user)
    assert client.get(ME).status_code == 403
