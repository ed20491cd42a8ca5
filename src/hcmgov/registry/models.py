"""The city's shared data store (kho dữ liệu dùng chung): base registries mirrored from the
national databases and the city's own registers, each record versioned with its provenance, and a
change feed (the versions, in the order they were written).

Everything that identifies or describes a person is encrypted at rest (``common.crypto``): a
record's key (personal ID, tax code, permit number) and its facts; the key is found by its blind
index. What stays in clear is what says nothing of a person: which registry, which version, when,
which source and which fact names changed.
"""

from __future__ import annotations

from django.db import models

from hcmgov.common.crypto import EncryptedJSONField, EncryptedTextField


class RegistryKind(models.TextChoices):
    NATIONAL = "national", "Cơ sở dữ liệu quốc gia / National database"
    CITY = "city", "Sổ đăng ký của Thành phố / City register"
    DECLARED = "declared", "Người dân, doanh nghiệp đã khai / Declared by applicants"


class Subject(models.TextChoices):
    PERSON = "person", "Cá nhân / Person"
    BUSINESS = "business", "Tổ chức, doanh nghiệp / Business"
    OTHER = "other", "Khác / Other"


class Registry(models.Model):
    """One register of the store; declared in ``registry.registries`` and kept in step with it."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=RegistryKind.choices)
    subject = models.CharField(max_length=10, choices=Subject.choices)
    key_name = models.CharField(max_length=40, help_text="What a record's key is: personal_id, tax_code…")
    schema = models.JSONField(default=dict, help_text="JSON Schema of a record's facts")
    service = models.CharField(max_length=200, blank=True, help_text="Exchange path of the source (national)")
    authoritative = models.BooleanField(default=False, help_text="Its facts count as verified")
    refresh_days = models.PositiveIntegerField(
        default=30, help_text="A mirrored record older than this is fetched again"
    )

    def __str__(self) -> str:
        return self.code


class RecordState(models.TextChoices):
    CURRENT = "current", "Có dữ liệu / Held"
    NOT_FOUND = "not_found", "Nguồn không có / Not in the source"
    PENDING = "pending", "Chờ tra cứu lại / Lookup pending"


class Record(models.Model):
    """The store's current record of one key in one registry."""

    registry = models.ForeignKey(Registry, on_delete=models.PROTECT, related_name="records")
    key_index = models.CharField(max_length=64, help_text="Blind index of the key (common.crypto)")
    key = EncryptedTextField(context="registry.record.key", index="key_index")
    facts = EncryptedJSONField(null=True, blank=True, context="registry.record.facts")
    version = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=RecordState.choices, default=RecordState.CURRENT)
    source = models.CharField(max_length=120, blank=True, help_text="Where the facts came from")
    source_ref = models.CharField(max_length=120, blank=True, help_text="The source's reference: request id, dossier…")
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When the source vouched for the facts")
    updated_at = models.DateTimeField()
    # a lookup that failed (timeout, malformed answer, source down) is tried again from this time
    next_lookup_at = models.DateTimeField(null=True, blank=True)
    lookup_attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registry", "key_index"], name="registry_record_key")]
        indexes = [
            models.Index(
                fields=["next_lookup_at"], name="registry_lookup_due", condition=models.Q(next_lookup_at__isnull=False)
            )
        ]

    def __str__(self) -> str:
        return f"{self.registry_id}#{self.pk} v{self.version}"


class RecordVersion(models.Model):
    """One version of a record as it was written: the change feed is these rows by ``id``."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="versions")
    registry = models.ForeignKey(Registry, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    facts = EncryptedJSONField(null=True, blank=True, context="registry.recordversion.facts")
    changed = models.JSONField(default=list, help_text="Names of the facts this version changed")
    source = models.CharField(max_length=120, blank=True)
    source_ref = models.CharField(max_length=120, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record", "version"], name="registry_version_unique")]
        indexes = [models.Index(fields=["registry", "id"], name="registry_feed")]

    def __str__(self) -> str:
        return f"{self.record_id} v{self.version}"


class CheckState(models.TextChoices):
    VERIFIED = "verified", "Khớp cơ sở dữ liệu / Matches the registry"
    DIFFERS = "differs", "Khác cơ sở dữ liệu / Differs from the registry"
    UNVERIFIED = "unverified", "Chưa đối chiếu được / Not verified yet"


class FactCheck(models.Model):
    """One fact an applicant gave in a dossier, checked against a base registry: what officials
    see, and where sources disagree (``differs``: flagged, neither value overwritten)."""

    dossier_id = models.BigIntegerField(db_index=True)
    dossier_code = models.CharField(max_length=40)
    fact = models.CharField(max_length=40)
    state = models.CharField(max_length=10, choices=CheckState.choices)
    registry = models.ForeignKey(Registry, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    # both values when they differ, for the official who resolves it (encrypted: they are personal)
    values = EncryptedJSONField(null=True, blank=True, context="registry.factcheck.values")
    checked_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.BigIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dossier_id", "fact"], name="registry_check_unique")]
        indexes = [
            models.Index(fields=["state"], name="registry_check_open", condition=models.Q(resolved_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.dossier_code} {self.fact}: {self.state}"
