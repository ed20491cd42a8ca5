"""/ngsi-ld/v1/temporal/entities (clauses 6.18 and 6.19): reads of the attribute history."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from hcmgov.ngsi import http, selectors, temporal
from hcmgov.ngsi.views import _attrs, _check_id, _page, _query


def _temporal_query(request: HttpRequest, attrs: list[str] | None) -> temporal.TemporalQuery:
    return temporal.TemporalQuery.parse(request.GET, attrs, http.options(request))


def temporal_entities_get(request: HttpRequest) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    query = _query(request, ctx)
    tq = _temporal_query(request, query.attrs)
    query.attrs = None  # in the temporal API, attrs picks the history's attributes only
    limit, offset = _page(request)
    rows, count = selectors.entity_query(query=query, limit=limit, offset=offset)
    pks = selectors.entity_pks(entity_ids=[row["id"] for row in rows])
    raws: list[str] = []
    data = [temporal.temporal_entity(entity=row, pk=pks[row["id"]], query=tq, ctx=ctx, raws=raws) for row in rows]
    response = http.answer(request, data, ctx, ld=ld, finish=lambda text: temporal.raw_json(text, raws))
    if request.GET.get("count") == "true":
        response["NGSILD-Results-Count"] = str(count)
    return response


def temporal_entity_get(request: HttpRequest, entity_id: str) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    tq = _temporal_query(request, _attrs(request, ctx))
    row = selectors.entity_head(entity_id=_check_id(entity_id))
    raws: list[str] = []
    data = temporal.temporal_entity(entity=row, pk=row["pk"], query=tq, ctx=ctx, raws=raws)
    return http.answer(request, data, ctx, ld=ld, finish=lambda text: temporal.raw_json(text, raws))
