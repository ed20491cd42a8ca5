"""Submission: codes, due dates, validation, idempotency, nothing half-written."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from hcmgov.audit.models import AuditEvent
from hcmgov.common.errors import DomainError
from hcmgov.core.models import OutboxEvent
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.models import Dossier, DossierDocument, Status

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
pytestmark = pytest.mark.django_db


def test_submit_writes_dossier_code_due_date_history_audit_and_event(submit, agency):
    now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=HCM)  # a Monday
    dossier, created = submit(now=now)
    assert created
    assert dossier.code == f"{agency.code}-260302-0001"
    assert dossier.status == Status.NEW
    # 3 working days from Monday 2 March 2026 → Thursday 5 March, end of office hours
    assert dossier.due_at == dt.datetime(2026, 3, 5, 17, 0, tzinfo=HCM)
    assert len(dossier.tracking_secret) == 8
    assert dossier.documents.count() == 1
    assert list(dossier.events.values_list("status_to", flat=True)) == [Status.NEW]
    assert AuditEvent.objects.filter(action="dossier.submit", object_id=str(dossier.pk)).count() == 1
    assert OutboxEvent.objects.filter(topic="dossier.submitted", key=dossier.code).count() == 1


def test_daily_sequence_counts_per_agency_and_restarts_each_day(submit, agency):
    monday = dt.datetime(2026, 3, 2, 9, 0, tzinfo=HCM)
    codes = [submit(now=monday)[0].code for _ in range(3)]
    assert [c[-4:] for c in codes] == ["0001", "0002", "0003"]
    tuesday = submit(now=monday + dt.timedelta(days=1))[0]
    assert tuesday.code == f"{agency.code}-260303-0001"


def test_same_idempotency_key_returns_the_first_dossier_and_writes_nothing(submit):
    first, created = submit(idempotency_key="k-1")
    again, created_again = submit(idempotency_key="k-1")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert Dossier.objects.count() == 1
    assert DossierDocument.objects.count() == 1


def test_invalid_form_is_refused_with_messages_in_both_languages_and_nothing_written(submit):
    with pytest.raises(DomainError) as info:
        submit(form_data={"full_name": "", "personal_id": "12AB", "purpose": "fun", "mother": {}})
    err = info.value
    assert err.status == 422
    fields = {e.field: e for e in err.errors}
    assert set(fields) >= {"personal_id", "purpose", "mother.full_name"}
    assert fields["personal_id"].message.vi == "«Số định danh cá nhân» không đúng định dạng."
    assert fields["personal_id"].message.en == "“Personal ID number” is not in the right format."
    assert fields["mother.full_name"].message.vi == "Vui lòng nhập «Họ tên mẹ»."
    assert Dossier.objects.count() == 0
    assert AuditEvent.objects.filter(action__startswith="dossier.").count() == 0


def test_missing_required_document_is_named(submit):
    with pytest.raises(DomainError) as info:
        submit(attachments=[])
    assert [e.code for e in info.value.errors] == ["document_missing"]
    assert "Tờ khai" in info.value.errors[0].message.vi


def test_file_whose_content_is_not_what_its_name_says_is_refused(submit, png_bytes, settings, tmp_path):
    with pytest.raises(DomainError) as info:
        submit(attachments=[Attachment("TOKHAI", "to-khai.pdf", png_bytes)])
    assert info.value.errors[0].code == "content_mismatch"
    assert not list((tmp_path / "media").rglob("*.pdf")) if (tmp_path / "media").exists() else True


def test_oversized_file_is_refused(submit, pdf_bytes, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    with pytest.raises(DomainError) as info:
        submit(attachments=[Attachment("TOKHAI", "big.pdf", pdf_bytes + b"0" * 1000)])
    assert info.value.errors[0].code == "too_large"
    assert "1000" not in info.value.errors[0].message.vi  # says megabytes, not bytes


def test_unaccepted_extension_is_refused(submit, pdf_bytes):
    with pytest.raises(DomainError) as info:
        submit(attachments=[Attachment("TOKHAI", "to-khai.exe", pdf_bytes)])
    assert info.value.errors[0].code == "type_not_accepted"


def test_agency_that_does_not_handle_the_procedure_is_refused(submit, version):
    from hcmgov.core.tests.factories import AgencyFactory

    police = AgencyFactory(kind="police")
    with pytest.raises(DomainError) as info:
        submit(agency_code=police.code)
    assert info.value.errors[0].field == "agency"


def test_a_failure_inside_the_transaction_leaves_no_row_and_only_a_draft_file(submit, monkeypatch, tmp_path):
    """The files were accepted as draft blobs before the transaction; it failed, so they stay
    drafts, and the purge of old drafts removes them."""
    from hcmgov.core import services as core_services
    from hcmgov.documents.models import Blob
    from hcmgov.documents.storage import blobs_purge_drafts

    def boom(**kwargs):
        raise RuntimeError("broker down")

    monkeypatch.setattr(core_services, "event_publish", boom)
    with pytest.raises(RuntimeError):
        submit()
    assert Dossier.objects.count() == 0
    assert DossierDocument.objects.count() == 0
    assert list(Blob.objects.values_list("retention", flat=True)) == ["draft"]
    assert blobs_purge_drafts(older_than=dt.timedelta(0)) == 1
    media = tmp_path / "media"
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_an_identical_resubmission_within_the_window_returns_the_first(submit):
    first, _ = submit(idempotency_key="page-1", dedupe_window=dt.timedelta(minutes=30))
    again, created = submit(idempotency_key="page-2", dedupe_window=dt.timedelta(minutes=30))
    assert not created
    assert again.pk == first.pk
    _, created = submit(
        idempotency_key="page-3",
        dedupe_window=dt.timedelta(minutes=30),
        form_data={"full_name": "Nguyễn Văn Bình", "personal_id": "079123456789", "purpose": "work",
                   "mother": {"full_name": "Trần Thị Bình"}},
    )  # fmt: skip
    assert created
    _, created = submit(
        idempotency_key="page-4", dedupe_window=dt.timedelta(minutes=30), now=first.submitted_at + dt.timedelta(hours=1)
    )
    assert created  # the same dossier an hour later is a new application


def test_a_submission_writes_in_one_transaction_without_reading_back(submit, django_assert_max_num_queries):
    """The flow is started before the dossier's row is written: the row is inserted with its engine
    state and its first step, with no UPDATE of the new row and no read of steps it cannot have."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        dossier, _ = submit()
    statements = [q["sql"].split(" ", 3)[:3] for q in queries.captured_queries]
    assert not [s for s in statements if s[0] == "UPDATE" and "dossiers_dossier" in s[1]], statements
    assert dossier.workflow_state
    assert dossier.flow_id
    assert dossier.steps.filter(state="open").count() == 1
    # the whole submission: 14, and 3 for the file, the same bytes as the first dossier's: its blob
    # is found when the file is accepted; keeping it, no draft to raise, then found kept already
    with django_assert_max_num_queries(17):
        submit(idempotency_key="k-count")
