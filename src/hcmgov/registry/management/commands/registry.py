"""``hcmgov registry``: the shared data store from the command line — ``status`` (records per
registry and state, lookups pending, facts flagged), ``lookup REGISTRY KEY`` (ask the national
source now, through the gateway), ``import REGISTRY FILE`` (load a city register from JSON lines:
one ``{"key": ..., "facts": {...}}`` per line; a line that breaks the schema is reported and
skipped, the others kept), ``changes`` (the change feed as JSON lines) and ``retry`` (the due
lookups, as the worker does every minute)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common import context
from hcmgov.common.errors import DomainError
from hcmgov.registry import registries, selectors, services


class Command(BaseCommand):
    help = "Kho dữ liệu dùng chung / the shared data store: status, lookup, import, changes, retry."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{status,lookup,import,changes,retry}")
        actions.add_parser("status", help="Số bản ghi theo sổ và trạng thái / records per registry and state.")
        lookup = actions.add_parser("lookup", help="Tra cứu nguồn quốc gia ngay / ask the national source now.")
        lookup.add_argument("registry", choices=[d.code for d in registries.DECLARATIONS if d.service])
        lookup.add_argument("key")
        load = actions.add_parser("import", help="Nạp sổ của Thành phố từ tệp JSON lines / load a city register.")
        load.add_argument("registry", choices=[d.code for d in registries.DECLARATIONS if d.kind == "city"])
        load.add_argument("file", type=Path)
        load.add_argument("--source", default="import", help="Nguồn ghi vào bản ghi / the provenance recorded.")
        changes = actions.add_parser("changes", help="Dòng thay đổi (JSON lines) / the change feed.")
        changes.add_argument("--after", type=int, default=0)
        changes.add_argument("--registry", default="")
        changes.add_argument("--limit", type=int, default=100)
        actions.add_parser("retry", help="Tra cứu lại những bản ghi đến hạn / retry the lookups that are due.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        with context.acting_as(context.Actor.system("cli")):
            try:
                getattr(self, f"do_{action}")(**options)
            except DomainError as exc:
                raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc

    def do_status(self, **_: Any) -> None:
        for row in selectors.registry_status():
            states = ", ".join(f"{state} {count}" for state, count in sorted(row["states"].items())) or "—"
            self.stdout.write(f"{row['code']:<20} {row['versions']:>8} phiên bản / versions   {states}")
        self.stdout.write(
            f"Chờ tra cứu lại / lookups pending: {selectors.lookups_pending_count()}; "
            f"sai lệch chưa xử lý / differences open: {selectors.checks_open_count()}"
        )

    def do_lookup(self, *, registry: str, key: str, **_: Any) -> None:
        found = services.registry_lookup(registry_code=registry, key=key)
        if found.state == "pending":
            raise CommandError(f"Nguồn chưa trả lời, sẽ thử lại / the source failed, tried again later: {found.error}")
        if found.state == "not_found":
            self.stdout.write("Nguồn không có bản ghi này / the source has no such record.")
            return
        assert found.record is not None
        self.stdout.write(f"Phiên bản / version {found.record.version} ({found.record.source_ref})")

    def do_import(self, *, registry: str, file: Path, source: str, **_: Any) -> None:
        if not file.is_file():
            raise CommandError(f"Không có tệp / no such file: {file}")
        kept = changed = refused = 0
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    key, facts = str(item["key"]), item["facts"]
                    put = services.record_put(
                        registry_code=registry, key=key, facts=facts, source=source, source_ref=f"{file.name}:{number}"
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    refused += 1
                    self.stderr.write(f"dòng / line {number}: không đọc được / unreadable ({exc})")
                    continue
                except DomainError as exc:
                    refused += 1
                    detail = "; ".join(f"{e.field or '/'}: {e.message.vi}" for e in exc.errors)
                    self.stderr.write(f"dòng / line {number}: {exc.message.vi} {detail}")
                    continue
                kept += 1
                changed += bool(put.changed)
        self.stdout.write(f"Đã nạp / kept {kept} (thay đổi / changed {changed}); bỏ qua / refused {refused}")
        if refused:
            raise CommandError(f"{refused} dòng lỗi / lines refused")

    def do_changes(self, *, after: int, registry: str, limit: int, **_: Any) -> None:
        for change in selectors.changes(after=after, registry=registry, limit=limit):
            self.stdout.write(json.dumps(change, ensure_ascii=False))

    def do_retry(self, **_: Any) -> None:
        counts = services.lookups_retry()
        self.stdout.write(", ".join(f"{k} {v}" for k, v in counts.items()))
