"""Dossiers (hồ sơ), their attached documents and their history."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
    channel = models.PositiveSmallIntegerField(choices=Channel.choices, default=Channel.ONLINE)
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.NEW)
    form_data = models.JSONField()
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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["applicant", "idempotency_key"], name="dossier_idempotency"),
        ]
        indexes = [
            models.Index(fields=["applicant", "-submitted_at"]),
            models.Index(fields=["agency", "status", "-submitted_at"]),
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["applicant", "fingerprint"]),
        ]

    def __str__(self) -> str:
        return self.code


class DossierDocument(models.Model):
    """A file attached to a dossier for one of the procedure's required documents."""

    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="documents")
    requirement = models.CharField(max_length=40, help_text="Code of the required document it answers.")
    file = models.FileField(upload_to="dossiers/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(auto_now_add=True)

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
