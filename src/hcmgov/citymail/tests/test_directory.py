"""The directory page (danh bạ): officials only; the agencies as a tree by level; an agency's
officials with their title and city mailbox; search by name without diacritics."""

from __future__ import annotations

import pytest
from django.urls import reverse

from hcmgov.citymail import selectors, services
from hcmgov.citymail.tests.conftest import official
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/office/danh-ba/"


def test_the_route_is_the_one_named():
    assert reverse("citymail:directory") == URL


def test_officials_only(client, town):
    assert client.get(URL).status_code == 302  # anonymous: the login page
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403
    client.force_login(official("Võ Thị Yến", town.ward))
    assert client.get(URL).status_code == 200


def test_an_agency_s_officials_with_title_and_mailbox(client, town, django_assert_max_num_queries):
    clerk = official("Nguyễn Văn Đức", town.ward, role="clerk")
    official("Hồ Quốc Dũng", town.ward, role="head")  # no mailbox yet
    official("Lê Minh Khoa", town.ward, role="specialist", is_active=False)  # left: not listed
    official("Phạm Thanh Hương", town.department)  # another agency
    services.mailbox_open_for_official(official=clerk, agency=town.ward)
    services.mailbox_open_functional(agency=town.ward, local_part="vanthu.ward", name="Văn thư UBND phường")
    client.force_login(clerk)
    with django_assert_max_num_queries(12):
        html = client.get(URL, {"co-quan": town.ward.pk}).content.decode()
    assert 'href="mailto:ducnv@tphcm.gov.vn"' in html
    assert "Văn thư trả kết quả" in html  # the title: the role's name
    assert "Hồ Quốc Dũng" in html
    assert "chưa có" in html
    assert "Lê Minh Khoa" not in html
    assert "Phạm Thanh Hương" not in html
    assert "vanthu.ward@tphcm.gov.vn" in html
    assert "Danh bạ cơ quan, cán bộ" in html  # Vietnamese by default
    assert client.get(URL, {"co-quan": "abc"}).status_code == 404
    assert client.get(URL, {"co-quan": "999999999"}).status_code == 404


def test_search_by_name_without_diacritics(client, town):
    duc = official("Nguyễn Văn Đức", town.ward)
    official("Trần Thị Ngọc Ánh", town.department)
    services.mailboxes_provision()
    client.force_login(duc)
    html = client.get(URL, {"q": "van duc"}).content.decode()
    assert "ducnv@tphcm.gov.vn" in html
    assert "anhttn@tphcm.gov.vn" not in html
    assert [m.address for m in selectors.directory_search(query="ÁNH")] == ["anhttn@tphcm.gov.vn"]
    assert selectors.directory_search(query="a") == []  # too short to search
    html = client.get(URL, {"q": "Thử nghiệm"}).content.decode()
    assert f'href="?co-quan={town.department.pk}"' in html  # the agency found in the tree


def test_the_tree_goes_by_level_with_communes_under_their_district(city):
    tree = selectors.directory_tree()
    levels = [b.level for b in tree]
    assert levels[0] == "city"
    assert "commune" in levels
    city_branch = tree[0]
    assert city_branch.groups[0].agencies[0].kind == "city_pc"  # the People's Committee first
    communes = next(b for b in tree if b.level == "commune")
    assert all(g.name for g in communes.groups)  # each under the unit above it
