"""The application form as a citizen uses it (issue 14, item 1), through Django's test client, with
no JavaScript: errors next to their field and in a summary that links to them, the steps of the
form ("Bước 2/4"), a draft saved, found again on "Hồ sơ của tôi", resumed, submitted or deleted, and
each dossier status said in plain words."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from hcmgov.dossiers.models import Dossier, Status
from hcmgov.dossiers.selectors import PLAIN_STATUS
from hcmgov.drafts.models import ApplicationDraft
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def form_url(version: Any) -> str:
    return f"/thu-tuc/{version.procedure.code}/nop-ho-so/"


def partial(agency: Any, **more: str) -> dict[str, str]:
    """What a citizen typed before stopping: their name, the agency, a purpose; not the ID number."""
    return {"agency": agency.code, "full_name": "Phạm Thị Nháp", "purpose": "work", **more}


def complete(agency: Any, pdf: bytes) -> dict[str, Any]:
    return {
        **partial(agency),
        "personal_id": "079123456789",
        "mother.full_name": "Trần Thị Bình",
        "submission_token": "applying-1",
        "doc-TOKHAI": SimpleUploadedFile("to-khai.pdf", pdf, "application/pdf"),
    }


def test_a_draft_is_kept_found_on_my_dossiers_and_resumed(client, version, agency, citizen):
    client.force_login(citizen)
    saved = client.post(form_url(version), {**partial(agency), "action": "draft"})
    assert saved.status_code == 302
    assert saved["Location"] == form_url(version)
    assert Dossier.objects.count() == 0  # a draft is not a submission, and nothing was checked
    draft = ApplicationDraft.objects.get(user=citizen)
    assert draft.agency_code == agency.code
    assert draft.form_data == {"full_name": "Phạm Thị Nháp", "purpose": "work", "mother": {}}

    mine = client.get("/ho-so/").content.decode()
    assert "Bản nháp chưa nộp" in mine
    assert f'href="{form_url(version)}"' in mine

    form = client.get(saved["Location"]).content.decode()
    assert "Bạn đang tiếp tục bản nháp đã lưu lúc" in form
    assert 'value="Phạm Thị Nháp"' in form
    assert re.search(rf'<option value="{agency.code}" selected>', form)
    assert re.search(r'<option value="work" selected>', form)
    assert "chọn lại tệp" in form  # files are not kept in a draft: the form says so

    # saving again replaces the one draft of this procedure
    client.post(form_url(version), {**partial(agency, full_name="Phạm Thị Hai"), "action": "draft"})
    assert ApplicationDraft.objects.filter(user=citizen).count() == 1
    assert 'value="Phạm Thị Hai"' in client.get(form_url(version)).content.decode()


def test_the_draft_is_encrypted_at_rest(client, version, agency, citizen):
    client.force_login(citizen)
    client.post(form_url(version), {**partial(agency), "action": "draft"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT form_data FROM drafts_applicationdraft")
        (stored,) = cursor.fetchone()
    assert "Nháp" not in stored
    assert "full_name" not in stored


def test_submitting_the_form_ends_its_draft(client, version, agency, citizen, pdf_bytes):
    client.force_login(citizen)
    client.post(form_url(version), {**partial(agency), "action": "draft"})
    sent = client.post(form_url(version), {**complete(agency, pdf_bytes), "action": "submit"})
    assert sent.status_code == 302, sent.content.decode()[:2000]
    assert Dossier.objects.filter(applicant=citizen).count() == 1
    assert not ApplicationDraft.objects.filter(user=citizen).exists()
    assert "Bản nháp chưa nộp" not in client.get("/ho-so/").content.decode()


def test_a_refused_submission_keeps_the_draft(client, version, agency, citizen):
    client.force_login(citizen)
    client.post(form_url(version), {**partial(agency), "action": "draft"})
    refused = client.post(form_url(version), {**partial(agency), "submission_token": "x"})
    assert refused.status_code == 422
    assert ApplicationDraft.objects.filter(user=citizen).exists()


def test_a_draft_is_deleted_from_the_list_and_is_nobody_elses(client, version, agency, citizen):
    other = UserFactory()
    client.force_login(other)
    client.post(form_url(version), {**partial(agency, full_name="Người Khác"), "action": "draft"})
    client.force_login(citizen)
    assert "Người Khác" not in client.get(form_url(version)).content.decode()
    assert "Bản nháp chưa nộp" not in client.get("/ho-so/").content.decode()
    client.post(form_url(version), {**partial(agency), "action": "draft"})

    gone = client.post(form_url(version), {"action": "discard", "back": "list"})
    assert gone.status_code == 302
    assert gone["Location"] == "/ho-so/"
    assert not ApplicationDraft.objects.filter(user=citizen).exists()
    assert ApplicationDraft.objects.filter(user=other).count() == 1  # the other person's stays
    again = client.post(form_url(version), {"action": "discard"})  # nothing left: no error
    assert again.status_code == 302
    assert again["Location"] == form_url(version)


def test_drafts_need_a_login(client, version, agency):
    response = client.post(form_url(version), {**partial(agency), "action": "draft"})
    assert response.status_code == 302
    assert "/dang-nhap/" in response["Location"]
    assert not ApplicationDraft.objects.exists()


def test_errors_stand_next_to_their_field_and_in_a_linked_summary(client, version, agency, citizen, png_bytes):
    client.force_login(citizen)
    post = {
        "full_name": "Phạm Thị Nháp",
        "submission_token": "e1",
        "doc-TOKHAI": SimpleUploadedFile("to-khai.pdf", png_bytes, "application/pdf"),  # a PNG named .pdf
    }
    response = client.post(form_url(version), post)
    assert response.status_code == 422
    html = response.content.decode()
    assert "<title>Có lỗi cần sửa: Nộp hồ sơ" in html
    summary = html[html.index('id="errors"') : html.index("</div>", html.index('id="errors"'))]
    for field in ("agency", "personal_id", "TOKHAI"):
        assert f'href="#f-{field}"' in summary, field  # the summary links to the field …
        control = re.search(rf'<[^>]+id="f-{field}"[^>]*>', html)
        assert control, field
        assert 'aria-invalid="true"' in control.group(0), field
        described = re.search(r'aria-describedby="([^"]+)"', control.group(0))
        assert described, field  # … which names its message, shown next to it
        assert re.search(rf'<small id="{described.group(1)}" class="err">[^<]+</small>', html), field
    steps = html[html.index('class="steps"') : html.index("</nav>", html.index('class="steps"'))]
    assert re.search(r"Bước 2/4</span> Cơ quan tiếp nhận và tờ khai <strong class=\"err\">\(cần sửa\)", steps)
    assert re.search(r"Bước 3/4</span> Giấy tờ kèm theo <strong class=\"err\">\(cần sửa\)", steps)
    assert 'value="Phạm Thị Nháp"' in html  # what was typed is kept


def test_the_form_shows_its_steps_in_both_languages(client, version, citizen):
    client.force_login(citizen)
    html = client.get(form_url(version)).content.decode()
    assert '<nav aria-label="Các bước nộp hồ sơ" class="steps">' in html
    for n, anchor in ((1, "chon-thu-tuc"), (2, "buoc-to-khai"), (3, "buoc-giay-to"), (4, "buoc-nop")):
        assert f'<a href="#{anchor}"><span class="step-no">Bước {n}/4</span>' in html
        assert f'id="{anchor}"' in html  # each step's link leads to its part of the form
    assert "(cần sửa)" not in html
    assert re.search(r'<button type="submit" name="action" value="draft"[^>]*>Lưu nháp</button>', html)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = client.get(form_url(version)).content.decode()
    assert "Step 2/4: Agency and declaration" in english
    assert "Save as draft" in english
    assert "Bước" not in english


def test_every_status_has_plain_words_in_both_languages():
    for status in Status:
        vi, en = PLAIN_STATUS[status]
        assert vi
        assert en
        assert vi != en
        assert str(status.value) not in vi


def test_the_citizen_reads_each_status_in_plain_words(client, submit, citizen):
    dossier, _ = submit()
    client.force_login(citizen)
    vi, en = PLAIN_STATUS[Status.NEW]
    assert vi in client.get("/ho-so/").content.decode()
    tracked = client.get("/tra-cuu/", {"code": dossier.code, "secret": dossier.tracking_secret})
    assert vi in tracked.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert en in client.get("/ho-so/").content.decode()


def test_the_postal_heading_shows_only_with_something_under_it(client, submit, citizen):
    dossier, _ = submit()
    client.force_login(citizen)
    page = client.get(f"/ho-so/{dossier.code}/").content.decode()
    assert "<h2>Bưu chính công ích</h2>" in page
    assert "Nhận kết quả qua bưu chính" in page
    Dossier.objects.filter(pk=dossier.pk).update(status=Status.WITHDRAWN)  # closed: nothing to choose
    page = client.get(f"/ho-so/{dossier.code}/").content.decode()
    assert "Bưu chính công ích" not in page
