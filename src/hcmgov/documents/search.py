"""Search in the recognised text of components (``Component.text_search``, the OCR text folded by
:func:`hcmgov.common.text.fold`): typed with or without diacritics, every word must be there."""

from __future__ import annotations

import re

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from hcmgov.common.text import fold
from hcmgov.documents.models import Component

_WORD = re.compile(r"[a-z0-9]+")  # after fold(): the only characters left in words

# PostgreSQL: the words of the folded text, for `to_tsquery('simple', 'giay & khai & sinh')`; the
# selector's query uses this same expression, so the index answers it (migration in the report).
PG_INDEX = (
    "CREATE INDEX IF NOT EXISTS component_text_words ON documents_component "
    "USING gin (to_tsvector('simple'::regconfig, text_search))"
)


def components_search(
    *,
    query: str,
    agency_id: int | None = None,
    owner_id: int | None = None,
    agency_ids: list[int] | None = None,
    limit: int = 50,
) -> QuerySet[Component]:
    """Components whose recognised text holds every word of ``query`` (whole words, diacritics and
    case ignored: "giay khai sinh" finds "GIẤY KHAI SINH"), newest first, at most ``limit`` (up to
    8 words are used). Narrowed to one digitising agency (or several), or one owner, when given. On PostgreSQL
    through the full-text index over the folded text (``PG_INDEX``), elsewhere by a regular
    expression per word. Whole words as in the dossiers' applicant search: a prefix query has no
    frequency estimate and cannot use the index as well."""
    words = _WORD.findall(fold(query))[:8]
    qs = Component.objects.all()
    if not words:
        return qs.none()
    if agency_id is not None:
        qs = qs.filter(agency_id=agency_id)
    if agency_ids is not None:  # an official's agencies
        qs = qs.filter(agency_id__in=agency_ids)
    if owner_id is not None:
        qs = qs.filter(owner_id=owner_id)
    if connections[qs.db].vendor == "postgresql":
        qs = qs.filter(
            RawSQL(
                "to_tsvector('simple'::regconfig, documents_component.text_search) @@ "
                "to_tsquery('simple'::regconfig, %s)",
                [" & ".join(words)],
                output_field=BooleanField(),
            )
        )
    else:
        for word in words:
            qs = qs.filter(text_search__regex=rf"(^|[^a-z0-9]){word}([^a-z0-9]|$)")
    return qs.defer("text", "text_search").order_by("-created_at", "-id")[:limit]
