"""A citizen on a phone starts an application, saves it as a draft, finds it again on "Hồ sơ của
tôi", finishes and submits it (issue 14, item 1), in Chromium without JavaScript: the form's steps,
its buttons and the draft work as plain HTML."""

from __future__ import annotations

from typing import Any

import pytest

from hcmgov.dossiers.models import Dossier

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "java_script_enabled": False}


def pdf_file(data: bytes) -> dict[str, Any]:
    return {"name": "to-khai.pdf", "mimeType": "application/pdf", "buffer": data}


def test_a_citizen_saves_a_draft_resumes_it_and_submits(visit, version, agency, citizen, pdf_bytes, screenshots):
    person = visit(**PHONE)
    person.login_as(citizen)
    page = person.page
    form = f"/thu-tuc/{version.procedure.code}/nop-ho-so/"
    page.goto(form)
    steps = page.get_by_role("navigation", name="Các bước nộp hồ sơ")
    assert steps.get_by_role("link").all_inner_texts() == [
        "Bước 1/4 Chọn thủ tục (đã xong)",
        "Bước 2/4 Cơ quan tiếp nhận và tờ khai",
        "Bước 3/4 Giấy tờ kèm theo",
        "Bước 4/4 Kiểm tra và nộp",
    ]
    assert page.get_by_role("heading", name="Bước 3/4: Giấy tờ kèm theo").is_visible()

    # starts, stops: the draft keeps what was typed
    page.get_by_label("Nộp hồ sơ đến").select_option(agency.code)
    page.get_by_label("Họ, chữ đệm, tên").fill("Phạm Thị Nháp")
    page.get_by_label("Mục đích").select_option(label="Làm việc")
    with page.expect_navigation():
        page.get_by_role("button", name="Lưu nháp").click()
    assert "Đã lưu bản nháp" in page.get_by_role("status").first.inner_text()

    # later: "Hồ sơ của tôi" lists the draft; its link opens the form as it was left
    page.goto("/ho-so/")
    drafts = page.locator("#ban-nhap")
    assert drafts.get_by_role("heading", name="Bản nháp chưa nộp").is_visible()
    page.screenshot(path=screenshots / "drafts-1-my-dossiers.png", full_page=True)
    with page.expect_navigation():
        drafts.get_by_role("link", name=version.procedure.name).click()
    assert page.get_by_label("Họ, chữ đệm, tên").input_value() == "Phạm Thị Nháp"
    assert page.get_by_label("Nộp hồ sơ đến").input_value() == agency.code
    assert "Bạn đang tiếp tục bản nháp" in page.locator("#ban-nhap").inner_text()

    # finishes and submits (the file is chosen again): the draft is gone, the dossier is there
    page.get_by_label("Số định danh cá nhân").fill("079123456789")
    page.get_by_label("Họ tên mẹ").fill("Trần Thị Bình")
    page.get_by_label("Tờ khai").set_input_files(pdf_file(pdf_bytes))
    page.screenshot(path=screenshots / "drafts-2-resumed.png", full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    assert "/ho-so/" in page.url
    dossier = Dossier.objects.get(applicant=citizen)
    assert dossier.code in page.get_by_role("heading", level=1).inner_text()
    page.goto("/ho-so/")
    assert page.locator("#ban-nhap").count() == 0
    assert dossier.code in page.locator("table").inner_text()
