"""How each login authenticated, recorded in its session (``common.context.session_login_record``)
for the actor of every later request: the audit trail copies it onto each transaction.

Django's ``user_logged_in`` is the one place every login passes (password form, admin login, test
client, e-ID). A login is a password login unless the page that logged in says otherwise: the
e-ID callback records ``eid`` with the level the provider vouched for (``web.eid``). The second
factor is not recorded here: django-otp keeps its proof in the session, and the actor middleware
reads it (``common.middleware.ActorMiddleware``), so the record cannot disagree with it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from hcmgov.common import context


def login_recorded(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    """Receiver of ``user_logged_in``: a password login, one factor, with a new login reference;
    and a security event in the audit trail (ASVS 16.3.1: every successful authentication, with
    the address and how — the backend that vouched: password, e-ID, the city's provider)."""
    from hcmgov.audit.services import audit_record
    from hcmgov.common.ratelimit import client_address

    session = getattr(request, "session", None)
    if session is not None:
        context.session_login_record(session, method=context.AuthMethod.PASSWORD, level=context.ONE_FACTOR)
    audit_record(
        action="security.login",
        obj=user,
        after={
            "ip": client_address(request) if request is not None else None,
            "backend": str(getattr(user, "backend", "") or "").rsplit(".", 1)[-1],
        },
    )
