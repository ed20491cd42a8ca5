"""The one audit mechanism: services declare ``@audited``; the decorator runs them in a transaction
and writes the audit event inside it, so a change and its record commit or vanish together.

Each event records the actor of the request (``common.context``): who, by which method and at
which assurance level, in which login (``session_ref``). That is how every transaction — a
submission, an official's decision, a supplement, and the payments and signatures of later issues,
which declare ``@audited`` the same way — says how its actor was authenticated; the share of
electronically authenticated transactions is read from these events (``audit.selectors``).

Every event is linked into the audit chain (``audit.chain``) after its transaction commits, in a
short transaction of the chain's own (the business transaction never waits for the chain): a hash
over the event before it, the chain's head time-stamped now and then, so an altered or removed
event is found by ``hcmgov audit verify``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from hcmgov.audit import chain
from hcmgov.audit.models import AuditAnchor, AuditEvent
from hcmgov.common import context

P = ParamSpec("P")
R = TypeVar("R")


def snapshot(obj: models.Model, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A JSON-safe view of a model's fields for the before/after of an audit event."""
    data = model_to_dict(obj, fields=fields)
    return {k: (v if isinstance(v, str | int | float | bool | type(None)) else str(v)) for k, v in data.items()}


def audit_record(
    *,
    action: str,
    obj: models.Model | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Record one change of state, attributed to the current actor and request.

    A security event may concern no stored object (a forged token): ``obj`` is then None and
    ``object_type``/``object_id`` name what it concerns. An object with an ``agency_id`` (a
    dossier, a step) gives the event its agency."""
    actor = context.get_actor()
    agency_id = getattr(obj, "agency_id", None)
    values = {
        "at": timezone.now(),
        "actor_id": actor.user_id,
        "actor_label": actor.label,
        "action": action,
        "object_type": obj._meta.label_lower if obj is not None else object_type,
        "object_id": str(obj.pk) if obj is not None else object_id,
        "request_id": context.get_request_id(),
        "before": before,
        "after": after,
        "auth_method": actor.auth_method,
        "assurance_level": actor.assurance_level,
        "session_ref": actor.session_ref,
        "agency_id": agency_id if isinstance(agency_id, int) else None,
    }
    # one prepared INSERT, unlinked: the chain is linked after commit, outside this transaction
    return chain.chain_record(values)


def audit_link_pending() -> int:
    """Link the committed events not linked yet (a process that died between its commit and its
    linking); returns how many. Run outside any transaction."""
    return chain.link_pending()


def audit_chain_verify() -> chain.VerifyReport:
    """Walk the whole audit chain and its anchors; the report names the first problem."""
    return chain.chain_verify()


def audit_chain_anchor() -> AuditAnchor | None:
    """Time-stamp the audit chain's head if it grew (RFC 3161); None when nothing was new."""
    return chain.chain_anchor()


def audited(
    action: str, *, target: str | None = None, fields: tuple[str, ...] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a service that changes one model instance.

    ``target`` names the keyword argument holding the instance the service changes (its fields
    are captured before the call); a service that creates an instance returns it. The event
    records the fields before and after.
    """

    def decorator(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            with transaction.atomic():
                instance = kwargs.get(target) if target else None
                assert instance is None or isinstance(instance, models.Model)
                before = snapshot(instance, fields) if instance is not None and instance.pk else None
                result = service(*args, **kwargs)
                obj = result if isinstance(result, models.Model) else instance
                if obj is not None and not getattr(obj, "_audit_skip", False):
                    audit_record(action=action, obj=obj, before=before, after=snapshot(obj, fields))
                return result

        return wrapped

    return decorator
