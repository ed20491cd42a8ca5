"""A copy of every audit event outside the database: a JSON Lines file (``HCMGOV_AUDIT_SINK_FILE``)
and/or a syslog receiver (``HCMGOV_AUDIT_SINK_SYSLOG``), written after the event's transaction
commits. Someone who can rewrite the database cannot reach back into a remote syslog server or a
write-once disk; and a rolled-back change, which left no event, ships nothing.

The database stays the record: a sink that fails (disk full, receiver gone) loses only its copy.
The failure is logged and counted (``hcmgov_audit_sink_failures_total``, and :data:`failures` in
this process); the request that wrote the event is not failed.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
import threading
from typing import Any

from django.conf import settings
from prometheus_client import Counter

log = logging.getLogger(__name__)

FAILURES = Counter("hcmgov_audit_sink_failures_total", "Audit events a sink could not take", ["sink"])
failures = 0  # in this process, for tests and the operator's command
_lock = threading.Lock()
_syslog: dict[str, logging.handlers.SysLogHandler] = {}


def configured() -> bool:
    """Whether any sink is set (else events ship nowhere and cost nothing after commit)."""
    return bool(settings.AUDIT_SINK_FILE or settings.AUDIT_SINK_SYSLOG)


def line(event: Any) -> str:
    """The event as one JSON object: every column, times in ISO 8601 UTC."""
    row = {}
    for field in event._meta.concrete_fields:
        value = getattr(event, field.attname)
        row[field.attname] = value.isoformat() if hasattr(value, "isoformat") else value
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)


class _SysLog(logging.handlers.SysLogHandler):
    """The standard handler, with its errors raised to :func:`ship` instead of printed."""

    def handleError(self, record: logging.LogRecord) -> None:
        raise


def _syslog_handler(address: str) -> logging.handlers.SysLogHandler:
    handler = _syslog.get(address)
    if handler is None:
        if address.startswith("/"):
            target: Any = address
            kind = socket.SOCK_DGRAM
        else:
            host, _, port = address.rpartition(":")
            target, kind = (host or "127.0.0.1", int(port)), socket.SOCK_DGRAM
        handler = _SysLog(address=target, facility=logging.handlers.SysLogHandler.LOG_AUTH, socktype=kind)
        handler.ident = "hcmgov-audit: "
        _syslog[address] = handler
    return handler


def _count(kind: str) -> None:
    global failures
    with _lock:
        failures += 1
    FAILURES.labels(sink=kind).inc()


def ship(event: Any) -> None:
    """Write ``event`` to each configured sink (``transaction.on_commit`` calls it). Never raises."""
    try:
        text = line(event)
    except Exception:
        log.exception("audit sink: event #%s could not be serialised", getattr(event, "seq", None))
        _count("serialise")
        return
    path = settings.AUDIT_SINK_FILE
    if path:
        try:
            with _lock, open(path, "a", encoding="utf-8") as out:  # O_APPEND: whole lines from every process
                out.write(text + "\n")
        except Exception:
            log.exception("audit sink: event #%s not written to %s", event.seq, path)
            _count("file")
    address = settings.AUDIT_SINK_SYSLOG
    if address:
        try:
            handler = _syslog_handler(address)
            record = logging.LogRecord("hcmgov.audit", logging.INFO, __file__, 0, text, None, None)
            handler.emit(record)
        except Exception:
            log.exception("audit sink: event #%s not sent to syslog %s", event.seq, address)
            _count("syslog")
