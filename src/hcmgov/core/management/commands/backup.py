"""``hcmgov backup DIR``: the database (consistent at one instant) and the storage folder, with a
manifest of rows per table and SHA-256 per file (:mod:`hcmgov.core.backup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common.errors import DomainError
from hcmgov.core import backup


class Command(BaseCommand):
    help = "Sao lưu cơ sở dữ liệu và tệp / back up the database and the files (with a manifest to check a restore)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", metavar="DIR", help="Thư mục mới hoặc trống / a new or empty folder.")

    def handle(self, *args: Any, directory: str, **options: Any) -> None:
        try:
            manifest = backup.backup_create(directory=Path(directory))
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc
        tables, files = manifest["tables"], manifest["files"]
        for name, entry in manifest["databases"].items():
            self.stdout.write(f"{name}: {entry['file']} ({entry['size']} B, sha256 {entry['sha256']})")
        size = sum(entry["size"] for entry in files.values())
        self.stdout.write(
            f"{len(tables)} bảng / tables, {sum(tables.values())} dòng / rows; {len(files)} tệp / files, {size} B"
        )
        self.stdout.write(self.style.SUCCESS(f"Đã sao lưu vào / backed up to {directory} ({backup.MANIFEST})."))
