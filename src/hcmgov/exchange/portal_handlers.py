"""Dossier status changes queued for the National Public Service Portal: every outbox topic that
may follow a change of a dossier's status queues the changes of its history not queued yet
(``portal.portal_push_record``; idempotent, so topics that changed nothing cost a few queries).
A fee paid (``payment.paid``) may change the dossier's payment flags without a change of status:
the record then queues the flags as one more change."""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_subscribe_batch
from hcmgov.exchange import handlers, portal

# The dossiers' topics after which a dossier's status may have changed: every dossier topic the
# platform publishes (handlers.TOPICS, one list to keep) but the apology, which changes no status.
STATUS_TOPICS = tuple(t for t in handlers.TOPICS if t.startswith("dossier.") and t != "dossier.apologized")
# The payment settled on the dossier: ``dossiers.handlers`` records it on the same event, before
# this app's handler runs (a batch handler runs after every one-event handler of its batch; one
# event at a time, handlers run in the order registered: ``hcmgov.dossiers`` precedes
# ``hcmgov.exchange`` in INSTALLED_APPS, and ``test_portal_payments`` holds that order to account).
PAYMENT_TOPICS = ("payment.paid",)


def _queue(events: list[Any]) -> None:
    """Queue the new status changes and payment flags of the batch's dossiers for the portal, all
    in a few statements (nothing while the connector is off; a dossier that is gone is skipped).
    Each dossier's changes are queued in its history's order, whatever the events' order."""
    dossier_ids = [e.payload.get("dossier_id") for e in events]
    portal.portal_push_record_many(dossier_ids=[pk for pk in dossier_ids if isinstance(pk, int)])


event_subscribe_batch(*STATUS_TOPICS, *PAYMENT_TOPICS)(_queue)
