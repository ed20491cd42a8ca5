"""The leaders' dashboards: who may read them, and that they show the figures of ``plan_targets()``
and of the index (the March data of ``test_quality``, whose figures are computed by hand there)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils.html import escape

from hcmgov.common.svgchart import draw
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.reporting import quality
from hcmgov.reporting.tests import test_quality
from hcmgov.reporting.views_dashboard import percent, target_card

pytestmark = pytest.mark.django_db
march, staff = test_quality.march, test_quality.staff  # the March of test_quality (computed by hand there)
MARCH = "period=month&p=2026-03"
MARCH_HTML = MARCH.replace("&", "&amp;")


@pytest.fixture
def leader(agency):
    return RoleAssignmentFactory(agency=agency, role="leader").user


@pytest.fixture
def leader_client(client, leader):
    client.force_login(leader)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- who may read them -----------------------------------------------------------------------------


def test_leaders_and_administrators_read_the_dashboards_others_are_refused(client, agency, citizen):
    pages = [reverse("dashboard"), reverse("dashboard_index"), reverse("dashboard_agency", args=[agency.code])]
    for user, expected in (
        (RoleAssignmentFactory(agency=agency, role="leader").user, 200),
        (UserFactory(admin=True), 200),
        (RoleAssignmentFactory(agency=agency, role="receiver").user, 403),  # an official, not a leader
        (RoleAssignmentFactory(agency=agency, role="head").user, 403),
        (citizen, 403),
    ):
        client.force_login(user)
        for page in pages:
            assert client.get(page).status_code == expected, (user, page)
        client.logout()
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith("/dang-nhap/")


def test_the_header_links_to_the_dashboards_for_leaders_only(client, agency):
    client.force_login(RoleAssignmentFactory(agency=agency, role="leader").user)
    assert 'href="/dashboard/"' in client.get(reverse("web:home")).content.decode()
    client.force_login(RoleAssignmentFactory(agency=agency, role="receiver").user)
    assert 'href="/dashboard/"' not in client.get(reverse("web:home")).content.decode()


# --- the plan's targets ----------------------------------------------------------------------------


def test_the_targets_page_shows_each_target_as_plan_targets_gives_it(leader_client, march, settings):
    cache.clear()
    html = text(leader_client.get(reverse("dashboard")))
    from hcmgov.reporting import targets

    reports = targets.plan_targets()
    assert len(reports) == len(targets.TARGETS)
    for report in reports:
        card = target_card(report, {})
        assert f'id="target-{report.target.key}"' in html
        if not report.measurable:
            assert re.search(rf'class="dash-na" data-target="{report.target.key}"><strong>Chưa đo được', html)
            assert escape(report.reason_vi) in html  # Vietnamese first
        elif card.city is not None:
            assert f'data-target="{report.target.key}">{percent(card.city.rate)}</strong>' in html
    # March's dossiers: 7 of 8 submitted online (d6 at the desk) → 87,5 %, goal ≥ 50 % met
    online = next(r for r in reports if r.target.key == "dossiers_online")
    march_city = next(v for v in online.values if v.scope == "city" and v.month == "2026-03")
    assert (march_city.numerator, march_city.denominator, march_city.met) == (7, 8, True)
    assert "2026-03" in html
    assert "87,5 %" in html
    assert html.count("Chưa đo được") >= 1  # online_integrated (no portal state known yet)


def test_a_monthly_target_has_a_trend_chart_with_its_goal():
    from hcmgov.reporting import targets

    values = [targets.TargetValue("dossiers_online", "city", "", m, n, 10) for m, n in (("2026-03", 4), ("2026-04", 6))]
    card = target_card(targets.TargetReport(targets.BY_KEY["dossiers_online"], values=values), {})
    assert card.chart is not None
    assert card.chart.kind == "line"
    assert card.chart.goal is not None
    assert [m.value for m in card.chart.marks] == ["40", "60"]
    assert (card.city_text, card.bar, card.goal_at) == ("60,0 %", 60.0, 50.0)


def test_svgchart_draws_bars_and_a_goal_line():
    chart = draw([("a", 10.0), ("b", 30.0)], kind="bar", x_field="x", y_field="y", high=100, goal=50)
    assert chart.ticks[-1][1] == "100"
    assert chart.goal == round(16 + (100 - 50) / 100 * (320 - 16 - 72), 1)
    assert chart.marks[1].height > chart.marks[0].height


# --- the index of Decision 766 ---------------------------------------------------------------------


def row_cells(html: str, code: str) -> list[str]:
    found = re.search(rf'<tr data-agency="{code}">(.*?)</tr>', html)
    assert found, code
    return re.findall(r"<td>(.*?)</td>", found.group(1))


def test_the_index_table_shows_the_groups_and_total_computed_by_hand(leader_client, march, agency):
    html = text(leader_client.get(f"{reverse('dashboard_index')}?{MARCH}"))
    # groups 1–5 then the total: (earned, measurable maximum); test_quality computes them by hand
    assert row_cells(html, agency.code) == ["0 / 0", "10 / 20", "15,5 / 22", "0,25 / 2", "9 / 18", "34,75 / 62"]
    table = quality.service_index_cached(period="month")
    row = quality.service_index(period="month")
    [mine] = [r for r in row if r.period == "2026-03" and r.key == agency.code]
    assert mine.total == (34.75, 62)
    assert len(table.filter(quality.pc.equal(table.column("period"), "2026-03"))) > 0
    assert f'href="/dashboard/chi-so-766.xlsx?{MARCH_HTML}&amp;sort=total&amp;order=desc"' in html


def test_a_quarter_and_the_sort_are_chosen_by_the_get_form(leader_client, march, agency):
    html = text(leader_client.get(f"{reverse('dashboard_index')}?period=quarter&p=2026-Q1&sort=g2&order=asc"))
    assert row_cells(html, agency.code)[1] == "10 / 20"
    assert 'aria-sort="ascending"' in html
    assert '<option value="2026-Q1" selected>' in html
    assert 'href="?period=month"' in html  # switching the kind of period: a link, the latest period of it


def test_the_page_reads_the_index_from_the_cache(leader_client, march, monkeypatch):
    assert leader_client.get(f"{reverse('dashboard_index')}?{MARCH}").status_code == 200

    def counted(**kwargs):
        raise AssertionError("the page counted the index instead of reading the cache")

    monkeypatch.setattr(quality, "service_index_table", counted)
    assert leader_client.get(f"{reverse('dashboard_index')}?{MARCH}&sort=agency").status_code == 200


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("period=week", 400, "Unknown kind of period"),
        ("period=month&p=2026-13", 400, "not well formed"),
        ("period=month&p=2019-01", 404, "no figures"),
        ("sort=drop+table", 400, "Cannot sort"),
        ("order=sideways", 400, "Unknown order"),
    ],
)
def test_bad_input_is_a_bilingual_error_page(leader_client, march, query, status, words):
    response = leader_client.get(f"{reverse('dashboard_index')}?{query}")
    assert response.status_code == status
    assert words in response.content.decode()
    assert 'class="errorbox"' in response.content.decode()


def test_an_unknown_agency_or_indicator_is_a_404_page(leader_client, march, agency):
    assert leader_client.get(reverse("dashboard_agency", args=["KHONG-CO"]) + f"?{MARCH}").status_code == 404
    response = leader_client.get(reverse("dashboard_drill", args=[agency.code, "5.2"]) + f"?{MARCH}")
    assert response.status_code == 404
    assert "has no list of dossiers" in response.content.decode()


def test_the_agency_page_shows_each_indicator_with_its_formula_points_and_reason(leader_client, march, agency):
    html = text(leader_client.get(reverse("dashboard_agency", args=[agency.code]) + f"?{MARCH}"))
    ind = re.search(r'<tr id="ind-2.1".*?</tr>', html).group(0)
    assert "50,0 %" in ind
    assert "(3 / 6)" in ind
    assert "10 / 20" in ind
    assert quality.BY_KEY["2.1"].formula_vi.split(";")[0] in html  # Vietnamese first
    for key in ("1.1", "3.2", "4.2", "4.3", "4.7"):  # measured now, each with its formula in Vietnamese
        indicator = quality.BY_KEY[key]
        assert indicator.measurable
        assert escape(indicator.formula_vi) in re.search(rf'<tr id="ind-{key}".*?</tr>', html).group(0)
    assert 'id="agency-total">34,75 / 62<' in html
    drill = reverse("dashboard_drill", args=[agency.code, "2.1"])
    assert f'href="{drill}?{MARCH_HTML}&amp;sort=total&amp;order=desc"' in html


def test_the_drill_down_lists_exactly_the_dossiers_behind_the_figure(leader_client, march, agency):
    url = reverse("dashboard_drill", args=[agency.code, "2.1"]) + f"?{MARCH}"
    late = re.findall(r"<code>(.*?)</code>", leader_client.get(url).content.decode())
    on_time = re.findall(r"<code>(.*?)</code>", leader_client.get(url + "&meeting=1").content.decode())
    assert late == sorted(march[k].code for k in ("d2", "d4", "d8"))
    assert on_time == sorted(march[k].code for k in ("d1", "d3", "d5"))
    html = leader_client.get(url).content.decode()
    assert f'href="{reverse("web:office_dossier", args=[march["d2"].code])}"' in html
    online = leader_client.get(reverse("dashboard_drill", args=[agency.code, "3.1"]) + f"?{MARCH}")
    assert re.findall(r"<code>(.*?)</code>", online.content.decode()) == [march["d6"].code]


def test_the_xlsx_holds_the_same_numbers(leader_client, march, agency):
    from openpyxl import load_workbook

    response = leader_client.get(f"{reverse('dashboard_index_xlsx')}?{MARCH}")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "2026-03" in rows[0][0]
    [mine] = [r for r in rows[2:] if r[0] == agency.code]
    assert mine[2:] == (0, 0, 10, 20, 15.5, 22, 0.25, 2, 9, 18, 34.75, 62)


def test_the_pdf_is_a_pdf(leader_client, march):
    response = leader_client.get(f"{reverse('dashboard_index_pdf')}?{MARCH}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_without_any_dossier_the_pages_answer(leader_client, agency):
    assert "Kho dữ liệu chưa có hồ sơ" in leader_client.get(reverse("dashboard_index")).content.decode()
    for name in ("dashboard", "dashboard_index", "dashboard_index_xlsx", "dashboard_index_pdf"):
        assert leader_client.get(reverse(name)).status_code == 200, name
    assert leader_client.get(reverse("dashboard_agency", args=[agency.code])).status_code == 200
    assert leader_client.get(reverse("dashboard_drill", args=[agency.code, "2.1"])).status_code == 200


def test_the_plan_figures_are_kept_as_objects_while_the_cache_holds_them_and_read_again_after(db, monkeypatch):
    from django.core.cache import cache

    from hcmgov.reporting import selectors, targets

    cache.clear()
    computed: list[int] = []
    real = targets.plan_targets
    monkeypatch.setattr(targets, "plan_targets", lambda **kw: computed.append(1) or real(**kw))
    first = selectors.plan_targets_cached()
    assert selectors.plan_targets_cached() is first  # the same objects: no unpickling per page
    assert len(computed) == 1
    cache.clear()  # another node computed again, or the cache was emptied: the token is gone
    again = selectors.plan_targets_cached()
    assert again is not first
    assert len(computed) == 2
