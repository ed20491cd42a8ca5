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
from hcmgov.catalog.adapters import tthc
from hcmgov.catalog.models import DeskPosting, Procedure, ProcedureVersion, ProcessFlow, Publication
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
    "steps",
    "applicants",
)


# two parts of a procedure's published text (Decree 63/2010/NĐ-CP Art. 8) that the national database
# of procedures publishes and the sync keeps (``procedure_texts_apply``)
NATIONAL_TEXT_FIELDS = ("steps", "applicants")


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
        "steps": spec.get("steps") or [],
        "applicants": spec.get("applicants") or [],
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
    if latest is not None:  # a definition silent on them keeps the texts the national database gave
        for name_of_field in NATIONAL_TEXT_FIELDS:
            if name_of_field not in spec:
                values[name_of_field] = getattr(latest, name_of_field)
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


# --- publicity: publication records from the national database, desk postings ---------------------

PUBLICATION_FIELDS = (
    "decision_date", "signed_by", "reference_number", "reference_date", "national_updated_on", "national_id",
    "version",
)  # fmt: skip


def _version_on(procedure: Procedure, day: dt.date) -> ProcedureVersion | None:
    versions = procedure.versions.filter(valid_from__lte=day).exclude(valid_to__lt=day)
    return versions.order_by("-valid_from").first()


def _version_published(procedure: Procedure, day: dt.date) -> ProcedureVersion | None:
    """The version a decision of ``day`` publishes: the one in force then, else the next to come
    (a decision is signed before the content it publishes takes effect)."""
    return _version_on(procedure, day) or procedure.versions.filter(valid_from__gt=day).order_by("valid_from").first()


@transaction.atomic
def publication_apply(*, procedure: Procedure, record: tthc.NationalPublication) -> str:
    """Keep one publication decision as the national database holds it: ``"created"``,
    ``"updated"`` or ``"unchanged"`` (nothing written, nothing audited: the sync is idempotent).
    The version it publishes: the one in force on the decision date, else the next to come."""
    values: dict[str, Any] = {
        "decision_date": record.decision_date,
        "signed_by": record.signed_by,
        "reference_number": record.reference_number,
        "reference_date": record.reference_date,
        "national_updated_on": record.national_updated_on,
        "national_id": record.national_id,
        "version": _version_published(procedure, record.decision_date),
    }
    held = (
        Publication.objects.select_for_update()
        .filter(procedure=procedure, decision_number=record.decision_number)
        .first()
    )
    if held is not None and all(getattr(held, k) == v for k, v in values.items()):
        return "unchanged"
    before = snapshot(held, PUBLICATION_FIELDS) if held is not None else None
    if held is None:
        held = Publication(procedure=procedure, decision_number=record.decision_number)
    for name_of_field, value in values.items():
        setattr(held, name_of_field, value)
    held.synced_at = timezone.now()
    held.save()
    audit_record(action="catalog.publication_sync", obj=held, before=before, after=snapshot(held, PUBLICATION_FIELDS))
    return "updated" if before is not None else "created"


@transaction.atomic
def procedure_texts_apply(
    *, procedure: Procedure, steps: tuple[str, ...] | None, applicants: tuple[str, ...] | None,
    today: dt.date | None = None,
) -> str:  # fmt: skip
    """Keep the order of steps and who may apply as the national database publishes them, on the
    version in force ``today`` (else the next to come): ``"updated"``, ``"unchanged"`` (nothing
    written, nothing audited: the sync is idempotent) or ``"none"`` (no version, or the answer
    carried neither). In place, not a new version: the texts say what the published procedure
    is, they change nothing of how its dossiers are handled (their fees, documents, time stay the
    version's). A text the answer does not carry (None) is left as it is; an empty one is kept
    empty (the database publishes none: indicator 1.3 then counts the part missing)."""
    given = {k: list(v) for k, v in (("steps", steps), ("applicants", applicants)) if v is not None}
    version = _version_published(procedure, today or timezone.localdate())
    if version is None or not given:
        return "none"
    version = ProcedureVersion.objects.select_for_update().get(pk=version.pk)
    if all(getattr(version, k) == v for k, v in given.items()):
        return "unchanged"
    before = snapshot(version, NATIONAL_TEXT_FIELDS)
    for name_of_field, value in given.items():
        setattr(version, name_of_field, value)
    version.save(update_fields=list(given))
    audit_record(
        action="catalog.procedure_texts_sync", obj=version, before=before, after=snapshot(version, NATIONAL_TEXT_FIELDS)
    )
    return "updated"


def publications_sync(*, cfg: tthc.Config, updated_since: dt.date | None = None) -> dict[str, int]:
    """Read the city's procedures from the national database of administrative procedures and keep
    their publication decisions (``publication_apply``) and the two parts of their text it
    publishes (``procedure_texts_apply``: the order of steps, who may apply): running it twice
    changes nothing. Codes the catalogue does not hold are counted and skipped (the city offers them
    through another system, or they are not loaded yet). Raises ``tthc.TthcError`` when the
    database gives no usable answer; what was kept before the error stays (each decision is its
    own transaction, and a rerun picks up the rest)."""
    counts = {
        "created": 0, "updated": 0, "unchanged": 0, "unknown": 0, "procedures": 0,
        "texts_updated": 0, "texts_unchanged": 0,
    }  # fmt: skip
    for code in tthc.procedure_codes(cfg, updated_since=updated_since):
        procedure = Procedure.objects.filter(code=code).first()
        if procedure is None:
            counts["unknown"] += 1
            continue
        counts["procedures"] += 1
        record = tthc.procedure_record(cfg, code=code)
        for publication in record.publications:
            counts[publication_apply(procedure=procedure, record=publication)] += 1
        texts = procedure_texts_apply(procedure=procedure, steps=record.steps, applicants=record.applicants)
        if texts != "none":
            counts[f"texts_{texts}"] += 1
    return counts


def tthc_config() -> tthc.Config:
    """The national database's address and key from the settings (``TTHC_*``)."""
    from django.conf import settings

    return tthc.Config(
        base_url=str(getattr(settings, "TTHC_URL", "")),
        api_key=str(getattr(settings, "TTHC_API_KEY", "")),
        agency=str(getattr(settings, "TTHC_AGENCY", "H29")),
        timeout=float(getattr(settings, "TTHC_TIMEOUT", 10.0)),
    )


@audited("catalog.desk_posting")
def desk_posting_record(
    *, procedure: Procedure, posted_on: dt.date, version: ProcedureVersion | None = None, recorded_by_label: str = ""
) -> DeskPosting:
    """Record that the one-stop desks posted ``version`` of ``procedure`` (default: the version in
    force on ``posted_on``) on that day. The same posting again is not a new record."""
    version = version or _version_on(procedure, posted_on)
    if version is None or version.procedure_id != procedure.pk:
        raise DomainError(
            "no_version",
            Message("Thủ tục chưa có nội dung vào ngày niêm yết.", "The procedure has no version on the posting day."),
            409,
        )
    posting, made = DeskPosting.objects.get_or_create(
        procedure=procedure, version=version, posted_on=posted_on,
        defaults={"recorded_by_label": recorded_by_label[:150]},
    )  # fmt: skip
    if not made:
        posting._audit_skip = True  # type: ignore[attr-defined]  # nothing changed: nothing to record
    return posting
