"""Who is acting and in which request: carried in context variables so that services, the audit
trail and logs see them without threading them through every call."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The principal a change is attributed to: a user, or a named system process."""

    user_id: int | None
    label: str

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(user_id=None, label=name)


_request_id: ContextVar[str] = ContextVar("request_id", default="")
_actor: ContextVar[Actor] = ContextVar("actor", default=Actor.system())  # noqa: B039 - Actor is frozen


def new_request_id() -> str:
    return uuid.uuid4().hex


def get_request_id() -> str:
    return _request_id.get()


def get_actor() -> Actor:
    return _actor.get()


@contextlib.contextmanager
def acting_as(actor: Actor, request_id: str | None = None) -> Iterator[Actor]:
    """Attribute everything done inside the block to ``actor`` (tasks, commands, tests)."""
    token_a = _actor.set(actor)
    token_r = _request_id.set(request_id or _request_id.get() or new_request_id())
    try:
        yield actor
    finally:
        _actor.reset(token_a)
        _request_id.reset(token_r)


def set_request_id(value: str) -> Token[str]:
    return _request_id.set(value)


def reset_request_id(token: Token[str]) -> None:
    _request_id.reset(token)


def set_actor(actor: Actor) -> Token[Actor]:
    return _actor.set(actor)


def reset_actor(token: Token[Actor]) -> None:
    _actor.reset(token)
