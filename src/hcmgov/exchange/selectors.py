"""Reads of the data sharing platform's registry: the snapshot the gateway routes by, what a caller
may see of it (X-Road's listMethods / allowedMethods / getOpenAPI), and the figures operations and
the plan's dashboard need."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from hcmgov.exchange.models import (
    AccessRight,
    InformationSystem,
    MessageLogRecord,
    PortalPush,
    PortalPushState,
    Service,
    ServiceKind,
    SystemState,
)

CODE_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class PeerEntry:
    code: str
    gateway_url: str
    token_url: str
    client_id: str
    client_secret: str
    scope: str


@dataclass(frozen=True)
class ServiceEntry:
    """A REST service as the gateway routes to it: ``path`` is ``member/system/service``."""

    id: int
    path: str
    upstream: str  # base URL; the caller's rest of the path and query are appended unchanged
    timeout: float
    max_body: int
    retries: int
    log_bodies: bool
    peer: PeerEntry | None = None


@dataclass(frozen=True)
class Consumer:
    """An information system calling through the gateway, as its OAuth2 client."""

    id: int
    client_id: str
    name: str  # member/system
    rate: int
    burst: int
    daily_quota: int
    certificate_sha256: str = ""  # bound to this TLS client certificate (RFC 8705): the edge checks it


@dataclass(frozen=True)
class Right:
    methods: frozenset[str]  # empty: every method
    path_prefix: str  # empty: every path

    def allows(self, method: str, path: str) -> bool:
        return (not self.methods or method in self.methods) and path.startswith(self.path_prefix)


@dataclass(frozen=True)
class Snapshot:
    """Everything the gateway needs to route and authorise a call, read at once (then refreshed
    every few seconds): no database read on the path of a call."""

    services: dict[str, ServiceEntry] = field(default_factory=dict)
    consumers: dict[str, Consumer] = field(default_factory=dict)
    rights: dict[tuple[int, int], tuple[Right, ...]] = field(default_factory=dict)
    read_at: float = 0.0

    def allowed(self, consumer: Consumer, service: ServiceEntry, method: str, path: str) -> bool:
        return any(r.allows(method, path) for r in self.rights.get((consumer.id, service.id), ()))


def service_path(service: Service) -> str:
    system = service.system
    return f"{system.member.code}/{system.code}/{service.code}"


def registry_snapshot(*, now: float = 0.0) -> Snapshot:
    """The active REST services (of active members and systems not suspended), the systems that
    have a client, and the unrevoked rights among them."""
    services: dict[str, ServiceEntry] = {}
    rows = (
        Service.objects.select_related("system__member__peer")
        .filter(kind=ServiceKind.REST, active=True, system__member__active=True)
        .exclude(system__state=SystemState.SUSPENDED)
    )
    for s in rows:
        member = s.system.member
        path = service_path(s)
        peer = member.peer if member.peer_id and member.peer and member.peer.active else None
        if peer is not None:
            upstream = f"{peer.gateway_url.rstrip('/')}/{path}"
            entry_peer: PeerEntry | None = PeerEntry(
                peer.code, peer.gateway_url, peer.token_url, peer.client_id, peer.client_secret, peer.scope
            )
        elif s.upstream_url:
            upstream, entry_peer = s.upstream_url.rstrip("/"), None
        else:
            continue  # nowhere to send it
        services[path] = ServiceEntry(
            s.pk, path, upstream, s.timeout_seconds, s.max_body_bytes, s.retries, s.log_bodies, entry_peer
        )
    consumers = {
        system.client_id: Consumer(
            system.pk,
            system.client_id,
            f"{system.member.code}/{system.code}",
            system.rate_per_second,
            system.burst,
            system.daily_quota,
            system.certificate_sha256,
        )
        for system in InformationSystem.objects.select_related("member")
        .filter(member__active=True, state=SystemState.CONNECTED)
        .exclude(client_id="")
    }
    rights: dict[tuple[int, int], tuple[Right, ...]] = {}
    for consumer_id, service_id, methods, prefix in AccessRight.objects.filter(revoked_at__isnull=True).values_list(
        "consumer_id", "service_id", "methods", "path_prefix"
    ):
        right = Right(frozenset(m.strip().upper() for m in methods.split(",") if m.strip()), prefix)
        rights[(consumer_id, service_id)] = (*rights.get((consumer_id, service_id), ()), right)
    return Snapshot(services, consumers, rights, now)


# --- metadata (X-Road's listMethods, allowedMethods, getOpenAPI) ----------------------------------


def _service_row(s: Service) -> dict[str, Any]:
    return {
        "id": service_path(s),
        "member": s.system.member.code,
        "system": s.system.code,
        "service": s.code,
        "kind": s.kind,
        "name": s.name,
        "name_en": s.name_en,
        "openapi": bool(s.openapi),
    }


def _published() -> Any:
    return (
        Service.objects.select_related("system__member")
        .filter(active=True, system__member__active=True)
        .exclude(system__state=SystemState.SUSPENDED)
    )


def services_offered(*, member: str = "") -> list[dict[str, Any]]:
    """Every service published on the platform (or by one member)."""
    rows = _published()
    if member:
        rows = rows.filter(system__member__code=member)
    return [_service_row(s) for s in rows]


def services_allowed(*, consumer_id: int) -> list[dict[str, Any]]:
    """The services the consumer holds an unrevoked right on, with the methods and paths allowed."""
    rights: dict[int, list[dict[str, str]]] = {}
    for service_id, methods, prefix in AccessRight.objects.filter(
        consumer_id=consumer_id, revoked_at__isnull=True
    ).values_list("service_id", "methods", "path_prefix"):
        rights.setdefault(service_id, []).append({"methods": methods or "*", "path_prefix": prefix or "/"})
    return [{**_service_row(s), "rights": rights[s.pk]} for s in _published().filter(pk__in=rights)]


def service_openapi(*, path: str) -> dict[str, Any] | None:
    """A published service's OpenAPI document (None: no such service, or none published)."""
    member, system, code = path.split("/", 2)
    s = _published().filter(system__member__code=member, system__code=system, code=code).first()
    return s.openapi if s is not None else None


# --- operations and the dashboard ------------------------------------------------------------------


def system_client_id(*, code: str) -> str:
    """The machine client of the information system ``code`` (``member/system`` or just the
    system's code, when one member has it), or "" when none is registered with a client."""
    member, _, system = code.rpartition("/")
    qs = InformationSystem.objects.filter(code=system).exclude(client_id="")
    if member:
        qs = qs.filter(member__code=member)
    return qs.values_list("client_id", flat=True).order_by("id").first() or ""


def systems_connected_count() -> int:
    """Information systems connected to the platform (the plan's target: 60 %)."""
    return InformationSystem.objects.filter(state=SystemState.CONNECTED, member__active=True).count()


def systems_count() -> dict[str, int]:
    counts = dict(InformationSystem.objects.values_list("state").annotate(n=Count("id")))
    return {state: counts.get(state, 0) for state in SystemState.values}


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def service_calls(*, since: dt.datetime | None = None, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per service since ``since`` (default: the last 24 hours): calls, errors (refusals and
    provider failures: status ≥ 400 or an error code), and latency percentiles."""
    now = now or timezone.now()
    since = since or now - dt.timedelta(hours=24)
    rows = MessageLogRecord.objects.filter(at__gte=since, at__lte=now)
    out = []
    for entry in (
        rows.values("service")
        .annotate(calls=Count("id"), errors=Count("id", filter=Q(status__gte=400) | ~Q(error="")))
        .order_by("service")
    ):
        durations = sorted(rows.filter(service=entry["service"]).values_list("duration_ms", flat=True))
        out.append(
            {
                **entry,
                "p50_ms": round(_percentile(durations, 0.5), 1),
                "p95_ms": round(_percentile(durations, 0.95), 1),
                "p99_ms": round(_percentile(durations, 0.99), 1),
            }
        )
    return out


# --- the analytics warehouse's extract (hcmgov.warehouse): gateway traffic per service and hour -----
# Counts and latencies only: no path, end user, client or body leaves the message log this way.

WAREHOUSE_TRAFFIC_COLUMNS = ("hour", "service", "calls", "errors", "duration_ms_sum", "duration_ms_max", "bytes_in",
                             "bytes_out")  # fmt: skip


def warehouse_traffic_months(*, since: dt.datetime | None = None) -> set[tuple[int, int]]:
    """(year, month), city time, of the gateway calls logged at or after ``since`` (all without it)."""
    from django.db.models.functions import TruncMonth

    qs = MessageLogRecord.objects.all() if since is None else MessageLogRecord.objects.filter(at__gte=since)
    tz = timezone.get_default_timezone()
    months = qs.annotate(m=TruncMonth("at", tzinfo=tz)).values_list("m", flat=True).order_by().distinct()
    return {(m.year, m.month) for m in months}


def warehouse_traffic_rows(
    *, start: dt.datetime, end: dt.datetime, chunk_size: int = 5000
) -> Iterator[tuple[Any, ...]]:
    """Calls through the gateway in [start, end) per hour and service, as tuples of
    ``WAREHOUSE_TRAFFIC_COLUMNS``; errors as ``service_calls`` counts them (status ≥ 400 or an error code)."""
    from django.db.models import Max, Sum
    from django.db.models.functions import TruncHour

    qs = (
        MessageLogRecord.objects.filter(at__gte=start, at__lt=end)
        .annotate(hour=TruncHour("at", tzinfo=dt.UTC))
        .values("hour", "service")
        .annotate(
            calls=Count("id"),
            errors=Count("id", filter=Q(status__gte=400) | ~Q(error="")),
            duration_ms_sum=Sum("duration_ms"),
            duration_ms_max=Max("duration_ms"),
            bytes_in=Sum("request_bytes"),
            bytes_out=Sum("response_bytes"),
        )
        .order_by("hour", "service")
    )
    return qs.values_list(*WAREHOUSE_TRAFFIC_COLUMNS).iterator(chunk_size=chunk_size)


def warehouse_portal_synced(*, codes: list[str]) -> dict[str, bool]:
    """For the analytics warehouse (Decision 766/QĐ-TTg, 1.4): whether the National Public Service
    Portal holds each of the dossiers ``codes`` — at least one of its status changes delivered."""
    sent = set(
        PortalPush.objects.filter(dossier_code__in=codes, state=PortalPushState.SENT)
        .values_list("dossier_code", flat=True)
        .distinct()
    )
    return {code: code in sent for code in codes}


def warehouse_portal_changed(*, since: dt.datetime) -> set[str]:
    """The codes of the dossiers a status change of which was delivered to the portal at or after ``since``."""
    return set(PortalPush.objects.filter(sent_at__gte=since).values_list("dossier_code", flat=True).distinct())


def machine_account_agency(*, account: Any) -> int | None:
    """The city agency an information system calls for: the agency of the member whose active
    system a machine client's service account is (client credentials), or None (a person, a system
    of no agency, a suspended one)."""
    if not getattr(account, "oauth_client_credentials", False):
        return None
    from hcmgov.identity.provider.services import machine_client_ids

    agency: int | None = (
        InformationSystem.objects.filter(
            client_id__in=machine_client_ids(account_id=account.pk), state=SystemState.CONNECTED, member__active=True
        )
        .exclude(client_id="")
        .values_list("member__agency_id", flat=True)
        .order_by("id")
        .first()
    )
    return agency
