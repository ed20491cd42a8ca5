"""Brute-force protection around login (django-axes) and the security events it records.

Axes counts failed logins per username and IP address and locks the pair out for a cool-off;
``login_cool_off`` makes the cool-off grow with each lockout of the same pair within a day
(back-off). Wrong one-time codes count as failed logins too (``second_factor_failed``). Every
failure and every lockout is written to the audit trail as a security event; passwords never
are (Django's ``authenticate`` cleanses them from the signal, and these events keep none).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from hcmgov.audit.services import audit_record
from hcmgov.identity.models import User

BACKOFF_WINDOW = dt.timedelta(hours=24)


def login_username(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> str | None:
    """The username an attempt is for (``AXES_USERNAME_CALLABLE``): from the credentials, the
    login form, or — at the second-factor step, where no username is typed — the session's user."""
    if credentials and credentials.get("username"):
        return str(credentials["username"])
    if request is None:
        return None
    return getattr(request, "login_username", None) or request.POST.get("username") or None


def login_cool_off(request: HttpRequest | None) -> dt.timedelta:
    """How long a locked-out username and IP address wait (``AXES_COOLOFF_TIME``).

    The k-th lockout of the same pair within 24 hours lasts ``base × 2^(k-1)``, capped. Lockouts
    are counted from axes' failure log: every ``AXES_FAILURE_LIMIT`` failures make one. The failure
    being recorded is not in the log yet when axes asks, hence the ``+ 1``; when axes asks later,
    the count is one past a lockout's boundary only while the pair is not locked out anyway."""
    base = dt.timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)
    ceiling = dt.timedelta(minutes=settings.LOGIN_COOLOFF_MAX_MINUTES)
    username = login_username(request)
    if request is None or not username:
        return base
    ip_address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")
    failures = AccessFailureLog.objects.filter(
        username=username, ip_address=ip_address, attempt_time__gte=timezone.now() - BACKOFF_WINDOW
    ).count()
    lockouts = (failures + 1) // max(settings.AXES_FAILURE_LIMIT, 1)
    return min(base * 2 ** max(lockouts - 1, 0), ceiling)


def lockout_until(request: HttpRequest, credentials: dict[str, Any] | None = None) -> dt.datetime:
    """When the lockout of this request's username and IP address ends."""
    username = login_username(request, credentials)
    ip_address = getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR")
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return (last or timezone.now()) + login_cool_off(request)


def second_factor_failed(*, request: HttpRequest, user: Any) -> None:
    """A wrong one-time code: counted by axes like a wrong password (same username and IP address,
    same lockout), and recorded as a security event. django-otp throttles the device as well."""
    request.login_username = user.get_username()  # type: ignore[attr-defined]
    request.login_step = "otp"  # type: ignore[attr-defined]
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)


def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    """Receiver of Django's ``user_login_failed``, connected after axes' own (which counts the failure
    and decides the lockout), so the request carries axes' verdict."""
    if request is None:
        return
    username = login_username(request, credentials)
    ip_address = getattr(request, "axes_ip_address", None)
    counted = getattr(request, "axes_failures_since_start", None)
    locked = bool(getattr(request, "axes_locked_out", False))
    subject: models.Model | None = User.objects.filter(username=username).first() if username else None
    details: dict[str, Any] = {"ip": ip_address, "step": getattr(request, "login_step", "password")}
    if subject is None:
        # no such account: the event hangs on axes' counter for the pair; the typed username is
        # not copied into the audit trail (people type their password into it by mistake)
        subject = AccessAttempt.objects.filter(username=username, ip_address=ip_address).first()
        details["known_account"] = False
        if subject is None:  # nothing counted (an address on axes' allow list)
            return
    if counted is None:  # refused unread: the pair was already locked out
        audit_record(action="security.login_refused", obj=subject, after={**details, "locked": locked})
        return
    audit_record(action="security.login_failed", obj=subject, after={**details, "failures": counted})
    if locked:
        until = lockout_until(request, credentials)
        audit_record(
            action="security.lockout",
            obj=subject,
            after={**details, "failures": counted, "until": until.isoformat()},
        )
