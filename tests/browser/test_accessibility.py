"""WCAG 2.1 AA on every page type, checked by axe-core in Chromium (issue 14, item 2).

Each page is opened as the person who uses it (anyone, the applicant, the official of the agency who
is also its leader) over the authorization matrix's world (``authz_world``: a dossier awaiting a
supplement, a refused one, a result, feedback, a consent, a certification, a report, a sensor), once
in Vietnamese on a desktop and once in English on a phone, and axe-core (``frontend/node_modules``,
never served) runs on it. A serious or critical violation fails the test, listed with its rule,
impact, element and page; the lesser ones (moderate, minor) are printed for the record.

Both passes share one world (``test_every_page_type``): building it and loading a page cost more
than axe does, and the file has to stay within about three minutes on a busy machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from hcmgov.web.tests.authz_world import ADMIN, APPLICANT, RIGHT_OFFICIAL, World, build_world

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
PASSES = [("vi", "vi-VN", DESKTOP), ("en", "en-GB", PHONE)]
BLOCKING = {"serious", "critical"}


@dataclass(frozen=True)
class Visit:
    who: str  # "anyone", APPLICANT, RIGHT_OFFICIAL (an official of the agency, its leader too) or ADMIN
    path: str
    status: int = 200
    form_error: bool = False  # submit the page's main form empty first: its error state is checked


def _pages(world: World) -> list[Visit]:
    dossier, refused = world.dossier.code, world.refused.code
    procedure = world.procedure_code
    agency, unit = world.dossier.agency.code, world.dossier.agency.unit.code
    report = f"/office/bao-cao/TTHC-THANG/2025-M09/{world.report_unit}/"
    from hcmgov.documents.tests.matrix import CERTIFICATION_PARAMS
    from hcmgov.iot.tests.matrix import DEVICE_PARAMS

    certification = CERTIFICATION_PARAMS["pk"].lstrip("=")
    device = DEVICE_PARAMS["device_id"].lstrip("=")
    return [
        # the public portal
        Visit("anyone", "/"),
        Visit("anyone", "/?q=khai+sinh"),
        Visit("anyone", f"/thu-tuc/{procedure}/"),
        Visit("anyone", "/tra-cuu/"),
        Visit("anyone", f"/tra-cuu/?code={dossier}&secret={world.dossier.tracking_secret}"),
        Visit("anyone", f"/tra-cuu/?code={dossier}&secret=ZZZZ9999", status=404),
        Visit("anyone", "/dang-nhap/"),
        Visit("anyone", "/xac-thuc/"),
        Visit("anyone", f"/xac-thuc/{world.verify_token}/"),
        Visit("anyone", "/phan-anh-kien-nghi/"),
        Visit("anyone", "/phan-anh-kien-nghi/tra-cuu/"),
        Visit("anyone", "/thanh-toan/vnpay/ket-qua/", status=400),  # no result from the gateway
        Visit("anyone", "/khong-co-trang-nay/", status=404),
        # open data, the IoT dashboard
        Visit("anyone", "/du-lieu-mo/"),
        Visit("anyone", "/du-lieu-mo/to-chuc/"),
        Visit("anyone", "/du-lieu-mo/chu-de/"),
        Visit("anyone", "/du-lieu-mo/du-lieu-ma-tran/"),
        Visit("anyone", "/iot/ban-do/"),
        Visit("anyone", "/iot/khu-vuc/"),
        Visit("anyone", f"/iot/cam-bien/{device}/"),
        # the applicant's own pages
        Visit(APPLICANT, f"/thu-tuc/{procedure}/nop-ho-so/"),
        Visit(APPLICANT, f"/thu-tuc/{procedure}/nop-ho-so/", status=422, form_error=True),
        Visit(APPLICANT, "/ho-so/"),
        Visit(APPLICANT, f"/ho-so/{dossier}/"),
        Visit(APPLICANT, f"/ho-so/{refused}/"),
        Visit(APPLICANT, f"/ho-so/{dossier}/buu-chinh/ket-qua/"),
        Visit(APPLICANT, f"/danh-gia/{dossier}/"),
        Visit(APPLICANT, "/kho-du-lieu/"),
        Visit(APPLICANT, "/tai-khoan/"),
        Visit(APPLICANT, "/tai-khoan/chia-se-du-lieu/"),
        # the official's back office
        Visit(RIGHT_OFFICIAL, "/office/"),
        Visit(RIGHT_OFFICIAL, "/office/tim-kiem/?q=" + dossier),
        Visit(RIGHT_OFFICIAL, "/office/don-vi/"),
        Visit(RIGHT_OFFICIAL, f"/office/ho-so/{dossier}/"),
        Visit(ADMIN, f"/office/quy-trinh/{procedure}/"),
        Visit(RIGHT_OFFICIAL, "/office/so-hoa/"),
        Visit(RIGHT_OFFICIAL, f"/office/so-hoa/ho-so/{dossier}/"),
        Visit(RIGHT_OFFICIAL, "/office/chung-thuc/"),
        Visit(RIGHT_OFFICIAL, "/office/chung-thuc/moi/"),
        Visit(RIGHT_OFFICIAL, f"/office/chung-thuc/{certification}/"),
        Visit(RIGHT_OFFICIAL, "/office/phan-anh/"),
        Visit(RIGHT_OFFICIAL, f"/office/phan-anh/{world.feedback_code}/"),
        Visit(RIGHT_OFFICIAL, "/office/can-bo/"),
        Visit(RIGHT_OFFICIAL, f"/office/can-bo/{world.official_id}/"),
        Visit(RIGHT_OFFICIAL, "/office/bao-cao/"),
        Visit(RIGHT_OFFICIAL, report),
        Visit(RIGHT_OFFICIAL, "/office/van-ban/"),
        Visit(RIGHT_OFFICIAL, f"/office/van-ban/{world.office_document_id}/"),
        Visit(RIGHT_OFFICIAL, "/office/ho-so-cong-viec/"),
        Visit(RIGHT_OFFICIAL, "/office/danh-ba/"),
        # the leader's dashboards
        Visit(RIGHT_OFFICIAL, "/dashboard/"),
        Visit(RIGHT_OFFICIAL, "/dashboard/chi-so-766/"),
        Visit(RIGHT_OFFICIAL, f"/dashboard/chi-so-766/co-quan/{agency}/"),
        Visit(RIGHT_OFFICIAL, f"/dashboard/chi-so-766/co-quan/{agency}/2.1/"),
        Visit(RIGHT_OFFICIAL, "/dashboard/chi-so-766/don-vi/"),
        Visit(RIGHT_OFFICIAL, f"/dashboard/chi-so-766/don-vi/{unit}/2.1/"),
        Visit(RIGHT_OFFICIAL, "/dashboard/chi-so-766/linh-vuc/"),
        Visit(RIGHT_OFFICIAL, "/dashboard/ban-do/"),
        Visit(RIGHT_OFFICIAL, "/dashboard/che-do-bao-cao/"),
    ]


def _describe(violations: list[dict[str, Any]], where: str) -> list[str]:
    return [
        f"{v['id']} [{node['impact'] or v['impact']}] {where}: {node['target']} — {v['help']} — {node['html']}"
        for v in violations
        for node in v["nodes"]
    ]


def test_every_page_type_has_no_serious_or_critical_violation(visit, submit, agency, citizen, city):
    world = build_world(submit=submit, agency=agency, citizen=citizen)
    pages = _pages(world)
    blocking: list[str] = []
    lesser: list[str] = []
    wrong: list[str] = []
    for language, locale, device in PASSES:
        visitors = {}
        for who in ("anyone", APPLICANT, RIGHT_OFFICIAL, ADMIN):
            visitor = visit(locale=locale, bypass_csp=True, **device)
            visitor.choose_language(language)
            if who != "anyone":
                visitor.login_as(world.users[who])
            visitors[who] = visitor
        for target in pages:
            visitor = visitors[target.who]
            page = visitor.page
            try:
                response = page.goto(target.path)
            except PlaywrightError as exc:  # an empty error answer (405 to a GET) is no page to check
                wrong.append(f"{target.path} ({language}): {exc.message.splitlines()[0]}")
                continue
            if target.form_error:
                with page.expect_navigation() as nav:
                    # the form's submit button (the application form also has "Lưu nháp": value=draft)
                    page.locator(
                        "main form[enctype='multipart/form-data'] button[type=submit]:not([value=draft])"
                    ).click()
                response = nav.value
            where = f"{target.path} ({language}, {device['viewport']['width']}px, {target.who})"
            if response is None or response.status != target.status:
                wrong.append(f"{where}: HTTP {response and response.status}, expected {target.status}")
            if page.locator("html").get_attribute("lang") != language:
                wrong.append(f"{where}: <html lang> is not {language!r}")
            for v in visitor.axe():
                (blocking if v["impact"] in BLOCKING else lesser).extend(_describe([v], where))
    if lesser:
        print("\naxe, moderate and minor (not failing):\n" + "\n".join(lesser))
    problems = wrong + ([f"{len(blocking)} serious or critical axe violations:", *blocking] if blocking else [])
    assert not problems, "\n".join(problems)


def test_the_e_id_round_trip_pages_have_no_serious_or_critical_violation(visit, eid_provider, transactional_db):
    """The login choice, and where the national e-ID (its simulator) sends the person back: the page
    they asked for, now signed in (the simulator's own page is the e-ID's, not the city's)."""
    from hcmgov.simulators._eid_people import PEOPLE, SIM_PASSWORD

    blocking: list[str] = []
    for language, locale, device in PASSES:
        visitor = visit(locale=locale, bypass_csp=True, **device)
        visitor.choose_language(language)
        visitor.allow(eid_provider)
        page = visitor.page
        page.goto("/ho-so/")  # the login choice, asked for by a page that needs it
        assert "/dang-nhap/" in page.url
        where = f"{page.url} ({language})"
        blocking += _describe([v for v in visitor.axe() if v["impact"] in BLOCKING], where)
        with page.expect_navigation():
            page.locator("form[action='/dang-nhap/vneid/'] button[type=submit]").click()
        assert page.url.startswith(eid_provider)
        page.locator("#personal_id").fill(PEOPLE[0].personal_id)
        page.locator("#password").fill(SIM_PASSWORD)
        page.locator("button[name=action][value=login]").click()
        page.wait_for_url(re.compile(r"/ho-so/$"))
        assert page.locator("html").get_attribute("lang") == language
        where = f"{page.url} after the e-ID ({language})"
        blocking += _describe([v for v in visitor.axe() if v["impact"] in BLOCKING], where)
    assert not blocking, f"{len(blocking)} serious or critical axe violations:\n" + "\n".join(blocking)


def test_axe_is_a_test_tool_never_served(visit, transactional_db):
    """axe-core is a devDependency the tests inject; the static folder does not carry it."""
    request = visit().context.request
    for path in ("/static/vendor/axe-core/axe.min.js", "/static/axe-core/axe.min.js", "/static/axe.min.js"):
        assert request.get(path).status == 404, path
    static = Path(__file__).resolve().parents[2] / "src" / "hcmgov" / "web" / "static"
    assert not any(static.rglob("axe*.js")), "axe-core was copied into the static folder"
