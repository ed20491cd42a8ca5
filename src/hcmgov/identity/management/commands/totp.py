"""``hcmgov totp LOGIN``: the one-time code of a demo account's authenticator app."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hcmgov.identity.demo import demo_totp_code


class Command(BaseCommand):
    help = "Print the current one-time code of a demo official's authenticator app (demo accounts only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("login")

    def handle(self, *args: Any, login: str, **options: Any) -> None:
        code = demo_totp_code(username=login)
        if code is None:
            raise CommandError(
                f"«{login}» không phải tài khoản demo có ứng dụng xác thực demo / "
                f"“{login}” is not a demo account with the demo authenticator app"
            )
        self.stdout.write(code)
