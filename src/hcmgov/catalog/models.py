"""The administrative-procedure catalogue (thủ tục hành chính) and its versions."""

from __future__ import annotations

from django.db import models


class Level(models.TextChoices):
    COMMUNE = "commune", "Cấp xã"
    DISTRICT = "district", "Cấp huyện"
    CITY = "city", "Cấp tỉnh"


class OnlineLevel(models.TextChoices):
    """Decree 42/2022/NĐ-CP, Art. 11: full-process or partial online public service."""

    FULL = "full", "Toàn trình"
    PARTIAL = "partial", "Một phần"


class Procedure(models.Model):
    """A procedure, identified by its national code (e.g. ``1.001193``). Its content lives in
    versions; the searchable facts of the version in force are copied here for fast filtering."""

    code = models.CharField(max_length=16, unique=True)
    local_code = models.CharField(max_length=40, blank=True)
    code_verified = models.BooleanField(default=False)
    code_source = models.CharField(max_length=400, blank=True)
    name = models.CharField(max_length=400)
    name_en = models.CharField(max_length=400)
    field = models.CharField(max_length=120)
    field_en = models.CharField(max_length=120)
    level = models.CharField(max_length=10, choices=Level.choices)
    agency_kind = models.CharField(max_length=16)
    agency_department = models.CharField(max_length=32, blank=True)
    online_level = models.CharField(max_length=8, choices=OnlineLevel.choices)
    statutory_days = models.PositiveSmallIntegerField()
    has_fee = models.BooleanField(default=False)
    search_text = models.TextField(blank=True, help_text="Names without diacritics, for search.")

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "field"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProcedureVersion(models.Model):
    """The content of a procedure valid from a date: fees, documents, form, time. Dossiers keep
    the version they were submitted under."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    statutory_days = models.PositiveSmallIntegerField()
    same_day_cutoff = models.TimeField(null=True, blank=True)
    fees = models.JSONField(default=list)
    fee_stage = models.CharField(
        max_length=10, default="submission", help_text="When fees are due: submission or result (payments.fees)."
    )
    required_documents = models.JSONField(default=list)
    legal_basis = models.JSONField(default=list)
    result = models.CharField(max_length=300)
    result_en = models.CharField(max_length=300)
    form_schema = models.JSONField()
    notes = models.TextField(blank=True)
    # two parts a procedure must publish (Decree 63/2010/NĐ-CP, Art. 8) that the other fields do not
    # hold: the order of steps for the applicant (trình tự thực hiện) and who may apply (đối tượng)
    steps = models.JSONField(default=list, blank=True, help_text="Trình tự thực hiện: the steps, in order.")
    applicants = models.JSONField(default=list, blank=True, help_text="Đối tượng thực hiện: who may apply.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["procedure", "version"], name="procedure_version_unique")]
        ordering = ["procedure", "-version"]

    def __str__(self) -> str:
        return f"{self.procedure.code} v{self.version}"


class ProcessFlow(models.Model):
    """A version of a procedure's processing flow: a BPMN 2.0 file (``catalog.flows``) drawn in
    any modeller. The newest upload is the one new dossiers start on; a running dossier keeps the
    version it started with, so versions are never edited or deleted once used."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="flows")
    version = models.PositiveIntegerField()
    process_id = models.CharField(max_length=100)
    name = models.CharField(max_length=400)
    bpmn = models.TextField(help_text="The BPMN 2.0 XML as uploaded.")
    sha256 = models.CharField(max_length=64)
    steps = models.JSONField(default=list, help_text="The steps as read from the file (for display).")
    total_hours = models.DecimalField(max_digits=7, decimal_places=2)
    filename = models.CharField(max_length=255, blank=True)
    uploaded_by_label = models.CharField(max_length=150, blank=True)
    uploaded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure", "version"], name="flow_version_unique"),
            models.UniqueConstraint(fields=["procedure", "sha256"], name="flow_content_unique"),
        ]
        ordering = ["procedure", "-version"]

    def __str__(self) -> str:
        return f"{self.procedure_id} flow v{self.version}"


class Publication(models.Model):
    """The city's publication of a procedure (công bố TTHC), as the national database of
    administrative procedures (CSDL quốc gia về TTHC) records it: the decision of the Chairman of
    the City People's Committee (Quyết định công bố: number, date, signer), the ministry's decision
    it implements (its number and the date it was issued: the day the publication deadline counts
    from) and the day the procedure was put on, or updated on, the national database. One row per
    decision and procedure; read by the service-quality index (Decision 766/QĐ-TTg, 1.1 and 1.2;
    the deadlines are ``catalog.publicity``'s). Written by the sync (``publications_sync``)."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="publications")
    version = models.ForeignKey(
        ProcedureVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="publications",
        help_text="The version the decision publishes, when known (the one in force on the decision date).",
    )  # fmt: skip
    decision_number = models.CharField(max_length=60, help_text="e.g. 1234/QĐ-UBND")
    decision_date = models.DateField(help_text="The day the Chairman signed the publication decision.")
    signed_by = models.CharField(max_length=150, blank=True)
    reference_number = models.CharField(
        max_length=60, blank=True, help_text="The ministry's decision, e.g. 163/QĐ-BTP."
    )
    reference_date = models.DateField(null=True, blank=True, help_text="The day the ministry's decision was issued.")
    national_updated_on = models.DateField(
        null=True, blank=True, help_text="The day the procedure was put or updated on the national database."
    )
    national_id = models.CharField(max_length=80, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure", "decision_number"], name="publication_decision_unique")
        ]
        ordering = ["procedure", "decision_date"]
        indexes = [models.Index(fields=["decision_date"]), models.Index(fields=["national_updated_on"])]

    def __str__(self) -> str:
        return f"{self.procedure_id} {self.decision_number} ({self.decision_date})"


class DeskPosting(models.Model):
    """A procedure's version posted at the one-stop desks (niêm yết công khai tại Bộ phận Một cửa,
    Decree 61/2018/NĐ-CP): the printed sheet of the whole version, so it holds the parts the version
    holds. The latest posting on or before a day says what the desks show that day."""

    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="desk_postings")
    version = models.ForeignKey(ProcedureVersion, on_delete=models.PROTECT, related_name="desk_postings")
    posted_on = models.DateField()
    recorded_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure", "version", "posted_on"], name="desk_posting_unique")
        ]
        ordering = ["procedure", "posted_on"]

    def __str__(self) -> str:
        return f"{self.procedure_id} v{self.version_id} posted {self.posted_on}"
