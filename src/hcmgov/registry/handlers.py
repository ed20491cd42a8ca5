"""Outbox reactions of the shared data store: a submitted dossier's declared facts kept and
checked against the base registries (``services.dossier_facts_record``; idempotent); a person who
logged in with the national e-ID has their population record fetched ahead of their first form
(``services.login_prefetch``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from hcmgov.core.services import event_subscribe
from hcmgov.registry import services


@event_subscribe("dossier.submitted")
def _declared(event: Any) -> None:
    dossier_id = event.payload.get("dossier_id")
    if not isinstance(dossier_id, int):
        return
    try:
        services.dossier_facts_record(dossier_id=dossier_id)
    except ObjectDoesNotExist:
        return


@event_subscribe("identity.eid_login")
def _prefetch(event: Any) -> None:
    user_id = event.payload.get("user_id")
    if isinstance(user_id, int):
        services.login_prefetch(user_id=user_id)
