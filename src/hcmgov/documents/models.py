"""Files and what the city knows of them: stored content (:class:`Blob`), the components digitised
into their owner's personal data store (:class:`Component`, kho quản lý dữ liệu điện tử), the
results issued and signed (:class:`Result`), and the certificates agencies sign with
(:class:`SigningCertificate`).

A blob is content-addressed: its name in the storage is its SHA-256, so the same bytes are stored
once however many dossiers carry them. A component is a document that belongs to a person (or a
business, through its representative's account): a scan an official digitised at the desk and
confirmed, an upload an official confirmed, or a result the city issued. Later dossiers reference
it by its code instead of asking for a new upload (Decree 45/2020/NĐ-CP, Art. 23–25, as the
platform reads secondary sources on the electronic data store; not checked against the decree's
text here).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Retention(models.TextChoices):
    """How long content is kept: ``draft`` uploads not yet part of a submitted dossier (removed
    after a while), ``dossier`` the files of dossiers (the archive's term for the procedure),
    ``permanent`` results and confirmed components of a person's data store."""

    DRAFT = "draft", "Bản nháp"
    DOSSIER = "dossier", "Thành phần hồ sơ"
    PERMANENT = "permanent", "Lưu trữ lâu dài"


class ScanState(models.TextChoices):
    UNSCANNED = "unscanned", "Chưa quét"  # no antivirus configured
    CLEAN = "clean", "Sạch"
    INFECTED = "infected", "Nhiễm mã độc"


class Blob(models.Model):
    """Stored content, once per SHA-256, with what was learnt from the bytes themselves."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=80, help_text="Sniffed from the content, not the file name.")
    pages = models.PositiveIntegerField(null=True, blank=True, help_text="PDF pages; 1 for an image.")
    name = models.CharField(max_length=255, help_text="Name in the storage (derived from the SHA-256).")
    retention = models.CharField(max_length=10, choices=Retention.choices, default=Retention.DOSSIER)
    scan_state = models.CharField(max_length=10, choices=ScanState.choices, default=ScanState.UNSCANNED)
    scan_note = models.CharField(max_length=200, blank=True, help_text="Scanner and signature found, if any.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["retention", "created_at"])]  # the purge of old drafts

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.content_type} {self.size}"


class ComponentKind(models.TextChoices):
    COMPONENT = "component", "Thành phần hồ sơ số hoá"
    RESULT = "result", "Kết quả giải quyết TTHC"


class ComponentState(models.TextChoices):
    """``pending``: digitised (scanned or uploaded) and waiting for an official to confirm it
    matches the paper; ``confirmed``: may be reused; ``revoked``: withdrawn (wrong document,
    expired paper, a result annulled)."""

    PENDING = "pending", "Chờ xác nhận"
    CONFIRMED = "confirmed", "Đã xác nhận"
    REVOKED = "revoked", "Đã thu hồi"


class Component(models.Model):
    """A document in its owner's personal data store, with an identity later dossiers reference."""

    code = models.CharField(max_length=40, unique=True, help_text="Mã thành phần số hoá.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="components")
    kind = models.CharField(max_length=10, choices=ComponentKind.choices, default=ComponentKind.COMPONENT)
    doc_type = models.CharField(
        max_length=40, help_text="Code of the required document it answers (catalog), e.g. GIAYTOTUYTHAN."
    )
    title = models.CharField(max_length=300)
    title_en = models.CharField(max_length=300, blank=True)
    filename = models.CharField(max_length=255)
    state = models.CharField(max_length=10, choices=ComponentState.choices, default=ComponentState.PENDING)
    agency = models.ForeignKey(
        "core.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Digitised by."
    )
    source_dossier_code = models.CharField(max_length=48, blank=True, help_text="Dossier it came in with.")
    digitised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text="The paper's own expiry, if any.")
    text = models.TextField(blank=True, help_text="Recognised text (OCR) of a scan, or the PDF's own text.")
    text_search = models.TextField(blank=True, help_text="The text folded (lower case, no diacritics) for search.")
    ocr_confidence = models.FloatField(null=True, blank=True, help_text="Tesseract's mean word confidence, 0–100.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "state", "doc_type"]),
            models.Index(fields=["agency", "state", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.doc_type}"


class Result(models.Model):
    """A result of a dossier, issued as a signed PDF (PAdES) that anyone can verify: the QR code
    on it opens the verification page at ``verify_token``."""

    dossier = models.ForeignKey("dossiers.Dossier", on_delete=models.PROTECT, related_name="+")
    dossier_code = models.CharField(max_length=48)
    component = models.OneToOneField(Component, on_delete=models.PROTECT, related_name="result")
    number = models.CharField(max_length=60, help_text="Số của kết quả (decision or certificate number).")
    title = models.CharField(max_length=300)
    title_en = models.CharField(max_length=300, blank=True)
    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    certificate = models.ForeignKey("SigningCertificate", on_delete=models.PROTECT, related_name="results")
    signed_sha256 = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the signed PDF.")
    signed_at = models.DateTimeField()
    timestamped_at = models.DateTimeField(null=True, blank=True, help_text="Time in the RFC 3161 token.")
    verify_token = models.CharField(max_length=32, unique=True, help_text="In the QR code's verification URL.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dossier", "number"], name="result_number_per_dossier")]

    def __str__(self) -> str:
        return f"{self.dossier_code} {self.number}"


class CertificateSource(models.TextChoices):
    DEMO = "demo", "CA thử nghiệm (demo)"
    PKCS12 = "pkcs12", "Tệp PKCS#12"
    PKCS11 = "pkcs11", "Thiết bị PKCS#11 (token, HSM)"


class SigningCertificate(models.Model):
    """A certificate an agency signs results with, and where its private key is: a PKCS#12 file
    (``key_ref`` its path; the passphrase from the environment variable named in ``secret_env``)
    or a PKCS#11 token (``key_ref`` ``module|token label|key label``)."""

    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=300)
    issuer = models.CharField(max_length=300)
    serial = models.CharField(max_length=80)
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    certificate_pem = models.TextField()
    source = models.CharField(max_length=10, choices=CertificateSource.choices)
    key_ref = models.CharField(max_length=500)
    secret_env = models.CharField(max_length=80, blank=True)
    active = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["agency", "active"])]

    def __str__(self) -> str:
        return f"{self.subject} ({self.serial})"


class IssueState(models.TextChoices):
    QUEUED = "queued", "Đang chờ ký"
    ISSUED = "issued", "Đã cấp"
    REFUSED = "refused", "Chưa ký được (chứng thư số)"
    FAILED = "failed", "Lỗi khi ký"


class ResultRequest(models.Model):
    """A finished dossier's result asked for (the ``dossier.finished`` reaction) and what became
    of it: the sweep queues again what stayed queued, failed, or was refused for want of a
    certificate, and only that — dossiers that never finished through the platform (imported,
    demo) are not signed behind anyone's back."""

    dossier_id = models.BigIntegerField(unique=True)
    state = models.CharField(max_length=10, choices=IssueState.choices, default=IssueState.QUEUED)
    reason = models.CharField(max_length=40, blank=True, help_text="The refusal's or error's code.")
    requested_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["updated_at"], condition=~models.Q(state="issued"), name="result_request_open")]

    def __str__(self) -> str:
        return f"{self.dossier_id} {self.state}"


class CertificationKind(models.TextChoices):
    """How a copy was certified from its original (Decree 23/2015/NĐ-CP; the electronic form by
    Decree 45/2020/NĐ-CP, Art. 2 and 27: "chứng thực bản sao điện tử từ bản chính")."""

    ELECTRONIC = "electronic", "Bản sao điện tử"
    PAPER = "paper", "Bản sao giấy"


class Certification(models.Model):
    """One entry of an agency's certification book (sổ chứng thực bản sao từ bản chính) of a year:
    a copy certified from its original, on paper or electronically.

    Numbered per agency and year from 1, without gaps or duplicates (``number`` taken from core's
    sequence inside the creating transaction; the unique constraint is the last guard). An
    electronic certification keeps the scan of the original (``original``) and the signed PDF
    copy with the certification statement (``signed``), which anyone verifies like a result."""

    agency = models.ForeignKey("core.Agency", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(help_text="Year of the certification book.")
    number = models.PositiveIntegerField(help_text="Số chứng thực: order in the year's book, from 1.")
    kind = models.CharField(max_length=10, choices=CertificationKind.choices)
    certified_at = models.DateTimeField()
    requester_name = models.CharField(max_length=150, help_text="Người yêu cầu chứng thực.")
    requester_id = models.CharField(max_length=12, blank=True, help_text="Số định danh cá nhân, if given.")
    document_title = models.CharField(max_length=300, help_text="The original's title (tên bản chính).")
    document_issuer = models.CharField(max_length=300, blank=True, help_text="Who issued the original.")
    pages = models.PositiveSmallIntegerField(help_text="Pages of one copy.")
    copies = models.PositiveSmallIntegerField(help_text="Copies certified (an electronic certification: 1).")
    fee = models.PositiveIntegerField(help_text="Lệ phí, in đồng (Circular 226/2016/TT-BTC).")
    official = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    original = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Scan of the original."
    )
    signed = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The signed PDF copy."
    )
    certificate = models.ForeignKey(
        SigningCertificate, null=True, blank=True, on_delete=models.PROTECT, related_name="certifications"
    )
    signed_sha256 = models.CharField(max_length=64, null=True, blank=True, unique=True)
    timestamped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "year", "number"], name="certification_number_per_book"),
            models.CheckConstraint(
                condition=models.Q(kind="paper") | models.Q(signed__isnull=False),
                name="certification_electronic_signed",
            ),
        ]
        indexes = [models.Index(fields=["agency", "certified_at"])]

    def __str__(self) -> str:
        return f"{self.book_number} {self.document_title}"

    @property
    def book_number(self) -> str:
        """As the book and the statement print it: ``<number>/<year>/SCT/BS`` (sổ chứng thực bản sao)."""
        return f"{self.number}/{self.year}/SCT/BS"
