"""/api/v1/reporting: each route; who may read and act (a ward's official keeps its report and
nobody else's, the district's head reviews it, a leader reads it); a figure breaking the template
refused 422 naming the indicator; the reopening, with a reason, after approval; problems in
Vietnamese or English; no server error on bad input (ids out of range, bad months, wrong JSON
types); the dashboards' index and targets as the pages compute them; query counts pinned."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hcmgov.core import selectors as core
from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.reporting import selectors, services, targets
from hcmgov.reporting.models import ReportStatus
from hcmgov.reporting.tests import test_quality
from hcmgov.wsgi import application

pytestmark = pytest.mark.django_db
march, staff = test_quality.march, test_quality.staff  # the March of test_quality (computed by hand there)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
TEMPLATE, KEY = "TTHC-THANG", "2024-M03"
CITY, D1, TAN_DINH, DA_KAO = "79", "760", "26734", "26737"
BASE = "/api/v1/reporting"
FIGURES = {"hs_tiep_nhan": 12, "hs_da_giai_quyet": 10, "hs_dung_han": 8, "hs_qua_han": 2}


@pytest.fixture
def period(template):
    return services.period_open(
        template=template, key=KEY, unit_codes=[CITY, D1, TAN_DINH, DA_KAO], now=dt.datetime(2024, 3, 1, 9, tzinfo=HCM)
    )


def official(unit_code: str, role: str = "specialist") -> Any:
    """An official with ``role`` at the People's Committee of the unit (in March 2024)."""
    agency = core.agency_list(day=dt.date(2024, 3, 1)).filter(unit__code=unit_code, kind__endswith="_pc").first()
    return RoleAssignmentFactory(agency=agency, role=role).user


class Api:
    """A client calling the API with ``user``'s personal token (anonymous: none), in ``language``."""

    def __init__(self, user: Any = None, language: str = "vi") -> None:
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_ACCEPT_LANGUAGE": language}
        if user is not None:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {api_token_issue(user=user, name='test').raw}"

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return self.client.get(BASE + path, query or {}, **self.headers)

    def send(self, method: str, path: str, body: Any = None) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
        return self.client.generic(method, BASE + path, data, content_type="application/json", **self.headers)

    def put(self, path: str, body: Any) -> Any:
        return self.send("PUT", path, body)

    def post(self, path: str, body: Any = None) -> Any:
        return self.send("POST", path, body)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:400])
    return response.json()


def problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"].split(";")[0] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
        assert body["type"].endswith("/" + code)
    return body


def report_id(period: Any, unit: str) -> int:
    return selectors.report_get(period=period, unit_code=unit).pk


# --- templates and periods ------------------------------------------------------------------------


def test_templates_with_their_indicators(period):
    [found] = ok(Api(official(TAN_DINH)).get("/templates"))
    assert (found["code"], found["period_kind"], found["levels"]) == (
        TEMPLATE,
        "monthly",
        ["commune", "district", "city"],
    )
    codes = [i["code"] for i in found["indicators"]]
    assert codes == ["hs_tiep_nhan", "hs_da_giai_quyet", "hs_dung_han", "hs_qua_han", "ty_le_dung_han", "ghi_chu"]
    first, ratio, remark = found["indicators"][0], found["indicators"][4], found["indicators"][5]
    assert first == {
        "code": "hs_tiep_nhan", "name": "Số hồ sơ tiếp nhận", "name_en": "Dossiers received", "type": "integer",
        "unit": "hồ sơ", "aggregation": "sum", "min_value": "0", "max_value": None, "numerator": "",
        "denominator": "", "required": True, "prefill": "dossiers_received",
    }  # fmt: skip
    assert (ratio["aggregation"], ratio["max_value"], ratio["numerator"], ratio["denominator"]) == (
        "ratio", "100", "hs_dung_han", "hs_da_giai_quyet"
    )  # fmt: skip
    assert remark["required"] is False
    assert {"kind": "sum", "total": "hs_da_giai_quyet", "parts": ["hs_dung_han", "hs_qua_han"]} in found["rules"]


def test_periods_with_their_deadlines(period):
    api = Api(official(TAN_DINH))
    [found] = ok(api.get("/periods", {"template": TEMPLATE}))["items"]
    assert found["id"] == period.pk
    assert (found["key"], found["cutoff_start"], found["cutoff_end"]) == (KEY, "2024-02-15", "2024-03-14")
    assert found["deadlines"] == {"commune": "2024-03-16", "district": "2024-03-18", "city": "2024-03-20"}
    assert ok(api.get("/periods"))["count"] == 1
    problem(api.get("/periods", {"template": "KHONG-CO"}), 404, "not_found")
    problem(api.get("/periods", {"template": "x" * 41}), 422, "invalid_request")


# --- the cycle ------------------------------------------------------------------------------------


def test_a_ward_fills_and_submits_the_district_returns_approves_and_reopens(period):
    ward, head = Api(official(TAN_DINH)), Api(official(D1, "head"))
    rid = report_id(period, TAN_DINH)

    # the ward sees its own report only, with what it may do
    listed = ok(ward.get("/reports"))
    assert [r["unit_code"] for r in listed["items"]] == [TAN_DINH]
    assert listed["items"][0]["late"] is True  # the deadline of March 2024 has passed
    found = ok(ward.get(f"/reports/{rid}"))
    assert (found["status"], found["status_name"], found["status_name_en"]) == ("draft", "Đang soạn", "Draft")
    assert found["actions"] == {"edit": True, "decide": False, "reopen": False}
    assert "hs_tiep_nhan" in found["prefilled"]
    assert [e["action"] for e in found["events"]] == ["opened"]

    # a wrong type: 422 naming the indicator, in Vietnamese; the same in English
    body = problem(ward.put(f"/reports/{rid}/values", {"values": {"hs_qua_han": "hai"}}), 422, "report_invalid")
    assert body["errors"] == [
        {"field": "hs_qua_han", "code": "type", "message": "Số hồ sơ giải quyết quá hạn: phải là số."}
    ]
    assert body["title"].startswith("Báo cáo chưa hợp lệ")
    english = Api(official(TAN_DINH), language="en")
    body = problem(english.put(f"/reports/{rid}/values", {"values": {"hs_qua_han": "two"}}), 422, "report_invalid")
    assert body["errors"][0]["message"] == "Dossiers finished late: must be a number."
    assert body["title"].startswith("The report is not valid")

    # values kept (a ratio computed); a total that is not the sum of its parts refused at submission
    saved = ok(ward.put(f"/reports/{rid}/values", {"values": {**FIGURES, "hs_da_giai_quyet": 11, "ghi_chu": "Ổn"}}))
    assert saved["values"]["hs_da_giai_quyet"] == 11
    assert saved["values"]["ghi_chu"] == "Ổn"
    assert "hs_da_giai_quyet" not in saved["prefilled"]
    body = problem(ward.post(f"/reports/{rid}/submit"), 422, "report_invalid")
    assert [e["field"] for e in body["errors"]] == ["hs_da_giai_quyet"]
    assert "phải bằng" in body["errors"][0]["message"]
    assert selectors.report_get(period=period, unit_code=TAN_DINH).status == ReportStatus.DRAFT
    saved = ok(ward.put(f"/reports/{rid}/values", {"values": {"hs_da_giai_quyet": "10", "ghi_chu": None}}))
    assert saved["values"]["ty_le_dung_han"] == "80.00"
    assert "ghi_chu" not in saved["values"]
    sent = ok(ward.post(f"/reports/{rid}/submit"))
    assert (sent["status"], sent["late"], sent["actions"]["edit"]) == ("submitted", True, False)
    assert sent["totals"]["hs_tiep_nhan"] == 12

    # the ward may not review its own report; the district's head sees it waiting
    problem(ward.post(f"/reports/{rid}/approve"), 403, "report_forbidden")
    waiting = ok(head.get("/reports", {"state": "submitted"}))["items"]
    assert [r["unit_code"] for r in waiting] == [TAN_DINH]
    assert ok(head.get(f"/reports/{rid}"))["actions"] == {"edit": False, "decide": True, "reopen": False}

    # a return needs a reason (422 naming it), then the ward sends again and the head approves
    body = problem(head.post(f"/reports/{rid}/return", {"reason": "   "}), 422, "reason_required")
    assert body["errors"][0]["field"] == "reason"
    returned = ok(head.post(f"/reports/{rid}/return", {"reason": "Kiểm tra lại số quá hạn"}))
    assert returned["status"] == "returned"
    assert returned["events"][-1] | {"at": None} == {
        "action": "returned", "action_name": "Trả lại", "action_name_en": "Returned",
        "actor": returned["events"][-1]["actor"], "reason": "Kiểm tra lại số quá hạn", "version": 1, "at": None,
    }  # fmt: skip
    problem(head.post(f"/reports/{rid}/approve"), 409, "report_not_submitted")
    ok(ward.post(f"/reports/{rid}/submit"))
    approved = ok(head.post(f"/reports/{rid}/approve"))
    assert (approved["status"], approved["actions"]["reopen"]) == ("approved", True)

    # approved: a change needs the reopening, with a reason; then it is a new version
    problem(ward.put(f"/reports/{rid}/values", {"values": {"ghi_chu": "Sửa"}}), 409, "report_approved")
    problem(head.post(f"/reports/{rid}/reopen", {"reason": ""}), 422, "reason_required")
    problem(ward.post(f"/reports/{rid}/reopen", {"reason": "Sửa số"}), 403, "report_forbidden")
    reopened = ok(head.post(f"/reports/{rid}/reopen", {"reason": "Số liệu mới"}))
    assert (reopened["status"], reopened["version"]) == ("reopened", 2)
    assert reopened["events"][-1]["reason"] == "Số liệu mới"
    assert ok(ward.put(f"/reports/{rid}/values", {"values": {"ghi_chu": "Sửa"}}))["values"]["ghi_chu"] == "Sửa"
    problem(head.post(f"/reports/{rid}/reopen", {"reason": "Lần nữa"}), 409, "report_not_approved")


def test_the_district_report_carries_the_totals_of_its_approved_wards(period):
    ward, head, district = Api(official(TAN_DINH)), Api(official(D1, "head")), Api(official(D1))
    ward_id, district_id = report_id(period, TAN_DINH), report_id(period, D1)
    ok(ward.put(f"/reports/{ward_id}/values", {"values": FIGURES}))
    ok(ward.post(f"/reports/{ward_id}/submit"))
    ok(head.post(f"/reports/{ward_id}/approve"))
    ok(district.put(f"/reports/{district_id}/values", {"values": FIGURES}))
    sent = ok(district.post(f"/reports/{district_id}/submit"))
    assert sent["totals"]["hs_tiep_nhan"] == 24
    assert sent["coverage"] == {"counted": [TAN_DINH, D1], "missing": [DA_KAO]}
    assert sent["parent_unit"] == CITY
    # the district's officials keep their report; its head reads the wards' too (reviews them); filters
    assert [r["unit_code"] for r in ok(district.get("/reports", {"period": period.pk}))["items"]] == [D1]
    units = [r["unit_code"] for r in ok(head.get("/reports", {"period": period.pk}))["items"]]
    assert units == [TAN_DINH, DA_KAO, D1]  # as the models order them: level (its code), then unit
    assert [r["unit_code"] for r in ok(head.get("/reports", {"unit": DA_KAO}))["items"]] == [DA_KAO]
    assert [r["unit_code"] for r in ok(head.get("/reports", {"state": "approved"}))["items"]] == [TAN_DINH]
    assert ok(head.get("/reports", {"period": period.pk + 1000}))["items"] == []


# --- who may read and act -------------------------------------------------------------------------


def test_another_ward_gets_404_a_leader_reads_citizens_and_administrators_are_refused(period):
    rid = report_id(period, TAN_DINH)
    other = Api(official(DA_KAO, "head"))
    missing = problem(other.get("/reports/999999999"), 404, "not_found")
    hidden = problem(other.get(f"/reports/{rid}"), 404, "not_found")
    assert hidden["title"] == missing["title"].replace("999999999", str(rid))  # no existence leak
    for method, path, body in (
        ("PUT", f"/reports/{rid}/values", {"values": FIGURES}),
        ("POST", f"/reports/{rid}/submit", None),
        ("POST", f"/reports/{rid}/approve", None),
        ("POST", f"/reports/{rid}/return", {"reason": "x"}),
        ("POST", f"/reports/{rid}/reopen", {"reason": "x"}),
    ):
        problem(other.send(method, path, body), 404, "not_found")
    assert TAN_DINH not in [r["unit_code"] for r in ok(other.get("/reports"))["items"]]
    assert selectors.report_get(period=period, unit_code=TAN_DINH).values.get("hs_qua_han") is None

    # the district's leader reads the ward's report (the level that reviews it), may not fill it
    leader = Api(official(D1, "leader"))
    assert ok(leader.get(f"/reports/{rid}"))["actions"] == {"edit": False, "decide": False, "reopen": False}
    problem(leader.put(f"/reports/{rid}/values", {"values": FIGURES}), 403, "report_forbidden")
    # the city's leader reviews the district's report, not the wards' below it
    city = Api(official(CITY, "leader"))
    ok(city.get(f"/reports/{report_id(period, D1)}"))
    problem(city.get(f"/reports/{rid}"), 404, "not_found")

    for who in (UserFactory(), UserFactory(admin=True)):
        api = Api(who)
        for path in ("/templates", "/periods", "/reports", f"/reports/{rid}"):
            problem(api.get(path), 403, "forbidden")
        problem(api.post(f"/reports/{rid}/submit"), 403, "forbidden")
    anonymous = Api()
    for path in ("/templates", "/periods", "/reports", f"/reports/{rid}", "/quality-index", "/targets"):
        problem(anonymous.get(path), 401, "unauthenticated")
    problem(anonymous.put(f"/reports/{rid}/values", {"values": FIGURES}), 401, "unauthenticated")


def test_problems_in_vietnamese_by_default_english_when_asked(period):
    user = official(TAN_DINH)
    vi = Api(user).get("/reports/123456789")
    body = problem(vi, 404, "not_found")
    assert (body["title"], vi["Content-Language"]) == ("Không tìm thấy báo cáo 123456789.", "vi")
    en = Api(user, language="en").get("/reports/123456789")
    body = problem(en, 404, "not_found")
    assert (body["title"], en["Content-Language"]) == ("Report 123456789 not found.", "en")
    body = problem(Api(UserFactory(), language="en").get("/templates"), 403, "forbidden")
    assert body["detail"] == "Officials only."


# --- no server error on any input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/reports/0", None, 422),
        ("/reports/-1", None, 422),
        ("/reports/9223372036854775808", None, 422),
        ("/reports/99999999999999999999999999", None, 422),
        ("/reports/abc", None, 422),
        ("/reports/9223372036854775807", None, 404),
        ("/reports", {"period": "abc"}, 422),
        ("/reports", {"period": "0"}, 422),
        ("/reports", {"period": str(2**64)}, 422),
        ("/reports", {"state": "lost"}, 422),
        ("/reports", {"unit": "x" * 9}, 422),
        ("/reports", {"page": str(10**20)}, 422),
        ("/reports", {"page_size": "501"}, 422),
        ("/periods", {"page": "0"}, 422),
    ],
)
def test_bad_ids_and_queries_are_problems(period, path, query, status):
    problem(Api(official(TAN_DINH)).get(path, query), status)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"values": {"hs_tiep_nhan": [1]}}, "hs_tiep_nhan", "type"),
        ({"values": {"hs_tiep_nhan": {"a": 1}}}, "hs_tiep_nhan", "type"),
        ({"values": {"hs_tiep_nhan": True}}, "hs_tiep_nhan", "type"),
        ({"values": {"hs_tiep_nhan": 1.5}}, "hs_tiep_nhan", "type"),
        ({"values": {"hs_tiep_nhan": -1}}, "hs_tiep_nhan", "range"),
        ({"values": {"hs_tiep_nhan": "1e999999"}}, "hs_tiep_nhan", "range"),
        ({"values": {"hs_tiep_nhan": 10**400}}, "hs_tiep_nhan", "range"),
        ({"values": {"hs_tiep_nhan": "NaN"}}, "hs_tiep_nhan", "type"),
        ({"values": {"ghi_chu": 5}}, "ghi_chu", "type"),
        ({"values": {"ghi_chu": "x" * 201}}, "ghi_chu", "length"),
        ({"values": {"khong_co": 1}}, "khong_co", "unknown"),
    ],
)
def test_wrong_figures_are_422_naming_the_indicator(period, body, field, code):
    found = problem(Api(official(TAN_DINH)).put(f"/reports/{report_id(period, TAN_DINH)}/values", body), 422)
    assert found["code"] == "report_invalid"
    assert [(e["field"], e["code"]) for e in found["errors"]] == [(field, code)]


def test_the_page_refuses_a_figure_out_of_scale_too(period):
    """``services.report_save`` bounds the figures for both callers (the page answered 500 before)."""
    client = Client()
    client.force_login(official(TAN_DINH))
    url = f"/office/bao-cao/{TEMPLATE}/{KEY}/{TAN_DINH}/"
    response = client.post(url, {"v_hs_tiep_nhan": "1e999999", "action": "save"})
    assert response.status_code == 400
    assert "số quá lớn hoặc quá nhỏ" in response.content.decode()


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("PUT", "values", {"values": [1, 2]}, 422),
        ("PUT", "values", {"values": "12"}, 422),
        ("PUT", "values", {}, 422),
        ("PUT", "values", [], 422),
        ("PUT", "values", "{not json", 400),
        ("PUT", "values", {"values": {f"k{n}": 1 for n in range(201)}}, 422),
        ("POST", "return", {"reason": 5}, 422),
        ("POST", "return", {"reason": None}, 422),
        ("POST", "reopen", {}, 422),
        ("POST", "reopen", {"reason": "x" * 4001}, 422),
    ],
)
def test_wrong_json_is_a_problem(period, method, suffix, body, status):
    api = Api(official(D1, "head"))
    problem(api.send(method, f"/reports/{report_id(period, TAN_DINH)}/{suffix}", body), status)


# --- the dashboards -------------------------------------------------------------------------------


def test_the_index_as_the_dashboard_computes_it(march, agency):
    api = Api(RoleAssignmentFactory(agency=agency, role="leader").user)
    found = ok(api.get("/quality-index", {"month": "2026-03"}))
    assert found["month"] == "2026-03"
    assert "2026-03" in found["months"]
    [mine] = [a for a in found["agencies"] if a["agency"] == agency.code]
    # the dashboard's row (test_dashboard): groups 1–5 then the total, computed by hand in test_quality
    assert [(g["points"], g["max_points"]) for g in mine["groups"]] == [
        (0, 0),
        (10, 20),
        (15.5, 22),  # catalogue-766: 3.2 counted, 0 of 2 points (no beneficiary account)
        (0.25, 2),
        (9, 18),
    ]
    assert (mine["points"], mine["max_points"]) == (34.75, 62)
    assert mine["groups"][1]["name"] == "Tiến độ giải quyết"
    assert ok(api.get("/quality-index"))["month"] == found["months"][0]  # the latest month by default

    one = ok(api.get("/quality-index", {"month": "2026-03", "agency": agency.code}))
    assert [a["agency"] for a in one["agencies"]] == [agency.code]
    by_key = {i["key"]: i for i in one["indicators"]}
    assert len(by_key) == 19
    assert (by_key["2.1"]["numerator"], by_key["2.1"]["denominator"], by_key["2.1"]["points"]) == (3, 6, 10)
    # catalogue-766: 1.1 is measurable now; no publication decision in this dataset: no number
    assert by_key["1.1"]["measurable"] is True
    assert by_key["1.1"]["points"] is None
    assert (by_key["3.2"]["numerator"], by_key["3.2"]["points"]) == (0, 0)

    problem(api.get("/quality-index", {"month": "2019-01"}), 404, "index_no_figures")
    problem(api.get("/quality-index", {"agency": "KHONG-CO"}), 404, "agency_unknown")
    for month in ("2026-13", "2026-3", "abcdefg", "2026-Q1"):
        body = problem(api.get("/quality-index", {"month": month}), 422, "index_period_label")
        assert body["errors"][0]["field"] == "month"
    problem(api.get("/quality-index", {"month": "2026-03-01"}), 422, "invalid_request")
    english = Api(RoleAssignmentFactory(agency=agency, role="leader").user, language="en")
    assert (
        problem(english.get("/quality-index", {"month": "2019-01"}), 404)["title"]
        == "There are no figures for 2019-01."
    )


def test_the_index_and_targets_are_for_leaders_and_administrators(agency):
    for user, status in (
        (RoleAssignmentFactory(agency=agency, role="leader").user, 200),
        (UserFactory(admin=True), 200),
        (RoleAssignmentFactory(agency=agency, role="head").user, 403),  # an official, not a leader
        (UserFactory(), 403),
    ):
        api = Api(user)
        for path in ("/quality-index", "/targets"):
            assert api.get(path).status_code == status, (user, path)
    empty = ok(Api(UserFactory(admin=True)).get("/quality-index"))
    assert empty == {"month": None, "months": [], "agencies": [], "indicators": None}


def test_the_targets_as_plan_targets_gives_them(agency, settings):
    cache.clear()
    found = ok(Api(RoleAssignmentFactory(agency=agency, role="leader").user).get("/targets"))
    reports = targets.plan_targets()
    assert [t["key"] for t in found] == [r.target.key for r in reports]
    for target, report in zip(found, reports, strict=True):
        assert target["measurable"] == report.measurable
        assert (target["name"], target["name_en"]) == (report.target.name_vi, report.target.name)
        assert len(target["values"]) == len(report.values)
        if not report.measurable:
            assert target["reason"] == report.reason_vi
            assert target["reason_en"] == report.reason
    city_email = next(t for t in found if t["key"] == "city_email")
    assert city_email["values"][0]["scope"] == "city"


# --- query counts (style rule 16) -----------------------------------------------------------------


def test_the_list_and_a_report_read_a_fixed_number_of_queries(period, django_assert_max_num_queries):
    district = Api(official(D1, "head"))
    district.get("/reports")
    with django_assert_max_num_queries(14):
        assert len(ok(district.get("/reports"))["items"]) == 3
    with django_assert_max_num_queries(16):
        ok(district.get(f"/reports/{report_id(period, D1)}"))
    with django_assert_max_num_queries(8):
        ok(district.get("/templates"))
    with django_assert_max_num_queries(8):
        ok(district.get("/periods"))


def test_each_shape_has_its_own_name_in_the_openapi_document():
    """ninja names a component after its class: a class of another app with the same name would
    silently replace one of ours (a dossier's ``EventOut`` did once)."""
    from hcmgov.api import api
    from hcmgov.reporting import schemas_api

    components = api.get_openapi_schema()["components"]["schemas"]
    shapes = [v for v in vars(schemas_api).values() if isinstance(v, type) and v.__module__ == schemas_api.__name__]
    assert len(shapes) >= 15
    for shape in shapes:
        assert set(components[shape.__name__]["properties"]) == set(shape.model_fields), shape.__name__


# --- generated requests, signed in (the project's contract test calls these routes anonymously) ----

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application).include(path_regex="^/api/v1/reporting/")


def problem_details(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error answer is an RFC 9457 problem (as ``tests/api/test_openapi_contract.py`` checks)."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.split(";")[0].strip() == "application/problem+json", response.content[:200]
    assert json.loads(response.content)["status"] == response.status_code
    return True


@pytest.fixture
def _connection_kept():
    """The WSGI application, called directly, closes the database connection when a request ends,
    and with it this test's transaction: keep it open, as Django's test client does."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def reviewer(period, _connection_kept) -> dict[str, Any]:
    """The district's head and leader (keeps its report, reviews the wards', reads the dashboards)."""
    user = official(D1, "head")
    agency = core.agency_list(day=dt.date(2024, 3, 1)).filter(unit__code=D1, kind__endswith="_pc").first()
    RoleAssignmentFactory(user=user, agency=agency, role="leader")
    return {
        "token": api_token_issue(user=user, name="contract").raw,
        "ids": [report_id(period, c) for c in (D1, TAN_DINH)],
    }


@schema.parametrize()
@schema.given(aim=st.sampled_from(["generated", "real"]), which=st.sampled_from([0, 1]))
@hypothesis_settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same requests on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_generated_requests_of_a_signed_in_official_get_no_server_error(case, aim, which, reviewer):
    if aim == "real" and "report_id" in (case.path_parameters or {}):
        case.path_parameters["report_id"] = reviewer["ids"][which]
    headers = {"Authorization": f"Bearer {reviewer['token']}"}
    checks = [not_a_server_error, response_schema_conformance, problem_details]
    response = case.call_and_validate(headers=headers, checks=checks)
    assert response.status_code != 401  # signed in: the routes themselves answered
