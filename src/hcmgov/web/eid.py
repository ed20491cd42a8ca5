"""Pages of the national e-ID (VNeID) login: the start (off to the provider), the callback (back
from it), and the address the logout hands over to. The protocol is in ``hcmgov.identity.eid``."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from hcmgov.common import context
from hcmgov.common.access import public
from hcmgov.identity import eid
from hcmgov.identity import services as identity

SESSION_ACTING_FOR = "eid_acting_for"  # tax code of the business the person logged in to act for


def _callback_uri(request: HttpRequest) -> str:
    # The provider compares it with the registered address exactly, so a forged Host header can
    # only make the login fail; using the host the browser is on keeps the session cookie.
    return request.build_absolute_uri(reverse("web:eid_callback"))


def _safe_next(request: HttpRequest, target: str) -> str:
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return target if target and allowed else ""


def _refused(request: HttpRequest, exc: eid.EidRefused) -> HttpResponse:
    """The one page of every refusal: what the person can do, and a reference for support. The
    reason goes to the audit trail only (``security.eid_refused``), never to the page."""
    if exc.reason != "not_configured":
        identity.eid_refusal_record(reason=exc.reason, detail=exc.detail)
    # the page must not echo the provider's answer (code, state) — the language switch, for one,
    # sends the current address back
    request.META["QUERY_STRING"] = ""
    return render(
        request,
        "web/eid_refused.html",
        {"message": exc.message, "reference": context.get_request_id()},
        status=exc.status,
    )


@public
@never_cache
@require_GET
def eid_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the provider's login, with state, nonce and PKCE kept in the session."""
    try:
        url = eid.eid_authorization_url(
            session=request.session,
            redirect_uri=_callback_uri(request),
            next_url=_safe_next(request, request.GET.get("next", "")[:500]),
        )
    except eid.EidRefused as exc:
        return _refused(request, exc)
    return redirect(url)


@public
@never_cache
@require_GET
def eid_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer: verify it, link or create the account, log in."""
    try:
        vouched, next_url = eid.eid_complete(session=request.session, params=request.GET.dict())
        user = identity.user_eid_login(identity=vouched)
    except eid.EidRefused as exc:
        return _refused(request, exc)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    # how this login authenticated, for every transaction of the session: the e-ID's levels 1-2
    # are the platform's assurance levels 1-2 (common.context)
    context.session_login_record(request.session, method=context.AuthMethod.EID, level=vouched.level)
    request.session[eid.SESSION_ID_TOKEN] = vouched.id_token
    if vouched.business is not None:
        request.session[SESSION_ACTING_FOR] = vouched.business.tax_code
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


def end_session_url(request: HttpRequest) -> str | None:
    """For the logout, read before the session ends: the provider's end-session address with the
    login's ID token as hint, coming back to the portal's home (None: not an e-ID login)."""
    id_token = request.session.get(eid.SESSION_ID_TOKEN, "")
    if not id_token:
        return None
    return eid.eid_logout_url(
        id_token=id_token, post_logout_redirect_uri=request.build_absolute_uri(reverse("web:home"))
    )
