"""Reactions of the documents app to events. Idempotent (delivery is at least once).

- ``component.digitised``: the text is recognised in the task worker (OCR takes seconds a page,
  too long for the outbox's delivery);
- ``dossier.finished``: the result is issued, signed, into the applicant's data store. An agency
  without a certificate in force is logged, not retried: the result is issued from the back office
  once it has one. A time-stamping authority that does not answer makes the delivery fail and be
  tried again.
"""

from __future__ import annotations

import logging
from typing import Any

from hcmgov.common.errors import DomainError
from hcmgov.core.services import event_subscribe
from hcmgov.documents import results, tasks

log = logging.getLogger(__name__)
# refusals a retry would meet again: a certificate must be issued or renewed first
NOT_RETRIED = {
    "no_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_inactive",
    "certificate_not_yet_valid",
}


@event_subscribe("component.digitised")
def _recognise(event: Any) -> None:
    tasks.ocr_component.delay(event.payload["component_id"])


@event_subscribe("dossier.finished")
def _issue(event: Any) -> None:
    try:
        results.result_issue(dossier_id=event.payload["dossier_id"])
    except DomainError as exc:
        if exc.code not in NOT_RETRIED:
            raise
        log.warning("documents: result not issued", extra={"dossier_id": event.payload["dossier_id"], "why": exc.code})
