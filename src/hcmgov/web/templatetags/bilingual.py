"""``{% t "Tiếng Việt" "English" %}``: every public string is written in both languages, Vietnamese
first, and the active language picks one (see docs/decisions/0004-bilingual-text.md)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import translation
from django.utils.formats import number_format

register = template.Library()


def is_en() -> bool:
    return (translation.get_language() or "vi").startswith("en")


@register.simple_tag
def t(vi: str, en: str) -> str:
    return en if is_en() else vi


@register.filter
def pick(obj: Any, attr: str) -> Any:
    """``{{ procedure|pick:"name" }}`` → ``name_en`` in English when it is set, else ``name``."""
    if is_en():
        value = obj.get(f"{attr}_en") if isinstance(obj, dict) else getattr(obj, f"{attr}_en", None)
        if value:
            return value
    return obj.get(attr) if isinstance(obj, dict) else getattr(obj, attr, "")


@register.filter
def dong(amount: Any) -> str:
    """Money in đồng, grouped the Vietnamese way: 150.000 đ."""
    if amount is None:
        return ""
    return number_format(int(amount), force_grouping=True).replace(",", ".") + " đ"


@register.filter
def msg(message: Any) -> str:
    """A ``Message`` (vi/en pair) in the active language."""
    return str(message.in_language("en" if is_en() else "vi"))


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def fieldid(name: str) -> str:
    """The HTML id of a form field's input (see ``schemaform.Item.html_id``)."""
    return "f-" + str(name).replace(".", "-")


@register.filter
def plain(status: Any) -> str:
    """What a dossier status means for the applicant, in plain words, in the active language."""
    from hcmgov.dossiers.selectors import PLAIN_STATUS

    pair = PLAIN_STATUS.get(int(status))
    return (pair[1] if is_en() else pair[0]) if pair else ""
