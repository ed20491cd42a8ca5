"""Deny by default: every page names who may call it.

A view carries an ``access`` rule set by one of the decorators below; ``AccessMiddleware``
refuses any view without one (framework views it trusts are listed explicitly), and a test walks
every URL to prove each route declares its rule.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.generic import RedirectView

View = Callable[..., HttpResponse]

PUBLIC = "public"
APPLICANT = "applicant"  # citizens and businesses
OFFICIAL = "official"  # officials holding a role in an agency
STAFF = "staff"  # platform administrators

APPLICANT_KINDS = {"citizen", "business"}

# Framework views whose own machinery decides access (admin login, language switch, API router,
# static files): their module prefixes.
TRUSTED_MODULES = (
    "django.contrib.admin",
    "django.contrib.contenttypes",  # the admin's "view on site" redirect
    "django.views.i18n",
    "ninja",  # the API router: each operation declares x-access and its authentication
    "django.views.static",
    "django.contrib.staticfiles",
)


def _mark(view: View, rule: str) -> View:
    view.access = rule  # type: ignore[attr-defined]
    return view


def public(view: View) -> View:
    """Anyone, logged in or not."""
    return _mark(view, PUBLIC)


def _require(rule: str, check: Callable[[Any], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if not check(request.user):
                raise PermissionDenied(rule)
            return view(request, *args, **kwargs)

        return _mark(wrapped, rule)

    return decorator


def is_applicant(user: Any) -> bool:
    return user.is_authenticated and user.kind in APPLICANT_KINDS


def is_official(user: Any) -> bool:
    return user.is_authenticated and user.kind == "official"


applicant_required = _require(APPLICANT, is_applicant)
official_required = _require(OFFICIAL, is_official)
staff_required = _require(STAFF, lambda u: u.is_staff)
login_required = _require("authenticated", lambda u: True)


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
