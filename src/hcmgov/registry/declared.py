"""The facts declared in an outbox batch's submitted dossiers, kept and checked in a fixed number of
reads: ``services.dossier_facts_record`` for many dossiers at once (the outbox's batch handler,
``registry.handlers``). The result is the one of recording the dossiers one at a time, in order:
the same versions of each applicant's declared record, the same checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from hcmgov.registry import registries as decl
from hcmgov.registry import services
from hcmgov.registry.facts import FACTS
from hcmgov.registry.models import FactCheck, Record, RecordState, RecordVersion, Registry

# the columns services.record_put writes
WRITTEN = ["state", "source", "source_ref", "fetched_at", "next_lookup_at", "lookup_attempts", "last_error",
           "version", "facts", "updated_at"]  # fmt: skip


def dossier_facts_record_many(*, dossier_ids: list[int], now: dt.datetime | None = None) -> int:
    """Keep and check the declared facts of each of ``dossier_ids`` (see
    ``services.dossier_facts_record``): the dossiers, the registries, the declared records (locked)
    and the base registries' records each read in one query; a declared record written once per
    applicant (one version per dossier that changed it), the checks in one statement. Dossiers
    that are gone are skipped. Returns how many checks were written."""
    from hcmgov.dossiers import selectors_batch

    now = now or timezone.now()
    found = selectors_batch.dossiers_by_ids(dossier_ids=list(dict.fromkeys(dossier_ids)))
    todo: list[tuple[Any, dict[str, Any]]] = []
    for dossier_id in dict.fromkeys(dossier_ids):
        dossier = found.get(dossier_id)
        if dossier is None:
            continue
        declared = services._declared_facts(dossier.procedure_version.form_schema, dossier.form_data)
        if declared:
            todo.append((dossier, declared))
    if not todo:
        return 0
    codes = {decl.DECLARED, *(FACTS[name].registry for _, declared in todo for name in declared)} - {""}
    registries = {r.code: r for r in Registry.objects.filter(code__in=codes)}
    for code in codes - set(registries):  # not synced yet: as services._registry does
        registries[code] = services._registry(code)
    _keep_declared(todo, registries[decl.DECLARED], now)
    return _check_many(todo, registries, now)


def _keep_declared(todo: list[tuple[Any, dict[str, Any]]], registry: Registry, now: dt.datetime) -> None:
    """``services.record_put`` of each dossier's declared facts merged onto what its applicant's
    record holds, in the dossiers' order: a new version for each dossier that changes it; the
    records inserted where missing in one statement, then all of them locked and read in one, the
    versions written in one, the records in one.

    Two workers may keep the same applicant's record at once (two batches holding dossiers of one
    person). Both insert the new record: ``ON CONFLICT DO NOTHING`` makes the second wait for the
    first's commit and insert nothing (before, its plain INSERT failed the whole batch with a unique
    violation, and the outbox delivered it again one event at a time). Then each locks the records
    in one order, so the second waits for the first, and the versions follow one another."""
    keys = {services.applicant_key(dossier.applicant) for dossier, _ in todo}
    index_of = {key: services.key_index(key) for key in keys}
    indexes = sorted(index_of.values())
    Record.objects.bulk_create(  # those that exist are left as they are (one statement, no read first)
        [
            Record(registry=registry, key_index=index_of[key], key=key, facts=None, updated_at=now)
            for key in sorted(keys, key=index_of.__getitem__)
        ],
        ignore_conflicts=True,
    )
    held = {
        record.key_index: record
        for record in Record.objects.select_for_update()
        .filter(registry=registry, key_index__in=indexes)
        .order_by("key_index")  # locked in one order: two workers wait, not deadlock
    }
    versions: list[RecordVersion] = []
    touched: dict[str, Record] = {}
    for dossier, declared in todo:
        record = held[index_of[services.applicant_key(dossier.applicant)]]
        facts = {**(record.facts or {}), **declared}
        problems = services.facts_problems(registry, facts)
        if problems:
            raise services._invalid(registry.code, problems)
        changed = services._changed(record.facts, facts) if record.version else sorted(facts)
        record.state = RecordState.CURRENT
        record.source, record.source_ref = "dossier", dossier.code
        record.fetched_at = now
        record.next_lookup_at, record.lookup_attempts, record.last_error = None, 0, ""
        if changed:
            record.version += 1
            record.facts = facts
            record.updated_at = now
            versions.append(
                RecordVersion(record=record, registry=registry, version=record.version, facts=facts, changed=changed,
                              source="dossier", source_ref=dossier.code, recorded_at=now)
            )  # fmt: skip
        touched[record.key_index] = record
    RecordVersion.objects.bulk_create(versions)
    Record.objects.bulk_update(list(touched.values()), fields=WRITTEN)


def _check_many(todo: list[tuple[Any, dict[str, Any]]], registries: dict[str, Registry], now: dt.datetime) -> int:
    """``services._check`` of each dossier: the base registries' records read in one query, the
    lookups of those missing queued in one statement, every check written in one."""
    wanted: dict[tuple[str, str], str] = {}  # (registry, key) → key index
    for dossier, declared in todo:
        keys = _subject_keys(dossier.applicant)
        for name in declared:
            fact = FACTS[name]
            if fact.registry and keys[fact.subject]:
                wanted[(fact.registry, keys[fact.subject])] = services.key_index(keys[fact.subject])
    records: dict[tuple[str, str], Record | None] = dict.fromkeys(wanted)
    if wanted:
        by_index = {(code, index): (code, key) for (code, key), index in wanted.items()}
        rows = Record.objects.filter(
            registry__code__in={code for code, _ in wanted}, key_index__in=set(wanted.values())
        ).select_related("registry")
        for row in rows:
            pair = by_index.get((row.registry.code, row.key_index))
            if pair is not None:
                records[pair] = row
    lookups = [  # as services._queue_lookup: a record with nothing held, due now (one statement)
        Record(registry=registries[code], key_index=wanted[(code, key)], key=key, facts=None, updated_at=now,
               state=RecordState.PENDING, next_lookup_at=now)
        for (code, key), held in records.items()
        if held is None and registries[code].service
    ]  # fmt: skip
    Record.objects.bulk_create(lookups, ignore_conflicts=True)
    checks: list[FactCheck] = []
    for dossier, declared in todo:
        keys = _subject_keys(dossier.applicant)
        for name, value in sorted(declared.items()):
            fact = FACTS[name]
            if not fact.registry or not keys[fact.subject]:
                continue
            record = records[(fact.registry, keys[fact.subject])]
            state, values = services.fact_check_outcome(fact, record, key=keys[fact.subject], declared=value)
            checks.append(
                FactCheck(dossier_id=dossier.pk, fact=name, dossier_code=dossier.code, state=state,
                          registry=registries[fact.registry], values=values, checked_at=now)
            )  # fmt: skip
    if checks:  # one statement, rerun-safe: a check already made is updated (its resolution kept)
        FactCheck.objects.bulk_create(
            checks,
            update_conflicts=True,
            unique_fields=["dossier_id", "fact"],
            update_fields=["dossier_code", "state", "registry", "values", "checked_at"],
        )
    return len(checks)


def _subject_keys(applicant: Any) -> dict[str, str]:
    return {"person": applicant.personal_id or "", "business": applicant.tax_code or ""}
