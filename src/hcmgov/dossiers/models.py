"""Dossiers (hồ sơ), their attached documents and their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hcmgov.common.crypto import EncryptedJSONField


class Status(models.IntegerChoices):
    """Status codes exchanged with the National Public Service Portal."""

    NEW = 1, "Mới"
    RECEIVED = 2, "Đã tiếp nhận"
    NOT_RECEIVED = 3, "Không tiếp nhận"
    IN_PROGRESS = 4, "Đang xử lý"
    SUPPLEMENT_REQUESTED = 5, "Yêu cầu bổ sung"
    PAYMENT_REQUESTED = 6, "Yêu cầu thanh toán"
    WITHDRAWN = 7, "Công dân yêu cầu rút hồ sơ"
    STOPPED = 8, "Dừng xử lý"
    FINISHED = 9, "Đã xử lý xong"
    RETURNED = 10, "Đã trả kết quả"


STATUS_EN = {
    Status.NEW: "New",
    Status.RECEIVED: "Received",
    Status.NOT_RECEIVED: "Not received",
    Status.IN_PROGRESS: "In progress",
    Status.SUPPLEMENT_REQUESTED: "Supplement requested",
    Status.PAYMENT_REQUESTED: "Payment requested",
    Status.WITHDRAWN: "Withdrawn at the applicant's request",
    Status.STOPPED: "Processing stopped",
    Status.FINISHED: "Processing finished",
    Status.RETURNED: "Result returned",
}


# Bound into every ciphertext of ``Dossier.form_data`` (common.crypto): never changes.
FORM_DATA_CONTEXT = "dossiers.dossier.form_data"
# … of the engine's state (it carries the form's facts) and of the post's addressee: never change
WORKFLOW_STATE_CONTEXT = "dossiers.dossier.workflow_state"
DELIVERY_TO_CONTEXT = "dossiers.dossier.delivery_to"

# closed for good: nothing more happens to the dossier (no step, no fee)
CLOSED = frozenset({Status.NOT_RECEIVED, Status.WITHDRAWN, Status.STOPPED, Status.RETURNED})


class Channel(models.IntegerChoices):
    IN_PERSON = 1, "Trực tiếp"
    ONLINE = 2, "Trực tuyến"
    POST = 3, "Bưu chính công ích"


class Dossier(models.Model):
    """An application for one procedure, by one applicant, to one agency.

    ``code`` follows Circular 01/2018/TT-VPCP: ``<agency code>-<YYMMDD>-<4-digit daily sequence>``.
    ``unit`` is the administrative unit of the receiving agency at receipt; it is kept after units
    merge, and statistics map it through the crosswalk.
    """

    code = models.CharField(max_length=48, unique=True)
    procedure = models.ForeignKey("catalog.Procedure", on_delete=models.PROTECT, related_name="+")
    procedure_version = models.ForeignKey("catalog.ProcedureVersion", on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("core.AdminUnit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dossiers")
    applicant_name = models.CharField(max_length=150)
    # The name folded for search (lower case, no diacritics: officials type "nguyen van an"); on
    # PostgreSQL a full-text index over its words serves the back office's search by name.
    applicant_search = models.CharField(max_length=150, blank=True, default="", db_default="")
    channel = models.PositiveSmallIntegerField(choices=Channel.choices, default=Channel.ONLINE)
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.NEW)
    # What the applicant typed in the form (names, personal ID numbers, dates of birth, addresses,
    # phone numbers): encrypted at rest (docs/decisions/0017), nothing looks inside it in SQL.
    # Not editable: no form edits it, and the audit snapshot of a service that names no fields
    # (``dossier.submit``) leaves it out instead of copying it there in clear.
    form_data = EncryptedJSONField(context=FORM_DATA_CONTEXT, editable=False)
    language = models.CharField(max_length=5, default="vi")
    submitted_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True)
    tracking_secret = models.CharField(
        max_length=16, help_text="Printed on the receipt; with the code it opens public tracking."
    )
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of what was submitted, to spot an identical resubmission."
    )
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)  # noqa: DJ001 - NULL: no key, not unique
    # processing: the flow version it runs on and the engine's state (catalog.flows, dossiers.engine)
    flow = models.ForeignKey("catalog.ProcessFlow", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # not editable, as form_data: the engine's state carries the form's facts (engine.start)
    workflow_state = EncryptedJSONField(context=WORKFLOW_STATE_CONTEXT, null=True, blank=True, editable=False)
    # the legal clock (dossiers.clock): ``due_at`` is the legal due moment, moved only by suspension;
    # ``appointment_at`` is what the applicant was last told (an apology letter sets a new one)
    appointment_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True, help_text="Set while a supplement is awaited.")
    suspended_status = models.PositiveSmallIntegerField(null=True, blank=True)
    suspended_days = models.PositiveIntegerField(default=0, help_text="Working days the clock stood still.")
    supplement_count = models.PositiveSmallIntegerField(default=0)
    timeliness = models.CharField(
        max_length=8, choices=[("early", "Trước hạn"), ("on_time", "Đúng hạn"), ("late", "Quá hạn")], blank=True
    )
    # fees (the payments app owns the orders; these flags are what the national portal's reporting
    # and the service-quality index read: dossiers of fee procedures, and those paid online)
    fee_required = models.BooleanField(default=False, help_text="A fee is charged for this dossier.")
    fee_paid_at = models.DateTimeField(null=True, blank=True)
    fee_paid_online = models.BooleanField(default=False, help_text="Paid through an online payment gateway.")
    # the result by the public postal service (the postal app owns the carriages): where to, and
    # the fee the carrier quoted when the applicant chose it
    result_by_post = models.BooleanField(default=False)
    delivery_to = EncryptedJSONField(
        context=DELIVERY_TO_CONTEXT, null=True, blank=True, help_text="name, phone, address, ward_code (encrypted)"
    )
    delivery_fee = models.PositiveIntegerField(null=True, blank=True, help_text="Đồng, as quoted when chosen.")
    # how the applicant authenticated when submitting (``common.context.AuthMethod``: eid, password,
    # password+totp, api_token, oauth…), from the login recorded in the session; "" unknown — a
    # dossier submitted before this was recorded, or filed for the applicant by someone else (at
    # the desk). The service-quality index counts e-ID use (Decision 766/QĐ-TTg, 4.7) from it.
    submitted_auth = models.CharField(max_length=20, blank=True, default="", db_default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["applicant", "idempotency_key"], name="dossier_idempotency"),
        ]
        indexes = [
            models.Index(fields=["applicant", "-submitted_at"]),
            models.Index(fields=["agency", "status", "-submitted_at"]),
            models.Index(fields=["agency", "-submitted_at"]),  # the back office's search, newest first
            models.Index(fields=["agency", "procedure", "-submitted_at"]),  # … of one procedure
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["applicant", "fingerprint"]),
        ]

    def __str__(self) -> str:
        return self.code


class DossierDocument(models.Model):
    """A file attached to a dossier for one of the procedure's required documents. The bytes are a
    blob of the documents app (content-addressed, stored once however many dossiers carry them),
    found by ``sha256``."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="documents")
    requirement = models.CharField(max_length=40, help_text="Code of the required document it answers.")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="The content's SHA-256: the blob holding the bytes.")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    component_code = models.CharField(
        max_length=40, blank=True, help_text="The component of the applicant's data store reused, if any."
    )

    def __str__(self) -> str:
        return f"{self.requirement}: {self.filename}"


class DossierEvent(models.Model):
    """One step of a dossier's public history: the timeline the applicant and officials read."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    status_from = models.PositiveSmallIntegerField(choices=Status.choices, null=True)
    status_to = models.PositiveSmallIntegerField(choices=Status.choices)
    actor_label = models.CharField(max_length=150)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.status_from}→{self.status_to}"


class Timeliness(models.TextChoices):
    EARLY = "early", "Trước hạn"
    ON_TIME = "on_time", "Đúng hạn"
    LATE = "late", "Quá hạn"


class StepState(models.TextChoices):
    OPEN = "open", "Đang xử lý"
    DONE = "done", "Đã xong"
    CANCELLED = "cancelled", "Đã hủy"


class DossierStep(models.Model):
    """One step of a dossier's flow as it happened: who had it, when it was handed over, when it
    was due and when it was done. The back office's queues read open steps; Form 05 (processing
    control sheet) and the statistics read them all."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="steps")
    task_id = models.UUIDField(help_text="The engine's task id.")
    key = models.CharField(max_length=100, help_text="The BPMN element id.")
    name = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    role = models.CharField(max_length=16)
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(max_length=10, choices=StepState.choices, default=StepState.OPEN)
    opened_at = models.DateTimeField()
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    note = models.TextField(blank=True)
    timeliness = models.CharField(max_length=8, choices=Timeliness.choices, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    waiting = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Open while the dossier waits on the applicant (a supplement): out of the work queues and timers.",
    )

    class Meta:
        ordering = ["opened_at", "id"]
        # The work queues and the timers read open steps only — a few per running dossier among the
        # millions of closed ones — so their indexes are partial: small, hot, carrying what the counts
        # need. No index orders all open steps by due time: with one, the planner walks it for a
        # queue's first page hoping to meet the official's steps early, and reads them all when the
        # queue is short (measured: 250–650 ms for an empty queue over a million dossiers).
        indexes = [
            models.Index(
                fields=["agency", "role", "due_at"],
                include=["assignee", "waiting"],
                condition=models.Q(state="open"),
                name="step_open_agency",
            ),
            models.Index(
                fields=["assignee", "due_at"],
                include=["waiting"],
                condition=models.Q(state="open", assignee__isnull=False),
                name="step_open_assignee",
            ),
            models.Index(  # the "awaiting supplement" queue: a few steps per agency among its open ones
                fields=["agency", "due_at"],
                condition=models.Q(state="open", waiting=True),
                name="step_open_waiting",
            ),
            models.Index(
                fields=["remind_at"],
                condition=models.Q(state="open", waiting=False, reminded_at__isnull=True),
                name="step_reminder_due",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(state="open", waiting=False, escalated_at__isnull=True),
                name="step_escalation_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dossier_id}:{self.key} {self.state}"


class SupplementRequest(models.Model):
    """A request to supplement the dossier (Form 02). After receipt it stops the legal clock until
    the applicant answers (Decree 61/2018/NĐ-CP, Art. 18(2)(b); Decision 766/QĐ-TTg counts a dossier
    with more than one such request as late)."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="supplement_requests")
    step = models.ForeignKey(DossierStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_by_label = models.CharField(max_length=150)
    items = models.JSONField(help_text="[{document, reason}] what to supplement and why.")
    note = models.TextField(blank=True)
    counts = models.BooleanField(default=True, help_text="After receipt: stops the clock and counts for statistics.")
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_note = models.TextField(blank=True)
    suspended_days = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.dossier_id} supplement {self.requested_at:%Y-%m-%d}"


class ApologyLetter(models.Model):
    """A letter of apology with a new appointment date for a dossier that will be late (Form 04)."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="apologies")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_label = models.CharField(max_length=150)
    reason = models.TextField()
    previous_appointment = models.DateTimeField()
    new_appointment = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.dossier_id} apology {self.created_at:%Y-%m-%d}"


class DossierComment(models.Model):
    """An internal note between officials on a dossier; never shown to the applicant."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_label = models.CharField(max_length=150)
    at = models.DateTimeField()
    text = models.TextField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dossier_id} comment {self.at:%Y-%m-%d}"


class ProcessingStat(models.Model):
    """Early / on-time / late counts per day, kept up to date as dossiers and steps close, so that
    statistics for any period are a sum over days rather than a pass over history.

    ``kind`` "dossier": one count per finished dossier (``official_id`` 0, ``step_key`` "");
    "step": one per finished step, by the official who did it.

    Rows are appended, never updated in place: a counter row updated by every action of an agency
    is a lock every concurrent action of that agency waits on until commit. Readers sum; the daily
    compaction (``processing_stats_compact``) folds a past day's rows into one per key."""

    day = models.DateField()
    kind = models.CharField(max_length=8)
    agency_id = models.IntegerField()
    procedure_id = models.IntegerField()
    official_id = models.IntegerField(default=0)
    step_key = models.CharField(max_length=100, default="")
    early = models.PositiveIntegerField(default=0)
    on_time = models.PositiveIntegerField(default=0)
    late = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["kind", "agency_id", "day"]), models.Index(fields=["kind", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.agency_id}/{self.procedure_id}"
