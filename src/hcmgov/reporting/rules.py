"""A template's rules, as pure functions over plain data (no database): reading typed values,
checking types, ranges and the rules between indicators, computing ratios, and combining the
figures of several units by each indicator's aggregation rule.

Values are kept as JSON: an integer as a number, a decimal or percent as a string of its exact
decimal value (no float rounding on the way up the hierarchy), a text as a string."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from hcmgov.common.errors import FieldError, Message

RATIO_PLACES = Decimal("0.01")
NUMERIC = ("integer", "decimal", "percent")


@dataclass(frozen=True)
class Spec:
    """What the rules need of an indicator (``models.Indicator`` read into plain data)."""

    code: str
    name: str
    name_en: str
    type: str
    aggregation: str
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    numerator: str = ""
    denominator: str = ""
    required: bool = True

    @property
    def computed(self) -> bool:
        return self.aggregation == "ratio"


def _error(spec: Spec, code: str, vi: str, en: str) -> FieldError:
    return FieldError(field=spec.code, code=code, message=Message(f"{spec.name}: {vi}", f"{spec.name_en}: {en}"))


RAW_CAP = 200  # characters of one typed figure (a remark included): the page's field, the API's value
MAX_EXPONENT = 24  # a figure is at most 10^24 and, but for 0, at least 10^-24 (indicator bounds hold 20 digits)


def parse(spec: Spec, raw: Any) -> tuple[Any, FieldError | None]:
    """``raw`` read as the indicator's type: (the JSON value to keep, or the error)."""
    if raw is None or raw == "":
        return None, None
    if isinstance(raw, str) and len(raw) > RAW_CAP:
        return None, _error(spec, "length", f"dài quá {RAW_CAP} ký tự.", f"over {RAW_CAP} characters.")
    if spec.type == "text":
        if not isinstance(raw, str):
            return None, _error(spec, "type", "phải là văn bản.", "must be text.")
        return raw.strip(), None
    if isinstance(raw, bool):
        return None, _error(spec, "type", "phải là số.", "must be a number.")
    try:
        number = Decimal(str(raw).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None, _error(spec, "type", "phải là số.", "must be a number.")
    if not number.is_finite():
        return None, _error(spec, "type", "phải là số.", "must be a number.")
    if number != 0 and abs(number.adjusted()) > MAX_EXPONENT:
        # 1e999999 is a number, but not one a figure can be (as an integer it would not fit the JSON kept)
        return None, _error(spec, "range", "số quá lớn hoặc quá nhỏ.", "the number is out of scale.")
    if spec.type == "integer":
        if number != number.to_integral_value():
            return None, _error(spec, "type", "phải là số nguyên.", "must be a whole number.")
        return int(number), None
    return str(number.normalize() if number != 0 else Decimal(0)), None


def decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def check(
    specs: list[Spec], raw: dict[str, Any], rules: list[dict[str, Any]], *, final: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    """Read and check ``raw`` against the template: types and ranges always; with ``final`` (a
    submission) also required values and the rules between indicators. Unknown codes are refused;
    ratios are computed, whatever was typed for them. Returns (the values to keep, the errors)."""
    by_code = {spec.code: spec for spec in specs}
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for code in raw:
        if code not in by_code:
            errors.append(
                FieldError(
                    code, "unknown", Message(f"{code}: không có trong mẫu báo cáo.", f"{code}: not in the template.")
                )
            )
    for spec in specs:
        if spec.computed:
            continue
        value, error = parse(spec, raw.get(spec.code))
        if error is not None:
            errors.append(error)
            continue
        if value is None:
            if final and spec.required:
                errors.append(_error(spec, "required", "chưa nhập.", "is required."))
            continue
        values[spec.code] = value
        if spec.type in NUMERIC:
            number = Decimal(str(value))
            if spec.min_value is not None and number < spec.min_value:
                errors.append(
                    _error(
                        spec,
                        "range",
                        f"không được nhỏ hơn {spec.min_value.normalize()}.",
                        f"must be at least {spec.min_value.normalize()}.",
                    )
                )
            elif spec.max_value is not None and number > spec.max_value:
                errors.append(
                    _error(
                        spec,
                        "range",
                        f"không được lớn hơn {spec.max_value.normalize()}.",
                        f"must be at most {spec.max_value.normalize()}.",
                    )
                )
    values.update(ratios(specs, values))
    if final and not errors:
        errors += rule_errors(by_code, values, rules)
    return values, errors


def rule_errors(by_code: dict[str, Spec], values: dict[str, Any], rules: list[dict[str, Any]]) -> list[FieldError]:
    """The rules between indicators that ``values`` break, each naming the field that is off:
    ``sum`` (the total must equal the sum of its parts), ``lte`` (left at most right)."""
    errors: list[FieldError] = []
    for rule in rules:
        if rule.get("kind") == "sum":
            total, parts = by_code[rule["total"]], [by_code[p] for p in rule["parts"]]
            given = decimal(values.get(total.code))
            if given is None:
                continue
            added = sum((decimal(values.get(p.code)) or Decimal(0) for p in parts), Decimal(0))
            if given != added:
                names_vi = " + ".join(p.name for p in parts)
                names_en = " + ".join(p.name_en for p in parts)
                errors.append(
                    _error(
                        total,
                        "sum",
                        f"phải bằng {names_vi} ({added.normalize()}), đang là {given.normalize()}.",
                        f"must equal {names_en} ({added.normalize()}), is {given.normalize()}.",
                    )
                )
        elif rule.get("kind") == "lte":
            left, right = by_code[rule["left"]], by_code[rule["right"]]
            a, b = decimal(values.get(left.code)), decimal(values.get(right.code))
            if a is not None and b is not None and a > b:
                errors.append(
                    _error(left, "lte", f"không được lớn hơn {right.name}.", f"must not exceed {right.name_en}.")
                )
        else:
            raise ValueError(f"unknown rule kind: {rule!r}")
    return errors


def ratio(spec: Spec, numerator: Decimal | None, denominator: Decimal | None) -> str | None:
    """numerator ÷ denominator (×100 for a percent), to two places; None when undefined."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    value = numerator / denominator * (100 if spec.type == "percent" else 1)
    return str(value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP))


def ratios(specs: list[Spec], values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        if spec.computed:
            value = ratio(spec, decimal(values.get(spec.numerator)), decimal(values.get(spec.denominator)))
            if value is not None:
                out[spec.code] = value
    return out


def combine(specs: list[Spec], figures: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of several units (each unit's own ``values``) as one, by each indicator's
    rule: ``sum``; ``mean`` over the units that gave a value; ``max``; ``ratio`` as the sum of
    the numerators over the sum of the denominators — never a mean of the units' ratios; texts
    and ``none`` are not combined. Sums are taken over the units' own figures (not over the
    totals of the level below), so a mean is the mean over every unit, not a mean of means."""
    out: dict[str, Any] = {}
    for spec in specs:
        if spec.computed or spec.type == "text" or spec.aggregation == "none":
            continue
        present = [Decimal(str(f[spec.code])) for f in figures if f.get(spec.code) not in (None, "")]
        if not present:
            continue
        if spec.aggregation == "sum":
            value = sum(present, Decimal(0))
        elif spec.aggregation == "mean":
            value = (sum(present, Decimal(0)) / len(present)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        elif spec.aggregation == "max":
            value = max(present)
        else:
            raise ValueError(f"unknown aggregation: {spec.aggregation!r}")
        out[spec.code] = (
            int(value) if spec.type == "integer" and value == value.to_integral_value() else str(value.normalize())
        )
    out.update(ratios(specs, out))
    return out
