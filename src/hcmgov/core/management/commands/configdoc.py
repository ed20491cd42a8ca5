"""Write docs/configuration.md and .env.example from the declared settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from hcmgov.common.config import render_env_example, render_markdown


class Command(BaseCommand):
    help = "Generate docs/configuration.md and .env.example from hcmgov.common.config declarations."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if the files differ instead of writing them.")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        root = Path(settings.ROOT_DIR)
        targets = {root / "docs" / "configuration.md": render_markdown(), root / ".env.example": render_env_example()}
        stale = [p for p, text in targets.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        if check:
            if stale:
                raise SystemExit(
                    f"out of date: {', '.join(str(p.relative_to(root)) for p in stale)} — run `hcmgov configdoc`"
                )
            self.stdout.write("configuration docs up to date")
            return
        for path, text in targets.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {path.relative_to(root)}")
