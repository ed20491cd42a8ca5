"""Entities in and out: an entity or attribute fragment as sent (normalized or concise, clause
4.5) → its validated, expanded stored form; a stored entity → the normalized, keyValues
(``simplified``) or concise form compacted with the caller's ``@context``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from hcmgov.ngsi import geo
from hcmgov.ngsi.errors import BadRequestData
from hcmgov.ngsi.jsonld import Context

PROPERTY, GEO, REL, LANG = "Property", "GeoProperty", "Relationship", "LanguageProperty"
ATTRIBUTE_TYPES = {PROPERTY, GEO, REL, LANG}
# members of an attribute that are not sub-attributes (clause 4.5.2 ff.)
META = {"type", "value", "object", "observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt", "instanceId"}
META |= {"languageMap", "@context", "deletedAt"}
ENTITY_META = {"id", "@id", "type", "@type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt"}
GEO_NAMES = {"location", "observationSpace", "operationSpace"}
# characters an attribute or type name may not hold (clause 4.6.2: forbidden in identifiers)
# (control characters too: PostgreSQL's text refuses NUL, and no URI or name holds one — RFC 3986)
_BAD_NAME = re.compile(r"[\s<>\"'=;()\\\x00-\x1f\x7f]")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"\x00-\x1f\x7f]+$")


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 512 and bool(_URI.match(value))


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > 256 or _BAD_NAME.search(name):
        raise BadRequestData(f"Tên không hợp lệ: {str(name)[:80]!r}", f"Invalid name: {str(name)[:80]!r}")
    return name


def parse_time(text: Any, what: str) -> dt.datetime:
    """An ISO 8601 date-time → an aware UTC datetime (no zone: UTC)."""
    if not isinstance(text, str):
        raise BadRequestData(f"{what}: cần thời điểm ISO 8601", f"{what}: an ISO 8601 date-time is required")
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{what}: thời điểm không hợp lệ", f"{what}: invalid date-time {text[:40]!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def format_time(value: dt.datetime) -> str:
    text = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if text.endswith(".000000+00:00"):
        return text[:-13] + "Z"
    return text.replace("+00:00", "Z")


def _attr_kind(raw: Any) -> tuple[str, dict[str, Any]]:
    """Which kind of attribute ``raw`` is, and its members (the concise form made normalized)."""
    if isinstance(raw, dict):
        kind = raw.get("type")
        name = kind if isinstance(kind, str) else None  # a list or an object as "type" names no kind
        if name in ATTRIBUTE_TYPES:
            return str(kind), dict(raw)
        if name in geo.GEOMETRY_TYPES and "coordinates" in raw:
            return GEO, {"value": raw}
        if "object" in raw:
            return REL, dict(raw)
        if "languageMap" in raw:
            return LANG, dict(raw)
        if "value" in raw:
            value = raw["value"]
            is_geo = isinstance(value, dict) and value.get("type") in geo.GEOMETRY_TYPES
            return (GEO if is_geo else PROPERTY), dict(raw)
        if kind is not None and not isinstance(kind, str):
            raise BadRequestData("Thuộc tính có type không hợp lệ", "Attribute type is invalid")
        return PROPERTY, {"value": raw}
    return PROPERTY, {"value": raw}


def attribute_in(name: str, raw: Any, ctx: Context, now: str, *, depth: int = 0) -> dict[str, Any]:
    """One attribute instance as sent → its stored form (sub-attribute names expanded)."""
    if depth > 4:
        raise BadRequestData("Thuộc tính lồng quá sâu", "Attributes nested too deeply")
    kind, members = _attr_kind(raw)
    out: dict[str, Any] = {"type": kind}
    if kind == REL:
        target = members.get("object")
        if not (is_uri(target) or (isinstance(target, list) and target and all(is_uri(t) for t in target))):
            raise BadRequestData(f"{name}: object phải là URI", f"{name}: the object must be a URI")
        out["object"] = target
    elif kind == LANG:
        lang_map = members.get("languageMap")
        if not isinstance(lang_map, dict) or not lang_map:
            raise BadRequestData(f"{name}: languageMap không hợp lệ", f"{name}: invalid languageMap")
        out["languageMap"] = lang_map
    else:
        if "value" not in members or members["value"] is None:
            raise BadRequestData(f"{name}: thiếu value", f"{name}: the value is missing")
        value = members["value"]
        if kind == GEO or name in GEO_NAMES:
            if kind != GEO:
                raise BadRequestData(f"{name} phải là GeoProperty", f"{name} must be a GeoProperty")
            value = geo.check_geometry(value, name)
        out["value"] = value
    if "observedAt" in members:
        out["observedAt"] = format_time(parse_time(members["observedAt"], "observedAt"))
    if "unitCode" in members:
        if not isinstance(members["unitCode"], str):
            raise BadRequestData(f"{name}: unitCode phải là chuỗi", f"{name}: unitCode must be a string")
        out["unitCode"] = members["unitCode"]
    if "datasetId" in members:
        if not is_uri(members["datasetId"]):
            raise BadRequestData(f"{name}: datasetId phải là URI", f"{name}: datasetId must be a URI")
        out["datasetId"] = members["datasetId"]
    out["createdAt"] = now
    out["modifiedAt"] = now
    for key, sub in members.items():
        if key in META:
            continue
        check_name(key)
        out[ctx.expand(key)] = attribute_in(key, sub, ctx, now, depth=depth + 1)
    return out


def attribute_instances(name: str, raw: Any, ctx: Context, now: str) -> list[dict[str, Any]]:
    """An attribute's value as sent → its instances (a list of instances is several datasetIds)."""
    check_name(name)
    if (
        isinstance(raw, list)
        and raw
        and all(isinstance(item, dict) and item.get("type") in ATTRIBUTE_TYPES for item in raw)
    ):
        instances = [attribute_in(name, item, ctx, now) for item in raw]
        ids = [item.get("datasetId") for item in instances]
        if len(set(ids)) != len(ids):
            raise BadRequestData(f"{name}: datasetId trùng nhau", f"{name}: duplicate datasetId")
        return instances
    return [attribute_in(name, raw, ctx, now)]


def fragment_in(body: dict[str, Any], ctx: Context, now: str) -> dict[str, list[dict[str, Any]]]:
    """The attributes of an entity or fragment as sent → {IRI: instances}."""
    attrs: dict[str, list[dict[str, Any]]] = {}
    for name, raw in body.items():
        if name in ENTITY_META:
            continue
        attrs[ctx.expand(check_name(name))] = attribute_instances(name, raw, ctx, now)
    return attrs


def entity_head(body: Any, ctx: Context) -> tuple[str, str]:
    """The id and the expanded type of an entity as sent."""
    if not isinstance(body, dict):
        raise BadRequestData("Thực thể phải là đối tượng JSON", "An entity must be a JSON object")
    entity_id = body.get("id", body.get("@id"))
    if not is_uri(entity_id):
        raise BadRequestData("id của thực thể phải là URI", "The entity id must be a URI")
    kind = body.get("type", body.get("@type"))
    if isinstance(kind, list) and len(kind) == 1:
        kind = kind[0]
    if not isinstance(kind, str):
        raise BadRequestData("Thực thể cần đúng một type", "The entity needs exactly one type")
    return str(entity_id), ctx.expand(check_name(kind))


# --- out ------------------------------------------------------------------------------------------


def _instance_out(inst: dict[str, Any], ctx: Context, sys_attrs: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in inst.items():
        if key in META:
            if key in ("createdAt", "modifiedAt") and not sys_attrs:
                continue
            out[key] = value
        else:
            out[ctx.compact(key)] = _instance_out(value, ctx, sys_attrs)
    return out


def _concise(inst: dict[str, Any], ctx: Context) -> Any:
    kind = inst.get("type")
    members = {k: v for k, v in inst.items() if k not in ("type", "createdAt", "modifiedAt")}
    extra = [k for k in members if k not in ("value", "object", "languageMap")]
    if not extra and kind in (PROPERTY, GEO) and not isinstance(members.get("value"), dict | list):
        return members["value"]
    if not extra and kind == GEO:
        return members["value"]
    out: dict[str, Any] = {}
    for key, value in members.items():
        out[key if key in META else ctx.compact(key)] = value if key in META else _concise(value, ctx)
    return out


def _key_value(inst: dict[str, Any]) -> Any:
    kind = inst.get("type")
    if kind == REL:
        return inst.get("object")
    if kind == LANG:
        return inst.get("languageMap")
    return inst.get("value")


def entity_out(
    row: dict[str, Any],
    ctx: Context,
    *,
    fmt: str = "normalized",
    attrs: set[str] | None = None,
    sys_attrs: bool = False,
) -> dict[str, Any]:
    """A stored entity (``{"id", "type", "attrs", "createdAt", "modifiedAt"}``) → its answer."""
    out: dict[str, Any] = {"id": row["id"], "type": ctx.compact(row["type"])}
    if row.get("scope"):
        out["scope"] = row["scope"]
    for iri, instances in row["attrs"].items():
        if attrs is not None and iri not in attrs:
            continue
        name = ctx.compact(iri)
        if fmt == "keyValues":
            shaped: list[Any] = [_key_value(inst) for inst in instances]
        elif fmt == "concise":
            shaped = [_concise(inst, ctx) for inst in instances]
        else:
            shaped = [_instance_out(inst, ctx, sys_attrs) for inst in instances]
        out[name] = shaped[0] if len(shaped) == 1 else shaped
    if sys_attrs and fmt == "normalized":
        out["createdAt"] = row["createdAt"]
        out["modifiedAt"] = row["modifiedAt"]
    return out
