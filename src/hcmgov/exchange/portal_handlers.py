"""Dossier status changes queued for the National Public Service Portal: every outbox topic that
may follow a change of a dossier's status queues the changes of its history not queued yet
(``portal.portal_push_record``; idempotent, so topics that changed nothing cost one query)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from hcmgov.core.services import event_subscribe
from hcmgov.exchange import handlers, portal

# The dossiers' topics after which a dossier's status may have changed: every dossier topic the
# platform publishes (handlers.TOPICS, one list to keep) but the apology, which changes no status.
STATUS_TOPICS = tuple(t for t in handlers.TOPICS if t.startswith("dossier.") and t != "dossier.apologized")


def _queue(event: Any) -> None:
    """Queue the dossier's new status changes for the portal (nothing while the connector is off)."""
    dossier_id = event.payload.get("dossier_id")
    if not isinstance(dossier_id, int):
        return
    try:
        portal.portal_push_record(dossier_id=dossier_id)
    except ObjectDoesNotExist:  # the dossier is gone: nothing to tell the portal
        return


for _topic in STATUS_TOPICS:
    event_subscribe(_topic)(_queue)
