"""Who is acting, how they proved it, and in which request: carried in context variables so that
services, the audit trail and logs see them without threading them through every call.

How a person authenticated is recorded once, at login, in their session (``session_login_record``,
read back by ``ActorMiddleware``); a bearer token on the API says it itself (``common.apiauth``).
Every audit event copies the actor's method, assurance level and session reference, so each
transaction records who acted, by which method and at which level, in which session."""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.crypto import salted_hmac


class AuthMethod(StrEnum):
    """How the actor of a request proved who they are."""

    PASSWORD = "password"  # noqa: S105 - a method's name, not a secret
    PASSWORD_TOTP = "password+totp"  # noqa: S105 - password, then a one-time code (django-otp)
    EID = "eid"  # the national e-ID (VNeID), OpenID Connect (hcmgov.identity.eid)
    API_TOKEN = "api_token"  # noqa: S105 - a personal API token (hcm_…)
    OAUTH = "oauth"  # a person's access token from the city's OpenID provider
    OAUTH_CLIENT = "oauth_client"  # a machine client's access token (client credentials)
    SESSION = "session"  # a logged-in session whose login was not recorded (opened before it was)
    SYSTEM = "system"  # a task, command or the platform itself
    ANONYMOUS = "anonymous"
    UNRECORDED = ""  # an actor set by code that did not say (and audit events older than the field)


# The assurance scale of this platform (0-2), one number per transaction so a dashboard can count them.
#
# 0  not electronically authenticated: the system, an anonymous visitor, or not recorded.
# 1  one factor: a password; a personal API token or a machine client's secret (one bearer
#    secret each); a national e-ID login at level 1 (Decree 59/2022/NĐ-CP, Art. 12: an account
#    registered online, identity not checked in person); a session whose login was not recorded.
# 2  more than one factor, or an identity checked in person: password and one-time code; a
#    national e-ID login at level 2 (identity checked in person by the police, Decree 59/2022
#    Art. 12). The e-ID's level is taken as the provider's ``acr`` vouches, never raised: the VNeID
#    app binds a device, but the ID token does not say so.
#
# A person's access token from the city's provider carries no record of the login that produced
# it; the authorization endpoint lets officials and administrators through only after their second
# factor (identity.provider.views), so their tokens are level 2; anyone else's are level 1, the
# least any login gives.
NOT_AUTHENTICATED = 0
ONE_FACTOR = 1
MULTI_FACTOR = 2
ASSURANCE_LEVELS = {
    NOT_AUTHENTICATED: ("Không xác thực điện tử", "Not electronically authenticated"),
    ONE_FACTOR: ("Một yếu tố (mật khẩu, mã truy cập, VNeID mức 1)", "One factor (password, token, e-ID level 1)"),
    MULTI_FACTOR: ("Hai yếu tố hoặc VNeID mức 2", "Two factors, or e-ID level 2"),
}


@dataclass(frozen=True)
class Actor:
    """The principal a change is attributed to: a user, or a named system process; with how the
    user authenticated (``auth_method``, ``assurance_level``) and a reference to the login
    (``session_ref``: a random id kept in the session, or a keyed hash of the bearer token —
    never the session key or the token themselves)."""

    user_id: int | None
    label: str
    auth_method: str = AuthMethod.UNRECORDED
    assurance_level: int = NOT_AUTHENTICATED
    session_ref: str = ""

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(user_id=None, label=name, auth_method=AuthMethod.SYSTEM)


_request_id: ContextVar[str] = ContextVar("request_id", default="")
_actor: ContextVar[Actor] = ContextVar("actor", default=Actor.system())  # noqa: B039 - Actor is frozen


def new_request_id() -> str:
    return uuid.uuid4().hex


def get_request_id() -> str:
    return _request_id.get()


def get_actor() -> Actor:
    return _actor.get()


@contextlib.contextmanager
def acting_as(actor: Actor, request_id: str | None = None) -> Iterator[Actor]:
    """Attribute everything done inside the block to ``actor`` (tasks, commands, tests)."""
    token_a = _actor.set(actor)
    token_r = _request_id.set(request_id or _request_id.get() or new_request_id())
    try:
        yield actor
    finally:
        _actor.reset(token_a)
        _request_id.reset(token_r)


def set_request_id(value: str) -> Token[str]:
    return _request_id.set(value)


def reset_request_id(token: Token[str]) -> None:
    _request_id.reset(token)


def set_actor(actor: Actor) -> Token[Actor]:
    return _actor.set(actor)


def reset_actor(token: Token[Actor]) -> None:
    _actor.reset(token)


# --- how a session logged in ----------------------------------------------------------------------

SESSION_AUTH = "_auth_context"  # {"method", "level", "at" (epoch seconds), "ref"}
REF_LENGTH = 16


def session_login_record(session: MutableMapping[str, Any], *, method: str, level: int) -> None:
    """Record in ``session`` how its user just logged in. The reference is new at each login and
    kept when the session key changes (the second factor cycles it): the events of one login share it."""
    session[SESSION_AUTH] = {
        "method": str(method),
        "level": int(level),
        "at": int(time.time()),
        "ref": secrets.token_hex(REF_LENGTH // 2),
    }


def session_auth(session: Mapping[str, Any], *, session_key: str | None) -> tuple[str, int, str]:
    """(method, assurance level, reference) of the session's login. A session opened before logins
    were recorded counts as one factor, its reference a keyed hash of its key."""
    record = session.get(SESSION_AUTH)
    if isinstance(record, dict) and record.get("method"):
        return str(record["method"]), int(record.get("level", ONE_FACTOR)), str(record.get("ref", ""))
    return AuthMethod.SESSION, ONE_FACTOR, secret_ref(session_key or "")


def secret_ref(value: str) -> str:
    """A reference to a session key or a token that links the events it made without revealing it
    (HMAC with the site's secret key; empty for an empty value)."""
    if not value:
        return ""
    return salted_hmac("hcmgov.common.context.secret_ref", value, algorithm="sha256").hexdigest()[:REF_LENGTH]
