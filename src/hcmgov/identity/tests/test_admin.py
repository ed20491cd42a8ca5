"""The accounts' admin shows personal IDs masked and finds an account by its full personal ID."""

from __future__ import annotations

import pytest

from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(admin=True))
    return client


def test_the_list_and_the_page_show_the_personal_id_masked(admin_client):
    citizen = UserFactory(personal_id="079123456789", full_name="Trần Thị Bích")
    listing = admin_client.get("/admin/identity/user/")
    assert listing.status_code == 200
    assert "*********789" in listing.text
    assert "079123456789" not in listing.text
    page = admin_client.get(f"/admin/identity/user/{citizen.pk}/change/")
    assert page.status_code == 200
    assert "*********789" in page.text
    assert "079123456789" not in page.text
    assert citizen.password not in page.text


def test_search_by_the_full_personal_id_goes_through_the_index(admin_client):
    wanted = UserFactory(personal_id="079123456789", full_name="Trần Thị Bích")
    UserFactory(personal_id="079123456788", full_name="Lê Văn Cường")
    found = admin_client.get("/admin/identity/user/", {"q": "079123456789"})
    assert found.status_code == 200
    assert list(found.context["cl"].result_list) == [wanted]
    by_name = admin_client.get("/admin/identity/user/", {"q": "Cường"})
    assert [u.full_name for u in by_name.context["cl"].result_list] == ["Lê Văn Cường"]
