"""Template tags of the feedback app, so that ``feedback/_rating.html`` can be included in a page
that knows only the dossier (the dossier page of the portal)."""

from __future__ import annotations

from typing import Any

from django import template

from hcmgov.feedback import selectors

register = template.Library()

ASPECTS = [
    ("publicity", "Thủ tục được công khai rõ ràng, đầy đủ", "The procedure was made public clearly and fully"),
    (
        "attitude",
        "Thái độ của cán bộ khi hướng dẫn, tiếp nhận và giải quyết hồ sơ",
        "The officials' attitude when guiding, receiving and settling the dossier",
    ),
    ("online", "Tiến độ và chất lượng dịch vụ công trực tuyến", "Progress and quality of the online service"),
]


@register.simple_tag
def dossier_rating(dossier: Any) -> Any:
    """The rating of ``dossier``, or None."""
    return selectors.rating_for_dossier(dossier_id=dossier.pk) if dossier is not None else None


@register.simple_tag
def rating_scores() -> list[tuple[int, str, str]]:
    """(value, Vietnamese, English) of the five satisfaction steps, best first."""
    return [(s.value, str(s.label), selectors.SCORE_EN[s]) for s in reversed(selectors.Score)]


@register.simple_tag
def rating_aspects() -> list[tuple[str, str, str]]:
    return ASPECTS


@register.simple_tag
def rating_contacts() -> list[tuple[int, str, str]]:
    return [(c.value, str(c.label), selectors.CONTACTS_EN[c]) for c in selectors.Contacts]


@register.filter
def score_en(value: Any) -> str:
    try:
        return selectors.SCORE_EN[selectors.Score(int(value))]
    except (TypeError, ValueError):
        return ""
