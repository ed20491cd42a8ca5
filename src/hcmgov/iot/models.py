"""The IoT platform's devices, readings and their rollups (issue 11).

A :class:`Device` is a sensor station the city owns (air quality, traffic), known to the NGSI-LD
side as ``urn:ngsi-ld:Device:<code>`` (Smart Data Models' ``Device``). It publishes
:class:`Reading`\\ s — one value of one attribute at one time — over MQTT or HTTP; readings are
append-only, unique on (device, attribute, observed_at) so a redelivered message stores nothing
twice. Each stored batch also updates the :class:`Rollup`\\ s at 5 minutes, 1 hour and 1 day. Input
that is refused is kept in :class:`Quarantine` with its reason.

On PostgreSQL the readings table is partitioned by day on ``observed_at`` (migration 0001, see
:mod:`hcmgov.iot.storage`); on SQLite it is a plain table.
"""

from __future__ import annotations

from django.db import models

from hcmgov.iot.traffic import STYLES

URN_PREFIX = "urn:ngsi-ld:Device:"


class DeviceKind(models.TextChoices):
    AIR_QUALITY = "air-quality", "Quan trắc không khí"
    TRAFFIC = "traffic", "Giao thông"


class DeviceStatus(models.TextChoices):
    ACTIVE = "active", "Đang hoạt động"
    MAINTENANCE = "maintenance", "Đang bảo trì"
    RETIRED = "retired", "Ngừng sử dụng"


class Device(models.Model):
    """A sensor station. ``attributes`` declares what it measures, each with its unit and valid
    range: ``{"pm25": {"unit": "ug/m3", "min": 0, "max": 1000}}``; ``calibration`` the correction
    applied to each raw value on arrival: ``{"pm25": {"factor": 1.05, "offset": -0.3}}`` (stored =
    raw × factor + offset). Its MQTT account (``mqtt_username``, a PBKDF2 hash of a generated
    password) also authenticates its HTTP batches."""

    code = models.CharField(
        max_length=64, unique=True, help_text="Letters, digits, '-' and '_'; the MQTT topic's level."
    )
    entity_id = models.CharField(max_length=120, unique=True, help_text="urn:ngsi-ld:Device:<code>")
    kind = models.CharField(max_length=16, choices=DeviceKind.choices)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    agency = models.ForeignKey("core.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    latitude = models.FloatField()
    longitude = models.FloatField()
    ward_code = models.CharField(max_length=10, blank=True, help_text="Code of the ward (statistics office).")
    status = models.CharField(max_length=12, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE)
    calibrated_on = models.DateField(null=True, blank=True)
    calibration = models.JSONField(default=dict, blank=True)
    attributes = models.JSONField(default=dict)
    mqtt_username = models.CharField(max_length=64, unique=True)
    mqtt_password_hash = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Reading(models.Model):
    """One value of one attribute of a device at ``observed_at`` (UTC), calibrated. Written only in
    batches through :mod:`hcmgov.iot.storage` (COPY on PostgreSQL). The device is referenced
    without a database constraint: devices are retired, never deleted, and a foreign-key check per
    row would cost the ingester a lookup per reading."""

    pk = models.CompositePrimaryKey("device", "attribute", "observed_at")
    device = models.ForeignKey(
        Device, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )  # the primary key leads with the device
    attribute = models.CharField(max_length=16)
    observed_at = models.DateTimeField()
    value = models.FloatField()
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.device_id} {self.attribute}@{self.observed_at.isoformat()}={self.value}"


class RollupPeriod(models.IntegerChoices):
    FIVE_MINUTES = 300, "5 phút"
    HOUR = 3600, "1 giờ"
    DAY = 86400, "1 ngày (giờ Việt Nam)"


class Rollup(models.Model):
    """Aggregates of one attribute of one device over a bucket of ``period`` seconds starting at
    ``bucket`` (5-minute and hourly buckets from the epoch; daily buckets are days of
    Asia/Ho_Chi_Minh, UTC+7, starting 17:00 UTC). Kept up to date by every stored batch; a late
    reading updates its own, older bucket; ``last_value`` is the value observed latest."""

    pk = models.CompositePrimaryKey("device", "attribute", "period", "bucket")
    device = models.ForeignKey(
        Device, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )  # the primary key leads with the device
    attribute = models.CharField(max_length=16)
    period = models.IntegerField(choices=RollupPeriod.choices)
    bucket = models.DateTimeField()
    count = models.IntegerField()
    total = models.FloatField()
    minimum = models.FloatField()
    maximum = models.FloatField()
    last_value = models.FloatField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["period", "bucket"], name="iot_rollup_period_bucket")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.attribute} {self.period}s@{self.bucket.isoformat()}"

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


class QuarantineReason(models.TextChoices):
    MALFORMED = "malformed", "Dữ liệu không phải JSON hợp lệ"
    INVALID_PAYLOAD = "invalid_payload", "Sai cấu trúc dữ liệu"
    TOO_LARGE = "too_large", "Thông điệp quá lớn"
    UNKNOWN_DEVICE = "unknown_device", "Thiết bị không tồn tại"
    DEVICE_INACTIVE = "device_inactive", "Thiết bị không hoạt động"
    DEVICE_MISMATCH = "device_mismatch", "Thiết bị không khớp chủ đề/tài khoản"
    UNKNOWN_ATTRIBUTE = "unknown_attribute", "Thiết bị không đo thuộc tính này"
    UNIT_MISMATCH = "unit_mismatch", "Sai đơn vị đo"
    INVALID_VALUE = "invalid_value", "Giá trị không phải số"
    OUT_OF_RANGE = "out_of_range", "Giá trị ngoài ngưỡng hợp lệ"
    INVALID_TIME = "invalid_time", "Thời điểm đo không hợp lệ"
    FUTURE_TIME = "future_time", "Thời điểm đo ở tương lai"
    TOO_OLD = "too_old", "Thời điểm đo quá thời hạn lưu trữ"
    RATE_LIMITED = "rate_limited", "Thiết bị gửi quá nhiều"


class Quarantine(models.Model):
    """Input refused by the ingestion (MQTT or HTTP), kept for the operators with its reason and
    the raw payload (cut at ``IOT_QUARANTINE_PAYLOAD_BYTES``). A flood is counted in full in the
    metrics but only sampled here (``IOT_QUARANTINE_MAX_PER_MINUTE`` per device and reason)."""

    received_at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=24, choices=QuarantineReason.choices)
    channel = models.CharField(max_length=8)  # mqtt | http
    source = models.CharField(max_length=200, blank=True, help_text="The MQTT topic, or the HTTP path.")
    device_code = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    payload = models.BinaryField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["reason", "received_at"], name="iot_quarantine_reason")]

    def __str__(self) -> str:
        return f"{self.reason} {self.device_code or self.source}"


# --- what is derived from the readings: NGSI-LD mirror, alerts, daily aggregates ------------------


class Cursor(models.Model):
    """How far a periodic job has gone (``mirror.devices``, ``mirror.observations``,
    ``alerts:<rule code>``): the end of the last interval it handled. The job locks its row while it
    works, so two workers, or a retried task, never handle an interval twice."""

    name = models.CharField(max_length=80, unique=True)
    position = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} → {self.position.isoformat()}"


class MirroredDevice(models.Model):
    """The version (``Device.updated_at``) of a device last upserted into the NGSI-LD broker as its
    ``Device`` entity: a device whose ``updated_at`` differs is mirrored again, whatever the order
    in which the transactions that changed devices committed."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.version.isoformat()}"


class AlertKind(models.TextChoices):
    AQI = "aqi", "Chỉ số chất lượng không khí (VN_AQI) vượt ngưỡng"
    CONGESTION = "congestion", "Đoạn đường ùn tắc"


class AlertRule(models.Model):
    """A condition that opens an alert when it holds for ``intervals`` consecutive closed intervals
    at one device: for ``aqi``, the hourly VN_AQI above ``threshold`` (intervals are hours); for
    ``congestion``, the congestion level (``iot.traffic``) at ``level`` or worse (intervals are 5
    minutes). Defaults are made by migration 0003; a rule is a row the administrators change."""

    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=12, choices=AlertKind.choices)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    threshold = models.FloatField(default=0, help_text="aqi: the hourly AQI must be above this.")
    level = models.CharField(
        max_length=12,
        blank=True,
        choices=[(level.value, f"{style.label_vi} / {style.label_en}") for level, style in STYLES.items()],
        help_text="congestion: this level or worse.",
    )
    intervals = models.PositiveIntegerField(default=1, help_text="Consecutive closed intervals needed to open.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class AlertWatch(models.Model):
    """A rule's running count at one device: how many consecutive evaluated intervals met it
    (``streak``, its worst value ``peak``), ending at ``last_end``."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    streak = models.PositiveIntegerField(default=0)
    peak = models.FloatField(default=0, help_text="The worst value of the current streak.")
    last_end = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "device"], name="iot_alertwatch_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.device_id}: {self.streak}"


class Alert(models.Model):
    """One episode of a rule at a device: opened when the rule held for its intervals (``started_at``
    is the start of the first of them), closed at the end of the first interval measured that did
    not meet it. At most one open alert per rule and device (a constraint)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    opened_at = models.DateTimeField(help_text="End of the interval that opened it.")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="End of the interval that closed it.")
    value = models.FloatField(help_text="The AQI, or the level's rank, that opened it.")
    peak = models.FloatField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "device"], condition=models.Q(closed_at__isnull=True), name="iot_alert_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id}@{self.device_id} {self.opened_at.isoformat()}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class AirQualityDay(models.Model):
    """A station's day (Asia/Ho_Chi_Minh) as published to open data: the daily VN_AQI (Decision
    1459/QĐ-TCMT §2.2.2) and the daily concentrations it came from (µg/m³)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    aqi = models.IntegerField(null=True)
    level = models.PositiveSmallIntegerField(null=True)
    dominant = models.CharField(max_length=40, blank=True)
    pm25_24h = models.FloatField(null=True)
    pm10_24h = models.FloatField(null=True)
    no2_1h_max = models.FloatField(null=True)
    so2_1h_max = models.FloatField(null=True)
    co_1h_max = models.FloatField(null=True)
    o3_1h_max = models.FloatField(null=True)
    hourly_aqi_max = models.IntegerField(null=True)
    hours = models.PositiveSmallIntegerField(default=0, help_text="Hours with a PM2.5 or PM10 mean.")
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "device"]
        constraints = [models.UniqueConstraint(fields=["device", "day"], name="iot_aqday_unique")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.day.isoformat()}"


class TrafficDay(models.Model):
    """A road segment's day (Asia/Ho_Chi_Minh) as published to open data: means of its 5-minute
    intervals and how many of them were congested (``iot.traffic``: congested or jammed)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    vehicles = models.IntegerField(null=True, help_text="Vehicles counted: Σ flow × interval.")
    flow_mean = models.FloatField(null=True, help_text="veh/h")
    speed_mean = models.FloatField(null=True, help_text="km/h, weighted by the readings")
    occupancy_mean = models.FloatField(null=True, help_text="%")
    intervals = models.PositiveSmallIntegerField(default=0, help_text="5-minute intervals with a level.")
    congested_intervals = models.PositiveSmallIntegerField(default=0)
    worst_level = models.CharField(max_length=12, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "device"]
        constraints = [models.UniqueConstraint(fields=["device", "day"], name="iot_trafficday_unique")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.day.isoformat()}"
