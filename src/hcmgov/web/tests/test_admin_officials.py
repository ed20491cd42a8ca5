"""The agency administrator's pages under /office/can-bo/: list, create, roles, deactivate, and the
matrix of who may use them."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from hcmgov.audit.models import AuditEvent
from hcmgov.catalog.tests.factories import ProcedureFactory
from hcmgov.identity.models import RoleAssignment, User
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.notifications.models import Notification

pytestmark = pytest.mark.django_db

LIST = "/office/can-bo/"


@pytest.fixture
def admin_of(agency):
    return RoleAssignmentFactory(agency=agency, role="agency_admin").user


@pytest.fixture
def colleague(agency):
    return RoleAssignmentFactory(agency=agency, role="receiver", user__full_name="Trần Thị Đồng Nghiệp").user


def test_who_may_open_the_officials_pages(client, agency, admin_of, colleague):
    assert client.get(LIST).status_code == 302  # anonymous → login
    client.force_login(UserFactory())
    assert client.get(LIST).status_code == 403  # a citizen
    client.force_login(colleague)
    assert client.get(LIST).status_code == 404  # an official who administers nothing
    client.force_login(RoleAssignmentFactory(role="agency_admin").user)
    assert colleague.username not in client.get(LIST).content.decode()  # another agency's admin
    client.force_login(admin_of)
    page = client.get(LIST)
    assert page.status_code == 200
    assert colleague.username in page.content.decode()


def test_an_agency_admin_cannot_see_or_change_another_agencys_officials(client, admin_of, agency):
    elsewhere = RoleAssignmentFactory(role="specialist")
    client.force_login(admin_of)
    other = elsewhere.agency_id
    assert client.get(f"{LIST}?agency={other}").status_code == 404
    assert client.get(f"{LIST}{elsewhere.user_id}/").status_code == 404  # not in the admin's agency
    assert client.get(f"{LIST}{elsewhere.user_id}/?agency={other}").status_code == 404
    for action in ("deactivate", "invite", "grant"):
        response = client.post(f"{LIST}{elsewhere.user_id}/", {"agency": other, "action": action, "role": "head"})
        assert response.status_code == 404, action
    revoke = client.post(f"{LIST}{admin_of.pk}/", {"agency": agency.pk, "action": "revoke", "assignment": elsewhere.pk})
    assert revoke.status_code == 404  # an assignment of another agency, through one's own official's page
    elsewhere.user.refresh_from_db()
    assert elsewhere.user.is_active
    assert RoleAssignment.objects.filter(pk=elsewhere.pk).exists()
    created = client.post(
        f"{LIST}moi/", {"agency": other, "username": "lén", "full_name": "X", "email": "x@x.vn", "how": "invite"}
    )
    assert created.status_code == 404
    assert not User.objects.filter(username="lén").exists()


def test_creating_an_official_with_a_first_password(client, admin_of, agency):
    client.force_login(admin_of)
    form = {
        "agency": agency.pk,
        "username": "canbo.moi",
        "full_name": "Lê Văn Mới",
        "email": "canbo.moi@tphcm.gov.vn",
        "role": "specialist",
        "how": "password",
        "password": "ngan-qua",
    }
    refused = client.post(f"{LIST}moi/", form)
    assert refused.status_code == 422
    assert "12" in refused.content.decode()
    done = client.post(f"{LIST}moi/", {**form, "password": "mot-cau-that-dai-de-nho"})
    assert done.status_code == 302
    user = User.objects.get(username="canbo.moi")
    assert user.kind == "official"
    assert user.check_password("mot-cau-that-dai-de-nho")
    assert RoleAssignment.objects.filter(user=user, agency=agency, role="specialist", field="").exists()
    assert client.get(done["Location"]).status_code == 200
    taken = client.post(f"{LIST}moi/", {**form, "password": "mot-cau-that-dai-de-nho"})
    assert taken.status_code == 422


def test_creating_an_official_by_invitation_and_setting_the_password(client, admin_of, agency):
    client.force_login(admin_of)
    form = {"agency": agency.pk, "username": "moi.3", "full_name": "C", "email": "moi3@tphcm.gov.vn", "how": "invite"}
    assert client.post(f"{LIST}moi/", form).status_code == 302
    user = User.objects.get(username="moi.3")
    assert not user.has_usable_password()
    link = re.search(r"https?://\S+", Notification.objects.get(recipient=user).body).group(0)
    path = "/" + link.split("/", 3)[3]
    newcomer = Client()
    page = newcomer.get(path, follow=True)
    assert page.status_code == 200
    set_url = page.redirect_chain[-1][0] if page.redirect_chain else path
    short = newcomer.post(set_url, {"new_password1": "ngan-11-kt", "new_password2": "ngan-11-kt"})
    assert short.status_code == 200
    assert "12" in short.content.decode()
    done = newcomer.post(set_url, {"new_password1": "buoi-sang-dau-tien", "new_password2": "buoi-sang-dau-tien"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("buoi-sang-dau-tien")
    assert newcomer.get(path, follow=True).context["validlink"] is False  # used once


def test_granting_a_field_scoped_role_revoking_it_and_deactivating(client, admin_of, agency, colleague):
    field = ProcedureFactory().field
    client.force_login(admin_of)
    page = f"{LIST}{colleague.pk}/"
    assert field in client.get(page).content.decode()  # fields come from the catalogue
    granted = client.post(page, {"agency": agency.pk, "action": "grant", "role": "specialist", "field": field})
    assert granted.status_code == 302
    assignment = RoleAssignment.objects.get(user=colleague, role="specialist", field=field)
    bad = client.post(page, {"agency": agency.pk, "action": "grant", "role": "specialist", "field": "Không có"})
    assert bad.status_code == 422
    assert client.post(page, {"agency": agency.pk, "action": "revoke", "assignment": assignment.pk}).status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()

    their_browser = Client()
    their_browser.force_login(colleague)
    assert their_browser.get("/office/").status_code == 200
    assert client.post(page, {"agency": agency.pk, "action": "deactivate"}).status_code == 302
    colleague.refresh_from_db()
    assert not colleague.is_active
    assert their_browser.get("/office/").status_code == 302  # their session ended
    assert "Đã khóa" in client.get(LIST).content.decode()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"role.grant", "role.revoke", "user.deactivate"} <= actions
