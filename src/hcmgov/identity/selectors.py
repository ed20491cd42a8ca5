"""Reads of identities and roles."""

from __future__ import annotations

from typing import Any

from hcmgov.identity.models import RoleAssignment, User


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
