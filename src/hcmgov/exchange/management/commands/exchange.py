"""``hcmgov exchange``: the gateway's message log — ``verify`` its chains (exit code 1 on any
problem), ``seal`` their heads with an RFC 3161 time stamp, ``archive`` the records past their
retention into the document store. The same functions run as periodic tasks
(:mod:`hcmgov.exchange.logchain`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common.errors import DomainError
from hcmgov.exchange import logchain


class Command(BaseCommand):
    help = (
        "Nhật ký thông điệp của nền tảng LGSP: kiểm tra, niêm phong, lưu trữ / "
        "the exchange's message log: verify, seal, archive."
    )

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{verify,seal,archive}")
        verify = actions.add_parser(
            "verify",
            help="Kiểm tra chuỗi băm và niêm phong / check the hash chains and their seals (exit code 1 on a problem).",
        )
        verify.add_argument("--node", help="Chỉ nút này / only this node's chain.")
        verify.add_argument(
            "--archives",
            action="store_true",
            help="Đọc lại và kiểm tra cả các tệp lưu trữ / read and check the archive files too.",
        )
        actions.add_parser("seal", help="Niêm phong đầu các chuỗi mới / time-stamp the heads of chains that grew.")
        archive = actions.add_parser(
            "archive", help="Lưu trữ bản ghi quá hạn / move records past their retention to the document store."
        )
        archive.add_argument(
            "--days",
            type=int,
            default=None,
            help="Bản ghi cũ hơn số ngày này / records older than this many days "
            "(default: EXCHANGE_LOG_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "verify":
                self.verify(node=options.get("node"), archives=bool(options.get("archives")))
            elif action == "seal":
                self.seal()
            else:
                self.archive(days=options.get("days"))
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc

    def verify(self, *, node: str | None, archives: bool) -> None:
        report = logchain.chain_verify(node=node, archives=archives)
        if not report.nodes:
            self.stdout.write("Nhật ký thông điệp trống / the message log is empty.")
        for item in report.nodes:
            counts = f"{item.records} bản ghi / records, {item.seals} niêm phong / seals"
            if item.archives:
                counts += f", {item.archives} tệp lưu trữ / archives"
            if item.problem is None:
                self.stdout.write(
                    f"{item.node}: {counts} — " + self.style.SUCCESS("Chuỗi nhật ký toàn vẹn / log chain intact")
                )
            else:
                self.stdout.write(f"{item.node}: {counts} — " + self.style.ERROR(f"LỖI / PROBLEM: {item.problem}"))
        if not report.ok:
            raise CommandError(
                f"Nhật ký thông điệp có lỗi ở {len(report.problems)} chuỗi / "
                f"the message log has problems in {len(report.problems)} chain(s).",
                returncode=1,
            )

    def seal(self) -> None:
        seals = logchain.log_seal()
        for seal in seals:
            self.stdout.write(f"{seal.node} #{seal.seq}: {seal.head_hash} @ {seal.stamped_at.isoformat()}")
        self.stdout.write(
            self.style.SUCCESS(f"Đã niêm phong {len(seals)} chuỗi / {len(seals)} chain(s) sealed.")
            if seals
            else "Không có chuỗi mới để niêm phong / no chain grew since its last seal."
        )

    def archive(self, *, days: int | None) -> None:
        if days is not None and days < 0:
            raise CommandError("--days phải ≥ 0 / --days must be 0 or more.")
        older_than = dt.timedelta(days=days) if days is not None else logchain.log_retention()
        archives = logchain.log_archive(older_than=older_than)
        for archive in archives:
            self.stdout.write(
                f"{archive.node} #{archive.first_seq}–#{archive.last_seq}: {archive.records} bản ghi / records "
                f"→ {archive.blob_key}"
            )
        total = sum(archive.records for archive in archives)
        self.stdout.write(
            self.style.SUCCESS(f"Đã lưu trữ {total} bản ghi / {total} records archived ({len(archives)} tệp / files).")
        )
