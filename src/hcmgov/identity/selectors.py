"""Reads of identities and roles."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.identity.models import Role, RoleAssignment, User, UserKind


def user_agency_ids(*, user: Any, roles: set[str] | None = None) -> list[int]:
    """The agencies in which ``user`` holds one of ``roles`` (any role if None)."""
    if not user.is_authenticated:
        return []
    qs = RoleAssignment.objects.filter(user=user)
    if roles:
        qs = qs.filter(role__in=roles)
    return list(qs.values_list("agency_id", flat=True).distinct())


def user_has_role(*, user: Any, agency_id: int, roles: set[str]) -> bool:
    return RoleAssignment.objects.filter(user=user, agency_id=agency_id, role__in=roles).exists()


def user_by_username(*, username: str) -> User | None:
    return User.objects.filter(username=username).first()


def users_of_kind(*, kind: str) -> list[User]:
    return list(User.objects.filter(kind=kind).order_by("id"))


def users_with_role(*, agency_id: int, roles: set[str]) -> list[User]:
    """Officials holding one of ``roles`` in the agency (who to tell about its steps)."""
    return list(
        User.objects.filter(roles__agency_id=agency_id, roles__role__in=roles, is_active=True).distinct().order_by("id")
    )


def user_role_pairs(*, user: Any) -> list[tuple[int, str]]:
    """(agency id, role) for each role ``user`` holds: the scope of their back-office queues."""
    if not user.is_authenticated:
        return []
    return list(RoleAssignment.objects.filter(user=user).values_list("agency_id", "role").order_by("agency_id", "role"))


def user_current_roles(*, user: Any) -> list[tuple[str, str, str]]:
    """(agency code, role, procedure field) of each role ``user`` holds today: what the city's
    OpenID provider tells relying parties about an official (claims ``hcmgov_agencies``,
    ``hcmgov_roles``). Empty for anyone who is not an official."""
    if not user.is_authenticated or user.kind != UserKind.OFFICIAL:
        return []
    today = timezone.localdate()
    return list(
        RoleAssignment.objects.filter(user=user)
        .exclude(valid_from__gt=today)
        .exclude(valid_to__lt=today)
        .values_list("agency__code", "role", "field")
        .order_by("agency__code", "role", "field")
    )


def agency_officials(*, agency_id: int) -> list[User]:
    """The officials holding a role in the agency, each with ``agency_roles``: their roles there."""
    roles = Prefetch(
        "roles",
        queryset=RoleAssignment.objects.filter(agency_id=agency_id).order_by("role", "field"),
        to_attr="agency_roles",
    )
    return list(
        User.objects.filter(kind=UserKind.OFFICIAL, roles__agency_id=agency_id)
        .distinct()
        .order_by("-is_active", "username")
        .prefetch_related(roles)
    )


def agency_official(*, agency_id: int, user_id: int) -> User | None:
    """One official of the agency (with ``agency_roles``), or None when they hold no role there."""
    return next((u for u in agency_officials(agency_id=agency_id) if u.pk == user_id), None)


def totp_device(*, user: Any) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def backup_codes_left(*, user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def role_choices() -> list[tuple[str, str]]:
    """The roles an official may hold, with their Vietnamese names."""
    return list(Role.choices)
