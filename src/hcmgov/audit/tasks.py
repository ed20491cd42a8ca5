"""Periodic jobs of the audit trail (Celery beat schedule in settings: ``audit-link``, ``audit-anchor``)."""

from __future__ import annotations

import logging

from celery import shared_task

from hcmgov.audit import services
from hcmgov.common.errors import DomainError

log = logging.getLogger(__name__)


@shared_task(name="audit.anchor", ignore_result=True)
def anchor() -> int:
    """Time-stamp the audit chain's head (every ``HCMGOV_AUDIT_ANCHOR_SECONDS``: the most of the
    chain's tail that could be cut off unseen). Without a time-stamping authority configured there
    is nothing to do; when it is down, the next tick tries again."""
    try:
        return 1 if services.audit_chain_anchor() is not None else 0
    except DomainError as exc:
        if exc.code == "tsa_not_configured":
            log.warning("audit: no time-stamping authority configured, the audit chain is not anchored")
            return 0
        raise


@shared_task(name="audit.link", ignore_result=True)
def link() -> int:
    """Link the committed audit events left unlinked (every minute): each transaction links its own
    events just after commit, but a process that dies between the two, or a linker that failed,
    leaves them to this task. Idempotent: nothing pending, nothing done."""
    done = services.audit_link_pending()
    if done:
        log.info("audit: %d event(s) left unlinked were linked", done)
    return done
