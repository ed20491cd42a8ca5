"""The draft services on their own (the form's use of them: web/tests/test_applying.py)."""

from __future__ import annotations

import pytest

from hcmgov.common.errors import NotFound
from hcmgov.drafts import selectors, services
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_one_draft_per_person_and_procedure_replaced_on_save(version):
    person, other = UserFactory(), UserFactory()
    code = version.procedure.code
    services.draft_save(user=person, procedure_code=code, agency_code="A", form_data={"a": 1}, reuse={})
    services.draft_save(user=person, procedure_code=code, agency_code="B", form_data={"a": 2}, reuse={"X": "C1"})
    services.draft_save(user=other, procedure_code=code, agency_code="Z", form_data={}, reuse={})
    mine = selectors.draft_get(user=person, procedure_code=code)
    assert mine is not None
    assert (mine.agency_code, mine.form_data, mine.reuse) == ("B", {"a": 2}, {"X": "C1"})
    assert [d.agency_code for d in selectors.draft_list(user=person)] == ["B"]
    assert services.draft_discard(user=person, procedure_code=code) is True
    assert services.draft_discard(user=person, procedure_code=code) is False
    assert selectors.draft_get(user=other, procedure_code=code) is not None


def test_a_draft_of_no_procedure_is_refused():
    with pytest.raises(NotFound):
        services.draft_save(user=UserFactory(), procedure_code="9.999999", agency_code="", form_data={}, reuse={})


def test_what_a_posted_form_can_store_is_bounded(version):
    person = UserFactory()
    reuse = {f"DOC{i}" * 20: "C" * 100 for i in range(200)}
    draft = services.draft_save(
        user=person, procedure_code=version.procedure.code, agency_code="A" * 100, form_data={}, reuse=reuse
    )
    assert len(draft.reuse) == services.MAX_REUSE
    assert all(len(k) <= 40 and len(v) <= 64 for k, v in draft.reuse.items())
    assert len(draft.agency_code) == 32


def test_drafts_untouched_past_the_keeping_time_are_purged_and_the_others_kept(settings, citizen, version):
    import datetime as dt

    from django.utils import timezone

    from hcmgov.drafts.models import ApplicationDraft

    settings.DRAFT_KEEP_DAYS = 90
    services.draft_save(
        user=citizen, procedure_code=version.procedure.code, agency_code="", form_data={"a": 1}, reuse={}
    )
    now = timezone.now()
    assert services.drafts_purge(now=now + dt.timedelta(days=89)) == 0
    assert ApplicationDraft.objects.count() == 1
    assert services.drafts_purge(now=now + dt.timedelta(days=91)) == 1
    assert ApplicationDraft.objects.count() == 0
