"""``hcmgov audit``: the audit trail's hash chain — ``verify`` it (exit code 1 on any problem, the
first altered or missing event named, or an event left unlinked past the grace), ``link`` the
committed events not linked yet, ``anchor`` its head with an RFC 3161 time stamp (the same
functions run as the periodic tasks ``audit.link`` and ``audit.anchor``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.audit import services
from hcmgov.common.errors import DomainError


class Command(BaseCommand):
    help = "Nhật ký kiểm toán: kiểm tra chuỗi băm, neo dấu thời gian / the audit trail: verify the chain, anchor it."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{verify,link,anchor}")
        actions.add_parser(
            "verify",
            help="Kiểm tra chuỗi băm và các neo / check the hash chain and its anchors (exit code 1 on a problem).",
        )
        actions.add_parser(
            "link", help="Nối các bản ghi chưa nối vào chuỗi / link the committed events not linked yet."
        )
        actions.add_parser("anchor", help="Neo đầu chuỗi bằng dấu thời gian / time-stamp the chain's head (RFC 3161).")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "verify":
                self.verify()
            elif action == "link":
                done = services.audit_link_pending()
                self.stdout.write(f"Đã nối {done} bản ghi / {done} event(s) linked.")
            else:
                self.anchor()
        except DomainError as exc:
            raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc

    def verify(self) -> None:
        report = services.audit_chain_verify()
        counts = f"{report.events} bản ghi / events, {report.anchors} neo / anchors"
        if report.last_anchor is not None:
            anchor = report.last_anchor
            counts += f" (neo cuối / last anchor #{anchor.seq} @ {anchor.stamped_at.isoformat()})"
        problem = report.problem
        if problem is None:
            self.stdout.write(f"{counts} — " + self.style.SUCCESS("Chuỗi nhật ký toàn vẹn / audit chain intact"))
            return
        self.stdout.write(f"{counts} — " + self.style.ERROR(f"LỖI / PROBLEM [{problem.kind}]: {problem}"))
        if problem.expected or problem.found:
            self.stdout.write(f"  chờ / expected: {problem.expected}")
            self.stdout.write(f"  thấy / found:   {problem.found}")
        where = f"#{problem.seq}" if problem.seq is not None else f"id {problem.found}"
        raise CommandError(
            f"Nhật ký kiểm toán có lỗi tại {where} / the audit trail has a problem at {where}.", returncode=1
        )

    def anchor(self) -> None:
        anchor = services.audit_chain_anchor()
        if anchor is None:
            self.stdout.write("Không có bản ghi mới để neo / the chain did not grow since its last anchor.")
            return
        self.stdout.write(f"#{anchor.seq}: {anchor.head_hash} @ {anchor.stamped_at.isoformat()}")
        self.stdout.write(self.style.SUCCESS(f"Đã neo đầu chuỗi #{anchor.seq} / chain head #{anchor.seq} anchored."))
