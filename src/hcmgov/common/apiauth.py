"""Authentication for /api/v1: a bearer token (personal, or the city's OpenID provider's), or the browser
session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from hcmgov.common import context, ratelimit
from hcmgov.common.access import needs_second_factor, second_factor_missing

PERSONAL_TOKEN_PREFIX = "hcm_"  # noqa: S105 - a prefix, not a secret; identity.services.api_token_issue; DOT's tokens are letters and digits


class BearerToken(HttpBearer):
    """A personal API token (``hcm_…``), or an access token of the city's OpenID provider with the
    scope ``hcmgov.api`` (a machine client's, from client credentials, or a person's). A refused
    token gets the same 401 whatever the reason, and is recorded as a security event."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from hcmgov.identity.provider import services as provider
        from hcmgov.identity.services import api_token_user

        if token.startswith(PERSONAL_TOKEN_PREFIX):
            kind = "personal"
            user = api_token_user(raw=token)
            reason = "" if user is not None else "unknown_or_revoked"
        else:
            kind = "oauth"
            user, reason = provider.oauth_token_user(raw=token, url=request.build_absolute_uri(request.path))
        if user is None:
            provider.bearer_refusal_record(raw=token, kind=kind, reason=reason)
        else:
            if not ratelimit.allow("api_token", context.secret_ref(token)):
                raise ratelimit.RateLimited("api_token")
            request.user = user
            # the actor middleware ran before the token was read: attribute this request's changes
            # (audit events) to the token's owner, with how the token authenticates; the middleware
            # restores the context afterwards
            method, level = token_assurance(user, personal=kind == "personal")
            context.set_actor(
                context.Actor(
                    user_id=user.pk,
                    label=user.get_username(),
                    auth_method=method,
                    assurance_level=level,
                    session_ref=context.secret_ref(token),
                )
            )
        return user


def token_assurance(user: Any, *, personal: bool) -> tuple[str, int]:
    """How a bearer token authenticates its holder, on the scale of ``common.context``: a personal
    token or a machine client's secret is one factor; a person's token from the city's provider
    is two for officials and administrators (the authorization endpoint asks their second factor
    first) and one for anyone else (the token does not record the login that produced it)."""
    if personal:
        return context.AuthMethod.API_TOKEN, context.ONE_FACTOR
    if getattr(user, "oauth_client_credentials", False):
        return context.AuthMethod.OAUTH_CLIENT, context.ONE_FACTOR
    level = context.MULTI_FACTOR if needs_second_factor(user) else context.ONE_FACTOR
    return context.AuthMethod.OAUTH, level


class Session(SessionAuth):
    """The browser session; an official's counts only once it has proved its second factor."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None and second_factor_missing(user):
            return None
        return user


AUTH = [BearerToken(), Session()]
