"""Writes of the city e-mail: open (provision), suspend and close mailboxes.

Provisioning (:func:`mailboxes_provision`, ``hcmgov citymail provision``) gives every active
official an address on the city's domain (setting ``CITYMAIL_DOMAIN``) and keeps the directory's
copy of their name, agency and roles up to date. It is idempotent: an official who has an open
mailbox keeps it (a name change does not change an address people already write to), and running
it twice opens nothing the second time. Each mailbox opened, suspended or closed is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.citymail import addresses
from hcmgov.citymail.models import Mailbox, MailboxKind, MailboxState
from hcmgov.common.errors import DomainError, Message
from hcmgov.core import selectors as core
from hcmgov.identity import selectors as identity

ROLE_NAMES = dict(identity.role_choices())
MAILBOX_FIELDS = ("address", "state", "agency_id", "display_name", "title")


def refuse(code: str, vi: str, en: str, status: int = 409) -> DomainError:
    return DomainError(code, Message(vi, en), status)


def domain() -> str:
    """The city's mail domain, lower-case (setting ``CITYMAIL_DOMAIN``)."""
    value = str(settings.CITYMAIL_DOMAIN).strip().lstrip("@").lower()
    if not addresses.is_valid_domain(value):
        raise refuse("domain_invalid", "Tên miền thư không hợp lệ.", f"Invalid mail domain {value!r}.", 500)
    return value


def _taken_like(name: str, at: str) -> set[str]:
    """The local parts already issued on ``at`` that the name's candidates could clash with
    (those starting with its base), lower-case: one query, however common the name."""
    prefix = addresses.local_part_base(name)[: addresses.MAX_LOCAL - 6]
    rows = Mailbox.objects.filter(address__istartswith=prefix, address__iendswith="@" + at)
    return {a.rpartition("@")[0].lower() for a in rows.values_list("address", flat=True)}


def _title(roles: list[tuple[str, str, str]], agency_code: str) -> str:
    """The official's roles in their agency, by name ("Văn thư trả kết quả, Chuyên viên xử lý")."""
    names = [ROLE_NAMES.get(role, role) for code, role, _ in roles if code == agency_code]
    return ", ".join(dict.fromkeys(names))[:300]


@audited("citymail.mailbox_open")
def mailbox_open_for_official(
    *, official: Any, agency: Any = None, title: str = "", now: dt.datetime | None = None
) -> Mailbox:
    """Open the official's personal mailbox (the address from their name, see ``addresses``), or
    return the one they have open. Only an active account of kind official gets one."""
    if getattr(official, "kind", "") != "official" or not official.is_active:
        raise refuse(
            "not_an_official",
            "Chỉ cán bộ đang hoạt động có hộp thư công vụ.",
            "Only active officials get a city mailbox.",
            422,
        )
    existing = Mailbox.objects.filter(owner=official).exclude(state=MailboxState.CLOSED).first()
    if existing is not None:
        existing._audit_skip = True  # type: ignore[attr-defined]
        return existing
    at = domain()
    name = official.full_name or official.username
    for _ in range(5):  # two runs at once may pick the same free address: the unique index decides
        local = addresses.local_parts_for([name], taken=_taken_like(name, at))[0]
        try:
            with transaction.atomic():
                return Mailbox.objects.create(
                    address=f"{local}@{at}",
                    kind=MailboxKind.PERSONAL,
                    owner=official,
                    agency=agency,
                    display_name=name[:200],
                    search_name=addresses.fold(name)[:200],
                    title=title,
                    created_at=now or timezone.now(),
                )
        except IntegrityError:
            existing = Mailbox.objects.filter(owner=official).exclude(state=MailboxState.CLOSED).first()
            if existing is not None:  # the other run opened this official's mailbox
                existing._audit_skip = True  # type: ignore[attr-defined]
                return existing
    raise refuse("address_busy", "Không cấp được địa chỉ thư, thử lại.", "No free address found; try again.", 503)


@audited("citymail.mailbox_open")
def mailbox_open_functional(*, agency: Any, local_part: str, name: str, now: dt.datetime | None = None) -> Mailbox:
    """Open an agency's functional mailbox (``vanthu.snv``: the clerical office of a department),
    with the local part the agency chose; an address already taken, even closed, is refused."""
    local = local_part.strip().lower()
    if not addresses.is_valid_local_part(local):
        raise refuse("address_invalid", "Địa chỉ thư không hợp lệ.", "Invalid mailbox address.", 422)
    address = f"{local}@{domain()}"
    try:
        with transaction.atomic():
            return Mailbox.objects.create(
                address=address,
                kind=MailboxKind.FUNCTIONAL,
                agency=agency,
                display_name=name[:200],
                search_name=addresses.fold(name)[:200],
                created_at=now or timezone.now(),
            )
    except IntegrityError:
        raise refuse("address_taken", "Địa chỉ thư đã được dùng.", "The address is taken.") from None


@audited("citymail.mailbox_state", target="mailbox", fields=("state",))
def mailbox_state_set(*, mailbox: Mailbox, state: str, now: dt.datetime | None = None) -> Mailbox:
    """Suspend, reactivate or close a mailbox. Closed is final: its address stays reserved."""
    now = now or timezone.now()
    locked = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    if locked.state == state:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    if locked.state == MailboxState.CLOSED:
        raise refuse("mailbox_closed", "Hộp thư đã đóng.", "The mailbox is closed.")
    if state == MailboxState.SUSPENDED:
        locked.suspended_at = now
    elif state == MailboxState.CLOSED:
        locked.closed_at = now
    elif state == MailboxState.ACTIVE:
        locked.suspended_at = None
    else:
        raise refuse("state_unknown", "Trạng thái không hợp lệ.", "Unknown state.", 422)
    locked.state = state
    locked.save(update_fields=["state", "suspended_at", "closed_at"])
    return locked


@dataclass
class ProvisionResult:
    """What one provisioning run did (counts, and the addresses opened)."""

    opened: list[str] = field(default_factory=list)
    kept: int = 0
    updated: int = 0
    suspended: list[str] = field(default_factory=list)


def mailboxes_provision(*, now: dt.datetime | None = None, close_departed: bool = True) -> ProvisionResult:
    """Give every active official a mailbox and refresh the directory's copy of each (name,
    agency, roles). With ``close_departed``, the open mailbox of an account that is no longer an
    active official is suspended — not closed: the city's mail office decides when to close
    (mail may still arrive for a while; the address stays reserved either way).

    Reads each official's roles (one query each): a batch run, not a request."""
    now = now or timezone.now()
    result = ProvisionResult()
    officials = [u for u in identity.users_of_kind(kind="official") if u.is_active]
    agencies = {a.code: a for a in core.agency_list()}
    for official in officials:
        roles = identity.user_current_roles(user=official)
        agency = agencies.get(roles[0][0]) if roles else None
        title = _title(roles, agency.code) if agency else ""
        mailbox = Mailbox.objects.filter(owner=official).exclude(state=MailboxState.CLOSED).first()
        if mailbox is None:
            opened = mailbox_open_for_official(official=official, agency=agency, title=title, now=now)
            result.opened.append(opened.address)
            continue
        name = official.full_name or official.username
        wanted = {"agency_id": agency.pk if agency else None, "display_name": name[:200], "title": title,
                  "search_name": addresses.fold(name)[:200]}  # fmt: skip
        if any(getattr(mailbox, k) != v for k, v in wanted.items()):
            Mailbox.objects.filter(pk=mailbox.pk).update(**wanted)
            result.updated += 1
        else:
            result.kept += 1
    if close_departed:
        active_ids = {u.pk for u in officials}
        for mailbox in Mailbox.objects.filter(kind=MailboxKind.PERSONAL, state=MailboxState.ACTIVE).exclude(
            owner_id__in=active_ids
        ):
            mailbox_state_set(mailbox=mailbox, state=MailboxState.SUSPENDED, now=now)
            result.suspended.append(mailbox.address)
    return result
