"""Outbox reactions of the shared data store: a submitted dossier's declared facts kept and
checked against the base registries (``declared.dossier_facts_record_many``, a batch at a time;
idempotent); a person who logged in with the national e-ID has their population record fetched
ahead of their first form (``services.login_prefetch``)."""

from __future__ import annotations

from typing import Any

from hcmgov.core.services import event_subscribe, event_subscribe_batch
from hcmgov.registry import declared, services


@event_subscribe_batch("dossier.submitted")
def _declared(events: list[Any]) -> None:
    """The batch's submitted dossiers' declared facts, kept and checked together
    (``declared.dossier_facts_record_many``; a dossier that is gone is skipped)."""
    dossier_ids = [event.payload.get("dossier_id") for event in events]
    declared.dossier_facts_record_many(dossier_ids=[pk for pk in dossier_ids if isinstance(pk, int)])


@event_subscribe("identity.eid_login")
def _prefetch(event: Any) -> None:
    user_id = event.payload.get("user_id")
    if isinstance(user_id, int):
        services.login_prefetch(user_id=user_id)
