"""``hcmgov restore DIR``: restore a backup of ``hcmgov backup`` into the configured database and
storage folder (empty, unless ``--force``), then compare rows per table and every file's SHA-256
with the backup's manifest; exit code 1 on any difference (:mod:`hcmgov.core.backup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common.errors import DomainError
from hcmgov.core import backup


class Command(BaseCommand):
    help = (
        "Khôi phục bản sao lưu và kiểm tra bản khôi phục / restore a backup and check the restored copy "
        "(rows per table, file hashes)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", metavar="DIR", help="Thư mục sao lưu / the backup folder.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Thay thế CSDL và thư mục tệp không trống / replace a database and storage folder that are not empty.",
        )
        parser.add_argument(
            "--check-only",
            action="store_true",
            help="Chỉ so sánh, không khôi phục / only compare the configured database and files with the manifest.",
        )

    def handle(self, *args: Any, directory: str, force: bool = False, check_only: bool = False, **options: Any) -> None:
        folder = Path(directory)
        try:
            if check_only:
                report = backup.restore_check(manifest=backup.manifest_read(folder))
            else:
                report = backup.backup_restore(directory=folder, force=force)
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc
        self.stdout.write(
            f"{report.tables} bảng / tables, {report.rows} dòng / rows; {report.files} tệp / files, {report.bytes} B"
        )
        # each difference (with -v 2 every comparison): bản kê / manifest → khôi phục / restored
        for item in report.compared if options.get("verbosity", 1) >= 2 else report.differences:
            kind = "bảng / table" if item.kind == "table" else "tệp / file "
            mark = "✓" if item.ok else "✗"
            self.stdout.write(f"{mark} {kind} {item.name}: {item.expected} → {item.found}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("Bản khôi phục khớp bản kê / the restored copy matches the manifest."))
            return
        raise CommandError(
            f"Bản khôi phục không khớp bản kê: {len(report.differences)} khác biệt / "
            f"the restored copy does not match the manifest: {len(report.differences)} difference(s).",
            returncode=1,
        )
