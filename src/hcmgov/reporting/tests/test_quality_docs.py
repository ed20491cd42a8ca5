"""Every indicator of the service-quality index is explained where the brief asks: its formula and
source in both languages in code, and its row in the docs' tables (formula and data source;
threshold, legal source and drill-down), with the drill-down the docs promise."""

from __future__ import annotations

import re
from pathlib import Path

from hcmgov.reporting import quality
from hcmgov.reporting import quality_catalogue as catalogue

DOCS = Path(__file__).resolve().parents[4] / "docs" / "reporting"


def table_rows(text: str, heading: str) -> dict[str, list[str]]:
    """The rows of the first table under ``heading``, by their first cell."""
    section = text.split(heading, 1)[1]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if re.match(r"\| \d\.\d \|", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_indicator_has_its_formula_and_source_in_vietnamese_and_english():
    for ind in quality.INDICATORS:
        assert all((ind.formula, ind.formula_vi, ind.source, ind.source_vi)), ind.key
        assert ind.measurable, ind.key  # by agency every one is measured (docs: "What is not measurable")
        assert ind.threshold == 1.0, ind.key  # pro rata: the Decision's thresholds were not read


def test_every_indicator_has_its_rows_in_the_docs():
    text = (DOCS / "index-766.md").read_text(encoding="utf-8")
    computed = table_rows(text, "## What is computed, and from what")
    explained = table_rows(text, "### Each indicator's threshold, legal source and drill-down")
    keys = [i.key for i in quality.INDICATORS]
    assert list(computed) == list(explained) == keys
    for ind in quality.INDICATORS:
        _name, points, formula, source = computed[ind.key]
        assert float(points) == ind.points, ind.key
        assert all((formula, source)), ind.key
        threshold, legal, drill = explained[ind.key]
        assert float(threshold) == ind.threshold, ind.key
        assert legal, ind.key
        listed = ind.key in quality.DRILLABLE or ind.key in catalogue.KEYS
        assert (drill.startswith("none")) == (not listed), ind.key
    assert sum(i.points for i in quality.INDICATORS) == 100
    for group, (_en, _vi, total) in quality.GROUPS.items():
        assert sum(i.points for i in quality.INDICATORS if i.group == group) == total
