"""The city's data integration and sharing platform (nền tảng tích hợp, chia sẻ dữ liệu, LGSP).

In the spirit of X-Road: a :class:`Member` is an organisation (a city agency, a district, a ward, or
a national body reached through the national platform NDXP); its :class:`InformationSystem`\\ s
publish :class:`Service`\\ s (REST with an OpenAPI document, or event :class:`Channel`\\ s) and consume
others'. A consuming system authenticates as an OAuth2 client of the city's OpenID provider (client
credentials); the providing organisation grants it :class:`AccessRight`\\ s per service and, for
REST, per method and path. Every call through the gateway leaves a :class:`MessageLogRecord`:
hashes of both bodies, chained per gateway process, the chain's head sealed by an RFC 3161 time
stamp (:class:`LogSeal`) so that any record can be proven unaltered.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

CODE_HELP = "Letters, digits, '.', '-' and '_'; part of the gateway's path /x/{member}/{system}/{service}/."


class MemberKind(models.TextChoices):
    CITY = "city", "Cơ quan, đơn vị của Thành phố"
    NATIONAL = "national", "Cơ quan trung ương (qua NDXP)"
    OTHER = "other", "Tổ chức khác"


class Member(models.Model):
    """An organisation on the platform. City agencies carry their electronic identifier code
    (Circular 10/2016/TT-BTTTT) as ``code``; national members are reached through a :class:`Peer`."""

    code = models.CharField(max_length=64, unique=True, help_text=CODE_HELP)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=MemberKind.choices, default=MemberKind.CITY)
    agency = models.ForeignKey("core.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    peer = models.ForeignKey("Peer", null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Peer(models.Model):
    """Another platform reached with the same protocol: the national data exchange platform
    (NDXP). The gateway forwards calls to its members' services to ``gateway_url`` with a token it
    obtains from ``token_url`` by client credentials (the city's account on the peer)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    gateway_url = models.URLField(help_text="Base URL: /{member}/{system}/{service}/... is appended.")
    token_url = models.URLField()
    client_id = models.CharField(max_length=200)
    client_secret = models.CharField(max_length=500, help_text="The city's secret on the peer.")
    scope = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class SystemState(models.TextChoices):
    CONNECTED = "connected", "Đã kết nối"
    PLANNED = "planned", "Chưa kết nối"
    SUSPENDED = "suspended", "Tạm ngừng"


class InformationSystem(models.Model):
    """An information system of a member (hệ thống thông tin): it publishes services and, with an
    OAuth2 client of its own (client credentials), consumes others'. The plan's dashboard counts
    the systems connected to the platform."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="systems")
    code = models.CharField(max_length=64, help_text=CODE_HELP)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=SystemState.choices, default=SystemState.CONNECTED)
    connected_at = models.DateTimeField(null=True, blank=True)
    client_id = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="The OAuth2 client it calls the gateway as."
    )
    rate_per_second = models.PositiveIntegerField(default=50, help_text="Calls per second through the gateway.")
    burst = models.PositiveIntegerField(default=100, help_text="Calls it may make at once above the rate.")
    daily_quota = models.PositiveIntegerField(default=0, help_text="Calls per day; 0: no daily quota.")
    contact_email = models.EmailField(blank=True, help_text="Told when deliveries to it fail for good.")
    certificate_sha256 = models.CharField(
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[0-9a-f]{64}$", "SHA-256, 64 chữ số hex thường / 64 lower-case hex digits.")],
        help_text="SHA-256 of its TLS client certificate (DER), RFC 8705 §3.1: when set, its calls through the "
        "gateway's edge must come over mutual TLS with that certificate, and its token alone is not enough.",
    )

    class Meta:
        ordering = ["member__code", "code"]
        constraints = [models.UniqueConstraint(fields=["member", "code"], name="exchange_system_code_unique")]

    def __str__(self) -> str:
        return f"{self.member.code}/{self.code}"


class ServiceKind(models.TextChoices):
    REST = "rest", "REST (OpenAPI)"
    EVENTS = "events", "Kênh sự kiện"


class Service(models.Model):
    """A service a system publishes: calls to ``/x/{member}/{system}/{code}/{path}`` go to
    ``upstream_url`` + ``{path}`` unchanged. ``openapi`` is its published description."""

    system = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="services")
    code = models.CharField(max_length=64, help_text=CODE_HELP)
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=ServiceKind.choices, default=ServiceKind.REST)
    upstream_url = models.URLField(blank=True, help_text="The provider's base URL (REST); empty through a peer.")
    openapi = models.JSONField(null=True, blank=True)
    timeout_seconds = models.FloatField(default=30.0)
    max_body_bytes = models.PositiveIntegerField(default=10 * 1024 * 1024)
    retries = models.PositiveSmallIntegerField(default=2, help_text="Retries of idempotent calls that fail to connect.")
    log_bodies = models.BooleanField(default=False, help_text="Keep the bodies in the message log (encrypted).")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["system__member__code", "system__code", "code"]
        constraints = [models.UniqueConstraint(fields=["system", "code"], name="exchange_service_code_unique")]

    def __str__(self) -> str:
        return f"{self.system}/{self.code}"


class AccessRight(models.Model):
    """The providing organisation lets ``consumer`` call ``service``: every method and path when
    ``methods`` and ``path_prefix`` are empty, else only those methods (comma-separated, upper case)
    on paths starting with ``path_prefix``. Revoked rights are kept for the record."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="rights")
    consumer = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="rights")
    methods = models.CharField(max_length=100, blank=True)
    path_prefix = models.CharField(max_length=300, blank=True)
    granted_by = models.CharField(max_length=150, blank=True)
    granted_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["consumer", "service"])]

    def __str__(self) -> str:
        return f"{self.consumer} → {self.service} {self.methods or '*'} {self.path_prefix or '/'}"


class MessageLogRecord(models.Model):
    """One call through the gateway, or one refused (then ``error`` holds the stable error code and
    nothing reached the provider). ``node`` is the gateway process that wrote it; its records form
    one chain: ``seq`` counts from 1 without gaps and ``hash`` = SHA-256 over the record's fields
    and the previous record's hash (``exchange.logchain.record_hash``)."""

    node = models.CharField(max_length=100)
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    request_id = models.CharField(max_length=64)
    client_id = models.CharField(max_length=100, blank=True)
    consumer = models.CharField(max_length=140, blank=True, help_text="member/system of the caller.")
    service = models.CharField(max_length=220, help_text="member/system/service called.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    end_user = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField()
    error = models.CharField(max_length=40, blank=True)
    duration_ms = models.FloatField()
    request_bytes = models.PositiveBigIntegerField(default=0)
    response_bytes = models.PositiveBigIntegerField(default=0)
    request_sha256 = models.CharField(max_length=64)
    response_sha256 = models.CharField(max_length=64)
    bodies = models.BinaryField(null=True, blank=True, help_text="Both bodies, encrypted (Fernet), when kept.")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "seq"], name="exchange_log_node_seq_unique")]
        indexes = [models.Index(fields=["at"]), models.Index(fields=["service", "at"])]

    def __str__(self) -> str:
        return f"{self.node}#{self.seq} {self.method} {self.service}{self.path} {self.status}"


class LogSeal(models.Model):
    """An RFC 3161 time stamp over the head of one node's chain: every record up to ``seq`` is
    proven to have existed, as it is, at the stamp's time."""

    node = models.CharField(max_length=100)
    seq = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    token = models.BinaryField(help_text="The DER TimeStampToken of the time-stamping authority.")
    stamped_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "seq"], name="exchange_seal_node_seq_unique")]

    def __str__(self) -> str:
        return f"{self.node}#{self.seq} @ {self.stamped_at:%Y-%m-%d %H:%M:%S}"


class LogArchive(models.Model):
    """Records past their retention, moved out of the database into a compressed JSON Lines file of
    the document store, with the chain's links kept so that verification spans the archive."""

    node = models.CharField(max_length=100)
    first_seq = models.PositiveBigIntegerField()
    last_seq = models.PositiveBigIntegerField()
    last_hash = models.CharField(max_length=64)
    records = models.PositiveIntegerField()
    blob_key = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64, help_text="Of the archive file.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "first_seq"], name="exchange_archive_unique")]

    def __str__(self) -> str:
        return f"{self.node}#{self.first_seq}–{self.last_seq} ({self.blob_key})"


class Channel(models.Model):
    """An event channel (dossier status changes, new registrations, document arrivals...): the
    publishing side of a :class:`Service` of kind ``events``, so the same access rights govern who
    may subscribe. Platform modules publish through their outbox: ``topics`` lists the outbox topics
    (a trailing ``*`` matches a prefix) whose events go out on this channel."""

    service = models.OneToOneField(Service, on_delete=models.PROTECT, related_name="channel")
    topics = models.JSONField(default=list, blank=True)
    schema = models.JSONField(null=True, blank=True, help_text="JSON Schema of an event's data.")

    def __str__(self) -> str:
        return str(self.service)


class Subscription(models.Model):
    """A system's callback for a channel's events, those matching ``filters`` (event attribute →
    accepted value or list of values). Each delivery is signed with ``secret`` (HMAC-SHA256)."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="subscriptions")
    subscriber = models.ForeignKey(InformationSystem, on_delete=models.PROTECT, related_name="subscriptions")
    callback_url = models.URLField()
    filters = models.JSONField(default=dict, blank=True)
    secret = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.subscriber} ← {self.channel}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Đang gửi"
    DELIVERED = "delivered", "Đã gửi"
    DEAD = "dead", "Gửi không thành công"


class Delivery(models.Model):
    """One event for one subscription: tried until the subscriber answers 2xx, with back-off;
    after ``MAX_ATTEMPTS`` it is dead (the dead-letter list admins see), and the subscriber's
    contact and the platform's operators are told. An admin may send a dead one again."""

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="deliveries")
    event_id = models.CharField(max_length=64, help_text="The CloudEvents id: the subscriber's dedupe key.")
    event = models.JSONField(help_text="The CloudEvents 1.0 envelope sent.")
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField()
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="exchange_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["next_at"], condition=Q(state="pending"), name="exchange_delivery_due"),
            models.Index(fields=["state", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscription} ({self.state})"


class PortalPushState(models.TextChoices):
    PENDING = "pending", "Chờ gửi"
    SENT = "sent", "Đã gửi"
    DEAD = "dead", "Gửi thất bại"


class PortalPush(models.Model):
    """One status change of a dossier to push to the National Public Service Portal, in the
    national format (``payload``). ``sequence`` numbers a dossier's changes from 1: a change is
    sent only after its dossier's earlier ones, so the portal sees them in order (the portal
    ignores a (dossier, sequence) it already has, so a resend is harmless)."""

    dossier_code = models.CharField(max_length=48)
    sequence = models.PositiveIntegerField()
    payload = models.JSONField()
    state = models.CharField(max_length=8, choices=PortalPushState.choices, default=PortalPushState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dossier_code", "sequence"], name="portal_push_once")]
        indexes = [models.Index(fields=["state", "next_at"])]

    def __str__(self) -> str:
        return f"{self.dossier_code}#{self.sequence} ({self.state})"


class PortalProcedure(models.Model):
    """A procedure of the national catalogue as last read from the National Public Service Portal:
    what the next sync compares with to report procedures added, changed and removed there.
    ``removed_at`` is set when the portal no longer lists it (kept for the city's old dossiers)."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=400)
    level = models.CharField(max_length=16, blank=True)
    agency_level = models.CharField(max_length=16, blank=True)
    processing_days = models.PositiveSmallIntegerField(null=True, blank=True)
    fees = models.JSONField(default=list)
    synced_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
