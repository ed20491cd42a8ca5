"""Reads of identities and roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.common import context
from hcmgov.identity.models import (
    ApiToken,
    Consent,
    Representation,
    Role,
    RoleAssignment,
    User,
    UserKind,
    personal_id_index,
)


def _roles_in_force() -> Any:
    """Role assignments in force today (``valid_from``/``valid_to`` bound them; empty: open)."""
    today = timezone.localdate()
    return RoleAssignment.objects.exclude(valid_from__gt=today).exclude(valid_to__lt=today)


def user_agency_ids(*, user: Any, roles: set[str] | None = None) -> list[int]:
    """The agencies in which ``user`` holds one of ``roles`` (any role if None) today."""
    if not user.is_authenticated:
        return []
    qs = _roles_in_force().filter(user=user)
    if roles:
        qs = qs.filter(role__in=roles)
    return list(qs.values_list("agency_id", flat=True).distinct())


def user_has_role(*, user: Any, agency_id: int, roles: set[str], field: str | None = None) -> bool:
    """Whether ``user`` holds one of ``roles`` in the agency today; with ``field``, a role covering
    that procedure field (its own field, or blank: every field)."""
    qs = _roles_in_force().filter(user=user, agency_id=agency_id, role__in=roles)
    if field is not None:
        qs = qs.filter(field__in=["", field])
    return qs.exists()


def user_by_personal_id(*, personal_id: str) -> User | None:
    """The citizen's account with this personal identification number (CCCD), if they have one
    (found by its blind index: the number itself is encrypted)."""
    if not personal_id.strip():
        return None
    return User.objects.filter(personal_id_index=personal_id_index(personal_id)).first()


def user_by_id(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_by_username(*, username: str) -> User | None:
    return User.objects.filter(username=username).first()


def users_of_kind(*, kind: str) -> list[User]:
    return list(User.objects.filter(kind=kind).order_by("id"))


def users_with_role(*, agency_id: int, roles: set[str]) -> list[User]:
    """Officials holding one of ``roles`` in the agency (who to tell about its steps)."""
    held = _roles_in_force().filter(agency_id=agency_id, role__in=roles).values("user_id")
    return list(User.objects.filter(pk__in=held, is_active=True).order_by("id"))


def user_role_pairs(*, user: Any) -> list[tuple[int, str]]:
    """(agency id, role) for each role ``user`` holds today: the scope of their back-office queues."""
    if not user.is_authenticated:
        return []
    return list(_roles_in_force().filter(user=user).values_list("agency_id", "role").order_by("agency_id", "role"))


def user_current_roles(*, user: Any) -> list[tuple[str, str, str]]:
    """(agency code, role, procedure field) of each role ``user`` holds today: what the city's
    OpenID provider tells relying parties about an official (claims ``hcmgov_agencies``,
    ``hcmgov_roles``). Empty for anyone who is not an official."""
    if not user.is_authenticated or user.kind != UserKind.OFFICIAL:
        return []
    return list(
        _roles_in_force()
        .filter(user=user)
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


# --- who may see and act on what (deny by default) ------------------------------------------------


def user_represented_ids(*, user: Any) -> list[int]:
    """The business accounts ``user`` represents now (a representation in force: begun, and not
    ended or ending later), whose dossiers they see and act on besides their own."""
    if not user.is_authenticated or user.kind != UserKind.CITIZEN:
        return []
    cached = _per_request(user, "_represented_ids")
    if cached is not None:
        return cached
    now = timezone.now()
    ids = list(
        Representation.objects.filter(person=user, valid_from__lte=now)
        .filter(Q(valid_to=None) | Q(valid_to__gt=now))
        .values_list("business_id", flat=True)
        .order_by("business_id")
    )
    return _keep(user, "_represented_ids", ids)


def user_applicant_ids(*, user: Any) -> list[int]:
    """The applicants ``user`` may act as: themselves and the businesses they represent now.
    The one answer to "may this person see or act on this applicant's dossier"."""
    if not user.is_authenticated or user.kind not in {UserKind.CITIZEN, UserKind.BUSINESS}:
        return []
    return [user.pk, *user_represented_ids(user=user)]


def user_acts_for(*, user: Any, applicant_id: int) -> bool:
    """Whether ``user`` may act as the applicant ``applicant_id`` (see ``user_applicant_ids``)."""
    return applicant_id in user_applicant_ids(user=user)


@dataclass(frozen=True)
class RoleScope:
    """What one role assignment covers: a role in an agency, for the procedures of one field
    (``field`` blank: every field)."""

    agency_id: int
    role: str
    field: str


def user_role_scopes(*, user: Any) -> tuple[RoleScope, ...]:
    """The (agency, role, field) of each role ``user`` holds today. Read once per request: the
    back office's reads (visibility, queues, search, statistics) all ask."""
    if not user.is_authenticated or user.kind != UserKind.OFFICIAL:
        return ()
    cached = _per_request(user, "_role_scopes")
    if cached is not None:
        return cached
    rows = (
        _roles_in_force()
        .filter(user=user)
        .values_list("agency_id", "role", "field")
        .order_by("agency_id", "role", "field")
    )
    return _keep(user, "_role_scopes", tuple(RoleScope(a, r, f) for a, r, f in rows))


def fields_by_agency(
    scopes: tuple[RoleScope, ...], *, roles: set[str] | None = None
) -> dict[int, frozenset[str] | None]:
    """For each agency of ``scopes`` (where one of ``roles`` is held, any role if None): the
    procedure fields covered there, or None when a role there covers every field."""
    everything: set[int] = set()
    fields: dict[int, set[str]] = {}
    for s in scopes:
        if roles is None or s.role in roles:
            if s.field:
                fields.setdefault(s.agency_id, set()).add(s.field)
            else:
                everything.add(s.agency_id)
    out: dict[int, frozenset[str] | None] = {a: frozenset(f) for a, f in fields.items()}
    out.update(dict.fromkeys(everything))
    return out


def _per_request(user: Any, name: str) -> Any:
    """A value kept on the request's user object for this request only (none outside a request:
    tasks and tests read afresh)."""
    request_id = context.get_request_id()
    kept = getattr(user, name, None)
    if request_id and kept is not None and kept[0] == request_id:
        return kept[1]
    return None


def _keep(user: Any, name: str, value: Any) -> Any:
    request_id = context.get_request_id()
    if request_id:
        setattr(user, name, (request_id, value))
    return value


# --- consent to share one's data (identity.purposes) ---------------------------------------------


def consent_active(
    *, user: Any, purpose: str, recipient: str | None = None, category: str | None = None
) -> Consent | None:
    """The consent of ``user`` in force now for ``purpose`` (to ``recipient``, covering data
    ``category``, when given), or None: what any use of a person's data that rests on their consent
    asks first. A consent is in force from its grant until it expires or is withdrawn."""
    if not getattr(user, "is_authenticated", False):
        return None
    now = timezone.now()
    qs = Consent.objects.filter(subject=user, purpose=purpose, withdrawn_at__isnull=True, granted_at__lte=now).exclude(
        expires_at__lte=now
    )
    if recipient is not None:
        qs = qs.filter(recipient=recipient)
    for consent in qs.order_by("-granted_at", "-id"):
        if category is None or category in consent.data_categories:
            return consent
    return None


def consents_of(*, user: Any) -> list[Consent]:
    """Every consent ``user`` has given, in force or not (``Consent.in_force``), newest first."""
    return list(Consent.objects.filter(subject=user).order_by("-granted_at", "-id"))


def eid_account_counts() -> dict[str, dict[str, int]]:
    """Per kind of applicant account (citizen, business): accounts, and those that have logged in
    with the national e-ID (an ``eid_subject`` is recorded at the first such login) — counts only,
    for the plan's target "people and businesses logging in with e-ID" (reporting.targets)."""
    from django.db.models import Count

    rows = (
        User.objects.filter(kind__in=(UserKind.CITIZEN, UserKind.BUSINESS))
        .values("kind")
        .order_by("kind")
        .annotate(accounts=Count("id"), eid=Count("id", filter=Q(eid_subject__isnull=False)))
    )
    found = {r["kind"]: {"accounts": int(r["accounts"]), "eid": int(r["eid"])} for r in rows}
    return {kind: found.get(kind, {"accounts": 0, "eid": 0}) for kind in (UserKind.CITIZEN, UserKind.BUSINESS)}


def bearer_account_sql(*, personal: bool, digest: str) -> str:
    """SQL of a query giving ``(user id, kind, is_staff, machine)`` of the account a bearer token
    acts as, or no row — for a caller that must check the token in the same statement as its
    write (the NGSI-LD fast path, ``ngsi.fastpath``), with no per-process cache: a token revoked
    or expired, or an account deactivated, stops working at once. ``digest`` is the SQL expression
    of the token's SHA-256 (hex). The rules are those of ``services.api_token_user`` (personal
    ``hcm_…`` tokens: not revoked, account active) and ``provider.services.oauth_token_user`` (the
    city provider's access tokens: unexpired, scope ``hcmgov.api``, acting as the person or, from
    client credentials, as the machine client's official service account), narrowed to tokens that
    name no resource (RFC 8707): the audience check needs the request's URL, so a resource-bound
    token yields no row and the caller takes the ordinary path, which checks and answers it."""
    from oauth2_provider.models import get_access_token_model, get_application_model

    from hcmgov.identity.provider.scopes import API_SCOPE

    user, token = User._meta.db_table, ApiToken._meta.db_table
    if personal:  # table names from the models' metadata; the digest expression is the caller's
        return f"""SELECT u.id, u.kind, u.is_staff, false AS machine FROM {token} t JOIN {user} u ON u.id = t.user_id
WHERE t.digest = {digest} AND NOT t.revoked AND u.is_active"""  # noqa: S608
    access, app = get_access_token_model()._meta.db_table, get_application_model()._meta.db_table
    # a scope list split on single spaces: a token whose scopes are separated otherwise gets no row
    # here (the ordinary path then decides), never a row it should not get
    return f"""SELECT u.id, u.kind, u.is_staff, a.user_id IS NULL AS machine FROM {access} a
LEFT JOIN {app} p ON p.id = a.application_id
JOIN {user} u ON u.id = coalesce(a.user_id, p.user_id)
WHERE a.token_checksum = {digest} AND a.expires > now() AND position(' {API_SCOPE} ' in ' ' || a.scope || ' ') > 0
  AND coalesce(a.resource::text, '[]') IN ('[]', '', 'null') AND u.is_active
  AND (a.user_id IS NOT NULL OR u.kind = '{UserKind.OFFICIAL.value}')"""  # noqa: S608
