"""Changes to the data sharing platform's registry: members join, their information systems are
connected with an OAuth2 client, publish services, and providers grant and revoke access rights.
Each change is audited (actor, before, after) in its transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from hcmgov.audit.services import audit_record
from hcmgov.common.errors import DomainError, Message
from hcmgov.exchange.models import (
    AccessRight,
    InformationSystem,
    Member,
    MemberKind,
    Peer,
    Service,
    ServiceKind,
    SystemState,
)
from hcmgov.exchange.selectors import CODE_PATTERN


def _code(code: str) -> str:
    if not CODE_PATTERN.match(code or ""):
        raise DomainError(
            "exchange_bad_code",
            Message(
                f"Mã «{code}» không hợp lệ: chỉ gồm chữ, số, '.', '-', '_' (tối đa 64 ký tự).",
                f"Code {code!r} is not valid: letters, digits, '.', '-', '_' only (at most 64).",
            ),
        )
    return code


@transaction.atomic
def member_register(
    *,
    code: str,
    name: str,
    name_en: str,
    kind: str = MemberKind.CITY,
    agency_id: int | None = None,
    peer: Peer | None = None,
) -> Member:
    member, created = Member.objects.update_or_create(
        code=_code(code),
        defaults={"name": name, "name_en": name_en, "kind": kind, "agency_id": agency_id, "peer": peer},
    )
    audit_record(action="exchange.member_register", obj=member, after={"code": code, "created": created})
    return member


@transaction.atomic
def peer_register(
    *, code: str, name: str, gateway_url: str, token_url: str, client_id: str, client_secret: str, scope: str = ""
) -> Peer:
    peer, _ = Peer.objects.update_or_create(
        code=_code(code),
        defaults={
            "name": name,
            "gateway_url": gateway_url,
            "token_url": token_url,
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        },
    )
    audit_record(action="exchange.peer_register", obj=peer, after={"code": code, "gateway_url": gateway_url})
    return peer


@transaction.atomic
def system_connect(
    *,
    member: Member,
    code: str,
    name: str,
    name_en: str,
    client_id: str = "",
    rate_per_second: int = 50,
    burst: int = 100,
    daily_quota: int = 0,
    contact_email: str = "",
    certificate_pem: str = "",
) -> InformationSystem:
    """Register (or update) a member's information system as connected to the platform. With
    ``certificate_pem`` (its TLS client certificate) its calls must also present that certificate
    (mutual TLS, RFC 8705's binding by thumbprint)."""
    thumbprint = certificate_thumbprint(certificate_pem) if certificate_pem.strip() else ""
    system, _ = InformationSystem.objects.update_or_create(
        member=member,
        code=_code(code),
        defaults={
            "name": name,
            "name_en": name_en,
            "client_id": client_id,
            "rate_per_second": rate_per_second,
            "burst": burst,
            "daily_quota": daily_quota,
            "contact_email": contact_email,
            "certificate_sha256": thumbprint,
            "state": SystemState.CONNECTED,
        },
    )
    if system.connected_at is None:
        system.connected_at = timezone.now()
        system.save(update_fields=["connected_at"])
    audit_record(
        action="exchange.system_connect",
        obj=system,
        after={"code": code, "client_id": client_id, "certificate_sha256": thumbprint},
    )
    return system


def certificate_thumbprint(pem: str) -> str:
    """SHA-256 (hex) of a PEM certificate's DER encoding, as RFC 8705 binds a client to it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        certificate = x509.load_pem_x509_certificate(pem.strip().encode())
    except ValueError:
        raise DomainError(
            "exchange_bad_certificate",
            Message("Chứng thư số không đọc được (cần PEM).", "The certificate cannot be read (PEM expected)."),
        ) from None
    return certificate.fingerprint(hashes.SHA256()).hex()


@transaction.atomic
def service_publish(
    *,
    system: InformationSystem,
    code: str,
    name: str,
    name_en: str,
    upstream_url: str = "",
    kind: str = ServiceKind.REST,
    openapi: dict[str, Any] | None = None,
    timeout_seconds: float = 30.0,
    max_body_bytes: int = 10 * 1024 * 1024,
    retries: int = 2,
    log_bodies: bool = False,
) -> Service:
    if kind == ServiceKind.REST and not upstream_url and system.member.peer_id is None:
        raise DomainError(
            "exchange_no_upstream",
            Message("Dịch vụ REST cần địa chỉ của hệ thống cung cấp.", "A REST service needs the provider's URL."),
        )
    service, _ = Service.objects.update_or_create(
        system=system,
        code=_code(code),
        defaults={
            "name": name,
            "name_en": name_en,
            "kind": kind,
            "upstream_url": upstream_url,
            "openapi": openapi,
            "timeout_seconds": timeout_seconds,
            "max_body_bytes": max_body_bytes,
            "retries": retries,
            "log_bodies": log_bodies,
            "active": True,
        },
    )
    audit_record(action="exchange.service_publish", obj=service, after={"code": code, "upstream_url": upstream_url})
    return service


@transaction.atomic
def right_grant(
    *, service: Service, consumer: InformationSystem, methods: str = "", path_prefix: str = "", granted_by: str = ""
) -> AccessRight:
    """The providing organisation lets ``consumer`` call ``service`` (all of it, or only
    ``methods`` on paths under ``path_prefix``)."""
    methods = ",".join(sorted({m.strip().upper() for m in methods.split(",") if m.strip()}))
    if path_prefix and not path_prefix.startswith("/"):
        path_prefix = "/" + path_prefix
    right = AccessRight.objects.create(
        service=service, consumer=consumer, methods=methods, path_prefix=path_prefix, granted_by=granted_by
    )
    audit_record(
        action="exchange.right_grant",
        obj=right,
        after={"service": str(service), "consumer": str(consumer), "methods": methods, "path_prefix": path_prefix},
    )
    return right


@transaction.atomic
def right_revoke(*, right: AccessRight) -> AccessRight:
    if right.revoked_at is None:
        right.revoked_at = timezone.now()
        right.save(update_fields=["revoked_at"])
        audit_record(action="exchange.right_revoke", obj=right, after={"revoked_at": right.revoked_at.isoformat()})
    return right
