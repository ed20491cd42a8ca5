"""Authentication for /api/v1: a personal bearer token, or the browser session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from hcmgov.common import context


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from hcmgov.identity.services import api_token_user

        user = api_token_user(raw=token)
        if user is not None:
            request.user = user
            # the actor middleware ran before the token was read: attribute this request's changes
            # (audit events) to the token's owner; the middleware restores the context afterwards
            context.set_actor(context.Actor(user_id=user.pk, label=user.get_username()))
        return user


class Session(SessionAuth):
    pass


AUTH = [BearerToken(), Session()]
