"""``hcmgov office check [--agency CODE] [--year YYYY]``: the registers' duplicate and missing numbers,
signatures on superseded drafts, and dispatches not acknowledged in time. Exits 1 when anything
is found, so that a scheduled run can alert."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcmgov.core import selectors as core
from hcmgov.office import selectors


class Command(BaseCommand):
    help = "Electronic office: check registers (duplicate or missing numbers), signatures and dispatches."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser(
            "check", help="Show duplicate or missing numbers, superseded signatures, overdue dispatches."
        )
        check.add_argument("--agency", default="", help="Agency code (all agencies when absent).")
        check.add_argument("--year", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        agency_id = None
        if options["agency"]:
            agency = core.agency_list().filter(code=options["agency"]).first()
            if agency is None:
                raise CommandError(f"no agency {options['agency']!r}")
            agency_id = agency.pk
        found = 0
        for check in selectors.registers_check(agency_id=agency_id, year=options["year"]):
            register = check.register
            label = f"{register.agency.code} {register.get_direction_display()} {register.year}"
            if register.confidential:
                label += " (mật)"
            for number, symbols in sorted(check.duplicates.items()):
                found += 1
                self.stdout.write(f"{label}: số {number:02d} trùng / duplicate number: {', '.join(symbols)}")
            if check.gaps:
                found += 1
                missing = ", ".join(f"{n:02d}" for n in check.gaps)
                self.stdout.write(f"{label}: thiếu số / missing numbers: {missing}")
        for signature in selectors.signatures_superseded(agency_id=agency_id):
            found += 1
            self.stdout.write(
                f"văn bản #{signature.document_id}: chữ ký trên bản dự thảo {signature.version.version} "
                "đã có bản mới hơn / signature on a superseded draft"
            )
        for dispatch in selectors.dispatches_overdue(sender_id=agency_id):
            found += 1
            self.stdout.write(
                f"{dispatch.document.number_symbol} → {dispatch.recipient.code}: chưa xác nhận từ "
                f"{dispatch.sent_at:%Y-%m-%d %H:%M} UTC / not acknowledged"
            )
        if found:
            raise SystemExit(1)
        self.stdout.write("Không có sai sót / nothing found")
