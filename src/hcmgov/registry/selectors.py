"""Reads of the shared data store that expose no personal data by themselves: the registries, the
change feed's shape, a dossier's fact checks. Reads of records' facts go through ``services``
(they are audited with their purpose)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from hcmgov.registry.facts import FACTS
from hcmgov.registry.models import CheckState, FactCheck, Record, RecordState, RecordVersion, Registry
from hcmgov.registry.registries import POPULATION


def dossier_fact_checks(*, dossier_id: int) -> list[dict[str, Any]]:
    """The dossier's declared facts as checked against the base registries, for the official who
    processes it: fact, label, state, registry, and both values where they differ."""
    rows = []
    for check in FactCheck.objects.select_related("registry").filter(dossier_id=dossier_id).order_by("fact"):
        fact = FACTS.get(check.fact)
        rows.append(
            {
                "id": check.pk,
                "dossier_code": check.dossier_code,
                "fact": check.fact,
                "label": fact.label if fact else check.fact,
                "state": check.state,
                "verified": check.state == CheckState.VERIFIED,
                "differs": check.state == CheckState.DIFFERS,
                "registry": check.registry,
                "values": check.values or {},
                "checked_at": check.checked_at,
                "resolved_at": check.resolved_at,
                "resolution": check.resolution,
            }
        )
    return rows


def checks_open_count() -> int:
    """Facts flagged as differing from a base registry and not settled yet."""
    return FactCheck.objects.filter(state=CheckState.DIFFERS, resolved_at__isnull=True).count()


def changes(*, after: int = 0, registry: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """The change feed: versions written after ``after`` (their ``id``), oldest first, with the
    facts they hold. Personal data: callers audit what they pass on."""
    qs = RecordVersion.objects.select_related("registry", "record").filter(id__gt=after).order_by("id")
    if registry:
        qs = qs.filter(registry__code=registry)
    return [
        {
            "id": v.pk,
            "registry": v.registry.code,
            "key": v.record.key,
            "version": v.version,
            "changed": v.changed,
            "facts": v.facts,
            "source": v.source,
            "source_ref": v.source_ref,
            "recorded_at": v.recorded_at.isoformat(),
        }
        for v in qs[: max(1, min(limit, 1000))]
    ]


def registry_status() -> list[dict[str, Any]]:
    """Per registry: records by state and versions written (the change feed's length)."""
    from django.db.models import Count

    states: dict[int, dict[str, int]] = {}
    for row in Record.objects.values("registry_id", "state").annotate(n=Count("id")):
        states.setdefault(row["registry_id"], {})[row["state"]] = row["n"]
    versions = dict(
        RecordVersion.objects.values_list("registry_id").annotate(n=Count("id")).values_list("registry_id", "n")
    )
    return [
        {"code": r.code, "name": r.name, "states": states.get(r.pk, {}), "versions": versions.get(r.pk, 0)}
        for r in Registry.objects.order_by("kind", "code")
    ]


def lookups_pending_count() -> int:
    return Record.objects.filter(state=RecordState.PENDING).count()


def warehouse_population_checked(*, codes: list[str]) -> dict[str, bool]:
    """For the analytics warehouse (Decision 766/QĐ-TTg, 4.6): whether a fact of each of the
    dossiers ``codes`` was checked against the national population database (it matched or
    differed; a fact not verified yet was not checked)."""
    checked = set(
        FactCheck.objects.filter(
            dossier_code__in=codes, registry__code=POPULATION, state__in=(CheckState.VERIFIED, CheckState.DIFFERS)
        )
        .values_list("dossier_code", flat=True)
        .distinct()
    )
    return {code: code in checked for code in codes}


def warehouse_checks_changed(*, since: dt.datetime) -> set[str]:
    """The codes of the dossiers a fact of which was checked or settled at or after ``since``."""
    changed = Q(checked_at__gte=since) | Q(resolved_at__gte=since)
    return set(FactCheck.objects.filter(changed).values_list("dossier_code", flat=True).distinct())
