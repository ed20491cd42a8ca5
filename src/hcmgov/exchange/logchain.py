"""The gateway's message log as a hash chain (X-Road's message log, in a lighter form).

Each gateway process (a *node*: host, process id and start time) appends its records to a chain of
its own, so that no two processes contend for one chain's head: ``seq`` counts from 1 without gaps
and each record's ``hash`` is the SHA-256 of the previous record's hash and the record's fields in a
fixed, canonical JSON form (:func:`record_hash`). Altering, removing or inserting a record breaks
the chain at that point. The head of each chain is sealed now and then by an RFC 3161 time stamp
(:class:`~hcmgov.exchange.models.LogSeal`), which fixes everything before it in time.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max, Min
from django.utils import timezone

from hcmgov.common.errors import DomainError, Message
from hcmgov.exchange.models import LogArchive, LogSeal, MessageLogRecord
from hcmgov.exchange.timestamps import TokenInvalid, stamp, token_check

log = logging.getLogger(__name__)

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


# json.dumps(data, ensure_ascii=False, separators=(",", ":")), with its encoder made once (dumps
# makes a new one on every call when given options): the same text
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _canonical(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int:  # most fields: as they are (bool is not int here: it goes on)
        return value
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
    payload = _CANONICAL_JSON.encode(data)
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def at_text(at: dt.datetime) -> str:
    """An instant as the canonical JSON holds it."""
    return _canonical(at)


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


# --- verification -------------------------------------------------------------------------------
#
# Each node's chain is walked from its start (seq 1 after GENESIS, or the record after its last
# archive), and the first thing wrong is named. On each record, in this order: its seq is the next
# one (else records are missing), its prev_hash is the previous record's hash (else the link is
# broken: a record rewritten hash and all, or one inserted), and its hash is what its fields give
# (else it was altered). A seal is checked at the record it names: the same hash, and a valid
# RFC 3161 token over that hash.

ARCHIVE_KIND = "exchange-log"  # the documents' platform files the archives are kept as
ARCHIVE_RECORDS = 50_000  # most records in one archive file
ARCHIVE_BYTES = 64 * 1024 * 1024  # an archive file is closed once this large (kept bodies can be big)


@dataclass(frozen=True)
class Problem:
    """The first thing wrong in one node's chain. ``kind``: ``missing`` (a gap), ``order`` (a
    record again or before its place), ``link``, ``altered``, ``seal``, ``token``, ``archive`` or
    ``unknown_node``; ``seq``: the record, seal or archive's first record it is at; ``expected`` and
    ``found``: the two values that differ, when there are two."""

    kind: str
    node: str
    seq: int | None
    message: Message
    expected: str = ""
    found: str = ""

    def __str__(self) -> str:
        return f"{self.message.vi} / {self.message.en}"


@dataclass
class NodeReport:
    """What the verification of one node's chain went through, and its first problem (or None)."""

    node: str
    records: int = 0
    seals: int = 0
    archives: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class VerifyReport:
    """The verification of the message log: one report per node, in node order."""

    nodes: list[NodeReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(node.ok for node in self.nodes)

    @property
    def problems(self) -> list[Problem]:
        return [node.problem for node in self.nodes if node.problem is not None]


class _Found(Exception):
    """Ends a node's walk at its first problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Walk:
    """One node's chain, record after record, with its seals (an iterator in seq order)."""

    def __init__(
        self, node: str, report: NodeReport, seals: Iterator[LogSeal], seq: int = 1, prev: str = GENESIS
    ) -> None:
        self.node, self.report, self.seals = node, report, seals
        self.seq, self.prev = seq, prev
        self.seal = next(seals, None)

    def problem(self, kind: str, seq: int | None, vi: str, en: str, expected: str = "", found: str = "") -> _Found:
        return _Found(Problem(kind, self.node, seq, Message(vi, en), expected, found))

    def record(self, record: MessageLogRecord) -> None:
        node, seq = self.node, record.seq
        if seq > self.seq:
            span = f"#{self.seq}" if seq == self.seq + 1 else f"#{self.seq}–#{seq - 1}"
            raise self.problem(
                "missing",
                self.seq,
                f"Thiếu bản ghi {node} {span}: chuỗi nhảy từ #{self.seq - 1} sang #{seq}.",
                f"Records {node} {span} are missing: the chain jumps from #{self.seq - 1} to #{seq}.",
                str(self.seq),
                str(seq),
            )
        if seq < self.seq:
            raise self.problem(
                "order",
                seq,
                f"Bản ghi {node} #{seq} lặp lại hoặc sai vị trí (chờ #{self.seq}).",
                f"Record {node} #{seq} repeats or is out of place (#{self.seq} expected).",
                str(self.seq),
                str(seq),
            )
        if record.prev_hash != self.prev:
            raise self.problem(
                "link",
                seq,
                f"Liên kết gãy tại {node} #{seq}: prev_hash {record.prev_hash} không phải băm của bản ghi trước "
                f"{self.prev} (bản ghi #{seq - 1} hoặc #{seq} đã bị viết lại hay chèn vào).",
                f"Broken link at {node} #{seq}: its prev_hash {record.prev_hash} is not the previous record's hash "
                f"{self.prev} (record #{seq - 1} or #{seq} was rewritten or inserted).",
                self.prev,
                record.prev_hash,
            )
        digest = record_hash(stored_fields(record), record.prev_hash)
        if digest != record.hash:
            raise self.problem(
                "altered",
                seq,
                f"Bản ghi {node} #{seq} đã bị sửa: băm tính lại {digest}, băm lưu {record.hash}.",
                f"Record {node} #{seq} was altered: its fields hash to {digest}, the stored hash is {record.hash}.",
                digest,
                record.hash,
            )
        self.report.records += 1
        while self.seal is not None and self.seal.seq <= seq:
            self.check_seal(self.seal, record.hash if self.seal.seq == seq else None)
        self.seq, self.prev = seq + 1, record.hash

    def skip(self, archive: LogArchive) -> None:
        """An archive taken on trust (its file not read): its range must come next, and its seals
        are checked against its last hash where they seal its last record, else by their token."""
        self.range_check(archive)
        while self.seal is not None and self.seal.seq <= archive.last_seq:
            self.check_seal(self.seal, archive.last_hash if self.seal.seq == archive.last_seq else None)
        self.seq, self.prev = archive.last_seq + 1, archive.last_hash

    def range_check(self, archive: LogArchive) -> None:
        if archive.first_seq != self.seq:
            raise self.problem(
                "archive",
                archive.first_seq,
                f"Tệp lưu trữ {self.node} #{archive.first_seq}–#{archive.last_seq} không nối tiếp chuỗi (chờ "
                f"#{self.seq}).",
                f"Archive {self.node} #{archive.first_seq}–#{archive.last_seq} does not continue the chain "
                f"(#{self.seq} expected).",
                str(self.seq),
                str(archive.first_seq),
            )

    def check_seal(self, seal: LogSeal, record_hash: str | None) -> None:
        """``record_hash``: the hash of the record the seal names, None when it is not at hand."""
        node, seq = self.node, seal.seq
        if record_hash is not None and seal.head_hash != record_hash:
            raise self.problem(
                "seal",
                seq,
                f"Dấu niêm phong {node} #{seq} không khớp: niêm phong băm {seal.head_hash}, bản ghi có băm "
                f"{record_hash}.",
                f"Seal {node} #{seq} does not match: it seals {seal.head_hash}, the record's hash is {record_hash}.",
                seal.head_hash,
                record_hash,
            )
        try:
            gen_time = token_check(token=bytes(seal.token), data=bytes.fromhex(seal.head_hash))
        except TokenInvalid as exc:
            raise self.problem(
                "token",
                seq,
                f"Dấu thời gian của niêm phong {node} #{seq} không hợp lệ: {exc.message.vi}.",
                f"The time stamp of seal {node} #{seq} is not valid: {exc.message.en}.",
            ) from exc
        if gen_time != seal.stamped_at:
            raise self.problem(
                "seal",
                seq,
                f"Niêm phong {node} #{seq} ghi thời điểm {seal.stamped_at.isoformat()}, dấu thời gian ghi "
                f"{gen_time.isoformat()}.",
                f"Seal {node} #{seq} says it was stamped at {seal.stamped_at.isoformat()}, its token says "
                f"{gen_time.isoformat()}.",
                gen_time.isoformat(),
                seal.stamped_at.isoformat(),
            )
        self.report.seals += 1
        self.seal = next(self.seals, None)

    def finish(self) -> None:
        """Seals left name records past the chain's end: the tail was removed."""
        if self.seal is not None:
            seq, last = self.seal.seq, self.seq - 1
            raise self.problem(
                "seal",
                seq,
                f"Dấu niêm phong {self.node} #{seq} chỉ tới bản ghi không còn trong nhật ký (chuỗi dừng ở #{last}).",
                f"Seal {self.node} #{seq} names record #{seq}, which is not in the log (the chain ends at #{last}).",
                str(seq),
                str(last),
            )


def chain_verify(*, node: str | None = None, archives: bool = False) -> VerifyReport:
    """Verify the message log: every node's chain (or ``node``'s), its links, hashes and seals,
    across its archives — taken on trust from their rows, or, with ``archives``, each file read
    again and checked (its SHA-256, then every record in it). Names the first problem of each
    node. On PostgreSQL the whole walk reads one snapshot, so a concurrent archive run cannot make
    records look missing."""
    with _snapshot():
        names = [node] if node is not None else _nodes()
        return VerifyReport([_verify_node(name, archives=archives) for name in names])


def _nodes() -> list[str]:
    found: set[str] = set()
    for model in (MessageLogRecord, LogSeal, LogArchive):
        found.update(model.objects.order_by().values_list("node", flat=True).distinct())
    return sorted(found)


@contextmanager
def _snapshot() -> Iterator[None]:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _verify_node(node: str, *, archives: bool) -> NodeReport:
    report = NodeReport(node)
    seals = LogSeal.objects.filter(node=node).order_by("seq").iterator(chunk_size=500)
    walk = _Walk(node, report, seals)
    rows = list(LogArchive.objects.filter(node=node).order_by("first_seq"))
    records = MessageLogRecord.objects.filter(node=node).order_by("seq")
    try:
        for archive in rows:
            if archives:
                _walk_archive(walk, archive)
            else:
                walk.skip(archive)
            report.archives += 1
        found = False
        for record in records.iterator(chunk_size=2000):
            found = True
            walk.record(record)
        if not (found or rows or walk.seal is not None):
            raise walk.problem(
                "unknown_node",
                None,
                f"Không có bản ghi, niêm phong hay tệp lưu trữ nào của {node}.",
                f"There are no records, seals or archives of {node}.",
            )
        walk.finish()
    except _Found as stop:
        report.problem = stop.problem
    return report


# --- archives -----------------------------------------------------------------------------------


def _row(record: MessageLogRecord) -> dict[str, Any]:
    """Every column of a record as JSON: times in ISO 8601 (UTC), bytes in base64."""
    row: dict[str, Any] = {}
    for column in record._meta.concrete_fields:
        value = getattr(record, column.attname)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat()
        elif isinstance(value, bytes | memoryview):
            value = base64.b64encode(bytes(value)).decode("ascii")
        row[column.attname] = value
    return row


def _unrow(row: dict[str, Any]) -> MessageLogRecord:
    """The record a line of an archive holds (unsaved), as :func:`_row` wrote it."""
    values: dict[str, Any] = {}
    for column in MessageLogRecord._meta.concrete_fields:
        value = row.get(column.attname)
        if value is not None and isinstance(column, models.DateTimeField):
            value = dt.datetime.fromisoformat(value)
        elif value is not None and isinstance(column, models.BinaryField):
            value = base64.b64decode(value)
        values[column.attname] = value
    return MessageLogRecord(**values)


def _walk_archive(walk: _Walk, archive: LogArchive) -> None:
    from hcmgov.documents import services as documents

    walk.range_check(archive)
    node, first, last = walk.node, archive.first_seq, archive.last_seq

    def problem(vi: str, en: str, expected: str = "", found: str = "") -> _Found:
        return walk.problem(
            "archive",
            first,
            f"Tệp lưu trữ {node} #{first}–#{last} ({archive.blob_key}): {vi}",
            f"Archive {node} #{first}–#{last} ({archive.blob_key}): {en}",
            expected,
            found,
        )

    try:
        data = documents.platform_file_read(key=archive.blob_key)
    except DomainError as exc:
        raise problem("không tìm thấy tệp.", "the file is not there.") from exc
    sha256 = hashlib.sha256(data).hexdigest()
    count = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as lines:
            for line in lines:
                record = _unrow(json.loads(line))
                if record.node != node:
                    raise problem(f"có bản ghi của nút khác ({record.node}).", f"it holds a record of {record.node}.")
                walk.record(record)  # a changed record is named before the file's changed SHA-256
                count += 1
    except (OSError, EOFError, zlib.error, ValueError, TypeError, AttributeError) as exc:  # not gzip, not JSON…
        raise problem(f"không đọc được ({exc}).", f"it cannot be read ({exc}).") from exc
    if sha256 != archive.sha256:
        raise problem(
            f"tệp đã bị thay đổi: SHA-256 {sha256}, khi lưu là {archive.sha256}.",
            f"the file was changed: its SHA-256 is {sha256}, it was {archive.sha256} when archived.",
            archive.sha256,
            sha256,
        )
    if count != archive.records or walk.seq != last + 1 or walk.prev != archive.last_hash:
        raise problem(
            f"nội dung không khớp dòng lưu trữ ({count} bản ghi tới #{walk.seq - 1}).",
            f"its content does not match its row ({count} records up to #{walk.seq - 1}).",
            f"{archive.records} records up to #{last}, {archive.last_hash}",
            f"{count} records up to #{walk.seq - 1}, {walk.prev}",
        )


def log_retention() -> dt.timedelta:
    """How long records stay in the database before :func:`log_archive` moves them out."""
    return dt.timedelta(days=settings.EXCHANGE_LOG_RETENTION_DAYS)


def log_archive(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> list[LogArchive]:
    """Move each node's records older than ``older_than`` out of the database: in seq order, as
    gzip JSON Lines (every column, bodies in base64) kept in the document store, a
    :class:`LogArchive` row, and the records deleted — each archive in one transaction, so a
    failure leaves its records in place. Seals stay.

    Only a prefix of a chain leaves, and only what a seal covers: the records up to the first one
    not older than the cutoff, and up to the node's last seal (a record must be sealed before it
    leaves the database, where the next seal would have found it). A chain that does not verify
    on the way is not archived — its records stay for ``hcmgov exchange verify`` to show — and the
    problem is logged."""
    cutoff = (now or timezone.now()) - older_than
    made: list[LogArchive] = []
    nodes = MessageLogRecord.objects.filter(at__lt=cutoff).order_by().values_list("node", flat=True).distinct()
    for node in sorted(set(nodes)):
        try:
            while (archive := _archive_next(node, cutoff)) is not None:
                made.append(archive)
        except _Found as stop:
            log.error(
                "exchange: log chain not archived: %s", stop.problem, extra={"node": node, "seq": stop.problem.seq}
            )
    return made


def _archive_next(node: str, cutoff: dt.datetime) -> LogArchive | None:
    from hcmgov.documents import services as documents

    records = MessageLogRecord.objects.filter(node=node)
    first = records.order_by("seq").values_list("seq", flat=True).first()
    if first is None:
        return None
    sealed = LogSeal.objects.filter(node=node).aggregate(top=Max("seq"))["top"] or 0
    young = records.filter(at__gte=cutoff).aggregate(low=Min("seq"))["low"]
    last = min(sealed, first + ARCHIVE_RECORDS - 1, young - 1 if young is not None else sealed)
    if last < first:
        return None
    previous = LogArchive.objects.filter(node=node).order_by("-last_seq").first()
    report = NodeReport(node)
    walk = _Walk(node, report, iter(()), *((previous.last_seq + 1, previous.last_hash) if previous else (1, GENESIS)))
    with transaction.atomic():
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as out:
            for record in records.filter(seq__gte=first, seq__lte=last).order_by("seq").iterator(chunk_size=2000):
                walk.record(record)  # what leaves the database must verify
                out.write(json.dumps(_row(record), ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                if buffer.tell() >= ARCHIVE_BYTES:
                    break
        if not report.records:  # the range went away meanwhile (a concurrent run archived it)
            return None
        data = buffer.getvalue()
        last = walk.seq - 1
        sha256 = hashlib.sha256(data).hexdigest()
        key = documents.platform_file_keep(data=data, kind=ARCHIVE_KIND)
        if hashlib.sha256(documents.platform_file_read(key=key)).hexdigest() != sha256:
            raise RuntimeError(f"archive {key} does not read back as written")  # the records are not deleted
        archive = LogArchive.objects.create(
            node=node,
            first_seq=first,
            last_seq=last,
            last_hash=walk.prev,
            records=report.records,
            blob_key=key,
            sha256=sha256,
        )
        deleted, _ = MessageLogRecord.objects.filter(node=node, seq__gte=first, seq__lte=last).delete()
        if deleted != report.records:  # a concurrent run took some: undo ours
            raise RuntimeError(f"{node} #{first}–#{last}: {deleted} records deleted, {report.records} archived")
    log.info("exchange: log archived", extra={"node": node, "first_seq": first, "last_seq": last, "key": key})
    return archive


# --- seals --------------------------------------------------------------------------------------


def log_seal(*, now: dt.datetime | None = None) -> list[LogSeal]:
    """Seal the head of every chain that grew since its last seal: an RFC 3161 time stamp, from
    the time-stamping authority that stamps signed results (``HCMGOV_TSA_URL``), over the hash of
    the newest record written up to ``now``. The tokens are checked, then stored together: with
    no authority configured, or one that does not answer with a valid token, nothing is stored
    and a :class:`DomainError` says why (the periodic task tries again)."""
    from hcmgov.documents.services import time_stamping_authority

    url, timeout = time_stamping_authority()
    if not url:
        raise DomainError(
            "tsa_not_configured",
            Message(
                "Chưa cấu hình máy chủ cấp dấu thời gian (HCMGOV_TSA_URL): nhật ký thông điệp chưa được niêm phong.",
                "No time-stamping authority is configured (HCMGOV_TSA_URL): the message log was not sealed.",
            ),
            status=503,
        )
    heads = _unsealed_heads(now or timezone.now())
    if not heads:
        return []
    try:
        tokens = stamp(data=[bytes.fromhex(head.hash) for head in heads], url=url, timeout=timeout)
    except Exception as exc:  # pyHanko's TimestampRequestError, an OSError, a rejection…
        raise DomainError(
            "tsa_unavailable",
            Message(
                f"Không lấy được dấu thời gian để niêm phong nhật ký thông điệp ({url}): {exc}. Sẽ thử lại sau.",
                f"The time-stamping authority ({url}) did not time-stamp the message log: {exc}. It will be "
                "tried again.",
            ),
            status=503,
        ) from exc
    seals = []
    for head, token in zip(heads, tokens, strict=True):
        try:
            stamped_at = token_check(token=token, data=bytes.fromhex(head.hash))
        except TokenInvalid as exc:
            raise DomainError(
                "tsa_bad_token",
                Message(
                    f"Máy chủ cấp dấu thời gian ({url}) trả về dấu thời gian không hợp lệ: {exc.message.vi}.",
                    f"The time-stamping authority ({url}) answered with an invalid time stamp: {exc.message.en}.",
                ),
                status=502,
            ) from exc
        seals.append(LogSeal(node=head.node, seq=head.seq, head_hash=head.hash, token=token, stamped_at=stamped_at))
    stored = []
    with transaction.atomic():
        for seal in seals:
            try:
                with transaction.atomic():
                    seal.save()
            except IntegrityError:  # a concurrent run sealed the same head
                continue
            stored.append(seal)
    return stored


def _unsealed_heads(now: dt.datetime) -> list[MessageLogRecord]:
    """Per node, the newest record written up to ``now``, when it is past the node's last seal."""
    sealed = dict(LogSeal.objects.order_by().values("node").annotate(top=Max("seq")).values_list("node", "top"))
    tops = MessageLogRecord.objects.order_by().values("node").annotate(top=Max("seq")).values_list("node", "top")
    heads = []
    for node, top in sorted(tops):
        done = sealed.get(node, 0)
        if top > done:
            head = (
                MessageLogRecord.objects.filter(node=node, seq__gt=done, at__lte=now)
                .order_by("-seq")
                .only("node", "seq", "hash")
                .first()
            )
            if head is not None:
                heads.append(head)
    return heads
