"""Authentication for /api/v1: a personal bearer token, or the browser session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from hcmgov.identity.services import api_token_user

        user = api_token_user(raw=token)
        if user is not None:
            request.user = user
        return user


class Session(SessionAuth):
    pass


AUTH = [BearerToken(), Session()]
