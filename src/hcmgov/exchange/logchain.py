"""The gateway's message log as a hash chain (X-Road's message log, in a lighter form).

Each gateway process (a *node*: host, process id and start time) appends its records to a chain of
its own, so that no two processes contend for one chain's head: ``seq`` counts from 1 without gaps
and each record's ``hash`` is the SHA-256 of the previous record's hash and the record's fields in a
fixed, canonical JSON form (:func:`record_hash`). Altering, removing or inserting a record breaks
the chain at that point. The head of each chain is sealed now and then by an RFC 3161 time stamp
(:class:`~hcmgov.exchange.models.LogSeal`), which fixes everything before it in time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hcmgov.exchange.models import MessageLogRecord

GENESIS = "0" * 64

# The fields a record's hash covers, in this order (everything but the chain's own columns).
HASHED = (
    "node",
    "seq",
    "at",
    "request_id",
    "client_id",
    "consumer",
    "service",
    "method",
    "path",
    "end_user",
    "status",
    "error",
    "duration_ms",
    "request_bytes",
    "response_bytes",
    "request_sha256",
    "response_sha256",
    "bodies_sha256",
)


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float):
        return round(value, 3)
    return value


def record_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of ``prev_hash`` and the record's :data:`HASHED` fields as canonical JSON.
    The encrypted bodies enter by their own SHA-256 (``bodies_sha256``), so the hash does not
    depend on how they are stored."""
    data = [_canonical(fields.get(name)) for name in HASHED]
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def bodies_digest(bodies: bytes | memoryview | None) -> str:
    return hashlib.sha256(bytes(bodies)).hexdigest() if bodies else ""


def stored_fields(record: MessageLogRecord) -> dict[str, Any]:
    """A stored record's hashed fields, as :func:`record_hash` takes them."""
    values = {name: getattr(record, name) for name in HASHED if name != "bodies_sha256"}
    values["bodies_sha256"] = bodies_digest(record.bodies)
    return values


@dataclass
class Chain:
    """One node's chain head, kept by the process that writes it."""

    node: str
    seq: int = 0
    last_hash: str = GENESIS

    def link(self, fields: dict[str, Any]) -> MessageLogRecord:
        """The next record of the chain (not yet saved): ``fields`` as the gateway gathered them
        (without node, seq and the hashes)."""
        self.seq += 1
        values = {**fields, "node": self.node, "seq": self.seq}
        values["bodies_sha256"] = bodies_digest(fields.get("bodies"))
        digest = record_hash(values, self.last_hash)
        values.pop("bodies_sha256")
        record = MessageLogRecord(**values, prev_hash=self.last_hash, hash=digest)
        self.last_hash = digest
        return record


def chain_append(chain: Chain, entries: Sequence[dict[str, Any]]) -> list[MessageLogRecord]:
    """Link ``entries`` onto ``chain`` and store them in one INSERT. The chain's head moves only
    when the INSERT succeeded: on a failure the same entries can be tried again in the same
    places (the caller keeps them), so the chain never has a gap."""
    seq, last = chain.seq, chain.last_hash
    records = [chain.link(entry) for entry in entries]
    try:
        MessageLogRecord.objects.bulk_create(records)
    except Exception:
        chain.seq, chain.last_hash = seq, last
        raise
    return records
