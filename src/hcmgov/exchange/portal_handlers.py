"""Dossier status changes queued for the National Public Service Portal: every outbox topic that
may follow a change of a dossier's status queues the changes of its history not queued yet
(``portal.portal_push_record``; idempotent, so topics that changed nothing cost a few queries).
A fee paid (``payment.paid``) may change the dossier's payment flags without a change of status:
the record then queues the flags as one more change."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from hcmgov.core.services import event_subscribe
from hcmgov.exchange import handlers, portal

# The dossiers' topics after which a dossier's status may have changed: every dossier topic the
# platform publishes (handlers.TOPICS, one list to keep) but the apology, which changes no status.
STATUS_TOPICS = tuple(t for t in handlers.TOPICS if t.startswith("dossier.") and t != "dossier.apologized")
# The payment settled on the dossier: ``dossiers.handlers`` records it on the same event, before
# this app's handler runs (handlers run in the order registered; ``hcmgov.dossiers`` precedes
# ``hcmgov.exchange`` in INSTALLED_APPS, and ``test_portal_payments`` holds that order to account).
PAYMENT_TOPICS = ("payment.paid",)


def _queue(event: Any) -> None:
    """Queue the dossier's new status changes and payment flags for the portal (nothing while the
    connector is off)."""
    dossier_id = event.payload.get("dossier_id")
    if not isinstance(dossier_id, int):
        return
    try:
        portal.portal_push_record(dossier_id=dossier_id)
    except ObjectDoesNotExist:  # the dossier is gone: nothing to tell the portal
        return


for _topic in (*STATUS_TOPICS, *PAYMENT_TOPICS):
    event_subscribe(_topic)(_queue)
