"""One active process of a kind (the scheduler) among several started for safety.

At city scale two or three scheduler processes run on different machines, and exactly one of them
schedules: the others wait to take over. The lock is PostgreSQL's session-level advisory lock,
held by a connection of its own: the database releases it when that connection ends — the
process killed, its machine gone, the network cut — so a standby takes over within its polling
interval, with no lease to tune and no clock to trust. After a fail-over of the database itself
the old lock is gone with the old primary: the leader's connection breaks, it stops, and whoever
locks the new primary first leads.

The embedded default (SQLite) takes an exclusive ``flock`` on a file beside the database: the
same semantics on one machine (the kernel releases it when the process dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """The advisory lock's number for ``name`` (a signed 64-bit integer, stable across processes)."""
    return int.from_bytes(hashlib.sha256(f"hcmgov leader {name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    """Held while ``held`` is true; ``lost`` is set when the lock's connection breaks."""

    def __init__(self) -> None:
        self.lost = threading.Event()
        self.held = False


def _pg_connect() -> Any:
    import psycopg

    params = connections["default"].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    params.pop("context", None)
    params["autocommit"] = True
    params.setdefault("connect_timeout", 5)
    params["application_name"] = "hcmgov-leader"
    return psycopg.connect(**params)


@contextlib.contextmanager
def leadership(
    name: str, *, poll: float = 2.0, stop: threading.Event | None = None, on_wait: Callable[[], None] | None = None
) -> Iterator[Leadership]:
    """Wait until this process leads ``name``, then yield; on leaving, give the lead up.

    While leading, a thread checks the lock's connection every ``poll`` seconds and sets
    ``lost`` when it breaks: the caller must then stop what it leads (another may lead already)."""
    state = Leadership()
    if connections["default"].vendor == "postgresql":
        key = lock_key(name)
        conn = None
        while conn is None:
            if stop is not None and stop.is_set():
                raise InterruptedError(name)
            try:
                candidate = _pg_connect()
                if candidate.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
                    conn = candidate
                    break
                candidate.close()
            except Exception as exc:
                log.warning("leader %s: cannot reach the database (%s)", name, exc)
            if on_wait is not None:
                on_wait()
            time.sleep(poll)
        state.held = True
        log.warning("leader %s: this process leads (lock %d)", name, key)

        def watch() -> None:
            while not state.lost.is_set():
                time.sleep(poll)
                try:
                    conn.execute("SELECT 1").fetchone()
                except Exception as exc:
                    log.error("leader %s: the lock's connection broke (%s): stepping down", name, exc)
                    state.lost.set()

        watcher = threading.Thread(target=watch, name=f"leader-{name}", daemon=True)
        watcher.start()
        try:
            yield state
        finally:
            state.held = False
            state.lost.set()
            with contextlib.suppress(Exception):
                conn.close()  # the lock goes with the session
        return
    path = Path(settings.VAR_DIR) / f"leader-{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        while True:
            if stop is not None and stop.is_set():
                raise InterruptedError(name)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                time.sleep(poll)
        state.held = True
        try:
            yield state
        finally:
            state.held = False
            fcntl.flock(handle, fcntl.LOCK_UN)
