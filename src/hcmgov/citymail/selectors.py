"""Reads of the city e-mail: an official's mailbox, the directory of agencies and officials, and
the share of officials with a city mailbox (the plan's target "officials using the city e-mail")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from hcmgov.citymail import addresses
from hcmgov.citymail.models import Mailbox, MailboxState
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity

LEVELS = ("city", "district", "commune")
LEVEL_NAMES = {"city": ("Cấp thành phố", "City level"), "district": ("Cấp huyện", "District level"),
               "commune": ("Cấp xã", "Commune level")}  # fmt: skip
SEARCH_CAP = 100


def mailbox_of(*, user: Any) -> Mailbox | None:
    """The official's active city mailbox, or None (none, suspended or closed)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Mailbox.objects.filter(owner=user, state=MailboxState.ACTIVE).first()


def active_addresses(*, user_ids: list[int]) -> dict[int, str]:
    """User id → the address of their active city mailbox, for those who have one (one query)."""
    rows = Mailbox.objects.filter(owner_id__in=user_ids, state=MailboxState.ACTIVE).values_list("owner_id", "address")
    return {owner_id: address for owner_id, address in rows if owner_id is not None}


def mailbox_list(*, agency_id: int | None = None) -> list[Mailbox]:
    """Open mailboxes (active or suspended), an agency's when ``agency_id`` is given."""
    qs = Mailbox.objects.exclude(state=MailboxState.CLOSED).select_related("agency")
    if agency_id is not None:
        qs = qs.filter(agency_id=agency_id)
    return list(qs.order_by("kind", "search_name", "address"))


# --- the directory ----------------------------------------------------------------------------


@dataclass
class AgencyGroup:
    """Agencies under one heading of the tree (a district's communes, the city's departments)."""

    name: str
    agencies: list[Any] = field(default_factory=list)


@dataclass
class LevelBranch:
    level: str
    name_vi: str
    name_en: str
    groups: list[AgencyGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(g.agencies) for g in self.groups)


def directory_tree(*, day: dt.date | None = None, query: str = "") -> list[LevelBranch]:
    """The agencies in force on ``day`` (today) as a tree by level: the city's (People's
    Committee first, then departments and the other city bodies), the districts', the communes'
    — these grouped by the unit above theirs (their district, or the city after the 2025 reform).
    ``query`` keeps the agencies whose name holds it, diacritics ignored (one query)."""
    day = day or timezone.localdate()
    agencies = list(core.agency_list(day=day).select_related("unit__parent"))
    wanted = addresses.fold(query).strip()
    if wanted:
        agencies = [a for a in agencies if wanted in addresses.fold(a.name)]
    order = {"city_pc": 0, "department": 1, "district_pc": 0, "commune_pc": 0, "police": 2}
    tree = []
    for level in LEVELS:
        vi, en = LEVEL_NAMES[level]
        branch = LevelBranch(level, vi, en)
        groups: dict[str, AgencyGroup] = {}
        for agency in sorted((a for a in agencies if a.level == level), key=lambda a: (order.get(a.kind, 3), a.name)):
            parent = agency.unit.parent if (level == "commune" and agency.unit) else None
            heading = parent.name if parent is not None else ""
            groups.setdefault(heading, AgencyGroup(heading)).agencies.append(agency)
        branch.groups = sorted(groups.values(), key=lambda g: g.name)
        if branch.groups:
            tree.append(branch)
    return tree


@dataclass(frozen=True)
class DirectoryEntry:
    """One person or functional mailbox of an agency in the directory."""

    name: str
    title: str
    address: str  # "" : no active city mailbox
    functional: bool = False


def directory_agency(*, agency_id: int) -> list[DirectoryEntry]:
    """The agency's active officials (live from identity: name and roles there) with their city
    mailbox, then its functional mailboxes. Three queries, whatever the size of the agency."""
    officials = [u for u in identity.agency_officials(agency_id=agency_id) if u.is_active]
    mailboxes = active_addresses(user_ids=[u.pk for u in officials])
    today = timezone.localdate()
    entries = []
    for user in officials:
        roles = [r for r in getattr(user, "agency_roles", []) if not (r.valid_from and r.valid_from > today)
                 and not (r.valid_to and r.valid_to < today)]  # fmt: skip
        if not roles:
            continue
        title = ", ".join(dict.fromkeys(r.get_role_display() for r in roles))
        entries.append(DirectoryEntry(user.full_name or user.username, title, mailboxes.get(user.pk, "")))
    entries.sort(key=lambda e: addresses.fold(e.name.split()[-1] if e.name.split() else "") + addresses.fold(e.name))
    functional = Mailbox.objects.filter(agency_id=agency_id, kind="functional", state=MailboxState.ACTIVE)
    entries += [DirectoryEntry(m.display_name, "", m.address, True) for m in functional.order_by("address")]
    return entries


def directory_search(*, query: str, limit: int = SEARCH_CAP) -> list[Mailbox]:
    """Active mailboxes whose holder's name or address holds ``query``, diacritics and case
    ignored ("duc" finds Nguyễn Văn Đức), with their agency (one query)."""
    wanted = addresses.fold(query).strip()
    if len(wanted) < 2:
        return []
    qs = Mailbox.objects.filter(state=MailboxState.ACTIVE).filter(
        Q(search_name__contains=wanted) | Q(address__icontains=wanted)
    )
    return list(qs.select_related("agency").order_by("search_name", "address")[:limit])


# --- the plan's target ----------------------------------------------------------------------------


def mailbox_coverage_by_level(*, day: dt.date | None = None) -> dict[str, dict[str, int]]:
    """Active officials (an active account holding a role in force today) and those among them
    with an active city mailbox, per level of the agencies they hold roles in, and for the city
    (``"all"``: each official once). An official with roles at two levels counts at each.

    Counted in two grouped queries over the agencies (``core.selectors.agency_list``) and their
    role assignments: a selector of identity returning (official, agency) pairs would keep this
    inside identity's boundary; until there is one, this joins its tables for counts only."""
    day = day or timezone.localdate()
    holds = (
        Q(role_assignments__user__is_active=True, role_assignments__user__kind="official")
        & ~Q(role_assignments__valid_from__gt=day)
        & ~Q(role_assignments__valid_to__lt=day)
    )
    mailbox = Q(role_assignments__user__city_mailboxes__state=MailboxState.ACTIVE)
    officials = Count("role_assignments__user", filter=holds, distinct=True)
    with_mailbox = Count("role_assignments__user", filter=holds & mailbox, distinct=True)
    qs = core.agency_list()
    rows = qs.values("level").order_by("level").annotate(officials=officials, with_mailbox=with_mailbox)
    out = {level: {"officials": 0, "with_mailbox": 0} for level in LEVELS}
    for r in rows:
        out[r["level"]] = {"officials": int(r["officials"]), "with_mailbox": int(r["with_mailbox"])}
    total = qs.aggregate(officials=officials, with_mailbox=with_mailbox)
    out["all"] = {"officials": int(total["officials"] or 0), "with_mailbox": int(total["with_mailbox"] or 0)}
    return out
