"""Reactions of the documents app to events. Idempotent (delivery is at least once).

- ``component.digitised``: the text is recognised in the task worker (OCR takes seconds a page,
  too long for the outbox's delivery);
- ``dossier.finished``: the result is asked for (``results.result_requested``) and issued,
  signed, into the applicant's data store, by the task ``documents.result_issue`` (signing waits
  for the time-stamping authority: not inside the outbox's delivery, whose transaction holds a
  batch of events). Queued inside the delivery's transaction: a queue that cannot be reached
  fails the delivery, which is tried again; a delivery rolled back after queueing leaves a second
  task, which finds the result issued.
"""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_context, event_subscribe, event_subscribe_batch
from hcmgov.documents import results, tasks


@event_subscribe("component.digitised")
def _recognise(event: Any) -> None:
    tasks.ocr_component.delay(event.payload["component_id"])


def _issue(event: Any) -> None:
    results.result_requested(dossier_id=event.payload["dossier_id"])
    tasks.result_issue.delay(event.payload["dossier_id"])


@event_subscribe_batch("dossier.finished")  # a batch handler: a one-event one would cut the outbox's batches
def _issue_batch(events: list[Any]) -> None:
    for event in events:
        with event_context(event):
            _issue(event)
