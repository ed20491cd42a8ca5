"""The officials' pages of the reporting cycle: a ward's official fills and submits through the
pages (a refused submission shows the error by its field and keeps the typed values), the
district's head returns it with a reason, the ward submits again, the head approves; reopening
needs a reason; officials of another unit and citizens get nothing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from hcmgov.core import selectors as core
from hcmgov.reporting import selectors, services
from hcmgov.reporting.models import ReportStatus

pytestmark = pytest.mark.django_db

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATE, KEY = "TTHC-THANG", "2024-M03"
CITY, D1, TAN_DINH, DA_KAO = "79", "760", "26734", "26737"


@pytest.fixture
def period(template):
    return services.period_open(
        template=template,
        key=KEY,
        unit_codes=[CITY, D1, TAN_DINH, DA_KAO],
        now=dt.datetime(2024, 3, 1, 9, tzinfo=HCM),
    )


def official(unit_code: str, role: str = "specialist"):
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    agency = core.agency_list(day=dt.date(2024, 3, 1)).filter(unit__code=unit_code, kind__endswith="_pc").first()
    return RoleAssignmentFactory(agency=agency, role=role).user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(unit: str, review: bool = False) -> str:
    return reverse("reports:review" if review else "reports:report", args=[TEMPLATE, KEY, unit])


def status(period, unit: str) -> str:
    return selectors.report_get(period=period, unit_code=unit).status


FIGURES = {"v_hs_tiep_nhan": "12", "v_hs_da_giai_quyet": "10", "v_hs_dung_han": "8", "v_hs_qua_han": "2"}


def test_a_ward_fills_and_submits_the_district_returns_then_approves(period):
    ward = client_for(official(TAN_DINH))
    head = client_for(official(D1, "head"))

    # the list: the ward's own report, late (the deadline of March 2024 has passed)
    page = ward.get(reverse("reports:list")).content.decode()
    assert url(TAN_DINH) in page
    assert "Trễ hạn" in page

    # the report: indicators in order, prefilled figures marked with their source, the ratio computed
    page = ward.get(url(TAN_DINH)).content.decode()
    assert page.index("Số hồ sơ tiếp nhận") < page.index("Số hồ sơ giải quyết quá hạn") < page.index("Ghi chú")
    assert "Hệ thống điền sẵn" in page
    assert "hồ sơ tiếp nhận trên Cổng dịch vụ công" in page
    assert 'name="v_ty_le_dung_han"' not in page

    # the prefilled figures sent back unchanged (as text) stay the platform's; a typed one does not
    unchanged = {"v_hs_tiep_nhan": "0", "v_hs_da_giai_quyet": "0", "v_hs_dung_han": "5", "v_hs_qua_han": ""}
    assert ward.post(url(TAN_DINH), {**unchanged, "action": "save"}).status_code == 302
    assert selectors.report_get(period=period, unit_code=TAN_DINH).prefilled == ["hs_da_giai_quyet", "hs_tiep_nhan"]

    # a refused submission: the total is not the sum of its parts; the error by its field, values kept
    response = ward.post(url(TAN_DINH), {**FIGURES, "v_hs_da_giai_quyet": "11", "action": "submit"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="e-v_hs_da_giai_quyet"' in page
    assert "phải bằng" in page
    assert "báo cáo chưa được gửi" in page  # the figures are kept in the draft
    assert 'name="v_hs_da_giai_quyet" value="11"' in page
    assert 'name="v_hs_tiep_nhan" value="12"' in page
    assert status(period, TAN_DINH) == ReportStatus.DRAFT

    # a type error in English, by its field
    ward.cookies["django_language"] = "en"
    response = ward.post(url(TAN_DINH), {**FIGURES, "v_hs_qua_han": "two", "action": "save"})
    del ward.cookies["django_language"]
    assert response.status_code == 400
    assert "Dossiers finished late: must be a number." in response.content.decode()

    # saved, then submitted (POST-redirect-GET)
    response = ward.post(url(TAN_DINH), {**FIGURES, "v_ghi_chu": "Ổn định", "action": "save"})
    assert response.status_code == 302
    assert response["Location"] == url(TAN_DINH)
    page = ward.get(url(TAN_DINH)).content.decode()
    assert "80.00" in page  # the on-time rate, computed
    assert ward.post(url(TAN_DINH), {**FIGURES, "action": "submit"}).status_code == 302
    assert status(period, TAN_DINH) == ReportStatus.SUBMITTED

    # the ward's official may not review its own report
    assert ward.post(url(TAN_DINH, review=True), {"action": "approve"}).status_code == 403

    # the district's head: waiting for review; return needs a reason
    page = head.get(reverse("reports:list")).content.decode()
    assert url(TAN_DINH) in page
    response = head.post(url(TAN_DINH, review=True), {"action": "return", "reason": "  "})
    assert response.status_code == 400
    assert 'id="e-reason"' in response.content.decode()
    assert status(period, TAN_DINH) == ReportStatus.SUBMITTED
    response = head.post(url(TAN_DINH, review=True), {"action": "return", "reason": "Kiểm tra lại số quá hạn"})
    assert response.status_code == 302
    assert status(period, TAN_DINH) == ReportStatus.RETURNED
    page = ward.get(url(TAN_DINH)).content.decode()
    assert "Kiểm tra lại số quá hạn" in page
    assert "Bị trả lại" in page

    # the ward sends again, the head approves
    assert ward.post(url(TAN_DINH), {**FIGURES, "action": "submit"}).status_code == 302
    assert head.post(url(TAN_DINH, review=True), {"action": "approve"}).status_code == 302
    assert status(period, TAN_DINH) == ReportStatus.APPROVED
    assert ward.post(url(TAN_DINH), {**FIGURES, "action": "save"}).status_code == 409  # approved: locked

    # reopening without a reason is refused; with one it is a new version
    response = head.post(url(TAN_DINH, review=True), {"action": "reopen", "reason": ""})
    assert response.status_code == 400
    assert "Cần nêu lý do." in response.content.decode()
    assert status(period, TAN_DINH) == ReportStatus.APPROVED
    assert head.post(url(TAN_DINH, review=True), {"action": "reopen", "reason": "Số liệu mới"}).status_code == 302
    report = selectors.report_get(period=period, unit_code=TAN_DINH)
    assert (report.status, report.version) == (ReportStatus.REOPENED, 2)
    history = head.get(url(TAN_DINH)).content.decode()
    assert "Số liệu mới" in history
    assert "Mở lại" in history


def test_the_district_report_shows_its_totals_and_coverage(period):
    ward = client_for(official(TAN_DINH))
    head = client_for(official(D1, "head"))
    district = client_for(official(D1))
    ward.post(url(TAN_DINH), {**FIGURES, "action": "submit"})
    head.post(url(TAN_DINH, review=True), {"action": "approve"})
    response = district.post(url(D1), {**FIGURES, "action": "submit"})
    assert response.status_code == 302
    page = district.get(url(D1)).content.decode()
    assert "Tổng hợp và phạm vi" in page
    assert f"Đã tính (2): {TAN_DINH}, {D1}" in page
    assert f"(1): {DA_KAO}" in page  # Đa Kao: not approved yet
    assert "<td>24</td>" in page  # dossiers received: 12 + 12
    assert url(TAN_DINH) in page
    assert url(DA_KAO) in page


def test_no_access_for_another_unit_or_a_citizen(period):
    from hcmgov.identity.tests.factories import UserFactory

    other = client_for(official(DA_KAO, "head"))
    assert other.get(url(TAN_DINH)).status_code == 404
    assert other.post(url(TAN_DINH), {**FIGURES, "action": "save"}).status_code == 404
    assert other.post(url(TAN_DINH, review=True), {"action": "approve"}).status_code == 404
    assert url(TAN_DINH) not in other.get(reverse("reports:list")).content.decode()

    citizen = client_for(UserFactory())
    assert citizen.get(url(TAN_DINH)).status_code == 403
    assert citizen.get(reverse("reports:list")).status_code == 403

    assert Client().get(url(TAN_DINH)).status_code == 302  # anonymous: the login page
    unknown = reverse("reports:report", args=[TEMPLATE, "2099-M01", TAN_DINH])
    assert client_for(official(TAN_DINH)).get(unknown).status_code == 404


def test_the_pages_read_a_fixed_number_of_queries(period, django_assert_max_num_queries):
    """No read per row: the list and a district's page with its wards (pinned, style rule 16)."""
    district = client_for(official(D1, "head"))
    district.get(reverse("reports:list"))  # the session and the second factor, read once
    with django_assert_max_num_queries(12):
        assert district.get(reverse("reports:list")).status_code == 200
    with django_assert_max_num_queries(15):
        assert district.get(url(D1)).status_code == 200
