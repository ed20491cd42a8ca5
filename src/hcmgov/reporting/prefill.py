"""Figures the platform already knows, filled into a unit's report when a period opens (the unit
types the rest). An indicator names its source in ``Indicator.prefill``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hcmgov.dossiers import selectors as dossiers
from hcmgov.reporting.models import ReportTemplate, TemplateIndicator

# source name → the key of ``dossiers.selectors.dossier_figures_for_units``' rows
SOURCES = {
    "dossiers_received": "received",
    "dossiers_finished": "finished",
    "dossiers_finished_on_time": "finished_on_time",
}


def figures(
    *, template: ReportTemplate, structure: str, start: dt.date, end: dt.date, unit_codes: list[str]
) -> dict[str, dict[str, Any]]:
    """Per unit of ``unit_codes`` (of ``structure``): ``{indicator code: value}`` for the
    template's indicators the platform can fill, over the cut-off window ``start``–``end``. A unit
    with no dossiers gets zeros: the platform knows it received none."""
    wanted = {
        code: SOURCES[source]
        for code, source in TemplateIndicator.objects.filter(template=template)
        .exclude(indicator__prefill="")
        .values_list("indicator__code", "indicator__prefill")
        if source in SOURCES
    }
    if not wanted:
        return {}
    rows = dossiers.dossier_figures_for_units(structure=structure, start=start, end=end)
    empty = dict.fromkeys(SOURCES.values(), 0)
    return {unit: {code: rows.get(unit, empty)[key] for code, key in wanted.items()} for unit in unit_codes}
