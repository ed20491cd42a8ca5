"""The electronic office: official documents (văn bản đi, văn bản đến) and their registers, drafts and
their review and signature, work records (hồ sơ công việc), and the dispatch of issued documents to
other agencies through the exchange's event channels.

The clerical rules are those of Decree 30/2020/NĐ-CP on clerical work (công tác văn thư); each rule
is cited where it is encoded, and docs/office/README.md lists them with how sure we are of each.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hcmgov.office.doctypes import DOCUMENT_TYPE_CHOICES


class Direction(models.TextChoices):
    OUTGOING = "out", "Sổ đăng ký văn bản đi"
    INCOMING = "in", "Sổ đăng ký văn bản đến"


class Urgency(models.TextChoices):
    """Độ khẩn (Decree 30/2020, Appendix I: khẩn, thượng khẩn, hỏa tốc; none marked: thường)."""

    NORMAL = "normal", "Thường"
    URGENT = "urgent", "Khẩn"
    VERY_URGENT = "very_urgent", "Thượng khẩn"
    EXPRESS = "express", "Hỏa tốc"


class Confidentiality(models.TextChoices):
    """Độ mật (Law on Protection of State Secrets 2018, Art. 8: mật, tối mật, tuyệt mật)."""

    NORMAL = "normal", "Thường"
    SECRET = "secret", "Mật"
    TOP_SECRET = "top_secret", "Tối mật"
    ABSOLUTE = "absolute", "Tuyệt mật"


class Origin(models.TextChoices):
    """``platform``: numbered here, under the register's lock; ``imported``: a number typed or
    brought from another system, kept as given (the register check reports its clashes)."""

    PLATFORM = "platform", "Cấp số trên hệ thống"
    IMPORTED = "imported", "Nhập từ ngoài"


class Register(models.Model):
    """A register (sổ đăng ký) of an agency for one calendar year: outgoing or incoming, and
    confidential documents in a register of their own (Decree 30/2020, Art. 15(1)(c) and 22(2)).
    ``last`` is the last number issued on the platform, read and raised under a row lock."""

    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    year = models.PositiveSmallIntegerField()
    confidential = models.BooleanField(default=False)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "direction", "year", "confidential"], name="office_register_unique"
            )
        ]

    def __str__(self) -> str:
        secret = " (mật)" if self.confidential else ""
        return f"{self.get_direction_display()} {self.year}{secret} #{self.agency_id}"


class RecordState(models.TextChoices):
    OPEN = "open", "Mở hồ sơ"
    IN_PROGRESS = "in_progress", "Đang giải quyết"
    CLOSED = "closed", "Đã kết thúc"
    ARCHIVED = "archived", "Đã nộp lưu"


class WorkRecord(models.Model):
    """A work record (hồ sơ công việc): the documents of one matter, opened, handled by a lead and
    collaborators, closed when the matter ends and handed to the agency's archive with its
    retention period (Decree 30/2020, Art. 28–31)."""

    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=60, help_text="Ký hiệu hồ sơ (from the agency's list of records).")
    title = models.CharField(max_length=300)
    year = models.PositiveSmallIntegerField()
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=RecordState.choices, default=RecordState.OPEN)
    deadline = models.DateField(null=True, blank=True)
    retention_years = models.PositiveSmallIntegerField(null=True, blank=True)
    retention_permanent = models.BooleanField(default=False)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    paper_items = models.PositiveIntegerField(
        default=0, help_text="Documents of the record kept on paper only (not handled on the platform)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "year", "code"], name="office_record_code")]
        indexes = [models.Index(fields=["agency", "state"])]

    def __str__(self) -> str:
        return f"{self.code} {self.title[:40]}"


class RecordMember(models.Model):
    """A collaborator of a work record (phối hợp), with the deadline of their part."""

    record = models.ForeignKey(WorkRecord, on_delete=models.CASCADE, related_name="members")
    official = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    task = models.CharField(max_length=300, blank=True)
    deadline = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record", "official"], name="office_record_member")]

    def __str__(self) -> str:
        return f"{self.record_id} {self.official_id}"


class DocumentState(models.TextChoices):
    DRAFT = "draft", "Dự thảo"
    IN_REVIEW = "in_review", "Chờ duyệt"
    RETURNED = "returned", "Trả lại"
    APPROVED = "approved", "Đã duyệt"
    SIGNED = "signed", "Đã ký số"
    ISSUED = "issued", "Đã ban hành"


class OutgoingDocument(models.Model):
    """An outgoing document (văn bản đi): drafted, reviewed, signed, then issued with the next
    number of its register (Decree 30/2020, Art. 15 and Appendix I on the number and symbol)."""

    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    agency_abbreviation = models.CharField(max_length=20, help_text="Issuing body's abbreviation, e.g. UBND.")
    unit_abbreviation = models.CharField(
        max_length=20, blank=True, help_text="Drafting unit or field, for a công văn (e.g. VX)."
    )
    doc_type = models.CharField(max_length=20, choices=DOCUMENT_TYPE_CHOICES)
    summary = models.CharField(max_length=500, help_text="Trích yếu nội dung.")
    urgency = models.CharField(max_length=12, choices=Urgency.choices, default=Urgency.NORMAL)
    confidentiality = models.CharField(max_length=12, choices=Confidentiality.choices, default=Confidentiality.NORMAL)
    recipients = models.TextField(blank=True, help_text="Nơi nhận, one a line.")
    pages = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=DocumentState.choices, default=DocumentState.DRAFT)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    record = models.ForeignKey(
        WorkRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="outgoing_documents"
    )
    register = models.ForeignKey(Register, null=True, blank=True, on_delete=models.PROTECT, related_name="outgoing")
    number = models.PositiveIntegerField(null=True, blank=True)
    number_symbol = models.CharField(max_length=80, blank=True, help_text="Số, ký hiệu, e.g. 05/QĐ-UBND.")
    issued_on = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.PLATFORM)
    electronic = models.BooleanField(default=True, help_text="Issued as an electronic (signed) document.")
    issued_file_key = models.CharField(
        max_length=200, blank=True, help_text="The issued PDF: the number written on it, signed by the agency."
    )
    issued_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Two documents issued on the platform never share a number of a register: the row
            # lock serialises issuing, and this is the database's guarantee behind it.
            models.UniqueConstraint(
                fields=["register", "number"],
                condition=models.Q(origin="platform", number__isnull=False),
                name="office_outgoing_number_unique",
            )
        ]
        indexes = [models.Index(fields=["agency", "state"]), models.Index(fields=["issued_on"])]

    def __str__(self) -> str:
        return self.number_symbol or f"dự thảo #{self.pk}"


class DraftVersion(models.Model):
    """One version of a document's draft file, kept by the documents' storage, with its SHA-256."""

    document = models.ForeignKey(OutgoingDocument, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file_key = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=80)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "version"], name="office_draft_version")]
        ordering = ["document", "version"]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.version} {self.sha256[:12]}"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", "Đồng ý"
    RETURNED = "returned", "Trả lại"


class Review(models.Model):
    """A reviewer's decision on one version of a draft: approved, or returned with a reason."""

    document = models.ForeignKey(OutgoingDocument, on_delete=models.CASCADE, related_name="reviews")
    version = models.ForeignKey(DraftVersion, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=ReviewDecision.choices)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.document_id} v{self.version_id} {self.decision}"


class Signature(models.Model):
    """A digital signature (PAdES, by the agency's certificate) of one draft version: the signed
    file is kept beside the draft, with its SHA-256."""

    document = models.ForeignKey(OutgoingDocument, on_delete=models.CASCADE, related_name="signatures")
    version = models.ForeignKey(DraftVersion, on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    certificate_fingerprint = models.CharField(max_length=64)
    signed_sha256 = models.CharField(max_length=64)
    file_key = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    timestamped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.document_id} v{self.version_id} {self.signed_sha256[:12]}"


class IncomingDocument(models.Model):
    """An incoming document (văn bản đến), registered with its arrival number (số đến) and date
    in the receiving agency's incoming register (Decree 30/2020, Art. 22)."""

    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="incoming")
    arrival_number = models.PositiveIntegerField()
    arrival_date = models.DateField()
    number_symbol = models.CharField(max_length=80, help_text="The sender's số, ký hiệu.")
    issued_on = models.DateField(null=True, blank=True)
    issuing_body = models.CharField(max_length=300)
    doc_type = models.CharField(max_length=20, choices=DOCUMENT_TYPE_CHOICES)
    summary = models.CharField(max_length=500)
    urgency = models.CharField(max_length=12, choices=Urgency.choices, default=Urgency.NORMAL)
    confidentiality = models.CharField(max_length=12, choices=Confidentiality.choices, default=Confidentiality.NORMAL)
    pages = models.PositiveIntegerField(null=True, blank=True)
    electronic = models.BooleanField(default=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.PLATFORM)
    file_key = models.CharField(max_length=200, blank=True, help_text="The signed file received, if kept here.")
    signed_sha256 = models.CharField(max_length=64, blank=True)
    dispatch = models.OneToOneField(
        "Dispatch", null=True, blank=True, on_delete=models.PROTECT, related_name="incoming"
    )
    record = models.ForeignKey(
        WorkRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="incoming_documents"
    )
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["register", "arrival_number"],
                condition=models.Q(origin="platform"),
                name="office_incoming_number_unique",
            )
        ]

    def __str__(self) -> str:
        return f"đến {self.arrival_number}: {self.number_symbol}"


class DispatchState(models.TextChoices):
    """States of a document sent to another agency, after the statuses the national document
    exchange uses (đã gửi, đã nhận/tiếp nhận, đã xử lý, trả lại)."""

    SENT = "sent", "Đã gửi"
    RECEIVED = "received", "Đã tiếp nhận"
    PROCESSED = "processed", "Đã xử lý"
    RETURNED = "returned", "Trả lại"


class Dispatch(models.Model):
    """An issued document sent to one recipient agency through the exchange's channel of
    official documents, with the recipient's acknowledgements."""

    document = models.ForeignKey(OutgoingDocument, on_delete=models.PROTECT, related_name="dispatches")
    recipient = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=DispatchState.choices, default=DispatchState.SENT)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "recipient"], name="office_dispatch_unique")]
        indexes = [models.Index(fields=["state", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.recipient_id} {self.state}"
