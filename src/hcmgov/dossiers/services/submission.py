"""Submission of dossiers: checks, code, files, first history entry, the start of the flow."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.catalog import selectors as catalog
from hcmgov.common import context, jsonform, metrics
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.common.text import fold
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.core.workcalendar import default_calendar
from hcmgov.documents import services as store
from hcmgov.dossiers.files import CONTENT_TYPE, Attachment, check_attachment
from hcmgov.dossiers.models import Channel, Dossier, DossierDocument, DossierEvent, Status
from hcmgov.dossiers.services import processing

LOCAL_TZ = dt.timezone(dt.timedelta(hours=7))  # Asia/Ho_Chi_Minh has no DST
_SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet, not a password  # no 0/O, 1/I: read off paper


def new_tracking_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(8))


def submission_fingerprint(
    *, procedure_code: str, agency_code: str, form_data: dict[str, Any], attachments: list[Attachment]
) -> str:
    """What makes two submissions the same: procedure, agency, form and the files' contents."""
    canonical = json.dumps([procedure_code, agency_code, form_data], sort_keys=True, ensure_ascii=False, default=str)
    files = sorted(f"{a.requirement}:{a.sha256}" for a in attachments)
    return hashlib.sha256("\n".join([canonical, *files]).encode()).hexdigest()


def dossier_code(*, agency_code: str, day: dt.date, sequence: int) -> str:
    """Circular 01/2018/TT-VPCP, Art. 26: ``<agency code>-<YYMMDD>-<4-digit sequence of the day>``."""
    return f"{agency_code}-{day:%y%m%d}-{sequence:04d}"


def _agency_fits(procedure: Any, agency: Any, day: dt.date) -> bool:
    if agency.kind != procedure.agency_kind:
        return False
    if procedure.agency_department and agency.department != procedure.agency_department:
        return False
    return agency.valid_from <= day and (agency.valid_to is None or agency.valid_to >= day)


def _check(
    *, version: Any, procedure: Any, agency: Any, form_data: Any, attachments: list[Attachment], day: dt.date
) -> list[FieldError]:
    errors = list(jsonform.validate(version.form_schema, form_data))
    if agency is None:
        errors.insert(
            0,
            FieldError(
                "agency",
                "required",
                Message(
                    "Vui lòng chọn cơ quan tiếp nhận hồ sơ.", "Please choose the agency that receives the dossier."
                ),
            ),
        )
    elif not _agency_fits(procedure, agency, day):
        errors.append(
            FieldError(
                "agency",
                "wrong_agency",
                Message(
                    f"{agency.name} không giải quyết thủ tục này.", f"{agency.name_en} does not handle this procedure."
                ),
            )
        )
    by_requirement: dict[str, list[Attachment]] = {}
    for att in attachments:
        by_requirement.setdefault(att.requirement, []).append(att)
    known = {doc["code"] for doc in version.required_documents}
    for code in by_requirement:
        if code not in known:
            errors.append(
                FieldError(
                    code,
                    "unknown_document",
                    Message(
                        f"Giấy tờ «{code}» không thuộc thành phần hồ sơ của thủ tục này.",
                        f"Document “{code}” is not part of this procedure's dossier.",
                    ),
                )
            )
    for doc in version.required_documents:
        if doc.get("kind") == "present":  # shown at the desk, or read from the population database online
            continue
        if doc.get("required", True) and not by_requirement.get(doc["code"]):
            errors.append(
                FieldError(
                    doc["code"],
                    "document_missing",
                    Message(
                        f"Thiếu giấy tờ bắt buộc: {doc['name']}.",
                        f"A required document is missing: {doc.get('name_en') or doc['name']}.",
                    ),
                )
            )
    errors.extend(attachment_problems(attachments))
    return errors


def attachment_problems(attachments: list[Attachment]) -> list[FieldError]:
    """What is wrong with each file: its kind and size (``check_attachment``), then the documents
    app's safety checks and antivirus — malformed, encrypted, polyglot, bombs, active content,
    malware. A file that passes is kept as a draft blob, made part of the dossier when it is
    written. A component reused from the data store was checked when it was stored."""
    problems = []
    for att in attachments:
        problem = check_attachment(att)
        if problem is None and not att.component_code:
            refusal = store.attachment_accept(data=att.data, filename=att.filename)
            if refusal is not None:
                problem = FieldError(att.requirement, refusal.code, refusal.message)
        if problem is not None:
            problems.append(problem)
    return problems


def dossier_submit(
    *,
    applicant: Any,
    procedure_code: str,
    agency_code: str,
    form_data: dict[str, Any],
    attachments: list[Attachment],
    channel: int = Channel.ONLINE,
    idempotency_key: str | None = None,
    dedupe_window: dt.timedelta | None = None,
    language: str = "vi",
    now: dt.datetime | None = None,
    attachment_errors: list[FieldError] | None = None,
) -> tuple[Dossier, bool]:
    """Submit a dossier; returns ``(dossier, created)``. ``attachment_errors``: problems the caller
    met reading the files (a component of the data store it could not reuse), reported together
    with every other problem of the dossier.

    Everything is checked before anything is written; the dossier, its files, its code (gap-free
    daily sequence), its first history entry, the audit event and the ``dossier.submitted`` outbox
    event commit together or not at all. A repeat with the same ``idempotency_key`` by the same
    applicant returns the first dossier (``created`` False) and writes nothing.
    """
    if idempotency_key:
        existing = Dossier.objects.filter(applicant=applicant, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, False
    now = now or timezone.now()
    fingerprint = submission_fingerprint(
        procedure_code=procedure_code, agency_code=agency_code, form_data=form_data, attachments=attachments
    )
    if dedupe_window:  # the same dossier again within minutes (back button, resubmitted page)
        existing = Dossier.objects.filter(
            applicant=applicant, fingerprint=fingerprint, submitted_at__gte=now - dedupe_window
        ).first()
        if existing is not None:
            return existing, False
    day = now.astimezone(LOCAL_TZ).date()
    procedure = catalog.procedure_get(code=procedure_code)
    version = catalog.procedure_version_in_force(procedure=procedure, day=day)
    agency = core.agency_list().filter(code=agency_code).first() if agency_code else None
    errors = _check(
        version=version, procedure=procedure, agency=agency, form_data=form_data, attachments=attachments, day=day
    )
    errors.extend(attachment_errors or [])
    if errors:
        raise DomainError(
            "invalid_dossier",
            Message(
                "Hồ sơ chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu.",
                "The dossier is not valid yet: please check the marked items.",
            ),
            status=422,
            errors=errors,
        )
    try:
        dossier = _create(
            applicant=applicant,
            procedure=procedure,
            version=version,
            agency=agency,
            form_data=form_data,
            attachments=attachments,
            channel=channel,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            language=language,
            now=now,
            day=day,
        )
    except IntegrityError:  # the files stay draft blobs, purged later
        if idempotency_key:  # a concurrent retry won the race: answer with its dossier
            existing = Dossier.objects.filter(applicant=applicant, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing, False
        raise
    metrics.DOSSIERS_SUBMITTED.labels(str(channel)).inc()
    return dossier, True


def _applicant_auth(applicant: Any) -> str:
    """How the applicant authenticated to submit: the method of the login behind this request
    (``common.context``: recorded in the session at login, or said by the bearer token), when the
    actor is the applicant; "" (unknown) when someone else files for them or nothing was recorded."""
    actor = context.get_actor()
    if actor.user_id is None or actor.user_id != getattr(applicant, "pk", None):
        return ""
    return str(actor.auth_method)


@audited("dossier.submit")
def _create(
    *,
    applicant: Any,
    procedure: Any,
    version: Any,
    agency: Any,
    form_data: dict[str, Any],
    attachments: list[Attachment],
    channel: int,
    idempotency_key: str | None,
    fingerprint: str,
    language: str,
    now: dt.datetime,
    day: dt.date,
) -> Dossier:
    sequence = core_services.sequence_next(scope=agency.code, day=day)
    due_at = default_calendar().appointment_date(received_at=now, working_days=version.statutory_days)
    run = processing.flow_start(procedure_id=procedure.pk, form_data=form_data)
    dossier = Dossier.objects.create(
        code=dossier_code(agency_code=agency.code, day=day, sequence=sequence),
        procedure=procedure,
        procedure_version=version,
        agency=agency,
        unit=agency.unit,
        applicant=applicant,
        applicant_name=applicant.full_name or applicant.get_username(),
        applicant_search=fold(applicant.full_name or applicant.get_username())[:150],
        channel=channel,
        status=Status.NEW,
        form_data=form_data,
        language=language,
        submitted_at=now,
        due_at=due_at,
        appointment_at=due_at,
        tracking_secret=new_tracking_secret(),
        submitted_auth=_applicant_auth(applicant),
        idempotency_key=idempotency_key or None,
        fingerprint=fingerprint,
        flow_id=run.flow_id if run else None,
        workflow_state=run.state if run else None,
    )
    documents = []
    for att in attachments:
        documents.append(
            DossierDocument(
                dossier=dossier,
                requirement=att.requirement,
                sha256=store.attachment_keep(data=att.data, filename=att.filename),
                filename=att.filename[:255],
                content_type=CONTENT_TYPE[att.extension],
                size=len(att.data),
                component_code=att.component_code,
            )
        )
    DossierDocument.objects.bulk_create(documents)
    DossierEvent.objects.create(
        dossier=dossier, at=now, status_from=None, status_to=Status.NEW, actor_label=dossier.applicant_name, note=""
    )
    if run is not None:
        processing.flow_open(dossier=dossier, run=run, now=now)
    core_services.event_publish(topic="dossier.submitted", key=dossier.code, payload={"dossier_id": dossier.pk})
    return dossier
