"""Periodic reports: indicators, templates, periods, units' reports and their history, and the
exports of the city's approved reports to the national reporting system."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from hcmgov.reporting.periods import KINDS


class IndicatorType(models.TextChoices):
    INTEGER = "integer", "Số nguyên"
    DECIMAL = "decimal", "Số thập phân"
    PERCENT = "percent", "Tỷ lệ phần trăm"
    TEXT = "text", "Văn bản"


class Aggregation(models.TextChoices):
    SUM = "sum", "Cộng"
    MEAN = "mean", "Trung bình"
    MAX = "max", "Lớn nhất"
    RATIO = "ratio", "Tỷ lệ hai chỉ tiêu"
    NONE = "none", "Không tổng hợp"


class Indicator(models.Model):
    """A figure a report asks for (chỉ tiêu báo cáo): its type, unit of measure, allowed range
    and how it is combined up the hierarchy. A ``ratio`` is computed, never typed: the sum of its
    numerator over the sum of its denominator (×100 for a percent), at every level."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=300)
    name_en = models.CharField(max_length=300)
    type = models.CharField(max_length=8, choices=IndicatorType.choices)
    unit = models.CharField(max_length=40, blank=True, help_text="Unit of measure (hồ sơ, %, đồng…).")
    min_value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    aggregation = models.CharField(max_length=8, choices=Aggregation.choices, default=Aggregation.SUM)
    numerator = models.CharField(max_length=40, blank=True, help_text="Ratio: the numerator's indicator code.")
    denominator = models.CharField(max_length=40, blank=True, help_text="Ratio: the denominator's indicator code.")
    prefill = models.CharField(
        max_length=40, blank=True, help_text="A figure the platform knows (reporting.prefill.SOURCES), or empty."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ReportTemplate(models.Model):
    """A report form (mẫu báo cáo): its period kind, its indicators in order, rules between them
    as data (``[{"kind": "sum", "total": "a", "parts": ["b", "c"]}, {"kind": "lte", "left": "b",
    "right": "a"}]``), which unit levels report, and each level's sending deadline in days after
    the cut-off (``{"commune": 2, …}``; defaults in ``periods.DEFAULT_DEADLINE_DAYS``).
    ``agency_kinds`` records which agencies' reports the template asks for besides the units'
    People's Committees (kept, not yet used: the cycle runs over administrative units)."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=300)
    name_en = models.CharField(max_length=300)
    period_kind = models.CharField(max_length=10, choices=[(k, k) for k in KINDS])
    indicators = models.ManyToManyField(Indicator, through="TemplateIndicator", related_name="templates")
    rules = models.JSONField(default=list, blank=True)
    levels = models.JSONField(default=list, help_text='Unit levels that report: ["commune", "district", "city"].')
    agency_kinds = models.JSONField(default=list, blank=True)
    deadlines = models.JSONField(default=dict, blank=True)
    legal_basis = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class TemplateIndicator(models.Model):
    """An indicator's place in a template."""

    template = models.ForeignKey(ReportTemplate, on_delete=models.CASCADE, related_name="lines")
    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    required = models.BooleanField(default=True)

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "indicator"], name="template_indicator_once")]

    def __str__(self) -> str:
        return f"{self.template_id}#{self.position}"


class Period(models.Model):
    """One reporting period of one template, opened for the units of one administrative
    structure: its cut-off window (Decree 09/2019/NĐ-CP Art. 12) is kept as opened."""

    template = models.ForeignKey(ReportTemplate, on_delete=models.PROTECT, related_name="periods")
    key = models.CharField(max_length=10)
    structure_key = models.CharField(max_length=16)
    cutoff_start = models.DateField()
    cutoff_end = models.DateField()
    opened_at = models.DateTimeField()

    class Meta:
        ordering = ["-cutoff_end", "template"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="period_once_per_template")]

    def __str__(self) -> str:
        return f"{self.template_id} {self.key}"


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Đang soạn"
    SUBMITTED = "submitted", "Đã gửi"
    RETURNED = "returned", "Bị trả lại"
    APPROVED = "approved", "Đã duyệt"
    REOPENED = "reopened", "Mở lại"


EDITABLE = (ReportStatus.DRAFT, ReportStatus.RETURNED, ReportStatus.REOPENED)


class Report(models.Model):
    """One unit's report for one period. ``values`` are the unit's own figures (prefilled or
    typed, validated at submission); ``totals`` are those of the unit's whole part of the
    hierarchy (its own and those of the approved reports below it, by each indicator's rule),
    computed when it is submitted; ``coverage`` names the reports below that were and were not
    counted. ``parent`` is the report that reviews this one (ward → district → city; a commune
    straight to the city in the two-tier structure of 2025). ``late``: first sent after the
    deadline (one never sent is late once the deadline passed: ``selectors.late_reports``)."""

    period = models.ForeignKey(Period, on_delete=models.CASCADE, related_name="reports")
    unit_code = models.CharField(max_length=8)
    unit_name = models.CharField(max_length=120)
    level = models.CharField(max_length=10)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    status = models.CharField(max_length=10, choices=ReportStatus.choices, default=ReportStatus.DRAFT)
    values = models.JSONField(default=dict, blank=True)
    prefilled = models.JSONField(default=list, blank=True, help_text="Indicator codes the platform filled in.")
    totals = models.JSONField(default=dict, blank=True)
    coverage = models.JSONField(default=dict, blank=True)
    deadline = models.DateField()
    first_submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    late = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["period", "level", "unit_code"]
        constraints = [models.UniqueConstraint(fields=["period", "unit_code"], name="report_once_per_unit")]
        indexes = [models.Index(fields=["period", "status"])]

    def __str__(self) -> str:
        return f"{self.period} {self.unit_code}"


class ReportEvent(models.Model):
    """The history of a report: who did what, when, why (a return or reopening needs a reason)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    version = models.PositiveIntegerField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["report", "id"]

    def __str__(self) -> str:
        return f"{self.report_id} {self.action}"


class ExportState(models.TextChoices):
    PENDING = "pending", "Chờ gửi"
    SENT = "sent", "Đã gửi"
    DEAD = "dead", "Không gửi được"


class NationalExport(models.Model):
    """One approved version of a city-level report to send to the national reporting system;
    ``key`` (template, period, unit, version) is the idempotency key the system keeps once."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="exports")
    key = models.CharField(max_length=80, unique=True)
    payload = models.JSONField()
    state = models.CharField(max_length=8, choices=ExportState.choices, default=ExportState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "next_at"])]

    def __str__(self) -> str:
        return self.key


class Frequency(models.TextChoices):
    MONTHLY = "monthly", "Hằng tháng"
    QUARTERLY = "quarterly", "Hằng quý"
    HALF_YEARLY = "half_yearly", "6 tháng"
    YEARLY = "yearly", "Hằng năm"


class RegimeChannel(models.TextChoices):
    """How a regime's reports are made: on this reporting system, or outside it (where)."""

    SYSTEM = "system", "Trên Hệ thống thông tin báo cáo của Thành phố"
    PAPER = "paper", "Văn bản giấy"
    EMAIL = "email", "Văn bản điện tử qua thư công vụ"
    OTHER_SYSTEM = "other_system", "Hệ thống khác (của bộ, ngành)"


class ReportingRegime(models.Model):
    """One periodic reporting regime of the city (chế độ báo cáo định kỳ, Decree 09/2019/NĐ-CP
    Art. 5, 6): what is reported, on what legal basis, by whom, how often, and whether it is made on
    this reporting system. The register is the denominator of the plan's target "periodic reports
    made on the reporting system" (80 %): the platform knows the templates it runs, not the regimes
    kept on paper or in other systems, so administrators keep this list.

    Made on the system: ``channel`` is ``system`` and ``template_code`` names a ``ReportTemplate``
    the platform holds (read at query time: a regime whose template is not loaded, or was removed,
    counts as outside). ``sample``: demo rows seeded by the migration, to be replaced by the city's
    own register."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=300)
    name_en = models.CharField(max_length=300)
    legal_basis = models.CharField(max_length=300)
    issuing_body = models.CharField(max_length=200, help_text="Who set the regime (cơ quan ban hành).")
    frequency = models.CharField(max_length=12, choices=Frequency.choices)
    levels = models.JSONField(default=list, help_text='Unit levels that report: ["commune", "district", "city"].')
    reporting_units = models.CharField(max_length=300, blank=True, help_text="Who reports (đơn vị báo cáo).")
    channel = models.CharField(max_length=14, choices=RegimeChannel.choices)
    template_code = models.CharField(
        max_length=40, blank=True, help_text="The ReportTemplate code when made on the system."
    )
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    sample = models.BooleanField(default=False, help_text="Demo row (dữ liệu minh hoạ), not the city's register.")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(channel="system") & ~models.Q(template_code=""))
                | (~models.Q(channel="system") & models.Q(template_code="")),
                name="regime_template_iff_on_system",
            )
        ]

    def __str__(self) -> str:
        return self.code
