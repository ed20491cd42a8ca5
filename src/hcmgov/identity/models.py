"""Accounts of citizens, businesses and officials, and officials' roles scoped to an agency."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from hcmgov.common.crypto import EncryptedTextField, blind_index, blind_indexes_set
from hcmgov.common.errors import Message
from hcmgov.identity.purposes import category_name, purpose_name


class UserKind(models.TextChoices):
    CITIZEN = "citizen", "Công dân"
    BUSINESS = "business", "Doanh nghiệp"
    OFFICIAL = "official", "Cán bộ, công chức"
    ADMIN = "admin", "Quản trị"


PERSONAL_ID_CONTEXT = "identity.user.personal_id"


def personal_id_index(personal_id: str) -> str:
    """The blind index a personal ID is looked up and kept unique by (``User.personal_id_index``)."""
    return blind_index(personal_id, context=PERSONAL_ID_CONTEXT)


class User(AbstractUser):
    """A person or organisation account. Citizens are identified by their 12-digit personal ID
    (căn cước), businesses by their tax code; officials act through their role assignments.

    The personal ID is encrypted at rest (a protective measure under Decree 13/2023/NĐ-CP on personal
    data protection) and found and kept unique through its blind index, which ``save()`` keeps in
    step (hcmgov.common.crypto, docs/decisions/0017-encryption-at-rest.md)."""

    kind = models.CharField(max_length=12, choices=UserKind.choices, default=UserKind.CITIZEN)
    full_name = models.CharField(max_length=150, blank=True)
    personal_id = EncryptedTextField(null=True, blank=True, context=PERSONAL_ID_CONTEXT, index="personal_id_index")
    personal_id_index = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    tax_code = models.CharField(max_length=14, null=True, blank=True, unique=True)
    phone = models.CharField(max_length=20, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    address = models.CharField(max_length=300, blank=True)
    preferred_language = models.CharField(max_length=5, default="vi")
    # National e-ID: the provider's subject, the assurance level of the last login (1 basic, 2 high;
    # 0 never logged in through it), and the attributes the provider vouches for (read-only to the user).
    eid_subject = models.CharField(max_length=255, null=True, blank=True, unique=True)
    assurance_level = models.PositiveSmallIntegerField(default=0)
    verified_attributes = models.JSONField(default=list, blank=True)
    # Bumped by "log out everywhere": part of the session hash, so every older session ends.
    auth_epoch = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.full_name or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Every save path (services, factories, admin) keeps the blind index in step; an empty
        # personal ID is stored as none, so that it holds no index and collides with nobody.
        if not self.personal_id:
            self.personal_id = None
        kwargs["update_fields"] = blind_indexes_set(self, kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """The session's proof of the account's credentials (Django keeps it in every session and
        ends a session whose proof no longer matches): an HMAC of the password hash and, once the
        user has asked to log out everywhere, of ``auth_epoch`` too. Epoch 0 keeps Django's own
        hash, so sessions opened before this existed stay valid. Overriding this private method,
        not ``get_session_auth_hash``, covers the ``SECRET_KEY_FALLBACKS`` hashes as well."""
        if not self.auth_epoch:
            return super()._get_session_auth_hash(secret=secret)  # type: ignore[misc]
        key_salt = "hcmgov.identity.models.User.get_session_auth_hash"
        value = f"{self.password}\x00{self.auth_epoch}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()


class Role(models.TextChoices):
    RECEIVER = "receiver", "Cán bộ tiếp nhận (một cửa)"
    SPECIALIST = "specialist", "Chuyên viên xử lý"
    HEAD = "head", "Lãnh đạo phòng"
    LEADER = "leader", "Lãnh đạo ký duyệt"
    CLERK = "clerk", "Văn thư trả kết quả"
    AGENCY_ADMIN = "agency_admin", "Quản trị cơ quan"


class RoleAssignment(models.Model):
    """An official holds a role within one agency; the role decides what they may see and do."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=16, choices=Role.choices)
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="role_assignments")
    # The procedure field (lĩnh vực) the role covers within the agency; blank covers every field.
    field = models.CharField(max_length=60, blank=True, default="")
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role", "agency", "field"], name="role_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} @ {self.agency_id}"


class Representation(models.Model):
    """A person acting for a business (its legal representative, or someone it authorised), as the
    national e-ID or the business registry vouches; the person sees and files the business's dossiers."""

    person = models.ForeignKey(User, on_delete=models.CASCADE, related_name="represents")
    business = models.ForeignKey(User, on_delete=models.CASCADE, related_name="representatives")
    role = models.CharField(max_length=40, default="legal_representative")
    source = models.CharField(max_length=40, default="eid")
    valid_from = models.DateTimeField(auto_now_add=True)
    valid_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "business", "role"], name="representation_unique")]

    def __str__(self) -> str:
        return f"{self.person_id} for {self.business_id} ({self.role})"


class ApiToken(models.Model):
    """A personal token for the API (``Authorization: Bearer …``); only its SHA-256 is stored.
    The national e-ID and the city's OpenID provider come with the identity issue."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class ConsentSource(models.TextChoices):
    PORTAL = "portal", "Cổng dịch vụ công"
    EID = "eid", "Định danh điện tử (VNeID)"
    DESK = "desk", "Bộ phận một cửa"
    API = "api", "Ứng dụng qua API"


class Consent(models.Model):
    """A person's agreement that their data of ``data_categories`` be used for ``purpose`` (a code
    of ``identity.purposes``) by ``recipient`` (an agency's or system's code), from ``granted_at``
    until ``expires_at`` or until they withdraw it (Decree 13/2023/NĐ-CP, Art. 11-12). Withdrawn
    and expired consents stay, as the record of what was agreed; one consent at most is in force
    per person, purpose and recipient (a new grant renews it)."""

    subject = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=40)
    recipient = models.CharField(max_length=80, help_text="Code of the agency or system the data goes to")
    recipient_name = models.CharField(max_length=200, blank=True)
    data_categories = models.JSONField(default=list)
    legal_basis = models.TextField(blank=True)
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=12, choices=ConsentSource.choices, default=ConsentSource.PORTAL)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "purpose", "recipient"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="consent_one_in_force",
            )
        ]  # its partial index also serves ``consent_active``; the list reads the subject's foreign key index

    def __str__(self) -> str:
        return f"{self.subject_id} {self.purpose} → {self.recipient}"

    @property
    def in_force(self) -> bool:
        """Granted, not withdrawn, not expired: now."""
        now = timezone.now()
        return (
            self.withdrawn_at is None and self.granted_at <= now and (self.expires_at is None or self.expires_at > now)
        )

    @property
    def purpose_label(self) -> Message:
        return purpose_name(self.purpose)

    @property
    def category_labels(self) -> list[Message]:
        return [category_name(code) for code in self.data_categories]
