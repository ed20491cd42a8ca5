"""Reads of the NGSI-LD broker: entity queries (type, id, idPattern, attrs, q, geo-query, paging),
entity types and attributes. SQL narrows by type, id and the ``location`` bounding box (indexed);
``q``, ``idPattern`` and the exact geometry test run on the candidates in Python."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from hcmgov.ngsi import qlang
from hcmgov.ngsi.errors import BadRequestData, ResourceNotFound
from hcmgov.ngsi.geo import GeoQuery
from hcmgov.ngsi.models import Entity, Subscription
from hcmgov.ngsi.services import LOCATION, entity_row


@dataclass
class EntityQuery:
    """A query on entities, names already expanded (``expand`` expands those inside ``q``)."""

    types: list[str] | None = None
    ids: list[str] | None = None
    id_pattern: str | None = None
    attrs: list[str] | None = None
    q: Any = None
    geo: GeoQuery | None = None
    geo_attr: str = LOCATION
    expand: Callable[[str], str] = str

    def pattern(self) -> re.Pattern[str] | None:
        if not self.id_pattern:
            return None
        try:
            return re.compile(self.id_pattern[:500])
        except re.error:
            raise BadRequestData("idPattern không hợp lệ", "idPattern is not a valid regular expression") from None

    def sql(self) -> QuerySet[Entity]:
        query = Entity.objects.all()
        if self.types:
            query = query.filter(type__in=self.types)
        if self.ids:
            query = query.filter(entity_id__in=self.ids)
        if self.geo is not None and self.geo_attr == LOCATION:
            box = self.geo.bounds()
            if box is not None:
                lo_lon, lo_lat, hi_lon, hi_lat = box
                query = query.filter(min_lat__lte=hi_lat, max_lat__gte=lo_lat, min_lon__lte=hi_lon, max_lon__gte=lo_lon)
        if self.attrs and len(self.attrs) <= 20:
            cond = Q()
            for iri in self.attrs:
                cond |= Q(attrs__has_key=iri)
            query = query.filter(cond)
        return query.order_by("pk")

    def in_python(self) -> bool:
        return bool(self.id_pattern or self.q is not None or self.geo is not None)

    def matches(self, entity: Entity, pattern: re.Pattern[str] | None) -> bool:
        if pattern is not None and not pattern.match(entity.entity_id):
            return False
        if self.attrs and not any(iri in entity.attrs for iri in self.attrs):
            return False
        if self.q is not None and not qlang.evaluate(self.q, entity.attrs, self.expand):
            return False
        if self.geo is not None:
            instances = entity.attrs.get(self.geo_attr) or []
            if not any(isinstance(i.get("value"), dict) and self.geo.matches(i["value"]) for i in instances):
                return False
        return True


def _iterate(query: EntityQuery) -> Iterator[Entity]:
    pattern = query.pattern()
    for entity in query.sql().iterator(chunk_size=500):
        if query.matches(entity, pattern):
            yield entity


def entity_query(*, query: EntityQuery, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the matching entities (stored rows) and how many match in all."""
    if not query.in_python():
        base = query.sql()
        rows = [entity_row(e) for e in base[offset : offset + limit]] if limit else []
        return rows, base.count()
    page: list[dict[str, Any]] = []
    count = 0
    for entity in _iterate(query):
        if offset <= count < offset + limit:
            page.append(entity_row(entity))
        count += 1
    return page, count


def entity_get(*, entity_id: str) -> dict[str, Any]:
    entity = Entity.objects.filter(entity_id=entity_id).first()
    if entity is None:
        raise ResourceNotFound(f"Không có thực thể {entity_id}", f"No entity {entity_id}")
    return entity_row(entity)


def entity_types() -> dict[str, dict[str, Any]]:
    """Each entity type (IRI) → {count, attributes: {IRI: {attribute types}}}."""
    out: dict[str, dict[str, Any]] = {}
    for kind, attrs in Entity.objects.values_list("type", "attrs").iterator(chunk_size=1000):
        info = out.setdefault(kind, {"count": 0, "attributes": {}})
        info["count"] += 1
        for iri, instances in attrs.items():
            info["attributes"].setdefault(iri, set()).update(i.get("type", "Property") for i in instances)
    return out


def entity_attributes() -> dict[str, dict[str, Any]]:
    """Each attribute (IRI) → {count, types: {attribute types}, typeNames: {entity type IRIs}}."""
    out: dict[str, dict[str, Any]] = {}
    for kind, attrs in Entity.objects.values_list("type", "attrs").iterator(chunk_size=1000):
        for iri, instances in attrs.items():
            info = out.setdefault(iri, {"count": 0, "types": set(), "typeNames": set()})
            info["count"] += 1
            info["types"].update(i.get("type", "Property") for i in instances)
            info["typeNames"].add(kind)
    return out


def subscription_list(*, limit: int, offset: int) -> tuple[list[Subscription], int]:
    query = Subscription.objects.order_by("pk")
    return list(query[offset : offset + limit]), query.count()


def subscription_get(*, subscription_id: str) -> Subscription:
    sub = Subscription.objects.filter(subscription_id=subscription_id).first()
    if sub is None:
        raise ResourceNotFound(f"Không có đăng ký {subscription_id}", f"No subscription {subscription_id}")
    return sub


def entity_pks(*, entity_ids: list[str]) -> dict[str, int]:
    return dict(Entity.objects.filter(entity_id__in=entity_ids).values_list("entity_id", "pk"))


def entity_head(*, entity_id: str) -> dict[str, Any]:
    """An entity's id, type and primary key (the temporal API needs no more)."""
    row = Entity.objects.filter(entity_id=entity_id).values("pk", "type").first()
    if row is None:
        raise ResourceNotFound(f"Không có thực thể {entity_id}", f"No entity {entity_id}")
    return {"id": entity_id, "type": row["type"], "pk": row["pk"]}
