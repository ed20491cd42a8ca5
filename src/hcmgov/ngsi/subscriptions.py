"""Subscriptions and notifications (clauses 5.2.12, 5.8, 6.10–6.11): registering, matching a
changed entity to subscriptions (entities, watchedAttributes, q, geoQ), and delivering each
notification to its endpoint from the worker, with back-off, throttling and the counters of
NotificationParams (timesSent, lastNotification, lastSuccess, lastFailure)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hcmgov.common.netguard import url_refusal
from hcmgov.ngsi import geo, jsonld, qlang
from hcmgov.ngsi.errors import AlreadyExists, BadRequestData, ResourceNotFound
from hcmgov.ngsi.models import Delivery, Entity, Subscription
from hcmgov.ngsi.representation import entity_out, format_time, is_uri, parse_time
from hcmgov.ngsi.services import entity_row, subscriptions_active_forget

log = logging.getLogger(__name__)

FORMATS = {"normalized", "keyValues", "simplified", "concise"}
ACCEPTS = {"application/json", "application/ld+json"}


def _bad(vi: str, en: str) -> BadRequestData:
    return BadRequestData(vi, en)


def _parse(body: Any, ctx: jsonld.Context, sub: Subscription, *, partial: bool) -> None:
    """Validate a subscription's fields and set them on ``sub`` (names expanded)."""
    if not isinstance(body, dict):
        raise _bad("Đăng ký phải là đối tượng JSON", "A subscription must be a JSON object")
    if not partial and body.get("type", "Subscription") != "Subscription":
        raise _bad("type phải là Subscription", "type must be Subscription")
    if "entities" in body:
        entities = body["entities"]
        if not isinstance(entities, list) or not entities:
            raise _bad("entities phải là mảng không rỗng", "entities must be a non-empty array")
        parsed = []
        for item in entities:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                raise _bad("Mỗi entities cần type", "Each entities item needs a type")
            selector: dict[str, str] = {"type": ctx.expand(item["type"])}
            if "id" in item:
                if not is_uri(item["id"]):
                    raise _bad("entities.id phải là URI", "entities.id must be a URI")
                selector["id"] = item["id"]
            if "idPattern" in item:
                try:
                    re.compile(str(item["idPattern"]))
                except re.error:
                    raise _bad("idPattern không hợp lệ", "Invalid idPattern") from None
                selector["idPattern"] = str(item["idPattern"])
            parsed.append(selector)
        sub.entities = parsed
    if "watchedAttributes" in body:
        watched = body["watchedAttributes"]
        if not isinstance(watched, list) or not watched or not all(isinstance(w, str) for w in watched):
            raise _bad("watchedAttributes phải là mảng tên", "watchedAttributes must be an array of names")
        sub.watched_attributes = [ctx.expand(w) for w in watched]
    if not sub.entities and not sub.watched_attributes:
        raise _bad("Cần entities hoặc watchedAttributes", "entities or watchedAttributes is required")
    if "q" in body:
        qlang.parse(body["q"])
        sub.q = body["q"]
    if "geoQ" in body:
        g = body["geoQ"]
        if not isinstance(g, dict):
            raise _bad("geoQ không hợp lệ", "Invalid geoQ")
        geo.geo_query(g.get("georel"), g.get("geometry"), g.get("coordinates"), g.get("geoproperty"))
        sub.geo_q = {k: g.get(k) for k in ("georel", "geometry", "coordinates", "geoproperty") if g.get(k) is not None}
    for name in ("subscriptionName", "name"):
        if isinstance(body.get(name), str):
            sub.name = body[name][:255]
    if isinstance(body.get("description"), str):
        sub.description = body["description"]
    if "notification" in body:
        sub.notification = _notification(body["notification"], ctx)
    elif not partial:
        raise _bad("Thiếu notification", "notification is required")
    if "throttling" in body:
        t = body["throttling"]
        if not isinstance(t, int) or isinstance(t, bool) or t < 0:
            raise _bad("throttling phải là số nguyên không âm", "throttling must be a non-negative integer")
        sub.throttling = t
    if "expiresAt" in body:
        sub.expires_at = parse_time(body["expiresAt"], "expiresAt")
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise _bad("isActive phải là true/false", "isActive must be a boolean")
        sub.active = body["isActive"]


def _notification(raw: Any, ctx: jsonld.Context) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("endpoint"), dict):
        raise _bad("notification.endpoint là bắt buộc", "notification.endpoint is required")
    uri = raw["endpoint"].get("uri")
    if not isinstance(uri, str) or not is_uri(uri):
        raise _bad("endpoint.uri phải là URI", "endpoint.uri must be a URI")
    refusal = url_refusal(uri, allowed=settings.NGSI_LD_NOTIFY_ALLOWED)
    if refusal:
        vi, _, en = refusal.partition(" / ")
        raise _bad(f"endpoint.uri: {vi}", f"endpoint.uri: {en or vi}")
    accept = raw["endpoint"].get("accept", "application/json")
    if accept not in ACCEPTS:
        raise _bad("endpoint.accept không hỗ trợ", "endpoint.accept must be application/json or application/ld+json")
    fmt = raw.get("format", "normalized")
    if fmt not in FORMATS:
        raise _bad("notification.format không hỗ trợ", "Unsupported notification.format")
    attrs = raw.get("attributes", [])
    if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
        raise _bad("notification.attributes phải là mảng tên", "notification.attributes must be an array of names")
    return {
        "attributes": [ctx.expand(a) for a in attrs],
        "format": "keyValues" if fmt == "simplified" else fmt,
        "endpoint": {"uri": uri, "accept": accept},
    }


def subscription_create(*, body: Any, ctx: jsonld.Context, owner: int | None) -> Subscription:
    """Register a subscription (clause 5.8.1)."""
    now = timezone.now()
    sid = body.get("id") if isinstance(body, dict) else None
    if sid is None:
        sid = f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    elif not is_uri(sid):
        raise _bad("id phải là URI", "The id must be a URI")
    sub = Subscription(subscription_id=sid, owner=owner, created_at=now, modified_at=now, context=ctx.source)
    _parse(body, ctx, sub, partial=False)
    try:
        with transaction.atomic():
            sub.save(force_insert=True)
    except IntegrityError:
        raise AlreadyExists(f"Đăng ký {sid} đã tồn tại", f"Subscription {sid} already exists") from None
    subscriptions_active_forget()
    return sub


def subscription_update(*, subscription_id: str, body: Any, ctx: jsonld.Context) -> None:
    """Update a subscription's fields (clause 5.8.2)."""
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().filter(subscription_id=subscription_id).first()
        if sub is None:
            raise ResourceNotFound(f"Không có đăng ký {subscription_id}", f"No subscription {subscription_id}")
        if isinstance(body, dict) and "id" in body and body["id"] != subscription_id:
            raise _bad("Không được đổi id", "The id cannot change")
        _parse(body, ctx, sub, partial=True)
        sub.context = ctx.source if ctx.source is not None else sub.context
        sub.modified_at = timezone.now()
        sub.save()
    subscriptions_active_forget()


def subscription_delete(*, subscription_id: str) -> None:
    deleted, _ = Subscription.objects.filter(subscription_id=subscription_id).delete()
    if not deleted:
        raise ResourceNotFound(f"Không có đăng ký {subscription_id}", f"No subscription {subscription_id}")
    subscriptions_active_forget()


def subscription_out(sub: Subscription, ctx: jsonld.Context) -> dict[str, Any]:
    """A subscription as answered (clause 5.2.12), names compacted with ``ctx``."""
    now = timezone.now()
    status = "paused" if not sub.active else "expired" if sub.expires_at and sub.expires_at <= now else "active"
    notification: dict[str, Any] = {
        "format": sub.notification.get("format", "normalized"),
        "endpoint": sub.notification.get("endpoint", {}),
        "timesSent": sub.times_sent,
        "timesFailed": sub.times_failed,
    }
    if sub.notification.get("attributes"):
        notification["attributes"] = [ctx.compact(a) for a in sub.notification["attributes"]]
    for name, value in (
        ("lastNotification", sub.last_notification),
        ("lastSuccess", sub.last_success),
        ("lastFailure", sub.last_failure),
    ):
        if value is not None:
            notification[name] = format_time(value)
    if sub.last_notification is not None:
        notification["status"] = "failed" if sub.last_failure and sub.last_failure >= sub.last_notification else "ok"
    out: dict[str, Any] = {"id": sub.subscription_id, "type": "Subscription"}
    if sub.name:
        out["subscriptionName"] = sub.name
    if sub.description:
        out["description"] = sub.description
    if sub.entities:
        out["entities"] = [{**e, "type": ctx.compact(e["type"])} for e in sub.entities]
    if sub.watched_attributes:
        out["watchedAttributes"] = [ctx.compact(a) for a in sub.watched_attributes]
    if sub.q:
        out["q"] = sub.q
    if sub.geo_q:
        out["geoQ"] = sub.geo_q
    out["notification"] = notification
    if sub.throttling:
        out["throttling"] = sub.throttling
    if sub.expires_at:
        out["expiresAt"] = format_time(sub.expires_at)
    out["isActive"] = sub.active
    out["status"] = status
    return out


# --- matching (from the outbox handler) -------------------------------------------------------------


def _selects(sub: Subscription, entity: Entity) -> bool:
    if not sub.entities:
        return True
    for sel in sub.entities:
        if sel["type"] != entity.type:
            continue
        if "id" in sel and sel["id"] != entity.entity_id:
            continue
        if "idPattern" in sel and not re.match(sel["idPattern"], entity.entity_id):
            continue
        return True
    return False


def subscription_matches(sub: Subscription, entity: Entity, changed: list[str], now: dt.datetime) -> bool:
    """Whether a change of ``changed`` attributes of ``entity`` is notified to ``sub``."""
    if not sub.active or (sub.expires_at and sub.expires_at <= now):
        return False
    if not _selects(sub, entity):
        return False
    if sub.watched_attributes and not set(sub.watched_attributes) & set(changed):
        return False
    ctx = jsonld.context_for(sub.context)
    if sub.q and not qlang.evaluate(qlang.parse(sub.q), entity.attrs, ctx.expand):
        return False
    if sub.geo_q:
        g = sub.geo_q
        query = geo.geo_query(g.get("georel"), g.get("geometry"), g.get("coordinates"), g.get("geoproperty"))
        instances = entity.attrs.get(ctx.expand(query.attr)) or []
        if not any(isinstance(i.get("value"), dict) and query.matches(i["value"]) for i in instances):
            return False
    return True


def notifications_queue(*, changes: list[dict[str, Any]]) -> int:
    """Match changed entities (outbox payloads) to the active subscriptions and queue a
    notification for each match; returns how many were queued."""
    subs = list(Subscription.objects.filter(active=True))
    if not subs:
        return 0
    pks = {c["entity"] for c in changes if not c.get("deleted")}
    entities = {e.pk: e for e in Entity.objects.filter(pk__in=pks)}
    now = timezone.now()
    queued = []
    # one notification per (subscription, entity) per batch: each carries the entity as it is now,
    # so several changes delivered together are notified once, with the latest state
    merged: dict[int, list[str]] = {}
    for change in changes:
        merged.setdefault(change["entity"], []).extend(change["attrs"])
    for pk, changed in merged.items():
        entity = entities.get(pk)
        if entity is None:
            continue
        for sub in subs:
            try:
                if not subscription_matches(sub, entity, changed, now):
                    continue
            except Exception:  # a subscription that no longer parses must not stop the others
                log.warning("NGSI-LD subscription %s cannot be matched", sub.subscription_id, exc_info=True)
                continue
            queued.append(
                Delivery(
                    subscription=sub, body=_notification_body(sub, entity, now), created_at=now, next_attempt_at=now
                )
            )
    Delivery.objects.bulk_create(queued)
    return len(queued)


def _notification_body(sub: Subscription, entity: Entity, now: dt.datetime) -> dict[str, Any]:
    ctx = jsonld.context_for(sub.context)
    attrs = set(sub.notification.get("attributes") or []) or None
    data = entity_out(entity_row(entity), ctx, fmt=sub.notification.get("format", "normalized"), attrs=attrs)
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": sub.subscription_id,
        "notifiedAt": format_time(now),
        "data": [data],
    }
    if sub.notification.get("endpoint", {}).get("accept") == "application/ld+json":
        body["@context"] = jsonld.response_context(ctx)
    return body
