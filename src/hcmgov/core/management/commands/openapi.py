"""Write or check the committed OpenAPI document of /api/v1 (docs/api/openapi.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def render() -> str:
    from hcmgov.api import api

    schema = api.get_openapi_schema(path_prefix="/api/v1")
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def committed_path() -> Path:
    return Path(settings.ROOT_DIR) / "docs" / "api" / "openapi.json"


class Command(BaseCommand):
    help = "Generate the OpenAPI document of /api/v1 into docs/api/openapi.json, or --check it."

    def add_arguments(self, parser: Any) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--write", action="store_true")
        group.add_argument("--check", action="store_true")

    def handle(self, *args: Any, write: bool = False, check: bool = False, **options: Any) -> None:
        text, path = render(), committed_path()
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError("docs/api/openapi.json differs from the code — run `make openapi` and commit it")
            self.stdout.write("OpenAPI document matches the code")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path}")
