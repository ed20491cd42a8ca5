"""The gateway process's message-log writer: calls are appended to an in-memory queue as they end
and a thread of the process links them onto the node's chain and stores them in batches (one
INSERT per batch, every ``interval`` seconds or ``batch`` records), off the path of the call.

Nothing is dropped: a failed INSERT keeps the batch, which is tried again; while the backlog is
over ``limit`` the gateway refuses new calls (``exchange_log_unavailable``) rather than let calls go
unrecorded. A process that is killed outright loses at most the last ``interval`` of records; a
clean stop (the ASGI lifespan's shutdown) writes everything first.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from typing import Any

from django.db import close_old_connections, connection, connections

from hcmgov.common.db import copy_text_many, fast_insert_many
from hcmgov.exchange import logchain
from hcmgov.exchange.models import MessageLogRecord

log = logging.getLogger(__name__)


# The stored columns: the hashed fields (the bodies themselves where the hash takes their digest),
# then the chain's own two.
COLUMNS = (*logchain.HASHED[:-1], "bodies", "prev_hash", "hash")
assert logchain.HASHED[-1] == "bodies_sha256"


def _link(chain: logchain.Chain, entry: dict[str, Any]) -> tuple[Any, ...]:
    """The next row of ``chain`` for ``entry`` (as ``logchain.Chain.link``, without building a
    model instance: the writer links thousands of records a second)."""
    chain.seq += 1
    values = {**entry, "node": chain.node, "seq": chain.seq}
    values["bodies_sha256"] = logchain.bodies_digest(values.get("bodies"))
    digest = logchain.record_hash(values, chain.last_hash)
    row = (*(values.get(c) for c in COLUMNS[:-2]), chain.last_hash, digest)
    chain.last_hash = digest
    return row


# The edge's records come as rows of COPY's text format, linked by nginx (gateway.lua): the
# columns of COLUMNS, tab-separated, "\\N" for NULL, a backslash before a backslash, tab, newline
# or carriage return of the value's own.
_COPY_UNESCAPE = re.compile(r"\\(.)")
_COPY_CHARS = {"t": "\t", "n": "\n", "r": "\r"}
_TEXT = frozenset({3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 18, 19})  # the columns that are text (node: 0)


def copy_unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _COPY_UNESCAPE.sub(lambda m: _COPY_CHARS.get(m.group(1), m.group(1)), value)


def row_from_line(line: str) -> tuple[Any, ...]:
    """A COPY row of the edge as the values of :data:`COLUMNS` (where there is no COPY: SQLite;
    and for the restart's and the tests' reading). ValueError when it is not one."""
    f = line.split("\t")
    if len(f) != len(COLUMNS):
        raise ValueError(f"{len(f)} columns, not {len(COLUMNS)}")
    out: list[Any] = []
    for i, v in enumerate(f):
        if v == "\\N":
            out.append(None)
        elif i in (1, 10, 13, 14):
            out.append(int(v))
        elif i == 2:
            out.append(dt.datetime.fromisoformat(v))
        elif i == 12:
            out.append(float(v))
        else:
            out.append(copy_unescape(v))
    return tuple(out)


def _sealed(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as stored: bodies kept (``_bodies``: request and response) are encrypted here, off
    the event loop, with the message log's key."""
    bodies = entry.get("_bodies")
    if bodies is None:
        return entry
    from hcmgov.exchange.bodies import bodies_encrypt

    out = {k: v for k, v in entry.items() if k != "_bodies"}
    out["bodies"] = bodies_encrypt(request=bodies[0], response=bodies[1])
    return out


def node_name() -> str:
    """This process's chain: host, process id and the moment it started (a restarted process starts
    a new chain, so no two writers ever extend the same one)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{int(time.time() * 1000):x}"


class LogWriter:
    def __init__(self, *, node: str | None = None, interval: float = 0.05, batch: int = 1000, limit: int = 100_000):
        self.chain = logchain.Chain(node or node_name())
        self.interval = interval
        self.batch = batch
        self.limit = limit
        self.queue: deque[Any] = deque()  # entries (dicts) and the edge's records (COPY rows: str)
        self._in_flight = 0
        self.written = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()

    @property
    def node(self) -> str:
        return self.chain.node

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exchange-log", daemon=True)
            self._thread.start()

    def append(self, entry: dict[str, Any]) -> None:
        self.queue.append(entry)  # deque.append is atomic: no lock on the call's path
        if len(self.queue) >= self.batch:
            self._wake.set()

    def append_line(self, line: str) -> None:
        """A record the edge linked itself: a row of COPY's text format, without its newline (the
        edge ships thousands a second: stored as it is)."""
        self.queue.append(line)
        if len(self.queue) >= self.batch:
            self._wake.set()

    def overloaded(self) -> bool:
        return len(self.queue) + self._in_flight >= self.limit

    def pending(self) -> int:
        """Records not stored yet: queued, or being written."""
        return len(self.queue) + self._in_flight

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything appended so far is stored (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self.pending() and time.monotonic() < deadline:
                self._wake.set()
                self._idle.wait(0.02)
        return not self.pending()

    def stop(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            try:
                self._write_all()
                backoff = self.interval
            except Exception:  # the database is away: keep the entries, try again later
                self.failures += 1
                log.exception("message log: writing failed, kept in memory", extra={"queued": len(self.queue)})
                close_old_connections()
                backoff = min(5.0, backoff * 2)
        connections.close_all()  # the writer thread's own connection

    def _stored_already(self, last: tuple[str, int, str] | None) -> bool:
        """After a failed write: whether the batch was stored after all (the COPY committed but
        the answer was lost with the connection). Then its rows are in the database with the
        hashes computed for them, and trying again would only hit the (node, seq) constraint.
        ``last``: the batch's last record as (node, seq, hash)."""
        if last is None:
            return False
        try:
            close_old_connections()
            stored = MessageLogRecord.objects.filter(node=last[0], seq=last[1]).values_list("hash", flat=True).first()
        except Exception:
            return False
        return stored == last[2]

    def _write_all(self) -> None:
        while self.queue:
            n = min(self.batch, len(self.queue))
            # Taken off the queue first (only this thread takes, from the left; callers append on
            # the right meanwhile: iterating the deque in place would fail as it grows), counted
            # as in flight until stored, and put back in front, in order, if the INSERT fails.
            self._in_flight = n
            batch = [self.queue.popleft() for _ in range(n)]
            seq, last = self.chain.seq, self.chain.last_hash
            lines = [e for e in batch if type(e) is str]  # the edge's, linked already
            rows: list[tuple[Any, ...]] = []
            try:
                if len(lines) == n and connection.vendor == "postgresql":
                    copy_text_many(MessageLogRecord, COLUMNS, "\n".join(lines) + "\n")  # as nginx wrote them
                else:
                    rows = [row_from_line(e) if type(e) is str else _link(self.chain, _sealed(e)) for e in batch]
                    fast_insert_many(MessageLogRecord, COLUMNS, rows)
            except Exception:
                tail = rows[-1] if rows else row_from_line(lines[-1]) if lines else None
                if not self._stored_already((tail[0], tail[1], tail[-1]) if tail else None):
                    self.chain.seq, self.chain.last_hash = seq, last  # the same places next time: no gap
                    self.queue.extendleft(reversed(batch))
                    self._in_flight = 0
                    raise
            self._in_flight = 0
            self.written += n
        with self._idle:
            self._idle.notify_all()
