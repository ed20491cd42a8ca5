"""Jobs of the documents app: text recognition of digitised components (queued by the
``component.digitised`` event), results issued and signed (queued by ``dossier.finished``), and
the periodic ones (Celery beat schedule in settings): the purge of old drafts, and the sweep that
issues the results the queue lost or gave up on."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

from hcmgov.common.config import config
from hcmgov.common.errors import DomainError
from hcmgov.common.text import fold
from hcmgov.documents import ocr, results, storage
from hcmgov.documents.models import Component, IssueState

log = logging.getLogger(__name__)


def draft_retention() -> dt.timedelta:
    """How long a draft upload not made part of a dossier is kept, read from the environment now."""
    hours = config(
        "HCMGOV_DRAFT_RETENTION_HOURS",
        72,
        help="Hours a draft upload is kept before it is removed, unless a dossier or the personal data "
        "store took it (task documents.blobs_purge_drafts).",
        group="files",
    )
    return dt.timedelta(hours=hours)


draft_retention()  # declare the setting when the module is imported (`hcmgov configdoc` lists it)


@shared_task(name="documents.blobs_purge_drafts", ignore_result=True)
def blobs_purge_drafts() -> int:
    """Remove old draft blobs, a batch at a time (the next run takes the rest)."""
    return storage.blobs_purge_drafts(older_than=draft_retention())


@shared_task(name="documents.ocr_component", ignore_result=True)
def ocr_component(component_id: int) -> bool:
    """Recognise the text of a component's file and store it with its folded search text and
    Tesseract's confidence. Idempotent: the same bytes give the same text, and a repeat overwrites
    the same three fields (a component whose text is already stored is read again, so a better
    Tesseract or setting can be applied by queueing the task anew). Returns whether text was
    stored; a file that cannot be read is logged and left without text (repeating would not
    help), while a missing Tesseract or a timeout raises, for the worker to log and retry."""
    component = Component.objects.select_related("blob").filter(pk=component_id).first()
    if component is None:
        log.warning("documents: OCR of a missing component", extra={"component_id": component_id})
        return False
    data = storage.blob_read(blob=component.blob)
    try:
        result = ocr.recognise(data=data, content_type=component.blob.content_type)
    except ocr.UnreadableDocument as exc:
        log.warning("documents: OCR impossible", extra={"component_id": component_id, "error": str(exc)})
        return False
    # update(), not save(): the other fields may be changing meanwhile (an official confirming).
    Component.objects.filter(pk=component_id).update(
        text=result.text, text_search=fold(result.text), ocr_confidence=result.confidence
    )
    log.info(
        "documents: OCR done",
        extra={
            "component_id": component_id,
            "pages": result.pages,
            "ocr_pages": result.ocr_pages,
            "confidence": result.confidence,
            "seconds": result.seconds,
        },
    )
    return True


RESULT_RETRIES = 8  # 30 s, 1, 2, 4, 8, 10, 10, 10 min: the time-stamping authority back within the hour


@shared_task(name="documents.result_issue", bind=True, ignore_result=True, max_retries=RESULT_RETRIES)
def result_issue(self, dossier_id: int) -> bool:
    """Issue the dossier's signed result (idempotent: a dossier that has one keeps it), and record
    the outcome on its request. A refusal a retry would meet again (no certificate in force) is
    logged and recorded ``refused``, for the sweep once the agency has a certificate; a
    time-stamping authority that does not answer is tried again with growing pauses, then
    recorded ``failed``, for the sweep. Returns whether a result exists."""
    try:
        results.result_issue(dossier_id=dossier_id)
    except DomainError as exc:
        if exc.code in results.NOT_RETRIED:
            log.warning("documents: result not issued", extra={"dossier_id": dossier_id, "why": exc.code})
            results.result_request_outcome(dossier_id=dossier_id, state=IssueState.REFUSED, reason=exc.code)
            return False
        if exc.code == "tsa_unavailable" and self.request.retries < RESULT_RETRIES:
            raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
        log.error("documents: result not issued", extra={"dossier_id": dossier_id, "why": exc.code})
        results.result_request_outcome(dossier_id=dossier_id, state=IssueState.FAILED, reason=exc.code)
        return False
    results.result_request_outcome(dossier_id=dossier_id, state=IssueState.ISSUED)
    return True


@shared_task(name="documents.results_sweep", ignore_result=True)
def results_sweep() -> int:
    """Queue again the results asked for and not issued an hour on (lost, failed, or refused for
    want of a certificate that the agency now has). Returns how many were queued."""
    missing = results.results_to_retry(older_than=timezone.now() - dt.timedelta(hours=1))
    for dossier_id in missing:
        result_issue.delay(dossier_id)
    return len(missing)
