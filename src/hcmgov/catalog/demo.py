"""Publicity records for the demo city: the publication decisions the national database's
simulator serves (``hcmgov.simulators.tthc``: the same seeded records, kept without a network
call) with the order of steps and who may apply it publishes, and the desks' postings of the
version each decision published, so the service-quality index shows 1.1–1.3 (the demo's data,
not real decisions)."""

from __future__ import annotations

from hcmgov.catalog import services
from hcmgov.catalog.adapters import tthc
from hcmgov.catalog.models import Procedure
from hcmgov.simulators import tthc as simulator


def publicity_demo_load() -> dict[str, int]:
    """Keep the simulator's seeded decisions for the procedures loaded, and a desk posting of each
    procedure's current version; idempotent (a second run changes nothing)."""
    counts = {"created": 0, "updated": 0, "unchanged": 0, "unknown": 0, "postings": 0, "texts_updated": 0}
    by_code = {p.code: p for p in Procedure.objects.all()}
    for record in simulator.seed_records():
        procedure = by_code.get(record["code"])
        if procedure is None:
            counts["unknown"] += 1
            continue
        texts = services.procedure_texts_apply(
            procedure=procedure, steps=tthc.texts_from(record.get("steps")),
            applicants=tthc.texts_from(record.get("applicants")),
        )  # fmt: skip
        counts["texts_updated"] += texts == "updated"
        for row in record["publications"]:
            publication = tthc.publication_from(row)
            counts[services.publication_apply(procedure=procedure, record=publication)] += 1
            # the desks post the version in force today, from the day it takes effect (or the decision's)
            current = procedure.versions.order_by("-valid_from").first()
            if current is not None:
                posted_on = max(publication.decision_date, current.valid_from)
                services.desk_posting_record(procedure=procedure, posted_on=posted_on, version=current)
                counts["postings"] += 1
    return counts
