"""Layout checks a person notices at once (issue 14, item 1): on a 1280 × 800 screen, the common
size of an office desktop, the officials' header navigation stays on one line on the back office's
pages (it wrapped onto two and three lines before), and no page scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest

from hcmgov.web.tests.authz_world import ADMIN, RIGHT_OFFICIAL, build_world

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

OFFICE_DESKTOP = {"viewport": {"width": 1280, "height": 800}}

# the tops and bottoms of the header's items, and how wide the page is
NAV_BOXES_JS = """() => {
  const items = [...document.querySelectorAll('header.site nav li')].map(li => li.getBoundingClientRect());
  return {tops: items.map(r => Math.round(r.top)), bottoms: items.map(r => Math.round(r.bottom)),
          heights: items.map(r => Math.round(r.height)), scroll: document.documentElement.scrollWidth,
          wide: [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 5)
                .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))};
}"""


def _office_pages(world: Any) -> dict[str, list[str]]:
    """The back office's pages, by who opens them: the leader of the agency (every tool of the header,
    the dashboards, its officials' accounts) and the administrator (process flows, dashboards)."""
    return {
        RIGHT_OFFICIAL: [
            "/office/",
            "/office/tim-kiem/",
            f"/office/ho-so/{world.dossier.code}/",
            "/office/don-vi/",
            "/office/so-hoa/",
            "/office/can-bo/",
            "/dashboard/",
        ],
        ADMIN: [f"/office/quy-trinh/{world.procedure_code}/", "/dashboard/"],
    }


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_officials_navigation_is_one_line_at_1280_px(visit, submit, agency, citizen, city, language):
    world = build_world(submit=submit, agency=agency, citizen=citizen)
    for who, paths in _office_pages(world).items():
        visitor = visit(**OFFICE_DESKTOP)
        visitor.choose_language(language)
        visitor.login_as(world.users[who])
        for path in paths:
            response = visitor.page.goto(path)
            assert response is not None
            assert response.status == 200, (who, path, response.status)
            boxes = visitor.page.evaluate(NAV_BOXES_JS)
            assert len(boxes["tops"]) >= 6, (who, path)  # a signed-in header: tools, account, language
            line = max(boxes["heights"])
            # one line: every item starts where the first does …
            assert max(boxes["tops"]) - min(boxes["tops"]) < line / 2, (who, path, language, boxes)
            # … and no item's own words wrap inside it (a row of items two or three lines tall)
            assert max(boxes["heights"]) < 1.5 * min(boxes["heights"]), (who, path, language, boxes)
            assert boxes["scroll"] <= 1280, (who, path, language, boxes["scroll"], boxes["wide"])
