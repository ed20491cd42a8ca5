"""Render a procedure's JSON-Schema form as plain HTML inputs (server-side, no JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hcmgov.common import jsonform
from hcmgov.common.errors import FieldError


@dataclass
class Item:
    kind: str  # "section" | "input"
    name: str
    title: str
    title_en: str
    required: bool
    input: str = "text"  # text, number, date, email, select, checkbox, textarea
    value: Any = ""
    choices: list[tuple[Any, str, str]] | None = None
    help: str = ""
    help_en: str = ""
    error: FieldError | None = None
    max_length: int | None = None
    pattern: str | None = None

    @property
    def html_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def _get(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part, "")
    return node


def build(
    schema: dict[str, Any], data: dict[str, Any] | None = None, errors: list[FieldError] | None = None
) -> list[Item]:
    data = data or {}
    by_field = {e.field: e for e in errors or []}
    items: list[Item] = []
    for entry in jsonform.iter_fields(schema):
        if isinstance(entry, tuple):
            path, sub, required = entry
            items.append(
                Item(
                    "section",
                    path,
                    str(sub.get("title", path)),
                    str(sub.get("x-title-en") or sub.get("title", path)),
                    required,
                    error=by_field.get(path),
                )
            )
            continue
        s = entry.schema
        kind = entry.kind
        input_type = {
            "multi": "checkboxes",
            "enum": "select",
            "boolean": "checkbox",
            "integer": "number",
            "number": "number",
            "date": "date",
            "email": "email",
        }.get(kind, "text")
        if input_type == "text" and (s.get("maxLength") or 0) > 200:
            input_type = "textarea"
        items.append(
            Item(
                "input",
                entry.name,
                entry.title,
                entry.title_en,
                entry.required,
                input=input_type,
                value=_get(data, entry.name),
                choices=entry.choices() if kind in {"enum", "multi"} else None,
                help=str(s.get("description", "")),
                help_en=str(s.get("x-description-en") or s.get("description", "")),
                error=by_field.get(entry.name),
                max_length=s.get("maxLength"),
                pattern=s.get("pattern"),
            )
        )
    return items
