"""V7 Session management and V3.3 cookie setup (OWASP ASVS 5.0): ``__Host-`` cookies over HTTPS,
the idle and absolute timeouts of ``hcmgov.identity.middleware`` under a travelling clock
(time-machine), and logout ending the session on the server."""

from __future__ import annotations

import datetime as dt
from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client

from hcmgov.identity.tests.factories import PASSWORD, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _session_exists(key: str) -> bool:
    """Whether the server still holds session ``key``, in whichever store the settings choose."""
    return import_module(settings.SESSION_ENGINE).SessionStore().exists(key)


LOGIN = "/dang-nhap/"
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def official(agency):
    return RoleAssignmentFactory(agency=agency).user


def _logged_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


# --- V3.3.1, V3.3.3, V3.3.4: the cookies over HTTPS -------------------------------------------------


def test_over_https_the_session_and_csrf_cookies_are_host_prefixed(client, https_settings, citizen):
    page = client.get(LOGIN, secure=True)
    assert page.status_code == 200
    csrf = page.cookies["__Host-csrftoken"]
    assert csrf["secure"] is True
    assert csrf["path"] == "/"
    assert not csrf["domain"]  # __Host-: the browser refuses the cookie with a Domain
    response = client.post(LOGIN, {"username": citizen.username, "password": PASSWORD}, secure=True)
    assert response.status_code == 302, response.content
    assert "sessionid" not in response.cookies
    session = response.cookies["__Host-sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["path"] == "/"
    assert not session["domain"]
    assert session["samesite"] == "Lax"
    assert client.get("/ho-so/", secure=True).status_code == 200  # the prefixed cookie is the one read


def test_over_plain_http_development_keeps_names_a_browser_stores():
    """``__Host-`` cookies are dropped by browsers unless Secure: without HTTPS the names stay Django's."""
    assert not settings.SESSION_COOKIE_SECURE
    assert not settings.SESSION_COOKIE_NAME.startswith("__Host-")


# --- V7.3.1 inactivity timeout, V7.3.2 absolute lifetime ---------------------------------------------


def test_an_official_is_logged_out_after_30_idle_minutes_a_citizen_after_60(official, time_machine):
    time_machine.move_to(START, tick=False)
    officer, applicant = Client(), Client()
    officer.force_login(official)
    applicant.force_login(UserFactory())
    key = officer.cookies[settings.SESSION_COOKIE_NAME].value
    time_machine.shift(dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES_OFFICIAL))  # exactly the limit
    assert officer.get("/office/").status_code == 200
    assert applicant.get("/ho-so/").status_code == 200
    time_machine.shift(dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES_OFFICIAL, seconds=1))
    assert _logged_out(officer.get("/office/"))
    assert not _session_exists(key)  # ended on the server, not only forgotten by the browser
    assert applicant.get("/ho-so/").status_code == 200  # 30 minutes idle: within a citizen's 60
    time_machine.shift(dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES_CITIZEN, seconds=1))
    assert _logged_out(applicant.get("/ho-so/"))


def test_every_session_ends_at_the_absolute_limit_however_active(citizen, time_machine):
    time_machine.move_to(START, tick=False)
    client = Client()
    client.force_login(citizen)
    limit = dt.timedelta(hours=settings.SESSION_ABSOLUTE_HOURS)
    step = dt.timedelta(minutes=50)  # active well within the idle limit
    elapsed = dt.timedelta()
    while elapsed + step < limit:
        time_machine.shift(step)
        elapsed += step
        assert client.get("/ho-so/").status_code == 200, elapsed
    time_machine.shift(limit - elapsed)  # exactly the limit: still in
    assert client.get("/ho-so/").status_code == 200
    time_machine.shift(dt.timedelta(seconds=1))
    assert _logged_out(client.get("/ho-so/"))
    client.force_login(citizen)  # a new login starts a new count
    assert client.get("/ho-so/").status_code == 200


# --- V7.4.1 logout ends the session on the server ------------------------------------------------------


def test_logout_ends_the_session_on_the_server_and_its_cookie_opens_nothing(citizen):
    client = Client()
    client.force_login(citizen)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/dang-xuat/").status_code == 302
    assert not _session_exists(key)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key  # the old cookie, kept by an attacker
    assert _logged_out(replay.get("/ho-so/"))
