"""``hcmgov portal``: the National Public Service Portal connector — ``sync-catalog`` pulls the
national procedure catalogue, reports what was added, changed and removed, and brings the city's
procedures in line where the national side decides (``--report-only``: reports only); ``push`` sends the
dossiers' status changes that are due; ``reconcile`` compares what the portal holds with our
dossiers (exit code 1 on a difference); ``requeue`` sends dead status changes again (all, or those
of the dossiers named), each audited as the operator's doing."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hcmgov.common import context
from hcmgov.common.errors import DomainError
from hcmgov.exchange import portal, portal_catalog


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return "?"


class Command(BaseCommand):
    help = (
        "Kết nối Cổng Dịch vụ công quốc gia: đồng bộ danh mục, gửi trạng thái, đối soát / "
        "the National Public Service Portal connector: catalogue sync, status push, reconciliation."
    )

    def add_arguments(self, parser: Any) -> None:
        names = "{sync-catalog,push,reconcile,requeue}"
        actions = parser.add_subparsers(dest="action", required=True, metavar=names)
        sync = actions.add_parser(
            "sync-catalog", help="Đồng bộ danh mục thủ tục / pull the national procedure catalogue."
        )
        sync.add_argument(
            "--report-only",
            action="store_true",
            help="Không sửa danh mục của Thành phố, chỉ báo cáo / leave the city's catalogue as it is, report only.",
        )
        push = actions.add_parser("push", help="Gửi các thay đổi trạng thái đến hạn / send the status changes due.")
        push.add_argument("--batch", type=int, default=portal.BATCH)
        reconcile = actions.add_parser("reconcile", help="Đối soát hồ sơ / compare the portal's records with ours.")
        reconcile.add_argument("--days", type=int, default=7, help="Hồ sơ thay đổi trong N ngày / changed in N days.")
        requeue = actions.add_parser("requeue", help="Gửi lại các thay đổi hỏng / send dead status changes again.")
        requeue.add_argument(
            "--dossier",
            action="append",
            dest="dossiers",
            metavar="CODE",
            help="Chỉ hồ sơ này (lặp lại được) / only this dossier's (repeatable).",
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "sync-catalog":
                self._print(asdict(portal_catalog.portal_catalog_sync(apply=not options["report_only"])))
            elif action == "push":
                report = portal.portal_push_send(batch=options["batch"])
                self._print({**asdict(report), "queue": portal.portal_push_stats()})
            elif action == "requeue":
                operator = f"hcmgov portal requeue ({_os_user()})"
                with context.acting_as(context.Actor.system(operator)):
                    count = portal.portal_push_requeue_dead(actor=operator, dossier_codes=options["dossiers"])
                self._print({"requeued": count, "queue": portal.portal_push_stats()})
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
