# ruff: noqa: F811 - the fixtures imported from signing_fixtures are parameters of the tests
"""The three journeys of issue 14 (item 3), each driven through Chromium against the live server, with
the outside systems played by their simulators over HTTP (``hcmgov.simulators``): the national e-ID,
the payment gateway, the time-stamping authority that stamps signed results.

(a) A citizen finds a procedure, logs in with the e-ID, fills the form the city prefilled, uploads,
    pays through the gateway, tracks the dossier, receives the signed result, verifies it and rates
    the service. The officials' part of (a) goes through the services (their pages are journey b).
(b) An official receives a dossier, asks for a supplement; the citizen supplies it; the official
    carries the dossier on to its result.
(c) A leader opens the dashboards and drills down from the city's index to the dossiers behind a
    figure.

Screenshots go to ``tests/browser/screenshots/`` (test artefacts); a few are copied to ``docs/ui/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from hcmgov.documents.tests.signing_fixtures import pki_folder, tsa  # noqa: F401 - fixtures
from hcmgov.dossiers.models import Dossier, DossierStep, Status
from hcmgov.identity.tests.factories import PASSWORD, RoleAssignmentFactory, UserFactory
from hcmgov.reporting.tests import test_quality

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
march, staff = test_quality.march, test_quality.staff  # the March of the 766 index, computed by hand there

PROCEDURE_NAME = "Đăng ký khai sinh (hành trình)"
ROLES = ("receiver", "specialist", "head", "leader", "clerk")


@dataclass
class Portal:
    agency: Any
    procedure: Any
    citizen: Any
    official: Any

    def submit_by_service(self, pdf: bytes, key: str) -> Any:
        """A dossier the citizen sent earlier (journey b starts at the desk)."""
        from hcmgov.dossiers.files import Attachment
        from hcmgov.dossiers.services import dossier_submit

        form = {"full_name": self.citizen.full_name, "personal_id": "079123456789", "purpose": "work"}
        dossier, _ = dossier_submit(
            applicant=self.citizen,
            procedure_code=self.procedure.code,
            agency_code=self.agency.code,
            form_data={**form, "mother": {"full_name": "Trần Thị Bình"}},
            attachments=[Attachment("TOKHAI", "to-khai.pdf", pdf)],
            idempotency_key=key,
        )
        return dossier


def pdf_file(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": data}


def click_and_wait(page: Any, target: Any) -> Any:
    """Click something that loads a new page, and wait for that page."""
    with page.expect_navigation() as nav:
        target.click()
    return nav.value


@pytest.fixture
def journey(transactional_db: Any) -> Portal:
    """An agency, a procedure with the test flow and a fee, and one official holding every role of
    the flow there (receive, review, approve, sign, hand over)."""
    from hcmgov.catalog.tests.factories import ProcedureFactory, ProcedureVersionFactory, with_test_flow
    from hcmgov.common.text import fold
    from hcmgov.core.tests.factories import AgencyFactory

    agency = AgencyFactory()
    procedure = ProcedureFactory(
        name=PROCEDURE_NAME,
        name_en="Birth registration (browser test)",
        search_text=fold(f"{PROCEDURE_NAME} Birth registration Hộ tịch"),
    )
    with_test_flow(ProcedureVersionFactory(procedure=procedure))
    official = UserFactory(official=True, full_name="Lê Thị Cán Bộ")
    for role in ROLES:
        RoleAssignmentFactory(user=official, agency=agency, role=role)
    return Portal(agency, procedure, UserFactory(full_name="Nguyễn Văn An"), official)


@pytest.fixture
def gateway(live_server: Any, monkeypatch: Any, settings: Any) -> Any:
    """The payment gateway (``hcmgov sim pay``), sending its IPNs to the live server, and the browser
    back to it (the return address is the portal's public address)."""
    from hcmgov.simulators import running
    from hcmgov.simulators.pay import HASH_SECRET, TMN_CODE

    with running("pay", ipn_url=f"{live_server.url}/api/v1/payments/vnpay/ipn") as base:
        settings.PUBLIC_URL = live_server.url
        monkeypatch.setenv("HCMGOV_VNPAY_PAY_URL", f"{base}/paymentv2/vpcpay.html")
        monkeypatch.setenv("HCMGOV_VNPAY_API_URL", f"{base}/merchant_webapi/api/transaction")
        monkeypatch.setenv("HCMGOV_VNPAY_TMN_CODE", TMN_CODE)
        monkeypatch.setenv("HCMGOV_VNPAY_HASH_SECRET", HASH_SECRET)
        yield base


def status_of(page: Any) -> str:
    return str(page.locator("dl.facts .status").inner_text())


def open_step(dossier: Dossier) -> DossierStep:
    return DossierStep.objects.get(dossier=dossier, state="open")


# --- (a) the citizen -----------------------------------------------------------------------------------------


def test_a_citizen_applies_with_the_e_id_pays_tracks_and_rates_the_signed_result(
    visit, journey, eid_provider, gateway, pki_folder, tsa, pdf_bytes, screenshots
):
    from hcmgov.documents import pki, tasks
    from hcmgov.dossiers import services
    from hcmgov.simulators._eid_people import PEOPLE, SIM_PASSWORD

    person = PEOPLE[0]  # level 2: name, birth date, address and personal ID come with the login
    pki.certificate_issue_demo(agency_id=journey.agency.pk)
    citizen = visit()
    citizen.allow(eid_provider)
    citizen.allow(gateway)
    page = citizen.page

    # finds the procedure from the home page, asks to apply: the portal asks who they are first
    page.goto("/")
    page.get_by_label("Từ khóa hoặc mã thủ tục").fill("dang ky khai sinh")
    click_and_wait(page, page.get_by_role("button", name="Tìm kiếm"))
    click_and_wait(page, page.get_by_role("link", name=PROCEDURE_NAME))
    page.screenshot(path=screenshots / "journey-a-1-procedure.png", full_page=True)
    click_and_wait(page, page.get_by_role("button", name="Nộp hồ sơ trực tuyến"))
    assert "/dang-nhap/" in page.url

    # the national e-ID's own page (the simulator), and back
    click_and_wait(page, page.get_by_role("button", name="Đăng nhập bằng định danh điện tử quốc gia (VNeID)"))
    assert page.url.startswith(eid_provider)
    page.get_by_label("Số định danh cá nhân").fill(person.personal_id)
    page.get_by_label("Mật khẩu").fill(SIM_PASSWORD)
    page.get_by_role("button", name="Đăng nhập / Log in").click()
    page.wait_for_url(re.compile(r"/nop-ho-so/$"))

    # the form, prefilled from what the e-ID told the city (the test procedure's form prefills the name)
    consent = page.get_by_role("button", name="Đồng ý điền sẵn")
    if consent.count():
        click_and_wait(page, consent)
    assert page.get_by_label("Họ, chữ đệm, tên").input_value() == person.name  # the form's one x-prefill field
    page.get_by_label("Số định danh cá nhân").fill(person.personal_id)
    page.get_by_label("Nộp hồ sơ đến").select_option(journey.agency.code)
    if not page.get_by_label("Ngày sinh").input_value():
        page.get_by_label("Ngày sinh").fill("1990-05-17")
    page.get_by_label("Số bản sao").fill("1")
    page.get_by_label("Mục đích").select_option(label="Làm việc")
    page.get_by_label("Họ tên mẹ").fill("Trần Thị Bình")
    page.get_by_label("Tờ khai").set_input_files(pdf_file("to-khai.pdf", pdf_bytes))
    page.screenshot(path=screenshots / "journey-a-2-form.png", full_page=True)
    assert click_and_wait(page, page.get_by_role("button", name="Nộp hồ sơ", exact=True)).status == 200
    code = page.get_by_role("heading", level=1).inner_text().removeprefix("Hồ sơ ").strip()
    secret = page.locator("dl.facts dd.code").inner_text().strip()
    assert status_of(page) == "Mới"

    # pays the fee on the gateway's page (the simulator), comes back to the portal
    click_and_wait(page, page.get_by_role("button", name=re.compile("^Thanh toán trực tuyến")).first)
    assert page.url.startswith(gateway)
    page.screenshot(path=screenshots / "journey-a-3-gateway.png", full_page=True)
    click_and_wait(page, page.get_by_role("button", name=re.compile("^Thanh toán thành công")))
    assert "/thanh-toan/vnpay/ket-qua/" in page.url
    assert "Thanh toán thành công" in page.locator("main").inner_text()
    page.goto(f"/ho-so/{code}/")
    assert "Đã thanh toán" in page.locator("#phi-le-phi").inner_text()

    # tracks it as anyone can, with the code and the secret printed on the receipt
    stranger = visit().page
    stranger.goto("/tra-cuu/")
    stranger.get_by_label("Mã hồ sơ").fill(code)
    stranger.get_by_label("Mã tra cứu").fill(secret)
    click_and_wait(stranger, stranger.get_by_role("button", name="Tra cứu"))
    assert stranger.locator("article").get_by_role("heading").inner_text() == code

    # the officials settle it (their pages: journey b); the worker signs the result
    dossier = Dossier.objects.get(code=code)
    official = journey.official
    dossier = services.dossier_receive(dossier=dossier, official=official)
    for action in ("forward", "approve", "sign"):
        dossier = services.dossier_act(dossier=dossier, official=official, step_id=open_step(dossier).pk, action=action)
    assert tasks.result_issue.apply(args=[dossier.pk]).get() is not False
    dossier = services.dossier_act(dossier=dossier, official=official, step_id=open_step(dossier).pk, action="return")

    # receives the signed result, verifies it on the portal, rates the service
    page.goto(f"/ho-so/{code}/")
    assert status_of(page) == "Đã trả kết quả"
    download = page.get_by_role("button", name="Tải kết quả (PDF có chữ ký số)")
    response = citizen.context.request.get(download.get_attribute("href"), timeout=60_000)
    assert response.status == 200
    signed = response.body()
    assert signed.startswith(b"%PDF-")
    page.screenshot(path=screenshots / "journey-a-4-result.png", full_page=True)
    page.goto("/xac-thuc/")
    page.get_by_label("Tệp PDF").set_input_files(pdf_file("ket-qua.pdf", signed))
    click_and_wait(page, page.get_by_role("button", name="Kiểm tra"))
    assert page.get_by_role("heading", name="Hợp lệ").is_visible()
    assert code in page.locator("main").inner_text()
    page.screenshot(path=screenshots / "journey-a-5-verified.png", full_page=True)

    page.goto(f"/ho-so/{code}/#danh-gia")
    rating = page.locator("#danh-gia")
    rating.get_by_role("radio").first.check()
    rating.get_by_label("Nhận xét, góp ý").fill("Nhanh, rõ ràng.")
    click_and_wait(page, rating.get_by_role("button", name="Gửi đánh giá"))
    assert "Bạn đã đánh giá việc giải quyết hồ sơ này" in page.locator("#danh-gia").inner_text()
    assert "Nhanh, rõ ràng." in page.locator("#danh-gia").inner_text()
    assert citizen.foreign_requests == []


# --- (b) the official --------------------------------------------------------------------------------------


def test_an_official_asks_for_a_supplement_and_carries_the_dossier_to_its_result(
    visit, journey, pdf_bytes, screenshots
):
    dossier = journey.submit_by_service(pdf_bytes, "journey-b")
    official = visit()
    page = official.page
    official.login(journey.official.username, PASSWORD)  # password, then the authenticator's code
    click_and_wait(page, page.get_by_role("link", name="Một cửa"))
    click_and_wait(page, page.get_by_role("link", name=dossier.code))
    page.get_by_label("Tiếp nhận hồ sơ").check()
    click_and_wait(page, page.get_by_role("button", name="Thực hiện"))
    assert status_of(page) == "Đã tiếp nhận"

    # reviewing it: the declaration is not signed — a supplement request (Form 02)
    page.locator("article.step details summary").first.click()
    page.get_by_label("Yêu cầu bổ sung (Mẫu 02)").fill("Tờ khai | Thiếu chữ ký của người yêu cầu")
    page.screenshot(path=screenshots / "journey-b-1-supplement-request.png", full_page=True)
    click_and_wait(page, page.get_by_role("button", name="Gửi yêu cầu bổ sung"))
    assert status_of(page) == "Yêu cầu bổ sung"

    # the citizen sees the request on the dossier's page and sends the signed declaration
    citizen = visit()
    citizen.login_as(journey.citizen)
    mine = citizen.page
    mine.goto(f"/ho-so/{dossier.code}/")
    request = mine.locator("#bo-sung")
    assert "Thiếu chữ ký của người yêu cầu" in request.inner_text()
    request.get_by_label("Tệp (PDF, JPG, PNG)").set_input_files(pdf_file("to-khai-da-ky.pdf", pdf_bytes))
    request.get_by_label("Ghi chú cho cán bộ").fill("Đã ký bổ sung.")
    mine.screenshot(path=screenshots / "journey-b-2-supplement.png", full_page=True)
    click_and_wait(mine, request.get_by_role("button", name="Gửi bổ sung"))
    assert status_of(mine) != "Yêu cầu bổ sung"
    assert "to-khai-da-ky.pdf" in mine.locator("main").inner_text()

    # the official carries on: review, approval, signature, handing over — each step's first decision
    page.reload()
    assert "to-khai-da-ky.pdf" in page.locator("main").inner_text()
    for _ in range(6):
        if status_of(page) == "Đã trả kết quả":
            break
        click_and_wait(page, page.get_by_role("button", name="Thực hiện").first)
    assert status_of(page) == "Đã trả kết quả"
    page.screenshot(path=screenshots / "journey-b-3-returned.png", full_page=True)
    assert Dossier.objects.get(code=dossier.code).status == Status.RETURNED

    mine.reload()
    assert status_of(mine) == "Đã trả kết quả"


# --- (c) the leader ----------------------------------------------------------------------------------------


def test_a_leader_drills_down_from_the_dashboard_to_the_dossiers(visit, live_server, march, staff, agency, screenshots):
    leader = visit()
    page = leader.page
    leader.login(staff["leader"].username, PASSWORD)
    click_and_wait(page, page.get_by_role("link", name="Bảng điều hành"))
    assert page.url.endswith("/dashboard/")
    click_and_wait(page, page.get_by_role("link", name="Chỉ số phục vụ (QĐ 766)"))
    page.get_by_label("Tháng").select_option("2026-03")
    click_and_wait(page, page.get_by_role("button", name="Xem"))
    page.screenshot(path=screenshots / "journey-c-1-index.png", full_page=True)

    click_and_wait(page, page.locator(f"tr[data-agency='{agency.code}'] th a"))
    click_and_wait(page, page.locator("a[href*='/2.1/?']").first)  # 2.1, the dossiers settled late
    page.screenshot(path=screenshots / "journey-c-2-drill.png", full_page=True)
    codes = sorted(page.locator("ul.dash-codes code").all_inner_texts())
    assert codes == sorted(march[k].code for k in ("d2", "d4", "d8"))  # as test_quality computed by hand

    click_and_wait(page, page.get_by_role("link", name=march["d2"].code))
    assert page.url.endswith(f"/office/ho-so/{march['d2'].code}/")
    assert march["d2"].code in page.get_by_role("heading", level=1).inner_text()
