"""Writes of the NGSI-LD broker: entities and their attributes, batches, and the attribute history.

Every change of an entity, when any subscription is active, writes an outbox event
``ngsi.entity.changed`` in the same transaction; ``ngsi.handlers`` matches it to subscriptions
after commit and queues the notifications (``ngsi.notify``), never from the request. Attribute
instances carrying ``observedAt`` are appended to ``AttributeInstance`` for the temporal API."""

from __future__ import annotations

import copy
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from hcmgov.core.services import event_publish
from hcmgov.ngsi import fastwrite, geo
from hcmgov.ngsi.errors import AlreadyExists, BadRequestData, NgsiError, ResourceNotFound
from hcmgov.ngsi.jsonld import NGSI, Context
from hcmgov.ngsi.models import AttributeInstance, Entity, Subscription
from hcmgov.ngsi.representation import entity_head, format_time, fragment_in, is_uri, parse_time

LOCATION = NGSI + "location"
TOPIC_CHANGED = "ngsi.entity.changed"
_ACTIVE_TTL = 2.0  # seconds a process trusts its knowledge of whether any subscription is active
_active: list[float | bool] = [0.0, False]


def subscriptions_active_forget() -> None:
    """Forget whether subscriptions exist (after a subscription is written)."""
    _active[0] = 0.0


def _any_subscription() -> bool:
    now = time.monotonic()
    if now - float(_active[0]) > _ACTIVE_TTL:
        _active[1] = Subscription.objects.filter(active=True).exists()
        _active[0] = now
    return bool(_active[1])


def _bounds(attrs: dict[str, Any]) -> dict[str, float | None]:
    instances = attrs.get(LOCATION) or []
    default = next((i for i in instances if "datasetId" not in i), instances[0] if instances else None)
    if default is None or not isinstance(default.get("value"), dict):
        return {"min_lon": None, "min_lat": None, "max_lon": None, "max_lat": None}
    lo_lon, lo_lat, hi_lon, hi_lat = geo.bbox(default["value"])
    return {"min_lon": lo_lon, "min_lat": lo_lat, "max_lon": hi_lon, "max_lat": hi_lat}


def history_lines(attrs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The history rows of the instances carrying observedAt, as the columns of
    ``AttributeInstance`` (without the entity): what the one-statement path sends as JSON, with
    no model instance made."""
    rows = []
    for iri, instances in attrs.items():
        for inst in instances:
            if "observedAt" not in inst:
                continue
            value = inst.get("value", inst.get("object", inst.get("languageMap")))
            number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
            extra = {
                k: v for k, v in inst.items() if k not in ("value", "object", "observedAt", "createdAt", "modifiedAt")
            }
            rows.append(
                {
                    "attr": iri,
                    "dataset_id": inst.get("datasetId", ""),
                    # stored instances hold observedAt as format_time wrote it: ISO 8601, UTC
                    "observed_at": inst["observedAt"],
                    "value": value,
                    "number": number,
                    "instance": extra,
                }
            )
    return rows


def _history(entity_pk: int, attrs: dict[str, list[dict[str, Any]]]) -> list[AttributeInstance]:
    return [
        AttributeInstance(entity=entity_pk, **{**line, "observed_at": parse_time(line["observed_at"], "observedAt")})
        for line in history_lines(attrs)
    ]


def _changed(entity: Entity, attrs: list[str], *, deleted: bool = False) -> None:
    if _any_subscription():
        event_publish(
            topic=TOPIC_CHANGED,
            key=f"ngsi-entity:{entity.pk}",  # the outbox key is short (80); the id is in the payload
            payload={"entity": entity.pk, "id": entity.entity_id, "attrs": attrs, "deleted": deleted},
        )


def entity_row(entity: Entity) -> dict[str, Any]:
    """The stored entity as the representation layer reads it."""
    return {
        "id": entity.entity_id,
        "type": entity.type,
        "attrs": entity.attrs,
        "scope": entity.scope,
        "createdAt": format_time(entity.created_at),
        "modifiedAt": format_time(entity.modified_at),
    }


def entity_create(*, body: Any, ctx: Context) -> Entity:
    """Create an entity (clause 5.6.1); AlreadyExists if its id is taken."""
    entity_id, kind = entity_head(body, ctx)
    now = timezone.now()
    attrs = fragment_in(body, ctx, format_time(now))
    entity = Entity(entity_id=entity_id, type=kind, attrs=attrs, created_at=now, modified_at=now, **_bounds(attrs))
    scope = body.get("scope")
    if scope is not None:
        entity.scope = scope if isinstance(scope, list) else [scope]
    try:
        with transaction.atomic():
            entity.save(force_insert=True)
            AttributeInstance.objects.bulk_create(_history(entity.pk, attrs))
            _changed(entity, list(attrs))
    except IntegrityError:
        raise AlreadyExists(f"Thực thể {entity_id} đã tồn tại", f"Entity {entity_id} already exists") from None
    return entity


def _get_for_update(entity_id: str) -> Entity:
    query = Entity.objects.filter(entity_id=entity_id)
    if transaction.get_connection().features.has_select_for_update:
        query = query.select_for_update()
    entity = query.first()
    if entity is None:
        raise ResourceNotFound(f"Không có thực thể {entity_id}", f"No entity {entity_id}")
    return entity


def _merge(
    current: dict[str, list[dict[str, Any]]],
    new: dict[str, list[dict[str, Any]]],
    *,
    overwrite: bool,
    only_existing: bool,
) -> tuple[dict[str, list[dict[str, Any]]], list[str], list[dict[str, str]]]:
    """Merge new attribute instances into ``current`` (by datasetId); returns the changed attributes'
    instances, the names updated and those not updated with their reasons."""
    written: dict[str, list[dict[str, Any]]] = {}
    updated: list[str] = []
    not_updated: list[dict[str, str]] = []
    for iri, instances in new.items():
        existing = current.get(iri)
        if existing is None and only_existing:
            not_updated.append({"attributeName": iri, "reason": "attribute does not exist / thuộc tính không tồn tại"})
            continue
        kept = list(existing or [])
        for inst in instances:
            ds = inst.get("datasetId")
            index = next((i for i, old in enumerate(kept) if old.get("datasetId") == ds), None)
            if index is not None and not overwrite:
                not_updated.append({"attributeName": iri, "reason": "noOverwrite: attribute exists / đã có thuộc tính"})
                continue
            if index is not None:
                inst["createdAt"] = kept[index].get("createdAt", inst["createdAt"])
                kept[index] = inst
            elif only_existing:
                not_updated.append({"attributeName": iri, "reason": "datasetId does not exist / không có datasetId"})
                continue
            else:
                kept.append(inst)
            written.setdefault(iri, []).append(inst)
        current[iri] = kept
        if iri in written:
            updated.append(iri)
    return written, updated, not_updated


@dataclass
class Outcome:
    """What an attribute write did: the names updated, and those not with a reason (207)."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[dict[str, str]] = field(default_factory=list)


def _save(entity: Entity, written: dict[str, list[dict[str, Any]]], now: Any) -> None:
    entity.modified_at = now
    for key, value in _bounds(entity.attrs).items():
        setattr(entity, key, value)
    entity.save(update_fields=["attrs", "modified_at", "min_lon", "min_lat", "max_lon", "max_lat"])
    AttributeInstance.objects.bulk_create(_history(entity.pk, written))
    _changed(entity, list(written))


def entity_attrs_write(
    *, entity_id: str, body: Any, ctx: Context, overwrite: bool = True, only_existing: bool = False
) -> Outcome:
    """Update (``only_existing``, PATCH …/attrs, clause 5.6.2) or append (POST …/attrs, 5.6.3,
    ``overwrite=False`` for noOverwrite) attributes of an entity."""
    if not isinstance(body, dict):
        raise BadRequestData("Nội dung phải là đối tượng JSON", "The body must be a JSON object")
    now = timezone.now()
    new = fragment_in(body, ctx, format_time(now))
    outcome = None
    if fastwrite.available() and not _subscriptions_known():
        if only_existing and overwrite and fastwrite.patchable(new, LOCATION):
            # a sensor's PATCH: one statement (history rows carry no entity key until it runs)
            done = fastwrite.entity_patch(entity_id=entity_id, new=new, now=now, history=history_lines(new))
            if done == fastwrite.WRITTEN:
                return Outcome([ctx.compact(i) for i in new], [])
            if done == fastwrite.WATCHED:
                _active[:] = [time.monotonic(), True]
        if not _subscriptions_known():
            outcome = _attrs_write_fast(entity_id, new, now, overwrite=overwrite, only_existing=only_existing)
    if outcome is None:
        with transaction.atomic():
            entity = _get_for_update(entity_id)
            written, updated, not_updated = _merge(entity.attrs, new, overwrite=overwrite, only_existing=only_existing)
            if written:
                _save(entity, written, now)
    else:
        updated, not_updated = outcome
    return Outcome(
        [ctx.compact(i) for i in updated],
        [{**n, "attributeName": ctx.compact(n["attributeName"])} for n in not_updated],
    )


def subscriptions_seen() -> bool:
    """Whether this process saw an active subscription lately (``ngsi.fastpath`` then leaves the
    update to the locking path at once)."""
    return _subscriptions_known()


def subscriptions_seen_now() -> None:
    """Note that a write statement found an active subscription."""
    _active[:] = [time.monotonic(), True]


def _subscriptions_known() -> bool:
    """Whether this process saw an active subscription within ``_ACTIVE_TTL``: then the locking
    path (with its outbox event) is taken at once. Not knowing, the fast path asks the database
    itself, in its write statement."""
    return bool(_active[1]) and time.monotonic() - float(_active[0]) <= _ACTIVE_TTL


def _attrs_write_fast(
    entity_id: str, new: dict[str, list[dict[str, Any]]], now: Any, *, overwrite: bool, only_existing: bool
) -> tuple[list[str], list[dict[str, str]]] | None:
    """The same as the locking path, as read-then-compare-and-swap in autocommit (two prepared
    statements, ``ngsi.fastwrite``; no model instance, no transaction block). None after a few
    lost races, or when a subscription is active (the caller then takes the lock and publishes
    the change)."""
    for _ in range(3):
        row = fastwrite.entity_read(entity_id)
        if row is None:
            raise ResourceNotFound(f"Không có thực thể {entity_id}", f"No entity {entity_id}")
        pk, attrs, expected = row
        # the merge stamps createdAt into the instances (their top level only): keep ``new`` as sent
        fresh = {iri: [dict(inst) for inst in instances] for iri, instances in new.items()}
        written, updated, not_updated = _merge(attrs, fresh, overwrite=overwrite, only_existing=only_existing)
        if not written:
            return updated, not_updated
        result = fastwrite.entity_write(
            pk=pk,
            attrs=attrs,
            modified_at=now if now > expected else expected + dt.timedelta(microseconds=1),
            expected=expected,
            bounds=_bounds(attrs),
            history=_history(pk, written),
        )
        if result == fastwrite.WRITTEN:
            return updated, not_updated
        if result == fastwrite.WATCHED:
            _active[:] = [time.monotonic(), True]
            return None
    return None


def entity_attr_patch(*, entity_id: str, attr: str, body: Any, ctx: Context) -> None:
    """Partial update of one attribute (clause 5.6.4): the members sent replace those kept."""
    if not isinstance(body, dict) or not body:
        raise BadRequestData("Nội dung phải là đối tượng JSON", "The body must be a JSON object")
    iri = ctx.expand(attr)
    now = timezone.now()
    with transaction.atomic():
        entity = _get_for_update(entity_id)
        instances = entity.attrs.get(iri)
        ds = body.get("datasetId")
        index = next((i for i, old in enumerate(instances or []) if old.get("datasetId") == ds), None)
        if instances is None or index is None:
            raise ResourceNotFound(f"Không có thuộc tính {attr}", f"No attribute {attr}")
        merged = {k: v for k, v in copy.deepcopy(instances[index]).items() if k not in ("createdAt", "modifiedAt")}
        for key, value in body.items():
            merged[
                key
                if key in ("type", "value", "object", "observedAt", "unitCode", "datasetId", "languageMap")
                else ctx.expand(key)
            ] = value
        # re-read through the validation of a full attribute (sub-attributes' names are IRIs now)
        fresh = fragment_in({attr: _compact_subs(merged, ctx)}, ctx, format_time(now))[iri][0]
        fresh["createdAt"] = instances[index].get("createdAt", fresh["createdAt"])
        instances[index] = fresh
        _save(entity, {iri: [fresh]}, now)


def _compact_subs(inst: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {k if not k.startswith(("http://", "https://", "urn:")) else ctx.compact(k): v for k, v in inst.items()}


def entity_attr_delete(
    *, entity_id: str, attr: str, ctx: Context, dataset_id: str | None = None, delete_all: bool = False
) -> None:
    """Delete one attribute (clause 5.6.5): its default instance, the one of ``dataset_id``, or all."""
    iri = ctx.expand(attr)
    with transaction.atomic():
        entity = _get_for_update(entity_id)
        instances = entity.attrs.get(iri)
        if not instances:
            raise ResourceNotFound(f"Không có thuộc tính {attr}", f"No attribute {attr}")
        kept = [] if delete_all else [i for i in instances if i.get("datasetId") != dataset_id]
        if len(kept) == len(instances):
            raise ResourceNotFound(
                f"Không có thuộc tính {attr} với datasetId này", f"No instance of {attr} with that datasetId"
            )
        if kept:
            entity.attrs[iri] = kept
        else:
            del entity.attrs[iri]
        _save(entity, {}, timezone.now())


def entity_delete(*, entity_id: str) -> None:
    """Delete an entity (clause 5.6.6). Its attribute history is kept (temporal evolution)."""
    with transaction.atomic():
        entity = _get_for_update(entity_id)
        _changed(entity, list(entity.attrs), deleted=True)
        entity.delete()


@dataclass
class BatchResult:
    """A batch operation's outcome (clause 5.6.7 ff.): ids that succeeded, created, and errors."""

    success: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, entity_id: Any, error: NgsiError) -> None:
        self.errors.append({"entityId": str(entity_id) if entity_id is not None else "", "error": error.body()})


def _each(result: BatchResult, bodies: list[Any], op: Any) -> BatchResult:
    for body in bodies:
        entity_id = body.get("id", body.get("@id")) if isinstance(body, dict) else body
        try:
            with transaction.atomic():
                op(body)
            result.success.append(str(entity_id))
        except NgsiError as error:
            result.fail(entity_id, error)
    return result


def batch_create(*, bodies: list[Any], ctx: Context) -> BatchResult:
    result = BatchResult()
    _each(result, bodies, lambda body: result.created.append(entity_create(body=body, ctx=ctx).entity_id))
    return result


def batch_upsert(*, bodies: list[Any], ctx: Context, replace: bool = True) -> BatchResult:
    """Create the entities that do not exist; replace (or, with ``replace=False``, update) the
    others. One read for the batch, one bulk update for the existing entities, one bulk insert of
    history: the path sensors' gateways use."""
    result = BatchResult()
    parsed: list[tuple[str, str, dict[str, Any], Any]] = []
    now = timezone.now()
    stamp = format_time(now)
    for body in bodies:
        try:
            entity_id, kind = entity_head(body, ctx)
            parsed.append((entity_id, kind, fragment_in(body, ctx, stamp), body))
        except NgsiError as error:
            result.fail(body.get("id") if isinstance(body, dict) else None, error)
    with transaction.atomic():
        query = Entity.objects.filter(entity_id__in=[p[0] for p in parsed])
        if transaction.get_connection().features.has_select_for_update:
            query = query.select_for_update()
        existing = {e.entity_id: e for e in query}
        changed: list[Entity] = []
        history: list[AttributeInstance] = []
        for entity_id, kind, attrs, body in parsed:
            entity = existing.get(entity_id)
            if entity is None:
                try:
                    with transaction.atomic():
                        created = entity_create(body=body, ctx=ctx)
                    existing[entity_id] = created
                    result.created.append(entity_id)
                    result.success.append(entity_id)
                except NgsiError as error:
                    result.fail(entity_id, error)
                continue
            if replace:
                entity.type, entity.attrs, written = kind, attrs, attrs
            else:
                written, _, _ = _merge(entity.attrs, attrs, overwrite=True, only_existing=False)
            entity.modified_at = now
            for key, value in _bounds(entity.attrs).items():
                setattr(entity, key, value)
            if entity not in changed:
                changed.append(entity)
            history += _history(entity.pk, written)
            _changed(entity, list(written))
            result.success.append(entity_id)
        if fastwrite.available():  # one statement (the rows are locked above)
            fastwrite.entities_write([(entity, None) for entity in changed], history)
        else:
            fields = ["type", "attrs", "modified_at", "min_lon", "min_lat", "max_lon", "max_lat"]
            Entity.objects.bulk_update(changed, fields)
            AttributeInstance.objects.bulk_create(history)
    return result


def batch_update(*, bodies: list[Any], ctx: Context, overwrite: bool = True) -> BatchResult:
    result = BatchResult()

    def update(body: Any) -> None:
        entity_id, _ = entity_head(body, ctx)
        outcome = entity_attrs_write(entity_id=entity_id, body=body, ctx=ctx, overwrite=overwrite)
        if outcome.not_updated and not overwrite:
            raise BadRequestData("Một số thuộc tính đã có (noOverwrite)", "Some attributes exist (noOverwrite)")

    return _each(result, bodies, update)


def batch_delete(*, ids: list[Any]) -> BatchResult:
    result = BatchResult()

    def delete(entity_id: Any) -> None:
        if not is_uri(entity_id):
            raise BadRequestData("id phải là URI", "The id must be a URI")
        entity_delete(entity_id=entity_id)

    return _each(result, ids, delete)
