"""Writes and token checks of the city's OpenID provider: registering clients, the API's check of
DOT access tokens (kept per process like personal tokens), revoking what a reused code produced,
and security events for refused tokens.

Kept apart from ``identity.services`` (accounts, roles, personal tokens) so the provider's
dependency on DOT stays in this package; other apps call these like any app's services.
"""

from __future__ import annotations

import collections
import datetime
import logging
import secrets
import threading
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from hcmgov.audit.services import audit_record, audited
from hcmgov.common import tokencache
from hcmgov.identity import services as identity
from hcmgov.identity.models import User, UserKind
from hcmgov.identity.provider.scopes import API_SCOPE, EXCHANGE_SCOPE

log = logging.getLogger(__name__)

Application = get_application_model()
CLIENT_FIELDS = ("name", "client_id", "client_type", "authorization_grant_type", "user", "skip_authorization")


# --- clients -------------------------------------------------------------------------------------


@audited("oauth.client_register", fields=CLIENT_FIELDS)
def oidc_client_register(
    *,
    name: str,
    redirect_uris: list[str],
    confidential: bool = True,
    trusted: bool = False,
    post_logout_redirect_uris: list[str] | None = None,
) -> Any:
    """Register a relying party that logs people in (authorization code, ID tokens signed RS256).

    ``trusted``: a city system whose users need not consent (``skip_authorization``). The raw
    secret of a confidential client is returned once, as ``application.raw_secret``."""
    secret = generate_client_secret() if confidential else ""
    application = Application(
        name=name,
        client_type=Application.CLIENT_CONFIDENTIAL if confidential else Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        client_secret=secret,
        skip_authorization=trusted,
        algorithm=Application.RS256_ALGORITHM,
    )
    application.save()
    application.raw_secret = secret
    return application


@audited("oauth.machine_client_register", fields=CLIENT_FIELDS)
def machine_client_register(*, name: str, agency_id: int, roles: tuple[str, ...] = ("specialist",)) -> Any:
    """Register an agency's information system as a machine client of the API.

    The client (client credentials, confidential) is bound to a new *service account*: a user of
    kind official without a usable password (it never logs in), holding ``roles`` in the agency.
    Its tokens act as that account, so the API's rules for officials apply unchanged. The raw
    secret is returned once, as ``application.raw_secret``."""
    account = identity.user_create(
        username=f"svc-{uuid.uuid4().hex[:12]}", password=None, kind=UserKind.OFFICIAL, full_name=name[:150]
    )
    for role in roles:
        identity.role_assign(user=account, role=role, agency_id=agency_id)
    secret = generate_client_secret()
    application = Application(
        name=name,
        user=account,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    application.save()
    application.raw_secret = secret
    return application


def machine_token_issue(*, client_id: str, scope: str = EXCHANGE_SCOPE, seconds: int = 3600) -> tuple[str, float]:
    """An access token for one of the platform's own machine clients, issued in process (the
    platform's components trust its provider as they trust its database): what the token endpoint
    gives the client for client credentials, without the client's secret crossing the network.
    Returns ``(token, expires)`` (epoch seconds); ``LookupError`` for an unknown or inactive client."""
    application = (
        get_application_model()
        .objects.select_related("user")
        .filter(client_id=client_id, authorization_grant_type="client-credentials")
        .first()
    )
    if application is None or application.user is None or not application.user.is_active:
        raise LookupError(f"no active machine client {client_id!r}")
    expires = timezone.now() + datetime.timedelta(seconds=seconds)
    raw = secrets.token_urlsafe(32)
    get_access_token_model().objects.create(application=application, user=None, token=raw, scope=scope, expires=expires)
    return raw, expires.timestamp()


# --- the API's check of DOT access tokens ---------------------------------------------------------

# Same bound as personal tokens (identity.services.TOKEN_CACHE_SECONDS, hcmgov.common.tokencache): a
# token revoked, or an account deactivated, is refused within that many seconds in every process;
# never past the token's own expiry. Tokens restricted to a resource (RFC 8707) are checked on
# every request.
oauth_tokens = tokencache.TokenCache("oauth", clock=lambda: identity._clock())


def oauth_token_user(*, raw: str, url: str) -> tuple[User | None, str]:
    """The account a DOT access token acts as on the API at ``url``, or None and why not.

    A token acts as the person who consented (authorization code) or, from client credentials,
    as the machine client's service account (the user then has ``oauth_client_credentials`` set:
    the audit trail records the method). It must carry the scope ``hcmgov.api``, be unexpired,
    and, when it names resources (RFC 8707), name this API."""
    checksum = identity.token_digest(raw)  # DOT's token_checksum: the SHA-256 of the token
    kept = oauth_tokens.get(checksum)
    if kept is None:
        token = (
            get_access_token_model()
            .objects.select_related("user", "application__user")
            .filter(token_checksum=checksum)
            .first()
        )
        user, reason = _token_account(token, url)
        if user is None:
            return None, reason
        machine = token.user is None
        if token.resource:
            user.oauth_client_credentials = machine  # type: ignore[attr-defined]
            return user, ""
        left = (token.expires - timezone.now()).total_seconds()
        kept = (*(getattr(user, c) for c in _columns()), machine)
        oauth_tokens.put(checksum, kept, min(identity.TOKEN_CACHE_SECONDS, left))
    *row, machine = kept
    user = User.from_db(User.objects.db, _columns(), row)
    user.oauth_client_credentials = machine  # type: ignore[attr-defined]
    return user, ""


def _token_account(token: Any, url: str) -> tuple[User | None, str]:
    if token is None:
        return None, "unknown"
    if token.is_expired():
        return None, "expired"
    if API_SCOPE not in token.scope.split():
        return None, "scope"
    if not token.allows_audience(url):
        return None, "audience"
    if token.user is not None:
        user = token.user
    else:  # client credentials: the machine client's service account
        user = token.application.user if token.application else None
        if user is None or user.kind != UserKind.OFFICIAL:
            return None, "unbound"
    if not user.is_active:
        return None, "inactive"
    return user, ""


def machine_client_ids(*, account_id: int) -> Any:
    """The client ids of the client-credentials applications a service account stands for (a
    subquery: other apps filter their own rows by it)."""
    application = get_application_model()
    return application.objects.filter(
        user_id=account_id, authorization_grant_type=application.GRANT_CLIENT_CREDENTIALS
    ).values("client_id")


def oauth_client_token(*, raw: str) -> tuple[str, float] | tuple[None, str]:
    """The OAuth2 client a gateway caller's access token was issued to, by client credentials with
    the scope ``hcmgov.exchange``: ``(client_id, expires)`` (epoch seconds), or ``(None, why not)``.
    Read once per token and process by the gateway, which keeps the answer until the earlier of
    ``TOKEN_CACHE_SECONDS`` and the token's expiry."""
    token = (
        get_access_token_model()
        .objects.select_related("application", "application__user")
        .filter(token_checksum=identity.token_digest(raw))
        .first()
    )
    if token is None:
        return None, "unknown"
    if token.is_expired():
        return None, "expired"
    if EXCHANGE_SCOPE not in token.scope.split():
        return None, "scope"
    application = token.application
    if token.user is not None or application is None or application.user is None or not application.user.is_active:
        return None, "unbound"  # a person's token, or a client without an active service account
    return application.client_id, token.expires.timestamp()


def oauth_token_cache_clear() -> None:
    oauth_tokens.clear()


def _columns() -> list[str]:
    return identity._user_columns()


# --- security events ------------------------------------------------------------------------------

REFUSALS_RECORDED_PER_MINUTE = 120
"""Refused tokens recorded as audit events per process and minute; past it, only logged: a flood of
forged tokens must not become a flood of writes."""
_refusals: collections.deque[float] = collections.deque()
_refusals_lock = threading.Lock()


def bearer_refusal_record(*, raw: str, kind: str, reason: str) -> None:
    """Record a refused bearer token as a security event (``security.token_refused``): which kind
    of token, why, and the first 16 hex digits of its SHA-256 (to link attempts; the token
    itself is never stored). The caller's answer does not depend on it."""
    now = identity._clock()
    with _refusals_lock:
        while _refusals and _refusals[0] <= now - 60:
            _refusals.popleft()
        if len(_refusals) >= REFUSALS_RECORDED_PER_MINUTE:
            log.warning("bearer token refused (not recorded: limit reached)", extra={"reason": reason})
            return
        _refusals.append(now)
    audit_record(
        action="security.token_refused",
        obj=None,
        object_type="identity.bearer_token",
        object_id=identity.token_digest(raw)[:16],
        after={"kind": kind, "reason": reason},
    )


def oauth_code_reuse_revoke(*, family: uuid.UUID, application: Any) -> bool:
    """An authorization code was presented again: revoke every token issued from it (the refresh
    tokens of its family and their access tokens) and record the security event. False when the
    code never produced tokens (an unknown or expired code: nothing to do)."""
    refresh_tokens = get_refresh_token_model()
    if not refresh_tokens.objects.filter(token_family=family).exists():
        return False
    with transaction.atomic():
        refresh_tokens.revoke_family(family)
        audit_record(action="security.code_reused", obj=application, after={"token_family": str(family)})
    log.warning("authorization code reused: its tokens are revoked", extra={"client_id": application.client_id})
    return True
