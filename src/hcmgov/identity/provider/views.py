"""The provider's pages: DOT's authorization (consent) and logout views in the portal's look, with
what OpenID Connect asks of an authorization endpoint that DOT leaves out:

- ``prompt=login`` and ``max_age`` force a new login: the session ends first (the portal's login
  page sends a logged-in visitor straight on, and the forced login must be a real one);
- ``prompt=none`` never shows a page: ``login_required`` without a session (DOT),
  ``consent_required`` when consent would have to be asked;
- an official (or administrator) logs in to a relying party only after the second factor, as for
  the back office: the ID token vouches for who they are.

``auth_time`` in the ID token is the account's last login (DOT's choice); ``max_age`` is checked
against the time this session logged in, which is never later.

The token endpoint is DOT's, in one transaction per code exchange and without DOT's read of the
access token it has just issued when nobody listens for it (``CityTokenView``).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.signals import app_authorized
from oauth2_provider.views import AuthorizationView, RPInitiatedLogoutView, TokenView

from hcmgov.common.access import second_factor_missing
from hcmgov.identity.middleware import LOGIN_AT
from hcmgov.identity.provider.scopes import SCOPE_TEXTS

FORCED_LOGIN_DROPS = ("prompt", "max_age")  # after the forced login, the request goes on without them


class CityAuthorizationView(AuthorizationView):
    """``/o/authorize/``: log in (DOT sends anonymous visitors to ``LOGIN_URL``), consent, code."""

    template_name = "web/oidc_authorize.html"
    access = "authenticated"  # DOT's LoginRequiredMixin; prompt=none answers login_required instead

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        prompt = set(request.GET.get("prompt", "").split())
        self.silent = "none" in prompt
        if "login" not in prompt and (second_factor_missing(request.user) or _too_old(request)):
            try:
                _, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
            if self.silent:
                return self._refuse_silently(credentials, "login_required")
            if second_factor_missing(request.user):  # the password was given: the code is asked next
                return redirect_to_login(request.get_full_path(), settings.SECOND_FACTOR_URL)
            return self.handle_prompt_login()
        return super().get(request, *args, **kwargs)

    def handle_prompt_login(self) -> HttpResponse:
        """A new login however fresh the session: end it, then the login page, then back here."""
        logout(self.request)
        parsed = urlparse(self.request.get_full_path())
        query = [(k, v) for k, v in parse_qsl(parsed.query, keep_blank_values=True) if k not in FORCED_LOGIN_DROPS]
        return redirect_to_login(parsed._replace(query=urlencode(query)).geturl(), settings.LOGIN_URL)

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        if getattr(self, "silent", False) and "form" in context and not context.get("error"):
            return self._refuse_silently(context, "consent_required")
        context["scope_texts"] = [SCOPE_TEXTS.get(s, (s, s)) for s in context.get("scopes", [])]
        return super().render_to_response(context, **response_kwargs)

    def _refuse_silently(self, credentials: dict[str, Any], error: str) -> HttpResponse:
        """OpenID Connect Core §3.1.2.6: the error goes back to the (validated) redirect URI."""
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        params = {"error": error}
        if credentials.get("state"):
            params["state"] = credentials["state"]
        uri = credentials["redirect_uri"]
        return self.redirect(uri + ("&" if "?" in uri else "?") + urlencode(params), application)


def _too_old(request: HttpRequest) -> bool:
    """Whether the session logged in longer ago than the request's ``max_age`` allows."""
    raw = request.GET.get("max_age", "")
    if not raw.isdigit() or not request.user.is_authenticated:
        return False
    login_at = request.session.get(LOGIN_AT)
    if login_at is None:
        last = request.user.last_login
        login_at = last.timestamp() if last else 0
    return time.time() - float(login_at) > int(raw)


class CityLogoutView(RPInitiatedLogoutView):
    """``/o/logout/``: RP-initiated logout, confirmed on a page in the portal's look."""

    template_name = "web/oidc_logout.html"
    access = "public"  # anyone may ask to end their own session; DOT checks the ID token hint


class CityTokenView(TokenView):
    """``/o/token/``: DOT's token endpoint, with two changes that spare statements and keep its
    answers.

    - An authorization code is exchanged in one transaction: the ID token, the access and refresh
      tokens and the deletion of the code commit together (DOT: three transactions, ten
      statements where four do). The code stays single-use: its deletion must remove the row,
      else the exchange fails and revokes what the code produced (``validator``); a concurrent
      second exchange waits on the row lock until this one commits, then finds nothing to
      delete.
    - DOT reads the access token it has just issued back from the database only to send
      ``app_authorized``; it does so here only when something listens to that signal.

    Every answer is JSON (RFC 6749 §5.1, §5.2), also an error raised after validation, which DOT
    sends without a content type.
    """

    access = "public"  # clients authenticate themselves (RFC 6749 §2.3), as at DOT's own view

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # DOT's (django-oauth-toolkit 3.4), with the transaction and the signal's condition
        if request.POST.get("grant_type") == "authorization_code":
            with transaction.atomic(using=router.db_for_write(get_access_token_model())):
                _, headers, body, status = self.create_token_response(request)
        else:
            _, headers, body, status = self.create_token_response(request)
        if status == 200 and app_authorized.has_listeners():
            access_token = json.loads(body).get("access_token")
            if access_token is not None:
                checksum = hashlib.sha256(access_token.encode("utf-8")).hexdigest()
                token = get_access_token_model().objects.get(token_checksum=checksum)
                app_authorized.send(sender=self, request=request, token=token)
        response = HttpResponse(content=body, status=status, content_type="application/json")
        for name, value in headers.items():  # oauthlib's, Content-Type among them, except on errors
            response[name] = value  # raised past validation (a code deleted by a concurrent exchange)
        return response
