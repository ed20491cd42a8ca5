"""Officials' accounts: session hash and epoch, password rules (ASVS 5.0 L2), lockout back-off,
and the agency administrator's services."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessFailureLog
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import RequestFactory, override_settings
from django.utils import timezone

from hcmgov.audit.models import AuditEvent
from hcmgov.catalog.tests.factories import ProcedureFactory
from hcmgov.common.errors import DomainError
from hcmgov.identity import services
from hcmgov.identity.models import RoleAssignment, User
from hcmgov.identity.security import login_cool_off
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory
from hcmgov.notifications.models import Notification

pytestmark = pytest.mark.django_db


# --- log out everywhere: the epoch is part of the session hash -----------------------------------


def test_the_epoch_changes_the_session_hash_and_epoch_zero_keeps_djangos():
    user = UserFactory()
    django_hash = super(User, user).get_session_auth_hash()
    assert user.get_session_auth_hash() == django_hash  # sessions from before the epoch stay valid
    services.user_logout_everywhere(user=user)
    assert user.auth_epoch == 1
    assert user.get_session_auth_hash() != django_hash
    again = user.get_session_auth_hash()
    services.user_logout_everywhere(user=user)
    assert user.get_session_auth_hash() != again
    assert AuditEvent.objects.filter(action="security.logout_everywhere", object_id=str(user.pk)).count() == 2


# --- passwords: OWASP ASVS 5.0 level 2 -----------------------------------------------------------


def _refused(password: str, user: User | None) -> bool:
    try:
        validate_password(password, user=user)
    except ValidationError:
        return True
    return False


def test_length_floor_is_8_for_citizens_and_12_for_officials_and_admins():
    citizen, official, admin = UserFactory(), UserFactory(official=True), UserFactory(admin=True)
    assert not _refused("rắn-mèo-gà", citizen)  # 10 characters, no composition rule
    assert _refused("xe-dap7", citizen)  # 7
    assert _refused("xe-dap-leo-", official)  # 11
    assert not _refused("xe-dap-leo-nui", official)  # 14
    assert _refused("xe-dap-leo-", admin)


def test_long_passphrases_are_allowed_and_a_bound_stops_huge_ones():
    official = UserFactory(official=True)
    assert not _refused("con đường xưa em đi " * 3 + "vẫn còn đó", official)  # 70 characters, spaces and all
    assert not _refused("a" * 7 + "qwzxpl" * 20, official)  # 127
    assert _refused("q" * 129, official)


def test_breached_common_and_context_passwords_are_refused():
    official = UserFactory(official=True, username="nguyenvana", full_name="Nguyễn Văn A")
    assert _refused("password1234", official)  # on Django's list of ~20,000 breached/common passwords
    assert _refused("Dichvucong2026", official)  # the portal's name with a year
    assert _refused("nguyenvana2026", official)  # the user's own name
    assert not _refused("bánh mì ốp la buổi sáng", official)  # a passphrase: no capitals or digits needed


# --- lockout back-off ------------------------------------------------------------------------------


def _failures(n: int, *, ago: dt.timedelta = dt.timedelta(minutes=1)) -> None:
    for _ in range(n):
        AccessFailureLog.objects.create(
            username="canbo", ip_address="10.0.0.7", user_agent="t", attempt_time=timezone.now() - ago
        )


@override_settings(AXES_FAILURE_LIMIT=5, LOGIN_COOLOFF_MINUTES=15, LOGIN_COOLOFF_MAX_MINUTES=120)
def test_the_cool_off_doubles_with_each_lockout_within_a_day_up_to_a_ceiling():
    request = RequestFactory().post("/dang-nhap/", {"username": "canbo"}, REMOTE_ADDR="10.0.0.7")

    def cool_off() -> int:
        return int(login_cool_off(request).total_seconds() // 60)

    assert cool_off() == 15  # no failure yet
    _failures(4)
    assert cool_off() == 15  # the 5th failure, being recorded: the first lockout
    _failures(5)
    assert cool_off() == 30  # the second lockout
    _failures(5)
    assert cool_off() == 60
    _failures(10)
    assert cool_off() == 120  # capped
    AccessFailureLog.objects.update(attempt_time=timezone.now() - dt.timedelta(hours=25))
    assert cool_off() == 15  # a day later it starts again
    other_ip = RequestFactory().post("/dang-nhap/", {"username": "canbo"}, REMOTE_ADDR="10.0.0.8")
    _failures(20)
    assert login_cool_off(other_ip).total_seconds() == 15 * 60  # per username and IP address


# --- officials managed by their agency's administrator ---------------------------------------------


@pytest.fixture
def admin_of(agency):
    return RoleAssignmentFactory(agency=agency, role="agency_admin").user


def test_an_agency_admin_creates_an_official_with_a_password_checked_against_the_policy(admin_of, agency):
    with pytest.raises(DomainError) as short:
        services.official_create(
            actor=admin_of, agency_id=agency.pk, username="moi1", full_name="A", email="a@x.vn", password="ngan-qua"
        )
    assert short.value.code == "password_invalid"
    assert "12" in short.value.message.vi
    user = services.official_create(
        actor=admin_of,
        agency_id=agency.pk,
        username="moi1",
        full_name="Cán bộ Mới",
        email="moi1@tphcm.gov.vn",
        password="mot-cau-dai-de-nho",
        role="specialist",
    )
    assert user.kind == "official"
    assert user.check_password("mot-cau-dai-de-nho")
    assert list(RoleAssignment.objects.filter(user=user).values_list("role", "agency_id", "field")) == [
        ("specialist", agency.pk, "")
    ]
    assert {"user.create", "role.grant"} <= set(
        AuditEvent.objects.filter(actor_label__isnull=False).values_list("action", flat=True)
    )
    created = AuditEvent.objects.get(action="user.create", object_id=str(user.pk))
    assert "password" not in created.after


def test_an_invitation_mails_a_set_password_link(admin_of, agency):
    user = services.official_create(
        actor=admin_of, agency_id=agency.pk, username="moi2", full_name="B", email="moi2@tphcm.gov.vn"
    )
    assert not user.has_usable_password()
    services.official_invitation(
        actor=admin_of, official=user, agency_id=agency.pk, link=lambda uid, token: f"https://x/{uid}/{token}/"
    )
    mail = Notification.objects.get(recipient=user)
    assert "https://x/" in mail.body
    assert mail.address == "moi2@tphcm.gov.vn"


def test_roles_scoped_to_a_procedure_field_are_granted_and_revoked(admin_of, agency):
    field = ProcedureFactory().field
    official = RoleAssignmentFactory(agency=agency).user
    assignment = services.official_role_grant(
        actor=admin_of, official=official, agency_id=agency.pk, role="specialist", field=field
    )
    assert assignment.field == field
    with pytest.raises(DomainError) as unknown:
        services.official_role_grant(
            actor=admin_of, official=official, agency_id=agency.pk, role="specialist", field="Không có"
        )
    assert unknown.value.code == "field_invalid"
    services.official_role_revoke(actor=admin_of, assignment_id=assignment.pk, agency_id=agency.pk)
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert AuditEvent.objects.filter(action="role.revoke", object_id=str(assignment.pk)).exists()


def test_an_agency_admin_cannot_touch_another_agency(admin_of, agency):
    elsewhere = RoleAssignmentFactory()  # an official of another agency
    other_agency = elsewhere.agency_id
    with pytest.raises(DomainError) as grant:
        services.official_role_grant(actor=admin_of, official=elsewhere.user, agency_id=other_agency, role="head")
    assert grant.value.status == 403
    with pytest.raises(DomainError):
        services.official_role_revoke(actor=admin_of, assignment_id=elsewhere.pk, agency_id=other_agency)
    with pytest.raises(DomainError):  # the assignment is not in the admin's own agency either
        services.official_role_revoke(actor=admin_of, assignment_id=elsewhere.pk, agency_id=agency.pk)
    with pytest.raises(DomainError):
        services.official_deactivate(actor=admin_of, official=elsewhere.user, agency_id=agency.pk)
    with pytest.raises(DomainError):
        services.official_create(actor=admin_of, agency_id=other_agency, username="x1", full_name="X", email="x@x.vn")
    elsewhere.user.refresh_from_db()
    assert elsewhere.user.is_active
    assert RoleAssignment.objects.filter(pk=elsewhere.pk).exists()


def test_deactivation_closes_the_account_and_bumps_the_epoch(admin_of, agency):
    official = RoleAssignmentFactory(agency=agency).user
    services.official_deactivate(actor=admin_of, official=official, agency_id=agency.pk)
    official.refresh_from_db()
    assert not official.is_active
    assert official.auth_epoch == 1
    with pytest.raises(DomainError):
        services.official_deactivate(actor=admin_of, official=admin_of, agency_id=agency.pk)  # not oneself
