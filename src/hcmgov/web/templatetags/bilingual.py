"""``{% t "Tiếng Việt" "English" %}``: every public string is written in both languages, Vietnamese
first, and the active language picks one (see docs/decisions/0004-bilingual-text.md)."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.template.base import FilterExpression, Variable
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def is_en() -> bool:
    return (translation.get_language() or "vi").startswith("en")


def t(vi: str, en: str) -> str:
    return en if is_en() else vi


class BilingualNode(template.Node):
    """``{% t vi en %}`` (or ``{% t vi en as name %}``) renders as a simple tag would, but a text that
    is a constant (a quoted string: almost every use) is taken once, when the template is compiled,
    not resolved and escaped again at each render: a page shows dozens of them."""

    child_nodelists = ()

    def __init__(self, vi: FilterExpression, en: FilterExpression, target: str | None) -> None:
        self.texts, self.target = (vi, en), target
        constants = [None if e.filters or isinstance(e.var, Variable) else e.var for e in self.texts]
        self.raw = tuple(constants)
        self.escaped = tuple(None if c is None else conditional_escape(c) for c in constants)

    def render(self, context: template.Context) -> str:
        # the page's language, as the i18n context processor read it when the render began (a
        # lookup in the context, cheaper than asking the translation machinery at each text)
        code = context.get("LANGUAGE_CODE")
        english = int(code.startswith("en") if isinstance(code, str) else is_en())
        if self.target is not None:  # like a simple tag: the variable holds the text unescaped
            raw = self.raw[english]
            context[self.target] = self.texts[english].resolve(context) if raw is None else raw
            return ""
        value = (self.escaped if context.autoescape else self.raw)[english]
        if value is None:
            value = self.texts[english].resolve(context)
            if context.autoescape:
                value = conditional_escape(value)
        return str(value)


@register.tag(name="t")
def do_t(parser: template.base.Parser, token: template.base.Token) -> BilingualNode:
    bits = token.split_contents()[1:]
    target = None
    if len(bits) == 4 and bits[2] == "as":
        bits, target = bits[:2], bits[3]
    if len(bits) != 2:
        raise template.TemplateSyntaxError('{% t "Tiếng Việt" "English" %} takes the two texts (optionally: as name)')
    return BilingualNode(parser.compile_filter(bits[0]), parser.compile_filter(bits[1]), target)


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


@register.filter
def dossier_status(status: Any) -> SafeString | str:
    """A dossier status's badge in the active language, ``<span class="status s9">…</span>``. It was
    an include (``web/_status.html``) at each use: a timeline shows one per event, and on the public
    tracking page the includes and their contexts were a fifth of the page's time."""
    return _badge(status, is_en())


def _badge(status: Any, english: bool) -> SafeString | str:
    try:
        return _BADGES[(int(status), english)]
    except (KeyError, TypeError, ValueError):
        pass
    from hcmgov.dossiers.selectors import STATUS_EN, Status

    try:
        code = Status(int(status))
    except (TypeError, ValueError):
        return ""
    badge = _BADGES[(int(code), english)] = format_html(
        '<span class="status s{}">{}</span>', int(code), STATUS_EN[code] if english else code.label
    )
    return badge


# a status's badge and plain meaning per language, made once (a dozen statuses, two languages)
_BADGES: dict[tuple[int, bool], SafeString] = {}
_MEANINGS: dict[tuple[int, bool], str] = {}


def _meaning(status: int, english: bool) -> str:
    """``plain``'s text, escaped for HTML."""
    found = _MEANINGS.get((status, english))
    if found is None:
        from hcmgov.dossiers.selectors import PLAIN_STATUS

        pair = PLAIN_STATUS.get(status)
        found = _MEANINGS[(status, english)] = str(
            conditional_escape((pair[1] if english else pair[0]) if pair else "")
        )
    return found


@register.filter(expects_localtime=True)
def dmy_hm(value: Any) -> str:
    """A moment as the city writes it, ``28/11/2026 16:05`` (local time): ``|date:"d/m/Y H:i"``
    without the format machinery, for lists of many."""
    return value.strftime("%d/%m/%Y %H:%M") if value else ""


@register.filter(expects_localtime=True)
def isotime(value: Any) -> str:
    """A moment in ISO 8601 with its offset (local time), for ``<time datetime>``: ``|date:"c"``
    without the format machinery."""
    return value.isoformat() if value else ""


@register.simple_tag
def timeline(events: Any) -> SafeString:
    """A dossier's history, ``<ol class="timeline">``: one item an event — when (local time), the
    status badge, what the status means when it changed, the officer's note. It was an include
    (``web/_timeline.html``) looping over five filters an event: on the public tracking page the
    include and its loop were a third of the page's time (``bench/run.py``'s profile)."""
    english = is_en()
    tz = timezone.get_current_timezone() if settings.USE_TZ else None
    items = []
    for event in events:
        at = event.at
        if at is not None and tz is not None and timezone.is_aware(at):
            at = timezone.localtime(at, tz)
        changed = ""
        if event.status_to != event.status_from:
            changed = f"<div>{_meaning(int(event.status_to), english)}</div>"
        note = f'<div class="small">{conditional_escape(event.note)}</div>' if event.note else ""
        # the times' characters are digits, dashes, colons and a plus: nothing to escape
        when = f'<time datetime="{isotime(at)}">{dmy_hm(at)}</time>'
        items.append(f"<li>{when} — {_badge(event.status_to, english)}{changed}{note}</li>")
    return mark_safe('<ol class="timeline">\n' + "".join(items) + "\n</ol>")  # noqa: S308 - each part escaped above
