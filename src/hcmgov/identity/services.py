"""Writes of identities: accounts and role assignments."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from hcmgov.audit.services import audit_record, audited
from hcmgov.catalog.selectors import procedure_fields
from hcmgov.common import tokencache
from hcmgov.common.errors import DomainError, FieldError, Message, NotFound
from hcmgov.core.services import event_publish
from hcmgov.identity.eid import EidBusiness, EidIdentity, EidRefused
from hcmgov.identity.models import (
    ApiToken,
    Consent,
    ConsentSource,
    Representation,
    Role,
    RoleAssignment,
    User,
    UserKind,
    personal_id_index,
)
from hcmgov.identity.purposes import CATEGORIES, LEGAL_BASIS, PURPOSES
from hcmgov.notifications.services import notification_queue


@audited("user.create", fields=("username", "kind", "full_name", "email"))
def user_create(
    *, username: str, password: str | None, kind: str = UserKind.CITIZEN, password_hash: str = "", **fields: Any
) -> User:
    """Create an account (citizen, business, official or admin)."""
    user = User(username=username, kind=kind, **fields)
    if kind == UserKind.ADMIN:
        user.is_staff = user.is_superuser = True
    if password_hash:  # already hashed (demo data sets one hash for many accounts)
        user.password = password_hash
    elif password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@audited("role.assign")
def role_assign(*, user: User, role: str, agency_id: int) -> RoleAssignment:
    assignment, _ = RoleAssignment.objects.get_or_create(user=user, role=role, agency_id=agency_id)
    return assignment


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@audited("token.issue", fields=("name", "user"))
def api_token_issue(*, user: User, name: str) -> ApiToken:
    """Issue a personal API token; the raw value is shown once (``token.raw``), only its digest is kept."""
    raw = "hcm_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, digest=token_digest(raw))
    token.raw = raw  # type: ignore[attr-defined]
    return token


# Bearer tokens found valid are kept a short while (hcmgov.common.tokencache: in each process, or
# in the shared cache at city scale): an API client sends the same token with every call, and the
# lookup (a join compiled by the ORM) was an eighth of a submission.
TOKEN_CACHE_SECONDS = 30.0
"""How long a token found valid is accepted without reading the database again: a token revoked,
or an account deactivated or changed, takes effect within this many seconds in every process (at
once on every node for a revoked token when the cache is shared). Tokens not found are never kept
(a new token works at once)."""
TOKEN_CACHE_MAX = tokencache.MAX_PER_PROCESS
_clock = time.monotonic
api_tokens = tokencache.TokenCache("api", clock=lambda: _clock())


def api_token_user(*, raw: str) -> User | None:
    """The active user holding the unrevoked token ``raw``, else None (see ``TOKEN_CACHE_SECONDS``)."""
    digest = token_digest(raw)
    row = api_tokens.get(digest)
    if row is None:
        found = ApiToken.objects.filter(digest=digest, revoked=False, user__is_active=True).values_list(
            *(f"user__{name}" for name in _user_columns())
        )[:1]
        if not found:
            return None
        row = tuple(found[0])
        api_tokens.put(digest, row, TOKEN_CACHE_SECONDS)
    # a new instance each time: requests never share a model instance
    return User.from_db(ApiToken.objects.db, _user_columns(), row)


def api_token_cache_clear() -> None:
    """Forget the tokens this process has found valid (tests, or after revoking in this process)."""
    api_tokens.clear()


@functools.cache
def _user_columns() -> list[str]:
    return [field.attname for field in User._meta.concrete_fields]


# --- second factor (TOTP, django-otp) ------------------------------------------------------------

BACKUP_CODES = 10
FIELD_MAX = 60  # RoleAssignment.field's max_length
CONSENT_RECIPIENT_MAX = 80  # Consent.recipient's max_length


def totp_enrol_start(*, user: User) -> TOTPDevice:
    """The device an official is enrolling: unconfirmed until they type a code from their app.
    Reused while enrolment is unfinished, so reloading the page keeps the QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Ứng dụng xác thực / Authenticator app", confirmed=False)
    return device


@audited("security.otp_enrolled", fields=("name", "confirmed"))
def totp_enrol_confirm(*, user: User, device: TOTPDevice, token: str) -> TOTPDevice:
    """Confirm ``device`` with a code from the app; it replaces the user's other authenticator apps."""
    if device.user_id != user.pk or device.confirmed or not device.verify_token(token):
        raise DomainError(
            code="otp_invalid",
            message=Message(
                "Mã xác thực không đúng. Hãy nhập mã đang hiện trong ứng dụng.",
                "Wrong code. Type the code your app shows now.",
            ),
        )
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device


@audited("security.backup_codes_issued", fields=("name",))
def backup_codes_issue(*, user: User) -> StaticDevice:
    """New one-time back-up codes (the old ones stop working); the codes are on ``device.codes``,
    to show once."""
    device, _ = StaticDevice.objects.get_or_create(user=user, defaults={"name": "Mã dự phòng / Backup codes"})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    device.codes = codes
    return device


# --- sessions and passwords ----------------------------------------------------------------------


@audited("security.logout_everywhere", target="user", fields=("username", "auth_epoch"))
def user_logout_everywhere(*, user: User) -> User:
    """End every session of ``user``: the epoch is part of each session's hash (``User``)."""
    User.objects.filter(pk=user.pk).update(auth_epoch=F("auth_epoch") + 1)
    user.refresh_from_db(fields=["auth_epoch"])
    return user


@audited("security.password_changed", target="user", fields=("username",))
def user_password_change(*, user: User, password: str) -> User:
    """Set a new password (validated by the caller's form); every other session of the user ends,
    since the password is part of each session's hash."""
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


# --- officials, managed by their agency's administrator ------------------------------------------


def _password_errors(password: str, user: User) -> DomainError | None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        text = " ".join(str(m) for m in exc.messages)
        return DomainError(code="password_invalid", message=Message(text, text), status=422)
    return None


def _check_admin_of(*, actor: Any, agency_id: int) -> None:
    if not RoleAssignment.objects.filter(user=actor, agency_id=agency_id, role=Role.AGENCY_ADMIN).exists():
        raise DomainError(
            code="forbidden",
            message=Message("Bạn không quản trị cơ quan này.", "You do not administer this agency."),
            status=403,
        )


def _check_official_of(*, official: User, agency_id: int) -> None:
    if (
        official.kind != UserKind.OFFICIAL
        or not RoleAssignment.objects.filter(user=official, agency_id=agency_id).exists()
    ):
        raise NotFound("cán bộ của cơ quan", "Official of the agency")


def official_create(
    *,
    actor: Any,
    agency_id: int,
    username: str,
    full_name: str,
    email: str,
    password: str = "",
    role: str = Role.RECEIVER,
) -> User:
    """An agency's administrator creates an official of that agency with a first role. With a
    password, the official logs in with it; without one, the account has no usable password until
    the official follows the invitation (``official_invitation``)."""
    _check_admin_of(actor=actor, agency_id=agency_id)
    username = username.strip()
    if not username or User.objects.filter(username__iexact=username).exists():
        raise DomainError(
            code="username_taken",
            message=Message("Tên đăng nhập trống hoặc đã có người dùng.", "The user name is empty or taken."),
            status=422,
        )
    if role not in Role.values:
        raise DomainError(code="role_invalid", message=Message("Vai trò không hợp lệ.", "Unknown role."), status=422)
    if password:
        error = _password_errors(
            password, User(username=username, kind=UserKind.OFFICIAL, full_name=full_name, email=email)
        )
        if error:
            raise error
    with transaction.atomic():
        user = user_create(
            username=username, password=password or None, kind=UserKind.OFFICIAL, full_name=full_name, email=email
        )
        official_role_grant(actor=actor, official=user, agency_id=agency_id, role=role, field="")
    return user


def official_invitation(*, actor: Any, official: User, agency_id: int, link: Callable[[str, str], str]) -> None:
    """E-mail ``official`` a link to set their own password (valid ``PASSWORD_RESET_TIMEOUT``, and
    only until a password is set). ``link(uidb64, token)`` makes the page's address."""
    _check_admin_of(actor=actor, agency_id=agency_id)
    _check_official_of(official=official, agency_id=agency_id)
    uid = urlsafe_base64_encode(force_bytes(official.pk))
    url = link(uid, default_token_generator.make_token(official))
    notification_queue(
        recipient=official,
        subject="Tài khoản cán bộ trên Cổng dịch vụ công / Your official account",
        body=(
            f"Chào {official.full_name or official.username},\n\n"
            f"Tài khoản cán bộ của bạn: {official.username}. Đặt mật khẩu tại:\n{url}\n\n"
            f"Your official account: {official.username}. Set your password at the address above.\n"
        ),
        dedupe_key=f"invite:{official.pk}:{secrets.token_hex(8)}",
    )
    audit_record(action="security.invitation_sent", obj=official, after={"username": official.username})


@audited("role.grant")
def official_role_grant(*, actor: Any, official: User, agency_id: int, role: str, field: str = "") -> RoleAssignment:
    """Give ``official`` a role in the actor's agency, for every procedure field or one of them."""
    _check_admin_of(actor=actor, agency_id=agency_id)
    if official.kind != UserKind.OFFICIAL or not official.is_active:
        raise NotFound("cán bộ", "Official")
    field = field.strip()
    if role not in Role.values or len(field) > FIELD_MAX:
        raise DomainError(code="role_invalid", message=Message("Vai trò không hợp lệ.", "Unknown role."), status=422)
    if field and field not in {name for name, _ in procedure_fields()}:
        raise DomainError(
            code="field_invalid", message=Message("Lĩnh vực không có.", "No such procedure field."), status=422
        )
    assignment, _ = RoleAssignment.objects.get_or_create(user=official, role=role, agency_id=agency_id, field=field)
    return assignment


@audited("role.revoke")
def official_role_revoke(*, actor: Any, assignment_id: int, agency_id: int) -> RoleAssignment:
    """Take back a role held in the actor's agency (and only there)."""
    _check_admin_of(actor=actor, agency_id=agency_id)
    assignment = RoleAssignment.objects.filter(pk=assignment_id, agency_id=agency_id).first()
    if assignment is None:
        raise NotFound("vai trò", "Role")
    if assignment.user_id == getattr(actor, "pk", None) and assignment.role == Role.AGENCY_ADMIN:
        raise DomainError(
            code="own_admin_role",
            message=Message("Không thể tự bỏ quyền quản trị của mình.", "You cannot revoke your own admin role."),
            status=422,
        )
    pk = assignment.pk
    assignment.delete()
    assignment.pk = pk  # the audit event names the row that was
    return assignment


@audited("user.deactivate", target="official", fields=("username", "is_active", "auth_epoch"))
def official_deactivate(*, actor: Any, official: User, agency_id: int) -> User:
    """Close an official's account: no more logins, every session and API token stops at once.
    Their roles stay, for the record of who held them."""
    _check_admin_of(actor=actor, agency_id=agency_id)
    _check_official_of(official=official, agency_id=agency_id)
    if official.pk == getattr(actor, "pk", None):
        raise DomainError(
            code="own_account",
            message=Message("Không thể tự khóa tài khoản của mình.", "You cannot deactivate your own account."),
            status=422,
        )
    official.is_active = False
    official.auth_epoch += 1
    official.save(update_fields=["is_active", "auth_epoch"])
    api_token_cache_clear()  # this process stops at once; others within TOKEN_CACHE_SECONDS
    return official


# --- national e-ID: linking the accounts it vouches for (hcmgov.identity.eid) --------------------

EID_AUDIT_FIELDS = (
    "username",
    "kind",
    "personal_id_index",  # not the ID itself: the audit trail keeps no personal ID in clear
    "tax_code",
    "full_name",
    "date_of_birth",
    "address",
    "eid_subject",
    "assurance_level",
    "verified_attributes",
)
PROFILE_FIELDS = ("full_name", "date_of_birth", "address", "phone", "email", "preferred_language")


def _free_username(wanted: str) -> str:
    if not User.objects.filter(username=wanted).exists():
        return wanted
    return f"{wanted}-{secrets.token_hex(3)}"


def _save_new_or_refuse(user: User) -> None:
    """Save; two first logins racing for the same person or business: the second is refused (and
    the person's next attempt links the account the first created)."""
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise EidRefused("account_conflict", "account created concurrently") from exc


@audited("user.eid_login", fields=EID_AUDIT_FIELDS)
def user_eid_login(*, identity: EidIdentity) -> User:
    """The citizen account the national e-ID vouches for, linked and refreshed at every login.

    Found by the provider's subject, else by personal ID (an account opened at a desk or before
    e-ID login), else created (kind citizen, no usable password). The assurance level comes from
    this login; the vouched name, date of birth and address replace the account's and are listed
    in ``verified_attributes``, which the person cannot edit (``user_profile_update``). Only
    citizens' accounts are linked: an official's or administrator's account with the same personal
    ID is refused — an e-ID login must not stand in for their own login and second factor. When the
    person acts for a business, the business's account and the representation are recorded too.
    """
    id_index = personal_id_index(identity.personal_id)  # the personal ID is encrypted: found by its index
    user = User.objects.select_for_update().filter(eid_subject=identity.subject).first()
    if user is None:
        user = User.objects.select_for_update().filter(personal_id_index=id_index).first()
        if user is not None and user.eid_subject:
            raise EidRefused("account_conflict", "personal ID linked to another e-ID subject")
    elif (
        user.personal_id != identity.personal_id
        and User.objects.filter(personal_id_index=id_index).exclude(pk=user.pk).exists()
    ):
        raise EidRefused("account_conflict", "personal ID held by another account")
    if user is None:
        user = User(username=_free_username(identity.personal_id), kind=UserKind.CITIZEN)
        user.set_unusable_password()
    if user.kind != UserKind.CITIZEN or not user.is_active:
        raise EidRefused("account_conflict", f"{user.kind} account, active={user.is_active}")
    user.eid_subject = identity.subject
    user.personal_id = identity.personal_id
    user.assurance_level = identity.level
    user.full_name = identity.full_name or user.full_name
    user.date_of_birth = identity.date_of_birth or user.date_of_birth
    user.address = identity.address or user.address
    user.verified_attributes = identity.vouched()
    _save_new_or_refuse(user)
    if identity.business is not None:
        representation_eid_record(person=user, business=identity.business)
    # the shared data store may fetch the person's records now, before they open a form
    event_publish(topic="identity.eid_login", key=str(user.pk), payload={"user_id": user.pk})
    return user


@audited("user.eid_business", fields=EID_AUDIT_FIELDS)
def business_eid_account(*, business: EidBusiness) -> User:
    """The business account of the tax code the national e-ID vouches for; created on first use
    (kind business, no usable password: its representatives act for it), its name refreshed."""
    account = User.objects.select_for_update().filter(tax_code=business.tax_code).first()
    if account is None:
        account = User(username=_free_username(f"mst-{business.tax_code}"), kind=UserKind.BUSINESS)
        account.tax_code = business.tax_code
        account.set_unusable_password()
    elif account.kind != UserKind.BUSINESS:
        raise EidRefused("account_conflict", "tax code held by a non-business account")
    account.full_name = business.name or account.full_name
    account.verified_attributes = ["full_name", "tax_code"]
    _save_new_or_refuse(account)
    return account


@audited("representation.eid", fields=("person", "business", "role", "source", "valid_to"))
def representation_eid_record(*, person: User, business: EidBusiness) -> Representation:
    """Record that ``person`` acts for ``business`` as the national e-ID vouched in this login
    (a representation ended earlier is in force again)."""
    account = business_eid_account(business=business)
    representation, created = Representation.objects.get_or_create(
        person=person, business=account, role=business.role, defaults={"source": "eid"}
    )
    if not created and (representation.valid_to is not None or representation.source != "eid"):
        representation.valid_to = None
        representation.source = "eid"
        representation.save(update_fields=["valid_to", "source"])
    return representation


def eid_refusal_record(*, reason: str, detail: str = "") -> None:
    """A refused e-ID login (forged or expired token, replayed code, tampered state…), kept in the
    audit trail as the security event ``security.eid_refused``."""
    audit_record(
        action="security.eid_refused",
        obj=None,
        object_type="identity.eid",
        object_id=reason,
        after={"reason": reason, "detail": detail},
    )


@audited("user.profile_update", target="user", fields=PROFILE_FIELDS)
def user_profile_update(*, user: User, **changes: Any) -> User:
    """Change what a person may change about their own account. What the national e-ID vouches for
    (``verified_attributes``) is refused: it changes only with the next e-ID login."""
    errors = [
        FieldError(
            name,
            "verified_attribute",
            Message(
                "Thông tin đã được xác thực qua định danh điện tử quốc gia, không sửa được tại đây.",
                "Vouched for by the national e-ID: it cannot be changed here.",
            ),
        )
        for name, value in changes.items()
        if name in user.verified_attributes and getattr(user, name) != value
    ]
    errors += [
        FieldError(name, "not_editable", Message("Không sửa được thông tin này.", "This cannot be changed."))
        for name in changes
        if name not in PROFILE_FIELDS
    ]
    if errors:
        raise DomainError(
            code="profile_not_editable",
            message=Message("Một số thông tin không sửa được.", "Some of these details cannot be changed."),
            status=422,
            errors=errors,
        )
    for name, value in changes.items():
        setattr(user, name, value)
    user.save(update_fields=list(changes))
    return user


# --- consent to share one's data (Decree 13/2023/NĐ-CP, Art. 11-12; identity.purposes) -------------

CONSENT_FIELDS = (
    "subject",
    "purpose",
    "recipient",
    "data_categories",
    "legal_basis",
    "granted_at",
    "expires_at",
    "withdrawn_at",
    "source",
)


def _consent_invalid(field: str, vi: str, en: str) -> DomainError:
    message = Message(vi, en)
    return DomainError("consent_invalid", message, 422, [FieldError(field, "invalid", message)])


@audited("consent.grant", fields=CONSENT_FIELDS)
def consent_grant(
    *,
    subject: User,
    purpose: str,
    recipient: str,
    data_categories: list[str],
    recipient_name: str = "",
    legal_basis: str = "",
    expires_at: dt.datetime | None = None,
    source: str = ConsentSource.PORTAL,
) -> Consent:
    """Record that ``subject`` agrees to share their data of ``data_categories`` for ``purpose``
    with ``recipient``, until ``expires_at`` (None: until withdrawn).

    One consent is in force per person, purpose and recipient: granting again with the same terms
    while it is in force changes nothing (no second event); with other terms, or once it has
    expired, renews it in place from now (each grant's event keeps the terms it set)."""
    now = timezone.now()
    categories = sorted(set(data_categories))
    if purpose not in PURPOSES:
        raise _consent_invalid("purpose", "Mục đích không có trong danh mục.", "Unknown purpose.")
    if not categories or any(c not in CATEGORIES for c in categories):
        raise _consent_invalid("data_categories", "Loại dữ liệu không hợp lệ.", "Unknown or no data categories.")
    if not recipient.strip() or len(recipient) > CONSENT_RECIPIENT_MAX:
        raise _consent_invalid("recipient", "Thiếu bên nhận dữ liệu.", "The recipient is missing or too long.")
    if expires_at is not None and expires_at <= now:
        raise _consent_invalid("expires_at", "Thời hạn đã qua.", "The expiry is in the past.")
    if source not in ConsentSource.values:
        raise _consent_invalid("source", "Nguồn không hợp lệ.", "Unknown source.")
    terms: dict[str, Any] = {
        "recipient_name": recipient_name[:200],
        "data_categories": categories,
        "legal_basis": legal_basis or LEGAL_BASIS,
        "expires_at": expires_at,
        "source": source,
    }
    in_force = Consent.objects.select_for_update().filter(
        subject=subject, purpose=purpose, recipient=recipient, withdrawn_at__isnull=True
    )
    consent = in_force.first()
    if consent is None:
        try:
            with transaction.atomic():
                return Consent.objects.create(
                    subject=subject, purpose=purpose, recipient=recipient, granted_at=now, **terms
                )
        except IntegrityError:  # the same grant, concurrently (a double click): renew what it made
            consent = in_force.get()
    unchanged = all(getattr(consent, name) == value for name, value in terms.items())
    if unchanged and (consent.expires_at is None or consent.expires_at > now):
        consent._audit_skip = True  # type: ignore[attr-defined]
        return consent
    for name, value in terms.items():
        setattr(consent, name, value)
    consent.granted_at = now
    consent.save(update_fields=[*terms, "granted_at"])
    return consent


@audited("consent.withdraw", fields=CONSENT_FIELDS)
def consent_withdraw(*, subject: User, consent_id: int) -> Consent:
    """``subject`` withdraws one of their consents: from now on it is not in force
    (``consent_active``). Withdrawing again changes nothing and records nothing; someone else's
    consent is not found."""
    consent = Consent.objects.select_for_update().filter(pk=consent_id, subject=subject).first()
    if consent is None:
        raise NotFound("sự đồng ý", "Consent")
    if consent.withdrawn_at is not None:
        consent._audit_skip = True  # type: ignore[attr-defined]
        return consent
    consent.withdrawn_at = timezone.now()
    consent.save(update_fields=["withdrawn_at"])
    return consent
