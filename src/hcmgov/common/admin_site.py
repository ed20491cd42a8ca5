"""Django's admin site, behind the portal's own login and the second factor.

The admin keeps no login form of its own: it sends people to the portal's login page, which
goes through django-axes (lockout) and then asks officials and administrators for their one-time
code; the admin answers only once that code is proved in the session.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from hcmgov.common.access import public, second_factor_missing


class AdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not second_factor_missing(request.user)

    @public  # it only redirects: to the portal's login, or to the second-factor step
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        if not request.user.is_authenticated:
            return redirect_to_login(target, settings.LOGIN_URL)
        if second_factor_missing(request.user):
            return redirect_to_login(target, settings.SECOND_FACTOR_URL)
        raise PermissionDenied("not an administrator")  # logged in and verified, but not staff


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that shows records and changes none: the apps' records change through their
    services (audited), never by hand here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
