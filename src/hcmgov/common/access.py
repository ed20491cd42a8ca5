"""Deny by default: every page names who may call it.

A view carries an ``access`` rule set by one of the decorators below; ``AccessMiddleware``
refuses any view without one (framework views it trusts are listed explicitly), and a test walks
every URL to prove each route declares its rule.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.generic import RedirectView

View = Callable[..., HttpResponseBase]  # a page, or a file streamed (FileResponse)

PUBLIC = "public"
APPLICANT = "applicant"  # citizens and businesses
OFFICIAL = "official"  # officials holding a role in an agency
STAFF = "staff"  # platform administrators
LEADER_OR_STAFF = "leader-or-staff"  # officials holding the leader role in an agency, and administrators

APPLICANT_KINDS = {"citizen", "business"}
# Accounts that reach the back office or the admin site prove a second factor (TOTP, django-otp)
# after their password before any page that needs a login; citizens log in with the national e-ID.
SECOND_FACTOR_KINDS = {"official", "admin"}

# Framework views whose own machinery decides access (admin login, language switch, API router,
# static files): their module prefixes.
TRUSTED_MODULES = (
    "django.contrib.admin",
    "django.contrib.contenttypes",  # the admin's "view on site" redirect
    "django_otp.plugins.otp_totp.admin",  # a device's QR code in the admin (behind the admin site's check)
    "django.views.i18n",
    "ninja",  # the API router: each operation declares x-access and its authentication
    "django.views.static",
    "django.contrib.staticfiles",
    # django-oauth-toolkit's endpoints (token, userinfo, JWKS, discovery, revocation, introspection)
    # authenticate the client or the bearer token themselves, per OAuth 2.0 / OpenID Connect; its
    # authorization and logout views are subclassed in hcmgov.identity.provider.views and declare
    # their rule there. Its application-management pages are not mounted (hcmgov.identity.provider.urls).
    "oauth2_provider",
)


V = TypeVar("V", bound=Callable[..., Any])


def _mark(view: V, rule: str) -> V:
    view.access = rule  # type: ignore[attr-defined]
    return view


def public(view: V) -> V:
    """Anyone, logged in or not."""
    return _mark(view, PUBLIC)


BEARER = "bearer"  # protocol APIs that read a bearer token themselves (NGSI-LD); a session counts for nothing


def bearer_token(view: V) -> V:
    """The view authenticates a bearer token itself and answers 401 without one (``ngsi.http``)."""
    return _mark(view, BEARER)


def needs_second_factor(user: Any) -> bool:
    """Whether ``user`` must prove a second factor: officials and administrators."""
    return bool(
        user.is_authenticated
        and (getattr(user, "kind", "") in SECOND_FACTOR_KINDS or user.is_staff or user.is_superuser)
    )


def second_factor_missing(user: Any) -> bool:
    """True while an official or administrator has given their password but no one-time code in
    this session (``is_verified`` comes from django-otp's middleware; a user without it, e.g. one
    authenticated by an API token, has not proved one)."""
    if not needs_second_factor(user):
        return False
    is_verified = getattr(user, "is_verified", None)
    return not (is_verified is not None and is_verified())


def _require(rule: str, check: Callable[[Any], bool], *, second_factor: bool = True) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if second_factor and second_factor_missing(request.user):
                return redirect_to_login(request.get_full_path(), settings.SECOND_FACTOR_URL)
            if not check(request.user):
                raise PermissionDenied(rule)
            return view(request, *args, **kwargs)

        return _mark(wrapped, rule)

    return decorator


def is_applicant(user: Any) -> bool:
    return user.is_authenticated and user.kind in APPLICANT_KINDS


def is_official(user: Any) -> bool:
    return user.is_authenticated and user.kind == "official"


def is_applicant_or_official(user: Any) -> bool:
    """What the API's ``x-access: applicant-or-official`` admits (administrators are neither)."""
    return is_applicant(user) or is_official(user)


def is_leader_or_staff(user: Any) -> bool:
    """Who reads the leaders' dashboards: an administrator, or an official holding the leader role
    (``identity.Role.LEADER``) in some agency today."""
    if user.is_authenticated and user.is_staff:
        return True
    if not is_official(user):
        return False
    from hcmgov.identity import selectors as identity  # common imports no app at import time

    # the role scopes are read once per request (the back office's pages read them too)
    return any(scope.role == "leader" for scope in identity.user_role_scopes(user=user))


applicant_required = _require(APPLICANT, is_applicant)
official_required = _require(OFFICIAL, is_official)
staff_required = _require(STAFF, lambda u: u.is_staff)
leader_or_staff_required = _require(LEADER_OR_STAFF, is_leader_or_staff)
login_required = _require("authenticated", lambda u: True)
# the password is enough: the pages that ask for (or enrol) the second factor, and log out
password_only = _require("password-only", lambda u: True, second_factor=False)


def view_rule(view: Any) -> str | None:
    rule = getattr(view, "access", None)
    if rule is None and hasattr(view, "view_class"):
        rule = getattr(view.view_class, "access", None)
    return rule


def is_trusted(view: Any) -> bool:
    target = getattr(view, "func", view)  # functools.partial (ninja's schema and docs views)
    target = getattr(target, "view_class", target)
    if target is RedirectView:  # the admin's legacy redirects: a redirect reveals nothing
        return True
    module = getattr(target, "__module__", "") or ""
    return module.startswith(TRUSTED_MODULES)


class AccessMiddleware:
    """Refuse (403) any view that declares no access rule.

    The answer depends on the view alone (its rule is set when its module is imported), so it is
    worked out once per view and kept for the life of the process."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.declared: dict[Any, bool] = {}  # view → whether it declares a rule or is trusted

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        try:
            declared = self.declared.get(view)
        except TypeError:  # an unhashable callable: not kept
            declared = None
        if declared is None:
            declared = view_rule(view) is not None or is_trusted(view)
            if len(self.declared) < 10_000:  # URL patterns are few; a bound against views made per request
                with contextlib.suppress(TypeError):
                    self.declared[view] = declared
        if not declared:
            raise PermissionDenied("route declares no access rule")
        return None
