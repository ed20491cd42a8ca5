"""``hcmgov citymail provision``: give every active official a city mailbox and refresh the
directory; idempotent (a second run opens nothing). ``hcmgov citymail list [--agency CODE]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcmgov.citymail import selectors, services
from hcmgov.core import selectors as core


class Command(BaseCommand):
    help = "City e-mail: provision officials' mailboxes; list mailboxes."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        provision = sub.add_parser("provision", help="Open a city mailbox for every active official (idempotent).")
        provision.add_argument(
            "--keep-departed", action="store_true", help="Do not suspend the mailboxes of former officials."
        )
        listing = sub.add_parser("list", help="List the open mailboxes.")
        listing.add_argument("--agency", default="", help="Agency code (all agencies when absent).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "provision":
            result = services.mailboxes_provision(close_departed=not options["keep_departed"])
            for address in result.opened:
                self.stdout.write(f"+ {address}")
            for address in result.suspended:
                self.stdout.write(f"- {address} (tạm khóa / suspended)")
            self.stdout.write(
                f"Mở mới / opened: {len(result.opened)}, cập nhật / updated: {result.updated}, "
                f"giữ nguyên / unchanged: {result.kept}, tạm khóa / suspended: {len(result.suspended)}"
            )
            return
        agency_id = None
        if options["agency"]:
            agency = core.agency_list().filter(code=options["agency"]).first()
            if agency is None:
                raise CommandError(f"Không có cơ quan / no agency {options['agency']!r}")
            agency_id = agency.pk
        for mailbox in selectors.mailbox_list(agency_id=agency_id):
            self.stdout.write(f"{mailbox.address}\t{mailbox.state}\t{mailbox.display_name}")
