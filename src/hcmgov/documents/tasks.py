"""Jobs of the documents app: text recognition of digitised components (queued by the
``component.digitised`` event), and the periodic purge of old drafts (Celery beat schedule in
settings)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task

from hcmgov.common.config import config
from hcmgov.common.text import fold
from hcmgov.documents import ocr, storage
from hcmgov.documents.models import Component

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
