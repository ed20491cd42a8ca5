"""Officials' login over the test client: password then one-time code, enrolment, back-up codes,
lockout with back-off, password change, session keys, timeouts, log out everywhere."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.audit.models import AuditEvent
from hcmgov.identity import middleware as timeouts
from hcmgov.identity.tests.factories import PASSWORD, RoleAssignmentFactory, UserFactory, totp_code

pytestmark = pytest.mark.django_db

LOGIN = "/dang-nhap/"
VERIFY = "/tai-khoan/xac-thuc/"
SETUP = "/tai-khoan/xac-thuc/dang-ky/"


def _password(client: Client, username: str, password: str = PASSWORD, **extra) -> object:
    return client.post(LOGIN, {"username": username, "password": password, **extra}, REMOTE_ADDR="10.1.1.1")


def _full_login(client: Client, user) -> None:
    response = _password(client, user.username)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert client.post(VERIFY, {"token": totp_code(user)}, REMOTE_ADDR="10.1.1.1").status_code == 302


def _after_throttle(user) -> None:
    """django-otp makes a device wait after a wrong code (1 s, 2 s, 4 s…): as if that time had passed."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=timezone.now() - dt.timedelta(minutes=10))


@pytest.fixture
def official(agency):
    return RoleAssignmentFactory(agency=agency).user


# --- the second factor ------------------------------------------------------------------------------


def test_an_official_gives_a_code_after_the_password_before_any_back_office_page(client, official):
    response = _password(client, official.username, next="/office/")
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next=%2Foffice%2F"
    for page in ("/office/", "/office/tim-kiem/", "/tai-khoan/"):  # logged in, not verified
        refused = client.get(page)
        assert refused.status_code == 302, page
        assert refused["Location"].startswith(VERIFY), page
    assert client.get("/api/v1/office/queues/mine").status_code == 401  # nor the API's session auth
    assert client.get("/admin/").status_code == 302
    form = client.get(VERIFY + "?next=/office/")
    assert form.status_code == 200
    assert 'autocomplete="one-time-code"' in form.content.decode()
    wrong = client.post(VERIFY, {"token": "000000", "next": "/office/"})
    assert wrong.status_code == 422
    assert "Mã không đúng" in wrong.content.decode()
    _after_throttle(official)
    right = client.post(VERIFY, {"token": totp_code(official), "next": "/office/"})
    assert right.status_code == 302
    assert right["Location"] == "/office/"
    assert client.get("/office/").status_code == 200
    assert client.get("/api/v1/office/queues/mine").status_code == 200
    assert client.post(VERIFY, {"token": totp_code(official)}).status_code == 302  # verified: straight on


def test_a_code_cannot_be_used_twice(client, official):
    device = TOTPDevice.objects.get(user=official)
    code = totp_code(official)
    _password(client, official.username)
    assert client.post(VERIFY, {"token": code}).status_code == 302
    other = Client()
    _password(other, official.username)
    assert other.post(VERIFY, {"token": code}).status_code == 422  # replayed
    device.refresh_from_db()
    assert device.last_t > 0


def test_citizens_are_not_asked_for_a_second_factor(client):
    citizen = UserFactory()
    response = _password(client, citizen.username)
    assert response.status_code == 302
    assert not response["Location"].startswith(VERIFY)
    assert client.get("/ho-so/").status_code == 200
    assert client.get(VERIFY).status_code == 302  # nothing to prove: goes on


def test_an_official_without_an_app_enrols_one_with_a_qr_code_then_is_verified(client, agency):
    official = RoleAssignmentFactory(agency=agency, user__totp_device=False).user
    response = _password(client, official.username)
    assert client.get(response["Location"])["Location"].startswith(SETUP)
    page = client.get(SETUP)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html
    assert "otpauth" in html
    secret = re.search(r'id="secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=official, confirmed=False)
    assert secret[:4] + " " + secret[4:8] in client.get(SETUP).content.decode()  # the same device on reload
    assert client.get("/office/")["Location"].startswith(VERIFY)
    assert client.post(SETUP, {"token": "123456"}).status_code == 422
    code = TOTP(base64.b32decode(secret)).token()
    done = client.post(SETUP, {"token": f"{code:06d}"})
    assert done.status_code == 302
    assert done["Location"].startswith("/tai-khoan/")
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/office/").status_code == 200
    assert AuditEvent.objects.filter(action="security.otp_enrolled", object_id=str(device.pk)).exists()


def test_an_unverified_official_cannot_replace_the_app_they_have(client, official):
    _password(client, official.username)
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    assert client.post(SETUP, {"token": "123456"})["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=official).count() == 1


def test_backup_codes_work_once_each(client, official):
    client.force_login(official)
    page = client.post("/tai-khoan/ma-du-phong/").content.decode()
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", page)
    assert len(codes) == 10
    other = Client()
    _password(other, official.username)
    assert other.post(VERIFY, {"token": codes[0]}).status_code == 302
    assert other.get("/office/").status_code == 200
    third = Client()
    _password(third, official.username)
    assert third.post(VERIFY, {"token": codes[0]}).status_code == 422
    assert client.get("/tai-khoan/").status_code == 200


def test_the_admin_site_needs_the_second_factor(client):
    admin = UserFactory(admin=True)
    _password(client, admin.username)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"].startswith(VERIFY)  # admin's login → the code
    client.post(VERIFY, {"token": totp_code(admin)})
    assert client.get("/admin/").status_code == 200


# --- lockout and back-off -----------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_username_at_that_address_with_a_clear_page(client, official):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _password(client, official.username, "sai-mat-khau-roi").status_code == 200
    locked = _password(client, official.username, "sai-mat-khau-roi")
    assert locked.status_code == 429
    retry = int(locked["Retry-After"])
    assert 14 * 60 <= retry <= 15 * 60
    text = locked.content.decode()
    assert "Tạm khóa đăng nhập" in text
    assert "Hãy thử lại sau" in text
    assert _password(client, official.username).status_code == 429  # the right password too, meanwhile
    assert (
        Client()
        .post(LOGIN, {"username": official.username, "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")["Location"]
        .startswith(VERIFY)
    )  # another address is not locked
    events = list(AuditEvent.objects.filter(action__startswith="security.").values_list("action", "after"))
    assert [a for a, _ in events].count("security.login_failed") == settings.AXES_FAILURE_LIMIT
    assert [a for a, _ in events].count("security.lockout") == 1
    assert ("security.login_refused", {"ip": "10.1.1.1", "step": "password", "locked": True}) in events
    stored = str(events) + str(list(AccessAttempt.objects.values())) + str(list(AccessFailureLog.objects.values()))
    assert "sai-mat-khau-roi" not in stored
    assert PASSWORD not in stored


def test_unknown_usernames_are_counted_without_copying_them_to_the_audit_trail(client):
    _password(client, "khong-co-ai", "matkhau-gi-do")
    event = AuditEvent.objects.get(action="security.login_failed")
    assert event.object_type == "axes.accessattempt"
    assert "khong-co-ai" not in str(event.after)


def test_wrong_one_time_codes_count_towards_the_lockout_and_end_the_session(client, official):
    _password(client, official.username)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(VERIFY, {"token": "000000"}, REMOTE_ADDR="10.1.1.1").status_code == 422
    locked = client.post(VERIFY, {"token": "000000"}, REMOTE_ADDR="10.1.1.1")
    assert locked.status_code == 429
    assert "Retry-After" in locked
    assert client.get("/office/")["Location"].startswith(LOGIN)  # logged out
    assert _password(client, official.username).status_code == 429
    steps = AuditEvent.objects.filter(action="security.login_failed").values_list("after__step", flat=True)
    assert set(steps) == {"otp"}


# --- passwords ----------------------------------------------------------------------------------------


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(client, official):
    elsewhere = Client()
    elsewhere.force_login(official)
    client.force_login(official)
    new = "mot-cau-rat-dai-va-moi"
    wrong = client.post(
        "/tai-khoan/mat-khau/", {"old_password": "khong-phai", "new_password1": new, "new_password2": new}
    )
    assert wrong.status_code == 422
    short = client.post(
        "/tai-khoan/mat-khau/", {"old_password": PASSWORD, "new_password1": "ngan-11-kt", "new_password2": "ngan-11-kt"}
    )
    assert short.status_code == 422
    assert "12" in short.content.decode()
    done = client.post("/tai-khoan/mat-khau/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert client.get("/office/").status_code == 200  # this session goes on
    assert elsewhere.get("/office/")["Location"].startswith(LOGIN)  # the other one ended
    official.refresh_from_db()
    assert official.check_password(new)
    assert "password" not in str(AuditEvent.objects.get(action="security.password_changed").after).replace(
        "password_changed", ""
    )


# --- sessions -------------------------------------------------------------------------------------------


def test_login_gives_a_new_session_key_and_so_does_the_second_factor(client, official):
    session = SessionStore()
    session["language"] = "vi"
    session.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    before = session.session_key
    _password(client, official.username)
    after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_password != before
    assert not SessionStore().exists(before)
    client.post(VERIFY, {"token": totp_code(official)})
    after_code = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_code != after_password
    assert not SessionStore().exists(after_password)
    assert client.get("/office/").status_code == 200


def test_log_out_everywhere_ends_every_other_session(official):
    here, there = Client(), Client()
    _full_login(here, official)
    _full_login(there, official)
    assert there.get("/office/").status_code == 200
    response = here.post("/tai-khoan/dang-xuat-moi-noi/")
    assert response.status_code == 302
    assert here.get("/office/").status_code == 200  # this browser stays logged in
    assert there.get("/office/")["Location"].startswith(LOGIN)
    official.refresh_from_db()
    assert official.auth_epoch == 1


def test_idle_and_absolute_timeouts(client, official, monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(timeouts, "_clock", lambda: now[0])
    citizen = UserFactory()
    other = Client()
    client.force_login(official)
    other.force_login(citizen)
    now[0] += 29 * 60
    assert client.get("/office/").status_code == 200
    assert other.get("/ho-so/").status_code == 200
    now[0] += 31 * 60  # 31 minutes idle: the official's session ends (30), the citizen's not (60)
    assert client.get("/office/")["Location"].startswith(LOGIN)
    assert other.get("/ho-so/").status_code == 200
    for _ in range(13):  # active every 59 minutes: still out after 12 hours
        now[0] += 59 * 60
        response = other.get("/ho-so/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
