"""/ngsi-ld/v1/subscriptions (clauses 6.10 and 6.11)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hcmgov.ngsi import http, selectors, subscriptions


def subscriptions_get(request: HttpRequest) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    limit = http.int_param(request, "limit", settings.NGSI_LD_DEFAULT_LIMIT, maximum=settings.NGSI_LD_MAX_LIMIT)
    offset = http.int_param(request, "offset", 0)
    subs, count = selectors.subscription_list(limit=limit, offset=offset)
    response = http.answer(request, [subscriptions.subscription_out(s, ctx) for s in subs], ctx, ld=ld)
    if request.GET.get("count") == "true":
        response["NGSILD-Results-Count"] = str(count)
    return response


def subscriptions_post(request: HttpRequest) -> HttpResponse:
    body, ctx = http.body_and_context(request)
    user = getattr(request, "ngsi_user", None)
    sub = subscriptions.subscription_create(body=body, ctx=ctx, owner=getattr(user, "pk", None))
    response = HttpResponse(status=201)
    response["Location"] = f"/ngsi-ld/v1/subscriptions/{sub.subscription_id}"
    return response


def subscription_get(request: HttpRequest, subscription_id: str) -> HttpResponse:
    ctx = http.query_context(request)
    ld = http.wants_ld(request)
    sub = selectors.subscription_get(subscription_id=subscription_id)
    return http.answer(request, subscriptions.subscription_out(sub, ctx), ctx, ld=ld)


def subscription_patch(request: HttpRequest, subscription_id: str) -> HttpResponse:
    body, ctx = http.body_and_context(request)
    subscriptions.subscription_update(subscription_id=subscription_id, body=body, ctx=ctx)
    return http.no_content()


def subscription_delete(request: HttpRequest, subscription_id: str) -> HttpResponse:
    subscriptions.subscription_delete(subscription_id=subscription_id)
    return http.no_content()
