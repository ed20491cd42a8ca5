"""``{% if user|reads_dashboards %}``: whether the site's header links to the leaders' dashboards."""

from __future__ import annotations

from typing import Any

from django import template

from hcmgov.common.access import is_leader_or_staff

register = template.Library()


@register.filter
def reads_dashboards(user: Any) -> bool:
    """Leaders and administrators (the dashboards' rule); worked out once per request's user."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    found = getattr(user, "_reads_dashboards", None)
    if found is None:
        found = is_leader_or_staff(user)
        user._reads_dashboards = found
    return bool(found)
