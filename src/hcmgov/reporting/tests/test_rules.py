"""The rules as pure functions: types, ranges, sums, and combining units' figures by rule,
against values computed by hand."""

from __future__ import annotations

from decimal import Decimal

from hcmgov.reporting import rules

A = rules.Spec("a", "Tiếp nhận", "Received", "integer", "sum", min_value=Decimal(0))
B = rules.Spec("b", "Đúng hạn", "On time", "integer", "sum", min_value=Decimal(0))
C = rules.Spec("c", "Quá hạn", "Late", "integer", "sum", min_value=Decimal(0))
F = rules.Spec("f", "Đã giải quyết", "Finished", "integer", "sum", min_value=Decimal(0))
R = rules.Spec("r", "Tỷ lệ", "Rate", "percent", "ratio", numerator="b", denominator="f")
M = rules.Spec("m", "Điểm trung bình", "Mean score", "decimal", "mean", min_value=Decimal(0), max_value=Decimal(10))
X = rules.Spec("x", "Lớn nhất", "Max wait", "decimal", "max")
T = rules.Spec("t", "Ghi chú", "Remarks", "text", "none", required=False)
SPECS = [A, B, C, F, R, M, X, T]
RULES = [{"kind": "sum", "total": "f", "parts": ["b", "c"]}, {"kind": "lte", "left": "f", "right": "a"}]


def fields(errors):
    return [(e.field, e.code) for e in errors]


def test_a_valid_report_is_read_and_its_ratio_computed():
    values, errors = rules.check(
        SPECS, {"a": "10", "b": 3, "c": 1, "f": 4, "m": "7,5", "x": "2.50", "t": " ok "}, RULES, final=True
    )
    assert errors == []
    assert values == {"a": 10, "b": 3, "c": 1, "f": 4, "m": "7.5", "x": "2.5", "t": "ok", "r": "75.00"}


def test_types_ranges_and_rules_name_the_field():
    _, errors = rules.check(SPECS, {"a": "1.5", "b": "x", "c": True, "f": 4, "m": 11, "x": 1}, RULES, final=True)
    assert fields(errors) == [("a", "type"), ("b", "type"), ("c", "type"), ("m", "range")]
    assert errors[0].message.vi.startswith("Tiếp nhận")
    assert errors[0].message.en.startswith("Received")
    _, errors = rules.check(SPECS, {"a": 10, "b": 3, "c": 2, "f": 4, "m": 1, "x": 1}, RULES, final=True)
    assert fields(errors) == [("f", "sum")]
    assert "(5)" in errors[0].message.en
    assert "is 4" in errors[0].message.en
    _, errors = rules.check(SPECS, {"a": 3, "b": 3, "c": 1, "f": 4, "m": 1, "x": 1}, RULES, final=True)
    assert fields(errors) == [("f", "lte")]
    _, errors = rules.check(SPECS, {"a": -1, "b": 0, "c": 0, "f": 0, "m": 1}, RULES, final=True)
    assert fields(errors) == [("a", "range"), ("x", "required")]
    _, errors = rules.check(SPECS, {"zz": 1}, RULES, final=False)
    assert fields(errors) == [("zz", "unknown")]


def test_a_draft_leaves_required_figures_and_rules_to_submission():
    values, errors = rules.check(SPECS, {"a": 5, "f": 9}, RULES, final=False)
    assert errors == []
    assert values == {"a": 5, "f": 9}


def test_combining_by_rule_against_hand_computed_values():
    units = [
        {"a": 10, "b": 9, "c": 1, "f": 10, "m": "8", "x": "2.5"},  # rate 90 %
        {"a": 100, "b": 50, "c": 50, "f": 100, "m": "6", "x": "7"},  # rate 50 %
        {"a": 1, "b": 1, "c": 0, "f": 1, "m": "7", "x": "1", "t": "kept apart"},  # rate 100 %
    ]
    combined = rules.combine(SPECS, units)
    # sums; the mean over the three units; the max; the ratio of the sums: 60 / 111 = 54.05 %
    # (a mean of the units' rates would be 80 %)
    assert combined == {"a": 111, "b": 60, "c": 51, "f": 111, "m": "7", "x": "7", "r": "54.05"}


def test_a_mean_is_over_the_units_that_gave_a_value_and_a_ratio_needs_a_denominator():
    combined = rules.combine(SPECS, [{"m": "1", "f": 0, "b": 0}, {"m": "2"}, {}])
    assert combined["m"] == "1.5"
    assert "r" not in combined
