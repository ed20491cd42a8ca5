"""/ngsi-ld/v1 entities, batch operations, types and attributes (clauses 6.4–6.14, 6.25–6.27).
Thin: parse the request (``ngsi.http``), call a service or selector, render."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hcmgov.ngsi import geo, http, jsonld, qlang, selectors, services
from hcmgov.ngsi.errors import BadRequestData, ResourceNotFound
from hcmgov.ngsi.representation import entity_out, is_uri


def _format(request: HttpRequest) -> tuple[str, bool]:
    opts = http.options(request)
    fmt = "keyValues" if opts & {"keyValues", "simplified"} else "concise" if "concise" in opts else "normalized"
    return fmt, "sysAttrs" in opts


def _check_id(entity_id: str) -> str:
    if not is_uri(entity_id):
        raise BadRequestData("id của thực thể phải là URI", "The entity id must be a URI")
    return entity_id


def _attrs(request: HttpRequest, ctx: jsonld.Context) -> list[str] | None:
    names = http.list_param(request, "attrs")
    return [ctx.expand(n) for n in names] if names is not None else None


def _query(request: HttpRequest, ctx: jsonld.Context, *, require_filter: bool = True) -> selectors.EntityQuery:
    types = http.list_param(request, "type")
    ids = http.list_param(request, "id")
    if ids and not all(is_uri(i) for i in ids):
        raise BadRequestData("id phải là URI", "Each id must be a URI")
    q_text = request.GET.get("q")
    georel = request.GET.get("georel")
    geo_query = None
    if georel is not None or request.GET.get("geometry") is not None:
        geo_query = geo.geo_query(
            georel, request.GET.get("geometry"), request.GET.get("coordinates"), request.GET.get("geoproperty")
        )
    query = selectors.EntityQuery(
        types=[ctx.expand(t) for t in types] if types else None,
        ids=ids,
        id_pattern=request.GET.get("idPattern"),
        attrs=_attrs(request, ctx),
        q=qlang.parse(q_text) if q_text is not None else None,
        geo=geo_query,
        geo_attr=ctx.expand(geo_query.attr) if geo_query else services.LOCATION,
        expand=ctx.expand,
    )
    if require_filter and not (types or ids or query.id_pattern or query.attrs or query.q or geo_query):
        raise BadRequestData(
            "Cần ít nhất một trong type, id, idPattern, attrs, q hoặc truy vấn địa lý",
            "At least one of type, id, idPattern, attrs, q or a geo-query is required",
        )
    query.pattern()  # a bad idPattern is a 400 even when nothing matches
    return query


def _page(request: HttpRequest) -> tuple[int, int]:
    limit = http.int_param(request, "limit", settings.NGSI_LD_DEFAULT_LIMIT, maximum=settings.NGSI_LD_MAX_LIMIT)
    return limit, http.int_param(request, "offset", 0)


def entities_get(request: HttpRequest) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    query = _query(request, ctx)
    limit, offset = _page(request)
    rows, count = selectors.entity_query(query=query, limit=limit, offset=offset)
    fmt, sys_attrs = _format(request)
    projection = set(query.attrs) if query.attrs else None
    data = [entity_out(row, ctx, fmt=fmt, attrs=projection, sys_attrs=sys_attrs) for row in rows]
    response = http.answer(request, data, ctx, ld=ld)
    if request.GET.get("count") == "true":
        response["NGSILD-Results-Count"] = str(count)
    return response


def entities_post(request: HttpRequest) -> HttpResponse:
    body, ctx = http.body_and_context(request)
    entity = services.entity_create(body=body, ctx=ctx)
    response = HttpResponse(status=201)
    response["Location"] = f"/ngsi-ld/v1/entities/{entity.entity_id}"
    return response


def entity_get(request: HttpRequest, entity_id: str) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    row = selectors.entity_get(entity_id=_check_id(entity_id))
    attrs = _attrs(request, ctx)
    fmt, sys_attrs = _format(request)
    if attrs and not any(iri in row["attrs"] for iri in attrs):
        raise ResourceNotFound(
            "Thực thể không có thuộc tính nào được yêu cầu", "The entity has none of the attributes asked"
        )
    data = entity_out(row, ctx, fmt=fmt, attrs=set(attrs) if attrs else None, sys_attrs=sys_attrs)
    return http.answer(request, data, ctx, ld=ld)


def entity_delete(request: HttpRequest, entity_id: str) -> HttpResponse:
    services.entity_delete(entity_id=_check_id(entity_id))
    return http.no_content()


def _outcome(outcome: services.Outcome) -> HttpResponse:
    if not outcome.not_updated:
        return http.no_content()
    body = {"updated": outcome.updated, "notUpdated": outcome.not_updated}
    return HttpResponse(http.json.dumps(body, ensure_ascii=False), status=207, content_type=http.JSON)


def attrs_post(request: HttpRequest, entity_id: str) -> HttpResponse:
    body, ctx = http.body_and_context(request)
    overwrite = "noOverwrite" not in http.options(request)
    return _outcome(
        services.entity_attrs_write(entity_id=_check_id(entity_id), body=body, ctx=ctx, overwrite=overwrite)
    )


def attrs_patch(request: HttpRequest, entity_id: str) -> HttpResponse:
    body, ctx = http.body_and_context(request)
    return _outcome(services.entity_attrs_write(entity_id=_check_id(entity_id), body=body, ctx=ctx, only_existing=True))


def attr_patch(request: HttpRequest, entity_id: str, attr: str) -> HttpResponse:
    body, ctx = http.body_and_context(request)
    services.entity_attr_patch(entity_id=_check_id(entity_id), attr=attr, body=body, ctx=ctx)
    return http.no_content()


def attr_delete(request: HttpRequest, entity_id: str, attr: str) -> HttpResponse:
    ctx = http.query_context(request)
    services.entity_attr_delete(
        entity_id=_check_id(entity_id),
        attr=attr,
        ctx=ctx,
        dataset_id=request.GET.get("datasetId"),
        delete_all=request.GET.get("deleteAll") == "true",
    )
    return http.no_content()


def _batch_body(request: HttpRequest) -> tuple[list[Any], jsonld.Context]:
    body, ctx = http.body_and_context(request)
    if not isinstance(body, list) or not body:
        raise BadRequestData("Cần một mảng thực thể không rỗng", "A non-empty array is required")
    if len(body) > settings.NGSI_LD_MAX_BATCH:
        raise BadRequestData("Quá nhiều phần tử trong lô", f"At most {settings.NGSI_LD_MAX_BATCH} items per batch")
    if (request.content_type or "") == http.LD:
        contexts = {http.json.dumps(item.get("@context"), sort_keys=True) for item in body if isinstance(item, dict)}
        if len(contexts) > 1:
            raise BadRequestData(
                "Các thực thể trong lô phải cùng @context", "All entities of a batch must share one @context"
            )
    return body, ctx


def _batch_answer(result: services.BatchResult, *, created_answer: bool) -> HttpResponse:
    if result.errors:
        body = {"success": result.success, "errors": result.errors}
        return HttpResponse(http.json.dumps(body, ensure_ascii=False), status=207, content_type=http.JSON)
    if created_answer and result.created:
        return HttpResponse(http.json.dumps(result.created), status=201, content_type=http.JSON)
    return http.no_content()


def batch_create(request: HttpRequest) -> HttpResponse:
    body, ctx = _batch_body(request)
    return _batch_answer(services.batch_create(bodies=body, ctx=ctx), created_answer=True)


def batch_upsert(request: HttpRequest) -> HttpResponse:
    body, ctx = _batch_body(request)
    replace = "update" not in http.options(request)
    return _batch_answer(services.batch_upsert(bodies=body, ctx=ctx, replace=replace), created_answer=True)


def batch_update(request: HttpRequest) -> HttpResponse:
    body, ctx = _batch_body(request)
    overwrite = "noOverwrite" not in http.options(request)
    return _batch_answer(services.batch_update(bodies=body, ctx=ctx, overwrite=overwrite), created_answer=False)


def batch_delete(request: HttpRequest) -> HttpResponse:
    body, _ = _batch_body(request)
    return _batch_answer(services.batch_delete(ids=body), created_answer=False)


def _list_id(kind: str) -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4()}"


def types_get(request: HttpRequest) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    types = selectors.entity_types()
    if request.GET.get("details") == "true":
        data: Any = [
            {
                "id": iri,
                "type": "EntityType",
                "typeName": ctx.compact(iri),
                "attributeNames": sorted(ctx.compact(a) for a in info["attributes"]),
            }
            for iri, info in sorted(types.items())
        ]
    else:
        data = {
            "id": _list_id("EntityTypeList"),
            "type": "EntityTypeList",
            "typeList": sorted(ctx.compact(t) for t in types),
        }
    return http.answer(request, data, ctx, ld=ld)


def type_get(request: HttpRequest, type_name: str) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    iri = ctx.expand(type_name)
    info = selectors.entity_types().get(iri)
    if info is None:
        raise ResourceNotFound(f"Không có kiểu {type_name}", f"No entity type {type_name}")
    data = {
        "id": iri,
        "type": "EntityTypeInfo",
        "typeName": ctx.compact(iri),
        "entityCount": info["count"],
        "attributeDetails": [
            {"id": a, "type": "Attribute", "attributeName": ctx.compact(a), "attributeTypes": sorted(kinds)}
            for a, kinds in sorted(info["attributes"].items())
        ],
    }
    return http.answer(request, data, ctx, ld=ld)


def _attribute(iri: str, info: dict[str, Any], ctx: jsonld.Context) -> dict[str, Any]:
    return {
        "id": iri,
        "type": "Attribute",
        "attributeName": ctx.compact(iri),
        "attributeCount": info["count"],
        "attributeTypes": sorted(info["types"]),
        "typeNames": sorted(ctx.compact(t) for t in info["typeNames"]),
    }


def attributes_get(request: HttpRequest) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    attrs = selectors.entity_attributes()
    if request.GET.get("details") == "true":
        data: Any = [_attribute(iri, info, ctx) for iri, info in sorted(attrs.items())]
    else:
        data = {
            "id": _list_id("AttributeList"),
            "type": "AttributeList",
            "attributeList": sorted(ctx.compact(a) for a in attrs),
        }
    return http.answer(request, data, ctx, ld=ld)


def attribute_get(request: HttpRequest, attr: str) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    iri = ctx.expand(attr)
    info = selectors.entity_attributes().get(iri)
    if info is None:
        raise ResourceNotFound(f"Không có thuộc tính {attr}", f"No attribute {attr}")
    return http.answer(request, _attribute(iri, info, ctx), ctx, ld=ld)


@http.public_view
def core_context(request: HttpRequest) -> HttpResponse:
    """The core @context this broker uses (V1.6.1), served from the bundled copy."""
    response = HttpResponse(http.json.dumps(jsonld.core_document(), ensure_ascii=False), content_type=http.LD)
    response["Cache-Control"] = "public, max-age=86400"
    return response
