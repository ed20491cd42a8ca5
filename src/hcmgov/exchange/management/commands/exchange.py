"""``hcmgov exchange``: the gateway's message log — ``verify`` its chains (exit code 1 on any
problem), ``seal`` their heads with an RFC 3161 time stamp, ``archive`` the records past their
retention into the document store (the same functions run as periodic tasks,
:mod:`hcmgov.exchange.logchain`) — and ``edge``, the gateway's fast path: nginx with its Lua module
and the control plane beside it (:mod:`hcmgov.exchange.edge.control`), until stopped."""

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
        actions = parser.add_subparsers(dest="action", required=True, metavar="{verify,seal,archive,edge}")
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

        edge = actions.add_parser(
            "edge",
            help="Chạy lối nhanh của cổng /x/ (nginx + Lua) / run the gateway's fast path (nginx, Lua) until stopped.",
        )
        edge.add_argument("--port", type=int, default=None, help="Cổng / port (default: EXCHANGE_EDGE_PORT).")
        edge.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Số tiến trình nginx / nginx workers (EXCHANGE_EDGE_WORKERS).",
        )
        edge.add_argument("--dir", default=None, help="Thư mục làm việc / working folder (default: var/edge).")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "edge":
                self.edge(port=options.get("port"), workers=options.get("workers"), directory=options.get("dir"))
                return
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

    def edge(self, *, port: int | None, workers: int | None, directory: str | None) -> None:
        import signal
        from pathlib import Path

        from hcmgov.exchange.edge.control import Edge, edge_settings

        edge = Edge(edge_settings(port=port, workers=workers, directory=Path(directory) if directory else None))
        stopping: list[int] = []

        def stop(signum: int, _frame: Any) -> None:
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            edge.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(f"Không khởi động được nginx / nginx could not start: {exc}") from exc
        self.stdout.write(f"edge: {edge.url}/x/ (nginx pid {edge.process.pid if edge.process else '-'})")
        self.stdout.flush()
        try:
            edge.run(stop=lambda: bool(stopping))
        finally:
            edge.stop()
            self.stdout.write(f"edge: stopped, {edge.shipped} calls logged")

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
