"""``{% if user|reads_dashboards %}``: whether the site's header links to the leaders' dashboards."""

from __future__ import annotations

from typing import Any

from django import template

from hcmgov.common.access import is_leader_or_staff

register = template.Library()


@register.filter
def reads_dashboards(user: Any) -> bool:
    """Leaders and administrators (the dashboards' rule; the roles it reads are read once per request)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return is_leader_or_staff(user)
