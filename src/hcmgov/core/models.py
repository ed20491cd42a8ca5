"""Administrative units, agencies, day sequences and the outbox: the city's shared backbone."""

from __future__ import annotations

from django.db import models


class UnitType(models.TextChoices):
    PROVINCE = "province", "Tỉnh, thành phố trực thuộc trung ương"
    CITY_UNDER_PROVINCE = "city_under_province", "Thành phố thuộc thành phố"
    URBAN_DISTRICT = "urban_district", "Quận"
    RURAL_DISTRICT = "rural_district", "Huyện"
    WARD = "ward", "Phường"
    COMMUNE = "commune", "Xã"
    TOWNSHIP = "township", "Thị trấn"
    SPECIAL_ZONE = "special_zone", "Đặc khu"


class UnitLevel(models.TextChoices):
    CITY = "city", "Cấp thành phố"
    DISTRICT = "district", "Cấp huyện"
    COMMUNE = "commune", "Cấp xã"


DISTRICT_TYPES = {UnitType.CITY_UNDER_PROVINCE, UnitType.URBAN_DISTRICT, UnitType.RURAL_DISTRICT}
COMMUNE_TYPES = {UnitType.WARD, UnitType.COMMUNE, UnitType.TOWNSHIP, UnitType.SPECIAL_ZONE}


class Structure(models.Model):
    """One version of the city's administrative structure, in force between two dates.

    ``2021``: three levels after Resolution 1111/NQ-UBTVQH14 (1 Jan 2021 – 30 Jun 2025);
    ``2025``: two levels after the 2025 reform (Resolution 1685/NQ-UBTVQH15, from 1 Jul 2025).
    """

    key = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    legal_basis = models.CharField(max_length=300)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["valid_from"]

    def __str__(self) -> str:
        return self.key


class AdminUnit(models.Model):
    """An administrative unit (đơn vị hành chính) as it stood in one structure.

    Codes are the statistics office's; the same code may reappear in a later structure for a
    different (merged) unit, so a unit is identified by (structure, code).
    """

    structure = models.ForeignKey(Structure, on_delete=models.PROTECT, related_name="units")
    code = models.CharField(max_length=8)
    name = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    type = models.CharField(max_length=24, choices=UnitType.choices)
    level = models.CharField(max_length=10, choices=UnitLevel.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["structure", "code"], name="unit_code_per_structure")]
        ordering = ["structure", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code}, {self.structure_id})"


class UnitLink(models.Model):
    """Crosswalk: an old unit went (wholly or in part) into a new unit at a reorganisation."""

    old = models.ForeignKey(AdminUnit, on_delete=models.CASCADE, related_name="successor_links")
    new = models.ForeignKey(AdminUnit, on_delete=models.CASCADE, related_name="predecessor_links")
    share = models.CharField(max_length=8, choices=[("whole", "Toàn bộ"), ("part", "Một phần")])
    primary = models.BooleanField(default=True, help_text="The link statistics follow when the old unit split.")
    effective = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["old", "new"], name="unit_link_unique"),
            models.UniqueConstraint(fields=["old"], condition=models.Q(primary=True), name="unit_link_one_primary"),
        ]

    def __str__(self) -> str:
        return f"{self.old_id} → {self.new_id} ({self.share})"


class AgencyKind(models.TextChoices):
    CITY_PC = "city_pc", "UBND Thành phố"
    DEPARTMENT = "department", "Sở, ban, ngành"
    DISTRICT_PC = "district_pc", "UBND cấp huyện"
    COMMUNE_PC = "commune_pc", "UBND cấp xã"
    POLICE = "police", "Công an"


class Agency(models.Model):
    """A state agency that receives and settles dossiers (cơ quan), with its electronic identifier
    code (Circular 10/2016/TT-BTTTT), which heads every dossier code it issues."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=AgencyKind.choices)
    level = models.CharField(max_length=10, choices=UnitLevel.choices)
    department = models.CharField(max_length=32, blank=True, help_text="Department key for kind=department.")
    unit = models.ForeignKey(AdminUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="agencies")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    code_verified = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["kind", "department"])]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class DaySequence(models.Model):
    """The last number issued for a (scope, day): gap-free per-day numbering of dossier codes.

    Incremented inside the caller's transaction, so a rolled-back submission gives its number back.
    """

    scope = models.CharField(max_length=40)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "day"], name="day_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.day}: {self.last}"


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change that caused it (transactional
    outbox); the worker delivers it to the handlers subscribed to its topic, at least once."""

    topic = models.CharField(max_length=80)
    key = models.CharField(max_length=80, help_text="Aggregate id the event is about.")
    payload = models.JSONField()
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["id"], condition=models.Q(delivered_at__isnull=True), name="outbox_pending")]

    def __str__(self) -> str:
        return f"{self.topic} {self.key}"


class Heartbeat(models.Model):
    """Liveness stamp written by long-running processes (the worker); read by /readyz."""

    process = models.CharField(max_length=40, unique=True)
    beat_at = models.DateTimeField()
    info = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.process} {self.beat_at}"
