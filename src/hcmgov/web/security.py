"""Pages of one's own account's security: the second factor (verify, enrol, back-up codes), password
change, log out everywhere, the invitation's set-password page, and the lockout page."""

from __future__ import annotations

import base64
import math
from typing import Any
from urllib.parse import urlencode

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from hcmgov.common.access import login_required, needs_second_factor, password_only, second_factor_missing
from hcmgov.common.errors import DomainError, Message
from hcmgov.identity import selectors as identity_read
from hcmgov.identity import services as identity
from hcmgov.identity.security import lockout_until, second_factor_failed

WRONG_CODE = Message(
    "Mã không đúng hoặc đã dùng. Hãy nhập mã mới trong ứng dụng xác thực, hoặc một mã dự phòng.",
    "Wrong or already used code. Type the current code from your authenticator app, or a backup code.",
)


def _next(request: HttpRequest, user: Any) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("web:office") if getattr(user, "kind", "") == "official" else reverse(settings.LOGIN_REDIRECT_URL)


def _proved(request: HttpRequest, device: Any) -> None:
    """The second factor is proved: remember the device in the session and give the session a new
    key (its privileges just rose; ASVS 7.2.4)."""
    django_otp.login(request, device)
    request.session.cycle_key()


@password_only
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor(request: HttpRequest) -> HttpResponse:
    """The step after the password: a code from the authenticator app, or a back-up code."""
    user = request.user
    target = _next(request, user)
    if not second_factor_missing(user):
        return redirect(target)
    device = identity_read.totp_device(user=user)
    if device is None:
        return redirect(f"{reverse('web:two_factor_setup')}?{request.GET.urlencode()}")
    error = None
    if request.method == "POST":
        token = "".join(request.POST.get("token", "").split())[:16]
        for candidate in django_otp.devices_for_user(user):
            verified = django_otp.verify_token(user, candidate.persistent_id, token) if token else None
            if verified is not None:
                _proved(request, verified)
                return redirect(target)
        second_factor_failed(request=request, user=user)
        if getattr(request, "axes_locked_out", False):
            logout(request)  # the password must be given again, once the lockout ends
            return HttpResponse(status=429)  # axes' middleware answers with the lockout page
        error = WRONG_CODE
    return render(request, "web/two_factor.html", {"error": error, "next": target}, status=422 if error else 200)


@password_only
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: a QR code (drawn here, as SVG: the secret never leaves the
    server for a QR service) and the secret in text, confirmed with a first code."""
    user = _account(request)
    if not needs_second_factor(user):
        raise Http404("citizens log in with the national e-ID")
    if identity_read.totp_device(user=user) is not None and second_factor_missing(user):
        # replacing an app needs the present one: else a stolen password would be enough
        return redirect(f"{reverse('web:two_factor')}?{request.GET.urlencode()}")
    device = identity.totp_enrol_start(user=user)
    error = None
    if request.method == "POST":
        try:
            identity.totp_enrol_confirm(user=user, device=device, token="".join(request.POST.get("token", "").split()))
        except DomainError as exc:
            error = exc.message
        else:
            _proved(request, device)
            messages.success(
                request,
                "Đã bật xác thực hai bước. Nên tạo mã dự phòng phòng khi mất điện thoại."
                if _lang(request) == "vi"
                else "Two-step verification is on. Consider making backup codes in case you lose your phone.",
            )
            return redirect(f"{reverse('web:account')}?{urlencode({'next': _next(request, user)})}")
    secret = base64.b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m").svg_inline(scale=5, title="otpauth")
    return render(
        request,
        "web/two_factor_setup.html",
        {
            "qr": qr,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "error": error,
            "next": _next(request, user),
        },
        status=422 if error else 200,
    )


def _lang(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "vi") or "vi"


def _account(request: HttpRequest) -> Any:
    """The logged-in user (every page below declares a rule that requires one)."""
    return request.user


@login_required
@never_cache
@require_http_methods(["GET"])
def account(request: HttpRequest) -> HttpResponse:
    """One's own account: second factor, back-up codes, password, log out everywhere."""
    user = request.user
    return render(
        request,
        "web/account.html",
        {
            "needs_second_factor": needs_second_factor(user),
            "device": identity_read.totp_device(user=user),
            "backup_left": identity_read.backup_codes_left(user=user),
            "next": request.GET.get("next", ""),
        },
    )


@login_required
@never_cache
@require_POST
def backup_codes(request: HttpRequest) -> HttpResponse:
    """New back-up codes, shown once (the old ones stop working)."""
    if not needs_second_factor(request.user):
        raise Http404("no second factor for this account")
    device = identity.backup_codes_issue(user=_account(request))
    return render(request, "web/backup_codes.html", {"codes": device.codes})


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every other session of this account (other browsers, a forgotten public computer);
    this one goes on with a new key."""
    user = identity.user_logout_everywhere(user=_account(request))
    update_session_auth_hash(request, user)
    messages.success(
        request,
        "Đã đăng xuất khỏi mọi nơi khác." if _lang(request) == "vi" else "Logged out everywhere else.",
    )
    return redirect("web:account")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Change one's password, giving the current one (ASVS 6.2.3); other sessions end."""
    form = PasswordChangeForm(_account(request), request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = identity.user_password_change(user=_account(request), password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, user)
        messages.success(request, "Đã đổi mật khẩu." if _lang(request) == "vi" else "Password changed.")
        return redirect("web:account")
    return render(
        request,
        "web/password_change.html",
        {"form": form, "official": needs_second_factor(request.user)},
        status=422 if form.errors else 200,
    )


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """The invitation's page: a new official sets their first password (the link is valid until used
    or ``PASSWORD_RESET_TIMEOUT``)."""

    template_name = "web/password_set.html"
    success_url = reverse_lazy("web:login")
    access = "public"

    def form_valid(self, form: Any) -> HttpResponse:
        identity.user_password_change(user=form.user, password=form.cleaned_data["new_password1"])
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        messages.success(
            self.request,
            "Đã đặt mật khẩu. Hãy đăng nhập." if _lang(self.request) == "vi" else "Password set. Please log in.",
        )
        return redirect(self.success_url)


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' lockout answer (``AXES_LOCKOUT_CALLABLE``): 429, with when to try again."""
    until = lockout_until(request, credentials)
    seconds = max(math.ceil((until - timezone.now()).total_seconds()), 1)
    response = render(
        request,
        "web/lockout.html",
        {"until": timezone.localtime(until), "minutes": math.ceil(seconds / 60)},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
