"""Periods' cut-off windows and deadlines (Decree 09/2019/NĐ-CP Art. 12), computed."""

from __future__ import annotations

import datetime as dt

import pytest

from hcmgov.reporting.periods import period_containing, period_dates, period_key

D = dt.date


@pytest.mark.parametrize(
    ("key", "kind", "start", "end", "cut_from", "cut_to"),
    [
        ("2025-M01", "monthly", D(2025, 1, 1), D(2025, 1, 31), D(2024, 12, 15), D(2025, 1, 14)),
        ("2024-M02", "monthly", D(2024, 2, 1), D(2024, 2, 29), D(2024, 1, 15), D(2024, 2, 14)),
        ("2025-Q1", "quarterly", D(2025, 1, 1), D(2025, 3, 31), D(2024, 12, 15), D(2025, 3, 14)),
        ("2025-Q3", "quarterly", D(2025, 7, 1), D(2025, 9, 30), D(2025, 6, 15), D(2025, 9, 14)),
        ("2025-H1", "half_year", D(2025, 1, 1), D(2025, 6, 30), D(2024, 12, 15), D(2025, 6, 14)),
        ("2025-H2", "half_year", D(2025, 7, 1), D(2025, 12, 31), D(2025, 6, 15), D(2025, 12, 14)),
        ("2025-Y", "annual", D(2025, 1, 1), D(2025, 12, 31), D(2024, 12, 15), D(2025, 12, 14)),
    ],
)
def test_cutoff_windows(key, kind, start, end, cut_from, cut_to):
    found = period_dates(key)
    assert (found.kind, found.start, found.end, found.cutoff_start, found.cutoff_end) == (
        kind,
        start,
        end,
        cut_from,
        cut_to,
    )


def test_deadlines_by_level_and_the_templates_own():
    found = period_dates("2025-M03")
    assert found.deadline("commune") == D(2025, 3, 16)
    assert found.deadline("district") == D(2025, 3, 18)
    assert found.deadline("city") == D(2025, 3, 20)  # the 20th of the last month of the period
    assert found.deadline("commune", {"commune": 1}) == D(2025, 3, 15)


@pytest.mark.parametrize("key", ["2025-M13", "2025-M00", "2025-Q5", "2025-H3", "25-M01", "2025-X", ""])
def test_bad_keys_are_refused(key):
    with pytest.raises(ValueError, match=r"period key|not a month"):
        period_dates(key)


def test_the_period_a_day_counts_in():
    assert period_key(kind="quarterly", day=D(2025, 5, 2)) == "2025-Q2"
    assert period_containing(kind="monthly", day=D(2025, 3, 14)) == "2025-M03"
    assert period_containing(kind="monthly", day=D(2025, 3, 15)) == "2025-M04"
    assert period_containing(kind="monthly", day=D(2025, 12, 20)) == "2026-M01"
    assert period_containing(kind="annual", day=D(2025, 12, 15)) == "2026-Y"
    assert period_containing(kind="half_year", day=D(2025, 6, 15)) == "2025-H2"
    assert period_containing(kind="quarterly", day=D(2025, 3, 15)) == "2025-Q2"
