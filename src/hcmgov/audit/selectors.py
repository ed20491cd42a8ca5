"""Reads of the audit trail."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from hcmgov.audit.models import AuditEvent
from hcmgov.common.context import NOT_AUTHENTICATED

# The transactions of the platform: the audit actions in which a person does public business
# (submits, supplements, withdraws) or an official acts on it (receives, decides, asks for more,
# stops, apologises). The share of these that were electronically authenticated is a figure of
# the city's plan (Issue 4); payments and digital signatures join this list when their issues
# bring their audited services.
TRANSACTION_ACTIONS: tuple[str, ...] = (
    "dossier.submit",
    "dossier.supplement",
    "dossier.withdraw",
    "dossier.act",
    "dossier.send_back",
    "dossier.request_supplement",
    "dossier.stop",
    "dossier.apologize",
)
UNRECORDED = "unrecorded"  # how ``by_method`` names events that recorded no method


def audit_events_for(*, object_type: str, object_id: str) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type, object_id=object_id).order_by("id")


@dataclass(frozen=True)
class AuthenticationShare:
    """How the transactions of a period were authenticated. A transaction is *electronically
    authenticated* when its actor is a user (not the system, not an anonymous visitor) who
    authenticated at assurance level 1 or more (``common.context``): events that recorded no
    method (older than the record) are not."""

    start: dt.date
    end: dt.date
    transactions: int = 0
    authenticated: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    by_level: dict[int, int] = field(default_factory=dict)
    by_action: dict[str, tuple[int, int]] = field(default_factory=dict)  # action → (transactions, authenticated)

    @property
    def share(self) -> float | None:
        """Authenticated transactions / all transactions, rounded to 4 places (None: no transaction)."""
        return round(self.authenticated / self.transactions, 4) if self.transactions else None


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def authenticated_transactions(
    *, start: dt.date, end: dt.date, agency_ids: list[int] | None = None
) -> AuthenticationShare:
    """The transactions (``TRANSACTION_ACTIONS``) from ``start`` to ``end`` inclusive (days in the
    city's time zone), of the agencies ``agency_ids`` (None: the whole city), counted by how their
    actor authenticated: by method and by assurance level. One grouped query."""
    qs = AuditEvent.objects.filter(
        action__in=TRANSACTION_ACTIONS,
        at__gte=_local_midnight(start),
        at__lt=_local_midnight(end + dt.timedelta(days=1)),
    )
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=agency_ids)
    rows = (
        qs.values("action", "auth_method", "assurance_level")
        .annotate(n=Count("id"), users=Count("id", filter=Q(actor_id__isnull=False)))
        .order_by()
    )
    methods: Counter[str] = Counter()
    levels: Counter[int] = Counter()
    actions: dict[str, list[int]] = {}
    total = authenticated = 0
    for row in rows:
        n = row["n"]
        ok = row["users"] if row["assurance_level"] > NOT_AUTHENTICATED else 0
        total += n
        authenticated += ok
        methods[row["auth_method"] or UNRECORDED] += n
        levels[row["assurance_level"]] += n
        counts = actions.setdefault(row["action"], [0, 0])
        counts[0] += n
        counts[1] += ok
    return AuthenticationShare(
        start=start,
        end=end,
        transactions=total,
        authenticated=authenticated,
        by_method=dict(sorted(methods.items())),
        by_level=dict(sorted(levels.items())),
        by_action={action: (n, ok) for action, (n, ok) in sorted(actions.items())},
    )
