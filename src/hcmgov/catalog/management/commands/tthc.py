"""``hcmgov tthc sync``: read the city's procedures' publication decisions (number, date, the
ministry's decision they implement, the day put on the national database) and the two parts of
their text the catalogue's definitions do not hold (the order of steps, who may apply) from the
national database of administrative procedures (``TTHC_URL``) into the catalogue. Idempotent: a
second run changes nothing. ``--since``: only the procedures updated on or after a date."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.catalog import services
from hcmgov.catalog.adapters.tthc import TthcError
from hcmgov.common import context


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return "?"


class Command(BaseCommand):
    help = (
        "Đồng bộ quyết định công bố, trình tự thực hiện và đối tượng thực hiện TTHC từ CSDL quốc gia về TTHC / "
        "sync the procedures' publication decisions, steps and applicants from the national database of procedures."
    )

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{sync}")
        sync = actions.add_parser("sync", help="Đồng bộ / sync.")
        sync.add_argument("--url", default="", help="Địa chỉ CSDL (mặc định TTHC_URL) / the database's base URL.")
        sync.add_argument("--api-key", default="", help="Khoá (mặc định TTHC_API_KEY) / the API key.")
        sync.add_argument("--since", default="", help="YYYY-MM-DD: chỉ TTHC cập nhật từ ngày / updated since.")

    def handle(self, *args: Any, **options: Any) -> None:
        cfg = services.tthc_config()
        cfg = type(cfg)(
            base_url=options["url"] or cfg.base_url, api_key=options["api_key"] or cfg.api_key,
            agency=cfg.agency, timeout=cfg.timeout,
        )  # fmt: skip
        if not cfg.base_url:
            raise CommandError("Chưa cấu hình TTHC_URL / TTHC_URL is not set.")
        try:
            since = dt.date.fromisoformat(options["since"]) if options["since"] else None
        except ValueError as exc:
            raise CommandError(f"--since: {exc}") from exc
        try:
            with context.acting_as(context.Actor.system(f"tthc sync ({_os_user()})")):
                counts = services.publications_sync(cfg=cfg, updated_since=since)
        except TthcError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(counts, ensure_ascii=False))
