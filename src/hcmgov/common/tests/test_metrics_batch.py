"""``metrics.observe_many``: the same histogram as observing each value (buckets, count, sum)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from hcmgov.common.metrics import observe_many


def _samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in histogram.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 100, allow_nan=False), max_size=60))
def test_observing_many_is_observing_each(values):
    one, many = (Histogram(name, "t", buckets=(0.005, 0.1, 1, 2.5, 10), registry=CollectorRegistry()) for name in "ab")
    for value in values:
        one.observe(value)
    observe_many(many, values)
    a, b = _samples(one), _samples(many)
    assert {k[1]: v for k, v in a.items() if k[0] == "a_bucket"} == {
        k[1]: v for k, v in b.items() if k[0] == "b_bucket"
    }
    assert a[("a_count", "")] == b[("b_count", "")]
    assert abs(a[("a_sum", "")] - b[("b_sum", "")]) <= 1e-9 * max(1.0, abs(a[("a_sum", "")]))
