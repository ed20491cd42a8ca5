"""``hcmgov portal``: the National Public Service Portal connector — ``sync-catalog`` pulls the
national procedure catalogue and reports what was added, changed and removed; ``push`` sends the
dossiers' status changes that are due; ``reconcile`` compares what the portal holds with our
dossiers (exit code 1 on a difference)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hcmgov.common.errors import DomainError
from hcmgov.exchange import portal


class Command(BaseCommand):
    help = (
        "Kết nối Cổng Dịch vụ công quốc gia: đồng bộ danh mục, gửi trạng thái, đối soát / "
        "the National Public Service Portal connector: catalogue sync, status push, reconciliation."
    )

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{sync-catalog,push,reconcile}")
        actions.add_parser("sync-catalog", help="Đồng bộ danh mục thủ tục / pull the national procedure catalogue.")
        push = actions.add_parser("push", help="Gửi các thay đổi trạng thái đến hạn / send the status changes due.")
        push.add_argument("--batch", type=int, default=100)
        reconcile = actions.add_parser("reconcile", help="Đối soát hồ sơ / compare the portal's records with ours.")
        reconcile.add_argument("--days", type=int, default=7, help="Hồ sơ thay đổi trong N ngày / changed in N days.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "sync-catalog":
                self._print(asdict(portal.portal_catalog_sync()))
            elif action == "push":
                report = portal.portal_push_send(batch=options["batch"])
                self._print({**asdict(report), "queue": portal.portal_push_stats()})
            else:
                since = timezone.now() - dt.timedelta(days=options["days"])
                result = portal.portal_reconcile(since=since)
                self._print(asdict(result))
                if result.missing or result.different or result.unknown:
                    raise CommandError("Có khác biệt với Cổng / the portal's records differ from ours")
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc

    def _print(self, data: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))
