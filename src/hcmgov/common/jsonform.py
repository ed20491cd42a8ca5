"""Forms described by JSON Schema: read an HTML form post into data, validate it, and say what is
wrong in Vietnamese and English, naming the field by its title.

Supported (what the catalogue's form schemas use): an object of properties, each a scalar
(string, integer, number, boolean; formats date and email; enum) or one nested object of scalars.
Titles: ``title`` (Vietnamese) and ``x-title-en``; enum labels ``x-enum-titles`` / ``x-enum-titles-en``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from hcmgov.common.errors import FieldError, Message

_FORMAT_CHECKER = FormatChecker()


@dataclass(frozen=True)
class Field:
    """One input of a form, flattened: ``name`` is the dotted path (``mother.full_name``)."""

    name: str
    schema: Mapping[str, Any]
    required: bool
    section: str | None  # dotted parent path, for nested objects

    @property
    def title(self) -> str:
        return str(self.schema.get("title") or self.name)

    @property
    def title_en(self) -> str:
        return str(self.schema.get("x-title-en") or self.schema.get("title") or self.name)

    @property
    def kind(self) -> str:
        if self.schema.get("type") == "array":
            return "multi"
        if "enum" in self.schema:
            return "enum"
        t = self.schema.get("type", "string")
        if t == "string" and self.schema.get("format") in {"date", "email"}:
            return str(self.schema["format"])
        return str(t)

    def choices(self) -> list[tuple[Any, str, str]]:
        source = self.schema.get("items", {}) if self.kind == "multi" else self.schema
        values = source.get("enum", [])
        vi = source.get("x-enum-titles") or self.schema.get("x-enum-titles") or [str(v) for v in values]
        en = source.get("x-enum-titles-en") or self.schema.get("x-enum-titles-en") or vi
        return list(zip(values, vi, en, strict=False))


def _ordered(schema: Mapping[str, Any]) -> list[str]:
    props = list(schema.get("properties", {}))
    order = [p for p in schema.get("x-order", []) if p in props]
    return order + [p for p in props if p not in order]


def iter_fields(schema: Mapping[str, Any], prefix: str = "") -> Iterator[Field | tuple[str, Mapping[str, Any], bool]]:
    """Yield the form's fields in order; a nested object yields a section header tuple
    ``(path, schema, required)`` followed by its fields."""
    required = set(schema.get("required", []))
    for name in _ordered(schema):
        sub = schema["properties"][name]
        path = f"{prefix}{name}"
        if sub.get("type") == "object":
            yield (path, sub, name in required)
            yield from iter_fields(sub, prefix=f"{path}.")
        else:
            yield Field(name=path, schema=sub, required=name in required, section=prefix.rstrip(".") or None)


def flat_fields(schema: Mapping[str, Any]) -> list[Field]:
    return [f for f in iter_fields(schema) if isinstance(f, Field)]


def coerce(schema: Mapping[str, Any], post: Mapping[str, Any]) -> dict[str, Any]:
    """Turn an HTML form post (strings) into the data the schema describes. Blank inputs are left
    out (so "required" reports them); values that do not convert are kept as strings so that
    validation names the problem instead of the conversion silently dropping it."""
    data: dict[str, Any] = {}
    for entry in iter_fields(schema):
        # a required group left blank is present but empty, so its own required fields are named
        if isinstance(entry, tuple) and entry[2] and "." not in entry[0]:
            data.setdefault(entry[0], {})
    for f in flat_fields(schema):
        if f.kind == "multi":  # checkboxes: every ticked value, in the schema's order
            getlist = getattr(post, "getlist", None)
            ticked = getlist(f.name) if getlist else post.get(f.name) or []
            values = [v for v, _, _ in f.choices() if v in ticked]
            if values:
                _put(data, f.name, values)
            continue
        raw = post.get(f.name)
        if raw is None:
            if f.schema.get("type") == "boolean":
                raw = ""
            else:
                continue
        value: Any = str(raw).strip()
        t = f.schema.get("type", "string")
        if t == "boolean":
            value = value in {"on", "true", "1", "yes"}
        elif value == "":
            continue
        elif t == "integer":
            with contextlib.suppress(ValueError):
                value = int(value)
        elif t == "number":
            with contextlib.suppress(ValueError):
                value = float(value.replace(",", "."))
        _put(data, f.name, value)
    return data


def _put(data: dict[str, Any], path: str, value: Any) -> None:
    target = data
    *parents, leaf = path.split(".")
    for p in parents:
        target = target.setdefault(p, {})
    target[leaf] = value


def _title(schema: Mapping[str, Any], path: list[str | int]) -> tuple[str, str]:
    node: Mapping[str, Any] = schema
    for part in path:
        node = node.get("properties", {}).get(str(part), {})
    name = ".".join(str(p) for p in path) or "form"
    return str(node.get("title") or name), str(node.get("x-title-en") or node.get("title") or name)


def _message(error: ValidationError, vi: str, en: str) -> Message:
    v = error.validator
    val = error.validator_value
    if v == "required":
        return Message(f"Vui lòng nhập «{vi}».", f"Please fill in “{en}”.")
    if v == "pattern" or v == "format":
        return Message(f"«{vi}» không đúng định dạng.", f"“{en}” is not in the right format.")
    if v == "maxLength":
        return Message(f"«{vi}» dài quá {val} ký tự.", f"“{en}” is longer than {val} characters.")
    if v == "minLength":
        return Message(f"«{vi}» phải có ít nhất {val} ký tự.", f"“{en}” needs at least {val} characters.")
    if v == "enum":
        return Message(f"«{vi}» không phải là một lựa chọn hợp lệ.", f"“{en}” is not one of the choices.")
    if v in {"minimum", "exclusiveMinimum"}:
        return Message(f"«{vi}» phải lớn hơn hoặc bằng {val}.", f"“{en}” must be at least {val}.")
    if v in {"maximum", "exclusiveMaximum"}:
        return Message(f"«{vi}» phải nhỏ hơn hoặc bằng {val}.", f"“{en}” must be at most {val}.")
    if v == "type":
        kinds = {
            "integer": ("số nguyên", "a whole number"),
            "number": ("số", "a number"),
            "string": ("chữ", "text"),
            "boolean": ("có/không", "yes or no"),
            "object": ("nhóm thông tin", "a group"),
        }
        kvi, ken = kinds.get(str(val), (str(val), str(val)))
        return Message(f"«{vi}» phải là {kvi}.", f"“{en}” must be {ken}.")
    if v == "additionalProperties":
        return Message("Biểu mẫu có trường không được khai báo.", "The form has a field it does not declare.")
    return Message(f"«{vi}» không hợp lệ.", f"“{en}” is not valid.")


def _nul_paths(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[list[str | int]]:
    if isinstance(data, str):
        if "\x00" in data:
            yield list(path)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _nul_paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _nul_paths(value, (*path, i))


def validate(schema: Mapping[str, Any], data: Any) -> list[FieldError]:
    """All problems of ``data`` against ``schema``, one per field, in form order."""
    validator = Draft202012Validator(schema, format_checker=_FORMAT_CHECKER)
    found: dict[str, FieldError] = {}
    for path in _nul_paths(data):  # NUL is never text a person typed; PostgreSQL refuses it
        vi, en = _title(schema, path)
        found[".".join(map(str, path))] = FieldError(
            ".".join(map(str, path)), "invalid_character",
            Message(f"«{vi}» có ký tự không hợp lệ.", f"“{en}” contains an invalid character."),
        )  # fmt: skip
    for error in validator.iter_errors(data):
        base = list(error.absolute_path)
        if error.validator == "required":  # one error per missing property: name each of them
            instance = error.instance if isinstance(error.instance, dict) else {}
            paths = [[*base, p] for p in error.validator_value if p not in instance]
        else:
            paths = [base]
        for path in paths:
            name = ".".join(str(p) for p in path) or "form"
            if name not in found:
                vi, en = _title(schema, path)
                found[name] = FieldError(field=name, code=str(error.validator), message=_message(error, vi, en))
    order = {f.name: i for i, f in enumerate(flat_fields(schema))}
    return sorted(found.values(), key=lambda e: order.get(e.field, len(order)))


def _digits(r: Any, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


_PATTERN_SAMPLES = {
    "^[0-9]{12}$": lambda r: "079" + _digits(r, 9),
    "^[0-9]{10}([0-9]{3})?$": lambda r: "03" + _digits(r, 8),
    "^[0-9]{10}$": lambda r: "03" + _digits(r, 8),
    r"^(\+84|0)[0-9]{9,10}$": lambda r: "09" + _digits(r, 8),
    "^[0-9]{6,30}$": lambda r: _digits(r, 12),
    "^(0[1-9]|[12][0-9]|3[01])/(0[1-9]|1[0-2])$": lambda r: f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}",
    "^([01][0-9]|2[0-3]):[0-5][0-9]$": lambda r: f"{r.randint(7, 16):02d}:{r.choice(['00', '15', '30', '45'])}",
}
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi"]
_MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hữu", "Gia", "Bảo"]
_GIVEN = ["An", "Bình", "Châu", "Dũng", "Hà", "Hùng", "Lan", "Linh", "Nam", "Phúc", "Quân", "Thảo", "Trang", "Vy"]


def sample_name(rng: Any) -> str:
    return f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"


def sample(schema: Mapping[str, Any], rng: Any, *, prefix: str = "") -> dict[str, Any]:
    """A plausible instance of a form schema (demo data, tests): required fields filled, using
    ``examples`` where a property gives them. Validate the result: an unknown pattern may fail."""
    out: dict[str, Any] = {}
    for name in _ordered(schema):
        sub = schema["properties"][name]
        if name not in schema.get("required", []) and rng.random() < 0.5:
            continue
        if sub.get("type") == "object":
            out[name] = sample(sub, rng)
            continue
        out[name] = _sample_value(name, sub, rng)
    return out


def _sample_value(name: str, s: Mapping[str, Any], rng: Any) -> Any:
    if s.get("examples"):
        return rng.choice(list(s["examples"]))
    if "enum" in s:
        return rng.choice(list(s["enum"]))
    if "const" in s:
        return s["const"]
    t = s.get("type", "string")
    if t == "array":
        options = list(s.get("items", {}).get("enum", []))
        count = max(int(s.get("minItems", 1)), 1)
        return rng.sample(options, min(count, len(options))) if options else []
    if t == "boolean":
        return True
    if t in {"integer", "number"}:
        low = int(s.get("minimum", s.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in s else 0)))
        high = int(s.get("maximum", max(low, 5)))
        return rng.randint(low, max(low, high))
    fmt = s.get("format")
    if fmt == "date":
        return f"{rng.randint(1960, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if fmt == "email":
        return f"nguoidan{rng.randint(1, 99999)}@example.vn"
    pattern = s.get("pattern")
    if pattern in _PATTERN_SAMPLES:
        return _PATTERN_SAMPLES[pattern](rng)
    if pattern:
        return ""  # unknown pattern: leave it to the schema's examples
    lowered = name.lower()
    if "name" in lowered or "ten" in lowered:
        value = sample_name(rng)
    elif "phone" in lowered or "dien_thoai" in lowered:
        value = "09" + "".join(rng.choice("0123456789") for _ in range(8))
    elif "address" in lowered or "dia_chi" in lowered or "residence" in lowered:
        value = f"{rng.randint(1, 300)} Lê Lợi, Phường Sài Gòn, TP. Hồ Chí Minh"
    else:
        value = str(s.get("title") or "Thông tin") + " mẫu"
    max_length = int(s.get("maxLength", 200))
    min_length = int(s.get("minLength", 0))
    value = value[:max_length]
    return value.ljust(min_length, "x")


def sample_valid(schema: Mapping[str, Any], rng: Any, *, tries: int = 100) -> dict[str, Any] | None:
    """A sample that passes :func:`validate`, or None if ``tries`` samples all failed."""
    for _ in range(tries):
        data = sample(schema, rng)
        if not validate(schema, data):
            return data
    return None
