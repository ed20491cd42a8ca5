"""The citizen portal and the back office, driven as people use them: through Chromium."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from hcmgov.catalog.tests.factories import ProcedureFactory, ProcedureVersionFactory, with_test_flow
from hcmgov.common.text import fold
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.models import Dossier, Status
from hcmgov.identity.tests.factories import PASSWORD, RoleAssignmentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PROCEDURE_NAME = "Đăng ký khai sinh (thử nghiệm trình duyệt)"
MOBILE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Inputs without a label: neither <label for>, nor a wrapping <label>, nor aria-label(ledby).
UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""


@dataclass
class Portal:
    agency: Any
    procedure: Any
    version: Any
    citizen: Any
    official: Any

    def code_prefix(self) -> str:
        return f"{self.agency.code}-{timezone.localdate():%y%m%d}-"

    def submit_by_service(self, pdf: bytes, key: str) -> Any:
        from hcmgov.dossiers.services import dossier_submit

        dossier, _ = dossier_submit(
            applicant=self.citizen,
            procedure_code=self.procedure.code,
            agency_code=self.agency.code,
            form_data={
                "full_name": self.citizen.full_name,
                "personal_id": "079123456789",
                "purpose": "work",
                "mother": {"full_name": "Trần Thị Bình"},
            },
            attachments=[Attachment("TOKHAI", "to-khai.pdf", pdf)],
            idempotency_key=key,
        )
        return dossier


@pytest.fixture
def portal(transactional_db: Any) -> Portal:
    agency = AgencyFactory()
    procedure = ProcedureFactory(
        name=PROCEDURE_NAME,
        name_en="Birth registration (browser test)",
        search_text=fold(f"{PROCEDURE_NAME} Birth registration Hộ tịch"),
    )
    version = with_test_flow(ProcedureVersionFactory(procedure=procedure))
    citizen = UserFactory(full_name="Nguyễn Văn An")
    official = RoleAssignmentFactory(agency=agency, user__full_name="Lê Thị Cán Bộ").user
    return Portal(agency, procedure, version, citizen, official)


def fill_form(page: Any, portal: Portal, *, personal_id: str = "079123456789", mother: str = "Trần Thị Bình") -> None:
    page.get_by_label("Nộp hồ sơ đến").select_option(portal.agency.code)
    page.get_by_label("Số định danh cá nhân").fill(personal_id)
    page.get_by_label("Ngày sinh").fill("1990-05-17")
    page.get_by_label("Số bản sao").fill("2")
    page.get_by_label("Mục đích").select_option(label="Làm việc")
    page.get_by_label("Họ tên mẹ").fill(mother)


def attach(page: Any, name: str, data: bytes, mime: str = "application/pdf") -> None:
    page.get_by_label("Tờ khai").set_input_files({"name": name, "mimeType": mime, "buffer": data})


def submit(page: Any) -> Any:
    return click_and_wait(page, page.get_by_role("button", name="Nộp hồ sơ", exact=True))


def click_and_wait(page: Any, target: Any) -> Any:
    """Click something that loads a new page, and wait for that page."""
    with page.expect_navigation() as nav:
        target.click()
    return nav.value


def open_form(page: Any, portal: Portal) -> None:
    """Straight to the application form (a bookmarked or shared link)."""
    page.goto(f"/thu-tuc/{portal.procedure.code}/nop-ho-so/")


def open_form_by_search(page: Any, query: str) -> None:
    page.goto("/")
    page.get_by_label("Từ khóa hoặc mã thủ tục").fill(query)
    click_and_wait(page, page.get_by_role("button", name="Tìm kiếm"))
    click_and_wait(page, page.get_by_role("link", name=PROCEDURE_NAME))
    click_and_wait(page, page.get_by_role("button", name="Nộp hồ sơ trực tuyến"))
    page.wait_for_url(re.compile(r"/nop-ho-so/$"))


def expect_pdf(visitor: Any, href: str) -> bytes:
    response = visitor.context.request.get(href, timeout=60_000)  # the first PDF loads WeasyPrint
    assert response.status == 200, href
    assert response.headers["content-type"] == "application/pdf"
    body = response.body()
    assert body.startswith(b"%PDF-")
    return body


# --- 1. search, apply, receipt ---------------------------------------------------------------------------


def test_citizen_finds_a_procedure_applies_and_gets_the_receipt(visit, portal, pdf_bytes):
    citizen = visit()
    page = citizen.page
    citizen.login(portal.citizen.username, PASSWORD)

    for query in ("Đăng ký khai sinh", "dang ky khai sinh", "Khai Sinh"):
        page.goto("/")
        page.get_by_label("Từ khóa hoặc mã thủ tục").fill(query)
        page.get_by_role("button", name="Tìm kiếm").click()
        page.wait_for_url(re.compile(r"\?q="))
        assert page.get_by_role("link", name=PROCEDURE_NAME).is_visible(), query
    page.get_by_label("Từ khóa hoặc mã thủ tục").fill("khai tu")  # a word it does not contain
    click_and_wait(page, page.get_by_role("button", name="Tìm kiếm"))
    assert page.get_by_role("link", name=PROCEDURE_NAME).count() == 0

    open_form_by_search(page, "khai sinh")
    assert page.get_by_label("Họ, chữ đệm, tên").input_value() == "Nguyễn Văn An"  # x-prefill from the account
    fill_form(page, portal)
    attach(page, "to-khai.pdf", pdf_bytes)
    response = submit(page)

    code = portal.code_prefix() + "0001"
    assert response.status == 200
    assert page.url.endswith(f"/ho-so/{code}/")
    assert page.get_by_role("heading", level=1).inner_text() == f"Hồ sơ {code}"
    assert page.locator("dl.facts .status").inner_text() == "Mới"
    assert page.get_by_role("status").inner_text() == "Nộp hồ sơ thành công."
    assert "to-khai.pdf" in page.locator("main").inner_text()
    expect_pdf(
        citizen, page.get_by_role("button", name="Giấy tiếp nhận và hẹn trả kết quả (PDF)").get_attribute("href")
    )

    dossier = Dossier.objects.get(code=code)
    assert dossier.form_data == {
        "full_name": "Nguyễn Văn An",
        "personal_id": "079123456789",
        "date_of_birth": "1990-05-17",
        "copies": 2,
        "purpose": "work",
        "mother": {"full_name": "Trần Thị Bình"},
    }


def test_pages_take_their_styles_and_fonts_from_the_live_server(visit, portal, live_server):
    page = visit().page
    sheets: list[tuple[str, int]] = []
    page.on("response", lambda r: sheets.append((r.url, r.status)) if r.request.resource_type == "stylesheet" else None)
    page.goto("/")
    page.evaluate("document.fonts.ready")
    assert sorted(url.rsplit("/static/", 1)[-1] for url, _ in sheets) == [
        "vendor/be-vietnam-pro/400.css",
        "vendor/be-vietnam-pro/600.css",
        "vendor/pico/pico.min.css",
        "web/site.css",
    ]
    assert all(url.startswith(live_server.url) and status == 200 for url, status in sheets), sheets
    assert page.evaluate("[...document.styleSheets].every(s => s.cssRules.length > 0)")
    assert page.evaluate("""document.fonts.check('16px "Be Vietnam Pro"', 'Thủ tục')""")
    assert "Be Vietnam Pro" in page.evaluate("getComputedStyle(document.body).fontFamily")


# --- 2. errors, double submit -------------------------------------------------------------------------------


def test_errors_are_summarised_linked_and_the_typed_values_kept(visit, portal, png_bytes):
    citizen = visit()
    page = citizen.page
    citizen.login_as(portal.citizen)
    open_form(page, portal)
    fill_form(page, portal, personal_id="")
    attach(page, "to-khai.pdf", png_bytes)  # a PNG renamed .pdf
    response = submit(page)

    assert response.status == 422
    summary = page.get_by_role("alert")
    assert "Hồ sơ chưa hợp lệ" in summary.inner_text()
    links = summary.get_by_role("link")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == ["#f-personal_id", "#f-TOKHAI"]
    assert links.nth(0).inner_text() == "Vui lòng nhập «Số định danh cá nhân»."
    assert "không đúng với loại tệp .pdf" in links.nth(1).inner_text()
    for i in range(links.count()):  # every link leads to a field, and the field says it is invalid
        target = page.locator(links.nth(i).get_attribute("href"))
        assert target.count() == 1
        assert target.get_attribute("aria-invalid") == "true"
    links.nth(0).click()
    page.wait_for_url(re.compile(r"#f-personal_id$"))

    assert page.get_by_label("Nộp hồ sơ đến").input_value() == portal.agency.code
    assert page.get_by_label("Họ, chữ đệm, tên").input_value() == "Nguyễn Văn An"
    assert page.get_by_label("Ngày sinh").input_value() == "1990-05-17"
    assert page.get_by_label("Số bản sao").input_value() == "2"
    assert page.get_by_label("Mục đích").input_value() == "work"
    assert page.get_by_label("Họ tên mẹ").input_value() == "Trần Thị Bình"
    assert Dossier.objects.count() == 0


def test_a_missing_nested_field_is_linked_to_its_input(visit, portal, pdf_bytes):
    citizen = visit()
    page = citizen.page
    citizen.login_as(portal.citizen)
    open_form(page, portal)
    fill_form(page, portal, mother="")
    attach(page, "to-khai.pdf", pdf_bytes)
    assert submit(page).status == 422
    href = page.get_by_role("alert").get_by_role("link").first.get_attribute("href")
    assert href == "#f-mother-full_name"
    assert page.get_by_label("Họ tên mẹ").get_attribute("aria-invalid") == "true"


def test_submitting_again_after_going_back_makes_no_second_dossier(visit, portal, pdf_bytes):
    citizen = visit()
    page = citizen.page
    citizen.login_as(portal.citizen)
    open_form(page, portal)
    token = page.locator("input[name=submission_token]").input_value()
    fill_form(page, portal)
    attach(page, "to-khai.pdf", pdf_bytes)
    first_url = submit(page).url

    # Back, and submit the form as the browser shows it again. Whether Chromium shows its cached
    # copy (the same token) or fetches it again (a new token) depends on the cookies changed since
    # (the page varies on Cookie); it restores the typed values either way, never the files.
    page.go_back()
    page.wait_for_url(re.compile(r"/nop-ho-so/$"))
    assert page.get_by_label("Số định danh cá nhân").input_value() == "079123456789"
    attach(page, "to-khai.pdf", pdf_bytes)
    assert submit(page).url == first_url

    # Back again, with the first token and a changed value: the token alone identifies the submission.
    page.go_back()
    page.wait_for_url(re.compile(r"/nop-ho-so/$"))
    page.locator("input[name=submission_token]").evaluate("(el, token) => { el.value = token }", token)
    page.get_by_label("Số bản sao").fill("3")
    attach(page, "to-khai.pdf", pdf_bytes)
    assert submit(page).url == first_url

    assert Dossier.objects.count() == 1
    assert Dossier.objects.get().form_data["copies"] == 2
    assert page.locator("dl.facts .status").inner_text() == "Mới"


# --- 3. without JavaScript -------------------------------------------------------------------------------------


def test_the_whole_submission_works_without_javascript(visit, portal, pdf_bytes):
    citizen = visit(java_script_enabled=False)
    page = citizen.page
    citizen.login(portal.citizen.username, PASSWORD)
    open_form_by_search(page, "dang ky khai sinh")
    fill_form(page, portal)
    attach(page, "to-khai.pdf", pdf_bytes)
    response = submit(page)
    assert response.status == 200
    assert page.url.endswith(f"/ho-so/{portal.code_prefix()}0001/")
    assert page.locator("dl.facts .status").inner_text() == "Mới"


# --- 4. language ------------------------------------------------------------------------------------------------


def test_the_header_link_switches_to_english_and_back(visit, portal):
    page = visit().page
    page.goto("/?q=khai+sinh")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Tìm thủ tục hành chính"
    assert page.locator("html").get_attribute("lang") == "vi"

    click_and_wait(page, page.get_by_role("link", name="English"))
    assert heading.inner_text() == "Find an administrative procedure"
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Birth registration (browser test)").is_visible()
    assert page.url.endswith("/?q=khai+sinh")  # stays on the same page, with the same search

    click_and_wait(page, page.get_by_role("link", name="Tiếng Việt"))
    assert heading.inner_text() == "Tìm thủ tục hành chính"
    assert page.locator("html").get_attribute("lang") == "vi"


# --- 5. back office ---------------------------------------------------------------------------------------------


def test_official_refuses_one_dossier_and_receives_another(visit, portal, pdf_bytes):
    refused = portal.submit_by_service(pdf_bytes, "k-1")
    received = portal.submit_by_service(pdf_bytes, "k-2")

    official = visit()
    page = official.page
    official.login(portal.official.username, PASSWORD)
    click_and_wait(page, page.get_by_role("link", name="Một cửa"))
    assert page.url.endswith("/office/")
    queue = page.locator("tbody")
    assert refused.code in queue.inner_text()
    assert received.code in queue.inner_text()

    click_and_wait(page, page.get_by_role("link", name=refused.code))
    page.get_by_label("Từ chối tiếp nhận").check()
    page.get_by_label("Ý kiến (bắt buộc").fill("Thiếu bản sao giấy chứng sinh.")
    click_and_wait(page, page.get_by_role("button", name="Thực hiện"))
    assert page.locator("dl.facts .status").inner_text() == "Không tiếp nhận"
    assert "Thiếu bản sao giấy chứng sinh." in page.locator("ol.timeline").inner_text()

    click_and_wait(page, page.get_by_role("link", name="Một cửa"))
    click_and_wait(page, page.get_by_role("link", name="Chờ tiếp nhận"))
    assert refused.code not in page.locator("tbody").inner_text()  # the queue shows dossiers still to receive
    click_and_wait(page, page.get_by_role("link", name=received.code))
    page.get_by_label("Tiếp nhận hồ sơ").check()
    click_and_wait(page, page.get_by_role("button", name="Thực hiện"))
    assert page.locator("dl.facts .status").inner_text() == "Đã tiếp nhận"

    citizen = visit()
    citizen.login_as(portal.citizen)
    page = citizen.page
    page.goto("/")
    click_and_wait(page, page.get_by_role("link", name="Hồ sơ của tôi"))
    rows = page.locator("tbody tr")
    assert rows.filter(has_text=refused.code).locator(".status").inner_text() == "Không tiếp nhận"
    assert rows.filter(has_text=received.code).locator(".status").inner_text() == "Đã tiếp nhận"
    click_and_wait(page, page.get_by_role("link", name=refused.code))
    assert page.locator("dl.facts .status").inner_text() == "Không tiếp nhận"
    assert "Thiếu bản sao giấy chứng sinh." in page.locator("dl.facts").inner_text()
    expect_pdf(citizen, page.get_by_role("button", name="Phiếu từ chối tiếp nhận (PDF)").get_attribute("href"))

    assert Dossier.objects.get(code=refused.code).status == Status.NOT_RECEIVED
    assert Dossier.objects.get(code=received.code).status == Status.RECEIVED


# --- 6. public tracking -----------------------------------------------------------------------------------------


def test_anyone_tracks_a_dossier_with_its_code_and_secret(visit, portal, pdf_bytes):
    dossier = portal.submit_by_service(pdf_bytes, "k-1")
    page = visit().page
    page.goto("/")
    click_and_wait(page, page.get_by_role("link", name="Tra cứu hồ sơ"))
    page.get_by_label("Mã hồ sơ").fill(dossier.code)
    page.get_by_label("Mã tra cứu").fill(dossier.tracking_secret.lower())  # typed off paper, any case
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Tra cứu").click()
    assert nav.value.status == 200
    article = page.locator("article")
    assert article.get_by_role("heading").inner_text() == dossier.code
    assert article.locator("ol.timeline li").count() == 1
    assert "Mới" in article.locator("ol.timeline").inner_text()

    page.get_by_label("Mã tra cứu").fill("ZZZZ9999")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Tra cứu").click()
    assert nav.value.status == 404
    assert "Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này" in page.get_by_role("alert").inner_text()
    assert page.locator("article").count() == 0


def test_a_secret_typed_with_vietnamese_letters_is_simply_not_found(visit, portal, pdf_bytes):
    dossier = portal.submit_by_service(pdf_bytes, "k-1")
    page = visit().page
    page.goto("/tra-cuu/")
    page.get_by_label("Mã hồ sơ").fill(dossier.code)
    page.get_by_label("Mã tra cứu").fill("ĐÂY")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Tra cứu").click()
    assert nav.value.status == 404


# --- 7. mobile ----------------------------------------------------------------------------------------------------


def test_mobile_layout_labels_and_screenshots(visit, portal, pdf_bytes, png_bytes, screenshots):
    citizen = visit(**MOBILE)
    page = citizen.page
    citizen.login_as(portal.citizen)
    assert page.evaluate(UNLABELLED_JS) == []

    page.goto("/?q=khai+sinh")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(UNLABELLED_JS) == []
    page.screenshot(path=screenshots / "search-mobile.png", full_page=True)

    click_and_wait(page, page.get_by_role("link", name=PROCEDURE_NAME))
    click_and_wait(page, page.get_by_role("button", name="Nộp hồ sơ trực tuyến"))
    assert page.evaluate(UNLABELLED_JS) == []
    fill_form(page, portal, personal_id="")
    attach(page, "to-khai.pdf", png_bytes)
    assert submit(page).status == 422
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=screenshots / "form-errors-mobile.png", full_page=True)

    page.get_by_label("Số định danh cá nhân").fill("079123456789")
    attach(page, "to-khai.pdf", pdf_bytes)
    assert submit(page).status == 200
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=screenshots / "dossier-mobile.png", full_page=True)

    page.goto("/tra-cuu/")
    assert page.evaluate(UNLABELLED_JS) == []


def test_the_search_form_stacks_on_a_phone(visit, transactional_db):
    page = visit(**MOBILE).page
    page.goto("/")
    assert page.get_by_label("Từ khóa hoặc mã thủ tục").bounding_box()["width"] >= 300
    assert page.get_by_role("button", name="Tìm kiếm").bounding_box()["height"] < 80


def test_buttons_wear_the_city_red(visit, transactional_db):
    page = visit().page
    page.goto("/")
    button = page.get_by_role("button", name="Tìm kiếm")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(165, 14, 14)"
