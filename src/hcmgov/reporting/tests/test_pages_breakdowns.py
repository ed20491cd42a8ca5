"""The dashboards' breakdowns against the March of ``test_quality`` (computed by hand there): the
index by administrative unit with its drill-down, the figures by field of procedures, the map of
units, and their files. Here the agency is the People's Committee of a real ward of the city's
2025 structure (``26737``, formed from Quận 1's ward 26734 — the core crosswalk), so that the map
places it; the procedure of every dossier is in field "Hộ tịch" (``ProcedureFactory``)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from hcmgov.core import selectors as core
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.identity.tests.factories import RoleAssignmentFactory
from hcmgov.reporting import unitmap
from hcmgov.reporting.tests import test_quality

pytestmark = pytest.mark.django_db
march, staff = test_quality.march, test_quality.staff
MARCH = "period=month&p=2026-03"
WARD = "26737"


@pytest.fixture
def agency(city):
    """The March's agency: the People's Committee of a real ward (overrides the root ``agency``)."""
    return AgencyFactory(unit=core.unit_list(structure="2025").get(code=WARD))


@pytest.fixture
def leader_client(client, agency):
    client.force_login(RoleAssignmentFactory(agency=agency, role="leader").user)
    return client


def text(response) -> str:
    assert response.status_code == 200, response.content[:400]
    return re.sub(r"\s+", " ", response.content.decode())


def cells(html: str, code: str) -> dict[str, str]:
    row = re.search(rf'<tr id="unit-{code}" data-unit="{code}">(.*?)</tr>', html)
    assert row, code
    found = re.findall(r'<td data-indicator="([\d.]+)">(.*?)</td>', row.group(1))
    return {k: re.sub(r"<[^>]+>", "", v).strip() for k, v in found}


def codes_of(response) -> list[str]:
    return re.findall(r"<code>(.*?)</code>", text(response))


def test_the_index_by_unit_and_the_dossiers_behind_each_figure(leader_client, march, agency):
    """By unit the March is the agency's (every dossier received by its ward): 2.1 = 3/6, 3.1 =
    7/8, 3.3 = 1/1, 3.4 = 1/2, 4.4 = 1/8, 5.4 = 1/2 (test_quality); the feedback indicators are
    not there. Total: 10 + 10.5 + 2 + 3 + 0.25 + 3 = 28.75 of 20 + 12 + 2 + 6 + 2 + 6 = 48."""
    cache.clear()
    html = text(leader_client.get(f"{reverse('dashboard_units')}?{MARCH}"))
    got = cells(html, WARD)
    assert got["2.1"] == "50,0 % 3/6"
    assert got["3.1"] == "87,5 % 7/8"
    assert (got["3.3"], got["3.4"], got["4.4"], got["5.4"]) == ("100,0 % 1/1", "50,0 % 1/2", "12,5 % 1/8", "50,0 % 1/2")
    assert "5.2" not in got
    assert "5.3" not in got
    assert "28,75 / 48</td>" in re.search(rf'<tr id="unit-{WARD}".*?</tr>', html).group(0)
    assert "Phường Tân Định" in html
    drill = reverse("dashboard_unit_drill", args=[WARD, "2.1"])
    assert f'href="{drill}?period=month&amp;p=2026-03&amp;sort=total&amp;order=desc"' in html
    # the level filter: the ward is commune-level
    assert f'data-unit="{WARD}"' in text(leader_client.get(f"{reverse('dashboard_units')}?{MARCH}&cap=commune"))
    assert f'data-unit="{WARD}"' not in text(leader_client.get(f"{reverse('dashboard_units')}?{MARCH}&cap=district"))
    assert leader_client.get(f"{reverse('dashboard_units')}?{MARCH}&cap=tinh").status_code == 400
    # the drill-down: the same dossiers as by agency
    assert codes_of(leader_client.get(f"{drill}?{MARCH}")) == sorted(march[k].code for k in ("d2", "d4", "d8"))
    assert codes_of(leader_client.get(f"{drill}?{MARCH}&meeting=1")) == sorted(
        march[k].code for k in ("d1", "d3", "d5")
    )
    online = reverse("dashboard_unit_drill", args=[WARD, "3.1"])
    assert codes_of(leader_client.get(f"{online}?{MARCH}")) == [march["d6"].code]
    # an unknown unit, and a figure without dossiers behind it (ratings), answer 404
    assert leader_client.get(reverse("dashboard_unit_drill", args=["00000", "2.1"]) + f"?{MARCH}").status_code == 404
    assert leader_client.get(reverse("dashboard_unit_drill", args=[WARD, "5.4"]) + f"?{MARCH}").status_code == 404


def test_the_map_colours_each_unit_by_the_figure_chosen(leader_client, march, agency):
    """The ward is drawn inside Quận 1's tile (its predecessor's district). 2.1 = 50 % → class 3
    (40 to under 60 %); dossiers online 7/8 = 87.5 % → class 5; the total 28.75/48 = 59.9 % → 3."""
    cache.clear()
    url = f"{reverse('dashboard_map')}?{MARCH}"
    html = text(leader_client.get(f"{url}&chi-tieu=766:2.1"))
    tile = re.search(r'<g data-tile="760">(.*?)</g>', html).group(1)
    assert f'data-unit="{WARD}"' in tile
    assert 'fill="#41b6c4"' in tile  # class 3
    assert "Phường Tân Định (26737): 50,0 % (3/6)" in tile
    assert re.search(rf'<tr data-unit="{WARD}" data-class="3">', html)
    legend = re.search(r'<ul class="iot-legend" id="map-legend">(.*?)</ul>', html).group(1)
    assert legend.count("<li") == 6
    assert "40 – dưới 60 %" in legend
    assert "Chưa có số liệu" in legend
    assert 'option value="766:2.1" selected' in html
    assert 'href="?period=quarter&amp;chi-tieu=766%3A2.1"' in html  # the kind of period keeps the figure
    online = text(leader_client.get(f"{url}&chi-tieu=kh:dossiers_online"))
    assert re.search(rf'<tr data-unit="{WARD}" data-class="5">', online)
    assert "87,5 % (7/8)" in online
    total = text(leader_client.get(url))  # default: the total
    assert re.search(rf'<tr data-unit="{WARD}" data-class="3">', total)
    assert "28,75 / 48" in total
    bad = leader_client.get(f"{url}&chi-tieu=drop")
    assert bad.status_code == 400
    assert "errorbox" in bad.content.decode()


def test_the_figures_by_field_and_the_files(leader_client, march, agency):
    """Field "Hộ tịch" holds every dossier of the March: 8 submitted, 7 online (d6 at the desk);
    finished in March (status 9 or 10) d1, d2, d3, d8, on time d1 and d3; the index's figures as by
    agency."""
    from openpyxl import load_workbook

    cache.clear()
    html = text(leader_client.get(f"{reverse('dashboard_fields')}?{MARCH}"))
    row = re.search(r'<tr data-field="Hộ tịch">(.*?)</tr>', html).group(1)
    plain = re.sub(r"<[^>]+>", "|", row)
    assert "|8|" in plain
    assert "7 |87,5 %" in plain
    assert "|4|" in plain
    assert "2 |50,0 %" in plain
    assert re.search(r'data-indicator="2.1">50,0 % <span class="small">3/6', row)
    assert re.search(r'data-indicator="5.4">50,0 % <span class="small">1/2', row)
    assert "Civil status" in row

    book = load_workbook(io.BytesIO(leader_client.get(f"{reverse('dashboard_fields_xlsx')}?{MARCH}").content))
    rows = list(book.active.iter_rows(values_only=True))
    assert "2026-03" in rows[0][0]
    header, [mine] = rows[1], [r for r in rows[2:] if r[0] == "Hộ tịch"]
    assert mine[:6] == ("Hộ tịch", "Civil status", 8, 7, 4, 2)
    at = header.index("2.1: tổng / counted")
    assert mine[at - 1 : at + 2] == (3, 6, 0.5)

    book = load_workbook(io.BytesIO(leader_client.get(f"{reverse('dashboard_units_xlsx')}?{MARCH}").content))
    rows = list(book.active.iter_rows(values_only=True))
    header, [mine] = rows[1], [r for r in rows[2:] if r[0] == WARD]
    assert mine[1:3] == ("Phường Tân Định", "commune")
    at = header.index("3.1: tổng / counted")
    assert mine[at - 1 : at + 2] == (7, 8, 0.875)
    assert mine[-2:] == (28.75, 48)

    for name in ("dashboard_units_pdf", "dashboard_fields_pdf"):
        response = leader_client.get(f"{reverse(name)}?{MARCH}")
        assert response["Content-Type"] == "application/pdf", name
        assert response.content.startswith(b"%PDF"), name


def test_the_pages_answer_without_any_dossier(leader_client):
    for name in ("dashboard_units", "dashboard_fields", "dashboard_map", "dashboard_units_xlsx",
                 "dashboard_fields_xlsx", "dashboard_units_pdf", "dashboard_fields_pdf"):  # fmt: skip
        assert leader_client.get(reverse(name)).status_code == 200, name
    assert "Kho dữ liệu chưa có hồ sơ" in leader_client.get(reverse("dashboard_units")).content.decode()
    assert leader_client.get(reverse("dashboard_unit_drill", args=[WARD, "2.1"])).status_code == 200


def test_an_official_who_is_not_a_leader_is_refused(client, agency):
    client.force_login(RoleAssignmentFactory(agency=agency, role="receiver").user)
    for name in ("dashboard_units", "dashboard_fields", "dashboard_map", "dashboard_regimes", "dashboard_units_xlsx"):
        assert client.get(reverse(name)).status_code == 403, name


# --- the map's layout --------------------------------------------------------------------------------


def test_every_unit_of_the_city_has_a_place(city):
    """The 22 district-level units of 2021 are tiles; each 2021 ward sits in its district; each
    commune-level unit of 2025 in the former district of its predecessors, or in the tile of the
    former province it came from."""
    place = unitmap.layout()
    for u in core.unit_list(structure="2021").exclude(level="city"):
        where = place.places[u.code]
        assert where.tile == (u.code if u.level == "district" else u.parent.code), u.code
        assert where.whole == (u.level == "district")
    new = list(core.unit_list(structure="2025", level="commune"))
    assert len(new) == 168
    assert all(u.code in place.places for u in new)
    assert place.places[WARD].tile == "760"  # Tân Định, from Quận 1's 26734
    assert place.places["25747"].tile == "binh-duong"
    assert place.places["26732"].tile == "ba-ria-vung-tau"  # Côn Đảo
    assert sorted(unitmap.TILES) == sorted(u.code for u in core.unit_list(structure="2021", level="district"))
    assert len(set(unitmap.TILES.values()) | {p for p, _vi, _en in unitmap.FORMER_PROVINCES.values()}) == 24


def test_a_unit_the_map_cannot_place_is_listed_in_the_table_only():
    view = unitmap.draw_map({"99999": (0.5, "50 %", "")}, unitmap.Layout())
    assert view.unplaced == ["99999"]
    assert view.placed == 0
    assert len(view.tiles) == 24  # the grid is drawn even empty


@pytest.mark.parametrize(
    ("rate", "number"), [(None, 0), (0.0, 1), (0.1999, 1), (0.2, 2), (0.5, 3), (0.7999, 4), (0.8, 5), (1.0, 5)]
)
def test_the_colour_classes(rate, number):
    assert unitmap.shade(rate)[0] == number


def test_the_plan_trend_shows_the_last_twelve_months():
    from hcmgov.reporting import targets
    from hcmgov.reporting.views_dashboard import target_card

    months = [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01", "2026-02"]
    values = [targets.TargetValue("dossiers_online", "city", "", m, 5, 10) for m in months]
    card = target_card(targets.TargetReport(targets.BY_KEY["dossiers_online"], values=values), {})
    assert [m.label for m in card.chart.marks] == months[2:]
    assert len(card.months) == 14  # the table keeps every month
