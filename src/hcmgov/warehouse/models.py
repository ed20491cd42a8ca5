"""The analytics warehouse's own books: where each table's extract stands, and every refresh.

The data itself is not here: it is Parquet files under ``settings.WAREHOUSE_URL`` (see ``storage``).
"""

from __future__ import annotations

from django.db import models


class WarehouseTable(models.Model):
    """One table of the warehouse and how far its files are up to date.

    ``watermark`` is the moment the last successful refresh started: the next one re-extracts the
    partitions of rows changed since then (less ``WAREHOUSE_OVERLAP_SECONDS``). ``running_since``
    is set while a refresh holds the table, so that two never write it at once."""

    name = models.CharField(max_length=40, unique=True)
    watermark = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveBigIntegerField(default=0, help_text="Rows in the table's files after the last refresh.")
    files = models.PositiveIntegerField(default=0, help_text="Parquet files (one per partition).")
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="End of the last successful refresh.")
    running_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    RUNNING = "running", "Đang chạy"
    OK = "ok", "Thành công"
    FAILED = "failed", "Thất bại"
    SKIPPED = "skipped", "Bỏ qua (đang chạy ở nơi khác)"


class WarehouseRun(models.Model):
    """One refresh of one table: what it rewrote and how it ended. A failed run changed no file."""

    table = models.CharField(max_length=40)
    full = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True, help_text="Changes read from this moment (empty: all).")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING)
    partitions = models.PositiveIntegerField(default=0, help_text="Partitions rewritten or removed.")
    rows = models.PositiveBigIntegerField(default=0, help_text="Rows written.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["table", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.table} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
