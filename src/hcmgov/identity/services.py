"""Writes of identities: accounts and role assignments."""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from typing import Any

from hcmgov.audit.services import audited
from hcmgov.identity.models import ApiToken, RoleAssignment, User, UserKind


@audited("user.create", fields=("username", "kind", "full_name", "email"))
def user_create(
    *, username: str, password: str | None, kind: str = UserKind.CITIZEN, password_hash: str = "", **fields: Any
) -> User:
    """Create an account (citizen, business, official or admin)."""
    user = User(username=username, kind=kind, **fields)
    if kind == UserKind.ADMIN:
        user.is_staff = user.is_superuser = True
    if password_hash:  # already hashed (demo data sets one hash for many accounts)
        user.password = password_hash
    elif password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@audited("role.assign")
def role_assign(*, user: User, role: str, agency_id: int) -> RoleAssignment:
    assignment, _ = RoleAssignment.objects.get_or_create(user=user, role=role, agency_id=agency_id)
    return assignment


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@audited("token.issue", fields=("name", "user"))
def api_token_issue(*, user: User, name: str) -> ApiToken:
    """Issue a personal API token; the raw value is shown once (``token.raw``), only its digest is kept."""
    raw = "hcm_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, digest=token_digest(raw))
    token.raw = raw  # type: ignore[attr-defined]
    return token


# Bearer tokens found valid are kept per process for a short while: an API client sends the same
# token with every call, and the lookup (a join compiled by the ORM) was an eighth of a submission.
TOKEN_CACHE_SECONDS = 30.0
"""How long a process goes on accepting a token it found valid without reading the database
again: a token revoked, or an account deactivated or changed, takes effect within this many
seconds in every process. Tokens not found are never kept (a new token works at once)."""
TOKEN_CACHE_MAX = 10_000  # distinct tokens kept per process; the oldest go first
_token_cache: dict[str, tuple[float, tuple[Any, ...]]] = {}  # digest → (valid until, the user's row)
_token_cache_lock = threading.Lock()
_clock = time.monotonic


def api_token_user(*, raw: str) -> User | None:
    """The active user holding the unrevoked token ``raw``, else None (see ``TOKEN_CACHE_SECONDS``)."""
    digest = token_digest(raw)
    now = _clock()
    kept = _token_cache.get(digest)
    if kept is None or kept[0] <= now:
        row = ApiToken.objects.filter(digest=digest, revoked=False, user__is_active=True).values_list(
            *(f"user__{name}" for name in _user_columns())
        )[:1]
        if not row:
            return None
        kept = (now + TOKEN_CACHE_SECONDS, row[0])
        with _token_cache_lock:
            _token_cache.pop(digest, None)
            while len(_token_cache) >= TOKEN_CACHE_MAX:
                del _token_cache[next(iter(_token_cache))]
            _token_cache[digest] = kept
    # a new instance each time: requests never share a model instance
    return User.from_db(ApiToken.objects.db, _user_columns(), kept[1])


def api_token_cache_clear() -> None:
    """Forget the tokens this process has found valid (tests, or after revoking in this process)."""
    with _token_cache_lock:
        _token_cache.clear()


@functools.cache
def _user_columns() -> list[str]:
    return [field.attname for field in User._meta.concrete_fields]
