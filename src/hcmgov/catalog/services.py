"""Writes of the procedure catalogue: loading procedures from their YAML definitions; bringing a
procedure in line with the national catalogue (``procedure_national_apply``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone
from jsonschema import Draft202012Validator

from hcmgov.audit.services import audit_record, audited, snapshot
from hcmgov.catalog import flows
from hcmgov.catalog.models import Procedure, ProcedureVersion, ProcessFlow
from hcmgov.common import jsonform
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.common.text import fold
from hcmgov.core import selectors as core

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
DATA_DIR = Path(__file__).resolve().parent / "data" / "procedures"
FLOWS_DIR = Path(__file__).resolve().parent / "data" / "flows"
FLOW_MAX_BYTES = 2 * 1024 * 1024
VERSIONED_FIELDS = (
    "statutory_days",
    "same_day_cutoff",
    "fees",
    "fee_stage",
    "required_documents",
    "legal_basis",
    "result",
    "result_en",
    "form_schema",
    "notes",
)


def _version_values(spec: dict[str, Any]) -> dict[str, Any]:
    cutoff = spec.get("same_day_cutoff")
    return {
        "statutory_days": int(spec["statutory_days"]),
        "same_day_cutoff": dt.time.fromisoformat(cutoff) if cutoff else None,
        "fees": spec.get("fees") or [],
        "fee_stage": spec.get("fee_stage") or "submission",
        "required_documents": spec.get("required_documents") or [],
        "legal_basis": spec.get("legal_basis") or [],
        "result": spec["result"],
        "result_en": spec["result_en"],
        "form_schema": spec["form_schema"],
        "notes": spec.get("notes") or "",
    }


@transaction.atomic
def procedure_upsert(*, spec: dict[str, Any]) -> tuple[Procedure, bool]:
    """Create or update a procedure from its definition. A change of content makes a new version
    (dossiers keep the version they were submitted under); returns (procedure, new_version_made)."""
    Draft202012Validator.check_schema(spec["form_schema"])
    values = _version_values(spec)
    procedure, _ = Procedure.objects.update_or_create(
        code=str(spec["code"]),
        defaults={
            "local_code": spec.get("local_code") or "",
            "code_verified": bool(spec.get("code_verified")),
            "code_source": spec.get("code_source") or "",
            "name": spec["name"],
            "name_en": spec["name_en"],
            "field": spec["field"],
            "field_en": spec["field_en"],
            "level": spec["level"],
            "agency_kind": spec["agency_kind"],
            "agency_department": spec.get("agency_department") or "",
            "online_level": spec["online_level"],
            "statutory_days": values["statutory_days"],
            "has_fee": any((fee.get("amount") or 0) > 0 for fee in values["fees"]),
            "search_text": fold(f"{spec['name']} {spec['name_en']} {spec['field']} {spec['code']}"),
        },
    )
    latest = procedure.versions.order_by("-version").first()
    if latest is not None and all(getattr(latest, f) == values[f] for f in VERSIONED_FIELDS):
        return procedure, False
    valid_from = dt.date.fromisoformat(str(spec.get("valid_from") or "2021-01-01"))
    if latest is not None:
        valid_from = max(valid_from, dt.date.today())  # noqa: DTZ011 - a calendar date
        latest.valid_to = valid_from - dt.timedelta(days=1)
        latest.save(update_fields=["valid_to"])
    ProcedureVersion.objects.create(
        procedure=procedure, version=(latest.version + 1) if latest else 1, valid_from=valid_from, **values
    )
    return procedure, True


def procedures_load(*, directory: Path = DATA_DIR, flows_directory: Path = FLOWS_DIR) -> int:
    """Load every ``*.yaml`` procedure definition in ``directory`` and the flow of each that has
    one (``<code>.bpmn`` in ``flows_directory``); returns how many procedures were read."""
    count = 0
    for path in sorted(directory.glob("*.yaml")):
        spec = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        procedure, _ = procedure_upsert(spec=spec)
        flow_file = flows_directory / f"{procedure.code}.bpmn"
        if flow_file.exists():
            flow_upload(procedure=procedure, content=flow_file.read_bytes(), filename=flow_file.name)
        count += 1
    return count


def _form_fields(version: ProcedureVersion) -> set[str]:
    """Names a flow's conditions may read: the form's fields, nested ones as ``mother__full_name``."""
    return {flows.condition_name(f.name) for f in jsonform.flat_fields(version.form_schema)}


@audited("flow.upload")
def flow_upload(
    *, procedure: Procedure, content: bytes, filename: str = "flow.bpmn", uploaded_by_label: str = ""
) -> ProcessFlow:
    """Add a flow version to ``procedure`` (the same file again is not a new version).

    The file is checked against the conventions of ``catalog.flows`` and against the procedure:
    the allotments fill its statutory time, conditions read only its form's fields. Dossiers
    already running keep the flow version they started with.
    """
    if len(content) > FLOW_MAX_BYTES:
        raise DomainError(
            "too_large",
            Message("Tệp quy trình quá lớn (tối đa 2 MB).", "The flow file is too large (at most 2 MB)."),
            413,
        )
    version = procedure.versions.order_by("-version").first()
    if version is None:
        raise DomainError("no_version", Message("Thủ tục chưa có nội dung.", "The procedure has no version yet."), 409)
    spec = flows.flow_parse(
        content, filename=filename, statutory_days=version.statutory_days, form_fields=_form_fields(version)
    )
    unknown = [s for s in spec.steps.values() if s.agency and not core.agency_kind_exists(selector=s.agency)]
    if unknown:
        raise flows.FlowError(
            [
                FieldError(
                    f"{s.key} (line {s.line})",
                    "agency",
                    Message(
                        f"Bước «{s.key}»: không có cơ quan «{s.agency}» trên hệ thống.",
                        f"Step “{s.key}”: there is no agency “{s.agency}” on the platform.",
                    ),
                )
                for s in unknown
            ]
        )
    existing = ProcessFlow.objects.filter(procedure=procedure, sha256=spec.sha256).first()
    if existing is not None:
        existing._audit_skip = True  # type: ignore[attr-defined]  # nothing changed: nothing to record
        return existing
    latest = ProcessFlow.objects.filter(procedure=procedure).order_by("-version").first()
    return ProcessFlow.objects.create(
        procedure=procedure,
        version=(latest.version + 1) if latest else 1,
        process_id=spec.process_id,
        name=spec.name[:400],
        bpmn=content.decode("utf-8"),
        sha256=spec.sha256,
        steps=[
            {
                "key": s.key,
                "name": s.name,
                "name_en": s.name_en,
                "role": s.role,
                "agency": s.agency,
                "hours": s.allotment.total_seconds() / 3600,
                "actions": list(s.actions),
            }
            for s in spec.steps.values()
        ],
        total_hours=round(spec.total.total_seconds() / 3600, 2),
        filename=filename[:255],
        uploaded_by_label=uploaded_by_label[:150],
        uploaded_at=timezone.now(),
    )


NATIONAL_AUDIT_FIELDS = ("name", "statutory_days", "search_text")


@transaction.atomic
def procedure_national_apply(
    *, procedure: Procedure, name: str, processing_days: int | None, today: dt.date | None = None
) -> dict[str, list[Any]]:
    """Bring a procedure the city offers in line with the national catalogue (the National Public
    Service Portal's copy of the national database of administrative procedures, Decree
    63/2010/NĐ-CP Art. 24–25 as amended by Decree 92/2017/NĐ-CP); returns what was applied,
    ``{field: [before, after]}``.

    * The **name** is the national one: the national code names one procedure, announced by the
      ministry's decision, and the city publishes it under that name.
    * The **processing time** is applied only when the national one is shorter: the city may
      promise less time than the law allows (its own cuts), never more. It is a new version from
      ``today`` (dossiers keep the version they were submitted under): the latest version copied
      with the new time. A longer national time is left to the catalogue's editors.
    * **Fees** are not applied: many are set by the city's People's Council (Law on Fees and Charges
      2015, Art. 21), and the city's fee lines carry quantities, exemptions and notes the national
      catalogue does not; the sync reports differences instead.

    What was applied is audited as one change of the procedure; nothing to apply, nothing written."""
    locked = Procedure.objects.select_for_update().get(pk=procedure.pk)
    before = snapshot(locked, NATIONAL_AUDIT_FIELDS)
    applied: dict[str, list[Any]] = {}
    name = name.strip()[:400]
    if name and name != locked.name:
        applied["name"] = [locked.name, name]
        locked.name = name
        locked.search_text = fold(f"{name} {locked.name_en} {locked.field} {locked.code}")
    if processing_days is not None and 0 <= processing_days < locked.statutory_days:
        applied["processing_days"] = [locked.statutory_days, processing_days]
        locked.statutory_days = processing_days
        _version_with_days(locked, processing_days, today or timezone.localdate())
    if applied:
        locked.save(update_fields=list(NATIONAL_AUDIT_FIELDS))
        for name_of_field in NATIONAL_AUDIT_FIELDS:  # the caller's instance as it now stands
            setattr(procedure, name_of_field, getattr(locked, name_of_field))
        audit_record(
            action="catalog.procedure_national_apply",
            obj=locked,
            before=before,
            after=snapshot(locked, NATIONAL_AUDIT_FIELDS),
        )
    return applied


def _version_with_days(procedure: Procedure, days: int, today: dt.date) -> None:
    """A new version of ``procedure``: the latest one with ``days`` to process, valid from
    ``today`` (or from the latest's own start, if that is later), as ``procedure_upsert`` does."""
    latest = procedure.versions.order_by("-version").first()
    if latest is None:
        return
    values = {f: getattr(latest, f) for f in VERSIONED_FIELDS}
    valid_from = max(today, latest.valid_from)
    latest.valid_to = valid_from - dt.timedelta(days=1)
    latest.save(update_fields=["valid_to"])
    ProcedureVersion.objects.create(
        procedure=procedure, version=latest.version + 1, valid_from=valid_from, **{**values, "statutory_days": days}
    )
