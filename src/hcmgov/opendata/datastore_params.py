"""Reading and checking the DataStore actions' parameters the way CKAN does (lists as JSON or
comma-separated, JSON text in a GET query), and shaping their answers (``records_format``,
``_links``). Everything a caller sends is checked here, before the store sees it: an unknown
field, a value of the wrong type, a bad filter, sort or ``q`` is a Validation Error."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any
from urllib.parse import urlencode

from hcmgov.opendata.ckan import ValidationError
from hcmgov.opendata.datastore_db import Field, canonical_type, coerce, field_name_error, words

MAX_FIELDS = 1000
MAX_RECORDS_ERRORS = 10
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")


def clean(value: Any) -> Any:
    """``value`` with lone surrogates (valid JSON, ``"\\ud800"``, but not UTF-8) replaced by U+FFFD,
    so that neither the database driver nor the answer's encoding fails on what a caller sent."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    return value


def json_param(data: dict[str, Any], key: str) -> Any:
    """A parameter that may come as JSON text (a GET query) or as a value (a JSON body)."""
    value = data.get(key)
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return clean(json.loads(value))
        except ValueError:
            raise ValidationError({key: ["Không phải JSON hợp lệ / Not valid JSON"]}) from None
    return value


def name_list(value: Any, key: str) -> list[str]:
    """A list of field names: a list, or a comma-separated string."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise ValidationError({key: ["Phải là danh sách tên trường / Must be a list of field names"]})


def guess(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float8"
    if isinstance(value, dict | list):
        return "json"
    return "text"


def declared_fields(data: dict[str, Any]) -> tuple[list[Field], dict[str, Any]]:
    raw = json_param(data, "fields") or []
    if not isinstance(raw, list) or len(raw) > MAX_FIELDS:
        raise ValidationError(
            {"fields": [f"Phải là danh sách (tối đa {MAX_FIELDS}) / Must be a list (at most {MAX_FIELDS})"]}
        )
    errors, fields, infos, seen = [], [], {}, set()
    for item in raw:
        if not isinstance(item, dict):
            errors.append("Mỗi trường phải là một đối tượng / Each field must be an object")
            continue
        why = field_name_error(item.get("id"))
        if why:
            errors.append(why)
            continue
        name = str(item["id"])
        ftype = canonical_type(item.get("type") or "text")
        if ftype is None:
            errors.append(f'Kiểu "{item.get("type")}" không hợp lệ / "{item.get("type")}" is not a valid field type')
            continue
        if name in seen:
            errors.append(f'Trường "{name}" bị lặp / Duplicate field "{name}"')
            continue
        seen.add(name)
        fields.append(Field(name, ftype))
        if isinstance(item.get("info"), dict):
            infos[name] = item["info"]
    if errors:
        raise ValidationError({"fields": errors})
    return fields, infos


def records(data: dict[str, Any]) -> list[dict[str, Any]]:
    records = json_param(data, "records")
    if records in (None, ""):
        return []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValidationError({"records": ["Phải là danh sách đối tượng / Records must be a list of objects"]})
    return records


def coerce_records(
    fields: list[Field], records: list[dict[str, Any]], *, allow_id: bool = False
) -> list[dict[str, Any]]:
    """The records with each value checked against its field's type; unknown fields refused."""
    by_id = {f.id: f for f in fields}
    if allow_id:
        by_id["_id"] = Field("_id", "int")
    errors: list[str] = []
    unknown: list[str] = []
    out = []
    for n, record in enumerate(records, start=1):
        row: dict[str, Any] = {}
        for key, value in record.items():
            f = by_id.get(key)
            if f is None:
                if key not in unknown:
                    unknown.append(key)
                continue
            try:
                row[key] = coerce(f.type, value)
            except (ValueError, TypeError, OverflowError):
                if len(errors) < MAX_RECORDS_ERRORS:
                    errors.append(
                        f'Dòng {n}, trường "{key}": không phải {f.type} / '
                        f'row {n}, field "{key}": invalid {f.type} value {str(value)[:50]!r}'
                    )
        out.append(row)
    if unknown:
        raise ValidationError(
            {"fields": [f'Trường "{k}" không có trong bảng / field "{k}" not in table' for k in unknown[:20]]}
        )
    if errors:
        raise ValidationError({"records": errors})
    return out


def key_list(data: dict[str, Any], key: str, names: set[str]) -> list[str]:
    listed = name_list(json_param(data, key), key)
    missing = [k for k in listed if k not in names]
    if missing:
        raise ValidationError({key: [f'Trường "{k}" không có trong bảng / field "{k}" not in table' for k in missing]})
    return listed


def indexes(data: dict[str, Any], names: set[str]) -> list[list[str]]:
    raw = json_param(data, "indexes")
    entries: list[Any] = [p for p in raw.split(",") if p.strip()] if isinstance(raw, str) else raw or []
    if not isinstance(entries, list):
        raise ValidationError({"indexes": ["Phải là danh sách / Must be a list"]})
    out = []
    for entry in entries:
        columns = name_list(entry, "indexes")
        missing = [c for c in columns if c not in names]
        if missing or not columns:
            raise ValidationError(
                {
                    "indexes": [f'Trường "{c}" không có trong bảng / field "{c}" not in table' for c in missing]
                    or ["Chỉ mục trống / Empty index"]
                }
            )
        out.append(columns)
    return out


def filters(data: dict[str, Any], fields: list[Field]) -> dict[str, list[Any]]:
    raw = json_param(data, "filters")
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({"filters": ["Phải là một đối tượng / Must be an object {field: value}"]})
    by_id = {f.id: f for f in fields} | {"_id": Field("_id", "int")}
    out, errors = {}, []
    for name, value in raw.items():
        f = by_id.get(name)
        if f is None:
            errors.append(f'Trường "{name}" không có trong bảng / field "{name}" not in table')
            continue
        if f.type == "json":
            errors.append(f'Không lọc được trường json "{name}" / cannot filter on json field "{name}"')
            continue
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > 1000:
            errors.append(f'Trường "{name}": 1 đến 1000 giá trị / field "{name}": 1 to 1000 values')
            continue
        try:
            out[name] = [coerce(f.type, v) for v in values]
        except (ValueError, TypeError, OverflowError):
            errors.append(f'Giá trị không hợp lệ cho "{name}" / invalid {f.type} value for field "{name}"')
    if errors:
        raise ValidationError({"filters": errors})
    return out


def sort(data: dict[str, Any], names: set[str]) -> list[tuple[str, bool]]:
    raw = data.get("sort")
    if raw in (None, ""):
        return []
    if not isinstance(raw, str):
        raise ValidationError({"sort": ["Phải là chuỗi / Must be a string"]})
    out = []
    for part in raw.split(","):
        part = part.strip()
        direction = ""
        lowered = part.lower()
        for suffix in (" asc", " desc"):
            if lowered.endswith(suffix):
                part, direction = part[: -len(suffix)].strip(), suffix.strip()
                break
        if len(part) > 1 and part.startswith('"') and part.endswith('"'):
            part = part[1:-1]
        if part not in names:
            raise ValidationError({"sort": [f'Trường "{part}" không có trong bảng / field "{part}" not in table']})
        out.append((part, direction == "desc"))
    return out


def q(data: dict[str, Any], names: set[str]) -> tuple[list[str], dict[str, list[str]]]:
    raw = json_param(data, "q")
    if raw in (None, ""):
        return [], {}
    if isinstance(raw, dict):
        per_field = {}
        for name, text in raw.items():
            if name not in names or name == "_id":
                raise ValidationError({"q": [f'Trường "{name}" không có trong bảng / field "{name}" not in table']})
            if not isinstance(text, str | int | float):
                raise ValidationError({"q": ["Phải là chuỗi / Must be text"]})
            per_field[name] = words(str(text))
        return [], per_field
    if not isinstance(raw, str | int | float):
        raise ValidationError({"q": ["Phải là chuỗi hoặc đối tượng / Must be text or an object"]})
    return words(str(raw)), {}


def out_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return str(value) if not hasattr(value, "isoformat") else value.isoformat()


def links(rid: str, data: dict[str, Any], offset: int, limit: int) -> dict[str, str]:
    params: dict[str, Any] = {"resource_id": rid}
    for key in ("q", "filters", "fields", "sort", "distinct", "records_format", "include_total", "limit"):
        value = data.get(key)
        if value not in (None, ""):
            params[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
    start = "/api/3/action/datastore_search?" + urlencode(params)
    return {"start": start, "next": start + "&" + urlencode({"offset": offset + limit})}


def formatted(rows: list[list[Any]], names: list[str], records_format: str) -> Any:
    if records_format == "objects":
        return [dict(zip(names, row, strict=True)) for row in rows]
    if records_format == "lists":
        return rows
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="," if records_format == "csv" else "\t")
    for row in rows:
        writer.writerow(
            ["" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v for v in row]
        )
    return buffer.getvalue()
