"""Session timeouts: an idle timeout and an absolute one (OWASP ASVS 5.0 V7.3), shorter idle for
officials than for citizens (settings ``SESSION_IDLE_MINUTES_*``, ``SESSION_ABSOLUTE_HOURS``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from hcmgov.common.access import needs_second_factor

LOGIN_AT = "_login_at"  # epoch seconds of the login (set at login, see ``session_started``)
SEEN_AT = "_seen_at"  # epoch seconds of the last request, rounded to TOUCH_EVERY
TOUCH_EVERY = 60  # seconds: the session is written at most once a minute just to note activity

_clock = time.time


def idle_limit(user: Any) -> int:
    """Seconds without a request after which ``user``'s session ends."""
    minutes = (
        settings.SESSION_IDLE_MINUTES_OFFICIAL if needs_second_factor(user) else settings.SESSION_IDLE_MINUTES_CITIZEN
    )
    return int(minutes * 60)


def session_started(sender: Any, request: HttpRequest, user: Any, **_: Any) -> None:
    """Receiver of ``user_logged_in``: the absolute timeout counts from here (a new login in the
    same browser starts a new count)."""
    now = int(_clock())
    request.session[LOGIN_AT] = now
    request.session[SEEN_AT] = now


class SessionTimeoutMiddleware:
    """Log out a session idle for longer than its limit, or older than the absolute limit. The
    request then goes on as anonymous: pages that need a login send the person to it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # without a session cookie there is no login to time out: the session is left unread (an
        # answer read from it would vary on cookies, and health checks and API calls must not)
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            user = request.user
            now = int(_clock())
            session = request.session
            login_at = session.setdefault(LOGIN_AT, now)  # sessions older than this middleware
            seen_at = session.get(SEEN_AT, now)
            if now - seen_at > idle_limit(user) or now - login_at > settings.SESSION_ABSOLUTE_HOURS * 3600:
                logout(request)  # flushes the session and sets request.user to anonymous
            elif now - seen_at >= TOUCH_EVERY or SEEN_AT not in session:
                session[SEEN_AT] = now
        return self.get_response(request)
