"""Writes of identities: accounts and role assignments."""

from __future__ import annotations

import hashlib
import secrets
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


def api_token_user(*, raw: str) -> User | None:
    token = ApiToken.objects.select_related("user").filter(digest=token_digest(raw), revoked=False).first()
    return token.user if token and token.user.is_active else None
