"""The audit trail as a hash chain (the design of the exchange's message log, ``exchange.logchain``,
for one chain written by every process).

Each linked event commits to the one before: ``seq`` counts from 1 without gaps and ``hash`` is the
SHA-256 of the previous event's hash and the event's fields in a fixed, canonical JSON form
(:func:`event_hash`). The business transaction only inserts its events, unlinked
(:func:`chain_record`); just after it commits, :func:`link_pending` links every committed unlinked
event in a short transaction of its own that locks the chain's head row (:class:`AuditHead`), so
two linkers never link onto the same event, and a rolled-back transaction leaves nothing. On
PostgreSQL (``AUDIT_LINK_BACKGROUND``) the commit only wakes the process's linker thread, which does
the same for everything committed meanwhile: the request does not wait for the head's lock and a
second commit. The chain's order is the order of linking. Altering, removing, inserting or reordering a linked event
breaks the chain at that point, and :func:`chain_verify` names it, as it names an event left
unlinked past the grace. The head is time-stamped now and then (RFC 3161, :func:`chain_anchor`),
which fixes everything before it in time — even against someone who can rewrite the whole table
and the head row.

Cost: inside the business transaction, the one INSERT the trail always cost; the head's lock is
held only by the linkers' short transactions, never by a business transaction (no waiting on
another dossier's commit, no deadlock through the chain).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from hcmgov.audit import sink
from hcmgov.audit.models import AuditAnchor, AuditEvent, AuditHead
from hcmgov.common.db import fast_create, fast_cursor
from hcmgov.common.errors import DomainError, Message

log = logging.getLogger(__name__)

GENESIS = "0" * 64
HEAD_ID = 1

# The fields an event's hash covers, in this order (everything but the id and the chain's columns).
HASHED = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "request_id",
    "before",
    "after",
    "auth_method",
    "assurance_level",
    "session_ref",
    "agency_id",
)

# json.dumps(..., ensure_ascii=False, separators=(",", ":"), sort_keys=True) with its encoder made
# once. Keys sorted: PostgreSQL's jsonb does not keep the order the before/after were written in.
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _plain(value: Any) -> Any:
    """A JSON value as it reads back from the database: keys as text, tuples as lists, and whole
    floats as integers (jsonb gives 1e20 back as 100000000000000000000, an int)."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is float:
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _canonical(name: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if name in ("before", "after"):
        return _plain(value)
    return value


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of ``prev_hash`` and the event's :data:`HASHED` fields as canonical JSON."""
    payload = _CANONICAL_JSON.encode([_canonical(name, fields.get(name)) for name in HASHED])
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def stored_fields(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in HASHED}


# --- recording and linking ---------------------------------------------------------------------
#
# The business transaction only INSERTs its events, unlinked (``seq`` NULL): it never touches the
# head. After it commits, ``link_pending`` links every committed unlinked event in a short
# transaction of its own. The head row's lock serialises the linkers (one per committing
# transaction, the periodic task), each sees only committed rows (READ COMMITTED: the read of the
# unlinked events is a statement after the lock was granted, so it sees what the previous linker
# committed), and the UPDATE only touches rows still unlinked: no event is linked twice.


class _Linker:
    """The on_commit callback of one transaction: links after commit, once however many events the
    transaction wrote, and fills in the chain's columns of the events it returned to its callers."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.events: list[AuditEvent] = []
        self.ran = False
        self.__qualname__ = "hcmgov.audit.chain.link_pending"  # named in Django's log when it fails

    def __call__(self) -> None:
        self.ran = True
        if settings.AUDIT_LINK_BACKGROUND:
            background.notify(self.alias)
        else:
            link_pending(using=self.alias, mine=self.events)


class _Background:
    """The process's linker thread (``AUDIT_LINK_BACKGROUND``): a committed transaction only wakes
    it, and it links everything committed and unlinked meanwhile in one short transaction. The
    request no longer waits for the head's lock and a second commit, and under load one link serves
    many requests (in process, one submission's median went from 82.6 to 70.6 ms on a loaded
    machine). Started on first use in each process (a forked worker gets its own); a linker that
    fails is logged and the next wake, or the periodic task ``audit.link``, links what it left.
    Idle for ``idle_seconds``, it gives its database connection back."""

    idle_seconds = 5.0

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """A new process's state (also after a fork, whose child may inherit the lock held)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0
        self._aliases: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def notify(self, alias: str) -> None:
        with self._lock:
            self._aliases.add(alias)
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()  # a fork does not carry the parent's thread along
                self._wake = threading.Event()
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="audit-linker", daemon=True)
                self._thread.start()
            self._wake.set()

    def _run(self) -> None:
        wake = self._wake
        try:
            while True:
                if not wake.wait(self.idle_seconds):
                    connections.close_all()  # this thread's own connections
                    wake.wait()
                wake.clear()
                with self._lock:
                    if self._stopping:
                        return  # stop() links what is left
                    aliases, self._aliases = self._aliases, set()
                for alias in aliases:
                    try:
                        link_pending(using=alias)
                    except Exception:
                        log.exception("audit: background linking failed; the next commit or audit.link retries")
                        connections[alias].close()
        finally:
            connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Link what is pending and end the thread (tests; the process's exit)."""
        with self._lock:
            thread = self._thread if self._pid == os.getpid() else None
            if thread is None:
                return
            self._stopping = True
            self._wake.set()
        thread.join(timeout)
        with self._lock:
            aliases, self._aliases = self._aliases, set()
            self._thread = None
        for alias in aliases:
            link_pending(using=alias)


background = _Background()
os.register_at_fork(after_in_child=background._reset)


@atexit.register
def _at_exit() -> None:
    try:
        background.stop(timeout=5.0)
    except Exception:  # the database gone first: audit.link links it later
        log.warning("audit: events left unlinked at exit", exc_info=True)


def chain_record(values: dict[str, Any], *, alias: str = DEFAULT_DB_ALIAS) -> AuditEvent:
    """Store an event (``values``: every field but id and the chain's) unlinked, in the caller's
    transaction: one INSERT, no lock. Its transaction links it once committed (one
    :func:`link_pending` per transaction, not per event); a rolled-back transaction leaves nothing.
    The returned event gets its ``seq`` and ``hash`` when this transaction's linker links it."""
    event = fast_create(AuditEvent, {**values, "seq": None, "prev_hash": "", "hash": ""}, alias=alias)
    db: Any = connections[alias]
    linker = None
    if db.in_atomic_block:
        # Already registered in this transaction (and not dropped with a rolled-back savepoint)?
        for _sids, func, _robust in reversed(db.run_on_commit):
            if isinstance(func, _Linker) and not func.ran:  # ran: a test's capture of on_commit
                linker = func
                break
    if linker is None:
        linker = _Linker(alias)
        linker.events.append(event)
        # robust: the change is committed already; a linker that fails is logged, and the
        # periodic task ``audit.link`` links what it left
        transaction.on_commit(linker, using=alias, robust=True)
    else:
        linker.events.append(event)
    return event


_LINK_SQL: dict[tuple[str, str], tuple[str, str]] = {}


def _link_sql(alias: str, table: str) -> tuple[str, str]:
    """The head's locking read, and (PostgreSQL) the UPDATE that links a whole batch and moves the
    head in one statement: fixed texts (arrays, not a VALUES list as long as the batch), so psycopg
    prepares them once per connection."""
    key = (alias, table)
    if key not in _LINK_SQL:
        db: Any = connections[alias]
        qn = db.ops.quote_name
        head = qn(AuditHead._meta.db_table)
        lock = " FOR UPDATE" if db.features.has_select_for_update else ""
        events = qn(table)
        update = (
            f"WITH moved AS (UPDATE {head} SET seq = %s, hash = %s WHERE id = {HEAD_ID}) "  # noqa: S608
            f"UPDATE {events} AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[]) AS v(id, seq, prev_hash, hash) "
            "WHERE e.id = v.id AND e.seq IS NULL"
        )
        head_sql = f"SELECT seq, hash FROM {head} WHERE id = {HEAD_ID}{lock}"  # noqa: S608
        if db.vendor == "postgresql":
            # For this transaction only, no bitmap scans: the read of the unlinked events must walk
            # the partial index ``audit_unlinked`` in a plain index scan, which marks the entries of
            # events linked since (dead until the next VACUUM) as such and skips them from then on;
            # a bitmap scan (the planner's pick when it expects a few rows) visits every one of them
            # in the table again at each link: measured 3–5 ms instead of 0.1 ms after a busy hour.
            head_sql = (
                f"SELECT seq, hash, set_config('enable_bitmapscan', 'off', true) FROM {head} "  # noqa: S608
                f"WHERE id = {HEAD_ID}{lock}"
            )
        _LINK_SQL[key] = (head_sql, update)
    return _LINK_SQL[key]


def _head_create(alias: str) -> None:
    """The head row, after a flush emptied the table (the migration makes it): a chain starting
    at GENESIS. Two creators racing: one wins, the other's row is the same."""
    try:
        with transaction.atomic(using=alias):
            AuditHead.objects.using(alias).get_or_create(id=HEAD_ID, defaults={"seq": 0, "hash": GENESIS})
    except IntegrityError:
        pass


class LinkRace(Exception):
    """An event of the batch was linked by someone else meanwhile: the batch is rolled back."""


def _link_batch(alias: str, model: Any, batch: int) -> list[Any]:
    """One short transaction: lock the head, link up to ``batch`` committed unlinked events in id
    order, move the head. Returns the events linked (their chain's columns filled in)."""
    db: Any = connections[alias]
    head_model = AuditHead if model is AuditEvent else model._meta.apps.get_model("audit", "AuditHead")
    head_sql, update_sql = _link_sql(alias, model._meta.db_table)
    with transaction.atomic(using=alias):
        with fast_cursor(alias) as cursor:
            cursor.execute(head_sql)
            row = cursor.fetchone()
            if row is None:
                _head_create(alias)
                cursor.execute(head_sql)
                row = cursor.fetchone()
        seq, prev = int(row[0]), row[1]
        rows = list(model.objects.using(alias).filter(seq__isnull=True).order_by("id")[:batch])
        if not rows:
            return []
        for event in rows:
            seq += 1
            event.seq, event.prev_hash = seq, prev
            event.hash = prev = event_hash(stored_fields(event), prev)
        if db.vendor == "postgresql":
            with fast_cursor(alias) as cursor:
                cursor.execute(
                    update_sql,
                    [
                        seq,
                        prev,
                        [e.pk for e in rows],
                        [e.seq for e in rows],
                        [e.prev_hash for e in rows],
                        [e.hash for e in rows],
                    ],
                )
                done = cursor.rowcount
        else:  # one UPDATE … CASE per batch (SQLite: writers serialised by BEGIN IMMEDIATE already)
            ids = [e.pk for e in rows]

            def case(name: str) -> Case:
                return Case(*(When(pk=e.pk, then=Value(getattr(e, name))) for e in rows))

            done = (
                model.objects.using(alias)
                .filter(pk__in=ids, seq__isnull=True)
                .update(seq=case("seq"), prev_hash=case("prev_hash"), hash=case("hash"))
            )
            head_model.objects.using(alias).filter(id=HEAD_ID).update(seq=seq, hash=prev)
        if done != len(rows):
            raise LinkRace(f"{len(rows) - done} of {len(rows)} events were linked meanwhile")
    return rows


def link_pending(
    *,
    batch: int = 500,
    using: str = DEFAULT_DB_ALIAS,
    model: Any = AuditEvent,
    mine: list[AuditEvent] | None = None,
) -> int:
    """Link the committed events that have no place in the chain yet, in id order, ``batch`` at a
    time, each batch in a short transaction of its own (run it outside any transaction: inside one,
    the head would stay locked until that one ends). The chain's order is the order of linking.

    Called after commit by every transaction that recorded events, by the periodic task
    ``audit.link`` (events of a process that died between its commit and its link), and by the
    migration that linked the events written before the chain (``model``: its historical model).
    ``mine``: the events the calling transaction returned, filled in when linked here. Each linked
    event goes to the sink after its batch commits. Returns how many were linked."""
    if not connections[using].features.has_select_for_update:
        batch = min(batch, 300)  # SQLite: the CASE's parameters stay under its limit
    wanted = {e.pk: e for e in mine} if mine else {}
    done = races = 0
    while True:
        try:
            rows = _link_batch(using, model, batch)
        except LinkRace:  # cannot happen under the head's lock; never link twice if it does
            races += 1
            if races > 3:
                raise
            log.warning("audit: a linking batch raced with another linker, trying again")
            continue
        done += len(rows)
        for event in rows:
            if event.pk in wanted:
                mine_event = wanted[event.pk]
                mine_event.seq, mine_event.prev_hash, mine_event.hash = event.seq, event.prev_hash, event.hash
        if rows and model is AuditEvent and sink.configured():
            transaction.on_commit(functools.partial(_ship, rows), using=using, robust=True)
        if len(rows) < batch:  # events committed later are linked by their own transaction's linker
            return done


def _ship(rows: list[AuditEvent]) -> None:
    for event in rows:
        sink.ship(event)


# --- verification -------------------------------------------------------------------------------
#
# The chain is walked from seq 1 after GENESIS. On each event, in this order: its seq is the next
# one (else events are missing), its prev_hash is the previous event's hash (else the link is
# broken: an event rewritten hash and all, inserted, or moved — moved when its prev_hash is the
# hash of another event of the chain), and its hash is what its fields give (else it was altered).
# An anchor is checked at the event it names: the same hash, and a valid RFC 3161 token over it.
# At the end the last event must be the head row's, and no anchor may name an event past it.


@dataclass(frozen=True)
class Problem:
    """The first thing wrong in the chain. ``kind``: ``missing`` (a gap, or the tail cut off),
    ``order`` (an event in another's place), ``link``, ``altered``, ``head`` (the head row is not
    the last event), ``anchor``, ``token`` or ``unlinked`` (an event left out of the chain past the
    grace: ``found`` is its id); ``seq``: the event or anchor it is at (None for ``unlinked``);
    ``expected`` and ``found``: the two values that differ, when there are two."""

    kind: str
    seq: int | None
    message: Message
    expected: str = ""
    found: str = ""

    def __str__(self) -> str:
        return f"{self.message.vi} / {self.message.en}"


@dataclass
class VerifyReport:
    """What the verification went through, and its first problem (None: the chain is intact)."""

    events: int = 0
    anchors: int = 0
    last_anchor: AuditAnchor | None = None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Found(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _problem(kind: str, seq: int | None, vi: str, en: str, expected: str = "", found: str = "") -> _Found:
    return _Found(Problem(kind, seq, Message(vi, en), expected, found))


class _Walk:
    def __init__(self, report: VerifyReport, anchors: Iterator[AuditAnchor]) -> None:
        self.report, self.anchors = report, anchors
        self.seq, self.prev = 1, GENESIS
        self.anchor = next(anchors, None)

    def event(self, event: AuditEvent) -> None:
        seq = event.seq
        assert seq is not None  # the walk reads linked events only
        if seq > self.seq:
            span = f"#{self.seq}" if seq == self.seq + 1 else f"#{self.seq}–#{seq - 1}"
            raise _problem(
                "missing",
                self.seq,
                f"Thiếu bản ghi {span}: chuỗi nhảy từ #{self.seq - 1} sang #{seq}.",
                f"Event(s) {span} missing: the chain jumps from #{self.seq - 1} to #{seq}.",
                str(self.seq),
                str(seq),
            )
        if event.prev_hash != self.prev:
            moved = (
                AuditEvent.objects.filter(hash=event.prev_hash).exclude(pk=event.pk).values_list("seq", flat=True)
            ).first()
            if moved is not None:
                raise _problem(
                    "order",
                    seq,
                    f"Bản ghi #{seq} sai vị trí: nó được nối sau bản ghi đang ở #{moved}, không phải sau #{seq - 1} "
                    f"(thứ tự bản ghi đã bị đổi).",
                    f"Event #{seq} is out of place: it was linked after the event now at #{moved}, not after "
                    f"#{seq - 1} (events were reordered).",
                    self.prev,
                    event.prev_hash,
                )
            raise _problem(
                "link",
                seq,
                f"Liên kết gãy tại #{seq}: prev_hash {event.prev_hash} không phải băm của bản ghi trước {self.prev} "
                f"(bản ghi #{seq - 1} hoặc #{seq} đã bị viết lại hay chèn vào).",
                f"Broken link at #{seq}: its prev_hash {event.prev_hash} is not the previous event's hash "
                f"{self.prev} (event #{seq - 1} or #{seq} was rewritten or inserted).",
                self.prev,
                event.prev_hash,
            )
        digest = event_hash(stored_fields(event), event.prev_hash)
        if digest != event.hash:
            raise _problem(
                "altered",
                seq,
                f"Bản ghi #{seq} (id {event.pk}) đã bị sửa: băm tính lại {digest}, băm lưu {event.hash}.",
                f"Event #{seq} (id {event.pk}) was altered: its fields hash to {digest}, the stored hash is "
                f"{event.hash}.",
                digest,
                event.hash,
            )
        self.report.events += 1
        while self.anchor is not None and self.anchor.seq <= seq:
            self.check_anchor(self.anchor, event.hash if self.anchor.seq == seq else None)
        self.seq, self.prev = seq + 1, event.hash

    def check_anchor(self, anchor: AuditAnchor, event_hash: str | None) -> None:
        from hcmgov.exchange.timestamps import TokenInvalid, token_check

        seq = anchor.seq
        if event_hash is not None and anchor.head_hash != event_hash:
            raise _problem(
                "anchor",
                seq,
                f"Dấu thời gian neo #{seq} không khớp: neo băm {anchor.head_hash}, bản ghi có băm {event_hash}.",
                f"Anchor #{seq} does not match: it anchors {anchor.head_hash}, the event's hash is {event_hash}.",
                anchor.head_hash,
                event_hash,
            )
        try:
            gen_time = token_check(token=bytes(anchor.token), data=bytes.fromhex(anchor.head_hash))
        except TokenInvalid as exc:
            raise _problem(
                "token",
                seq,
                f"Dấu thời gian của neo #{seq} không hợp lệ: {exc.message.vi}.",
                f"The time stamp of anchor #{seq} is not valid: {exc.message.en}.",
            ) from exc
        if gen_time != anchor.stamped_at:
            raise _problem(
                "anchor",
                seq,
                f"Neo #{seq} ghi thời điểm {anchor.stamped_at.isoformat()}, dấu thời gian ghi {gen_time.isoformat()}.",
                f"Anchor #{seq} says it was stamped at {anchor.stamped_at.isoformat()}, its token says "
                f"{gen_time.isoformat()}.",
                gen_time.isoformat(),
                anchor.stamped_at.isoformat(),
            )
        self.report.anchors += 1
        self.report.last_anchor = anchor
        self.anchor = next(self.anchors, None)

    def finish(self, head: AuditHead | None) -> None:
        last = self.seq - 1
        if self.anchor is not None:
            seq = self.anchor.seq
            raise _problem(
                "missing",
                last + 1,
                f"Thiếu bản ghi #{last + 1}–#{seq}: dấu thời gian neo #{seq} chỉ tới bản ghi không còn trong nhật ký "
                f"(chuỗi dừng ở #{last}).",
                f"Event(s) #{last + 1}–#{seq} missing: anchor #{seq} names an event no longer in the trail (the "
                f"chain ends at #{last}).",
                str(seq),
                str(last),
            )
        head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
        if head_seq > last:
            raise _problem(
                "missing",
                last + 1,
                f"Thiếu bản ghi #{last + 1}–#{head_seq}: đầu chuỗi ở #{head_seq}, chuỗi dừng ở #{last}.",
                f"Event(s) #{last + 1}–#{head_seq} missing: the chain's head is #{head_seq}, the chain ends at "
                f"#{last}.",
                str(head_seq),
                str(last),
            )
        if head_seq != last or head_hash != self.prev:
            raise _problem(
                "head",
                last,
                f"Đầu chuỗi (#{head_seq}, {head_hash}) không phải bản ghi cuối (#{last}, {self.prev}).",
                f"The chain's head (#{head_seq}, {head_hash}) is not its last event (#{last}, {self.prev}).",
                f"#{head_seq} {head_hash}",
                f"#{last} {self.prev}",
            )


@contextmanager
def _snapshot() -> Iterator[None]:
    """On PostgreSQL the whole walk reads one snapshot: events appended meanwhile are not half seen."""
    connection: Any = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _unlinked(grace: float, now: dt.datetime) -> None:
    """An event committed but still not linked after ``grace`` seconds: its transaction's linker
    failed or its process died, and the periodic task ``audit.link`` has not linked it either (not
    running?). Until linked it is in no anchor and no copy in the sink."""
    stale = (
        AuditEvent.objects.filter(seq__isnull=True, at__lt=now - dt.timedelta(seconds=grace))
        .order_by("id")
        .values_list("id", "at")
    )
    found = stale.first()
    if found is None:
        return
    pk, at = found
    count = stale.count()
    others = (f" (và {count - 1} bản ghi khác)", f" (and {count - 1} more)") if count > 1 else ("", "")
    raise _problem(
        "unlinked",
        None,
        f"Bản ghi id {pk} (ghi lúc {at.isoformat()}) chưa được nối vào chuỗi sau {grace:g} giây{others[0]}: "
        "tác vụ audit.link có chạy không?",
        f"Event id {pk} (recorded {at.isoformat()}) is still not linked into the chain after {grace:g} "
        f"seconds{others[1]}: is the audit.link task running?",
        f"nối trong / linked within {grace:g} s",
        str(pk),
    )


def chain_verify(*, grace: float | None = None, now: dt.datetime | None = None) -> VerifyReport:
    """Walk the whole chain and its anchors, then look for events left unlinked longer than
    ``grace`` seconds (``HCMGOV_AUDIT_LINK_GRACE_SECONDS``); the report names the first problem.
    Younger unlinked events are being linked (their transaction just committed): not a problem."""
    from django.conf import settings

    report = VerifyReport()
    with _snapshot():
        anchors = AuditAnchor.objects.order_by("seq").iterator(chunk_size=500)
        walk = _Walk(report, anchors)
        try:
            for event in AuditEvent.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=2000):
                walk.event(event)
            walk.finish(AuditHead.objects.filter(id=HEAD_ID).first())
            _unlinked(settings.AUDIT_LINK_GRACE_SECONDS if grace is None else grace, now or timezone.now())
        except _Found as stop:
            report.problem = stop.problem
    return report


# --- anchors ------------------------------------------------------------------------------------


def chain_anchor(*, now: dt.datetime | None = None) -> AuditAnchor | None:
    """Time-stamp the chain's head when it grew since the last anchor: an RFC 3161 token, from the
    authority that stamps signed results (``HCMGOV_TSA_URL``), over the hash of the newest event
    written up to ``now``. The token is checked before it is stored; with no authority configured,
    or one that does not answer with a valid token, nothing is stored and a :class:`DomainError`
    says why (the periodic task tries again). None: nothing new to anchor."""
    from hcmgov.documents.services import time_stamping_authority
    from hcmgov.exchange.timestamps import TokenInvalid, stamp, token_check

    url, timeout = time_stamping_authority()
    if not url:
        raise DomainError(
            "tsa_not_configured",
            Message(
                "Chưa cấu hình máy chủ cấp dấu thời gian (HCMGOV_TSA_URL): nhật ký kiểm toán chưa được neo.",
                "No time-stamping authority is configured (HCMGOV_TSA_URL): the audit trail was not anchored.",
            ),
            status=503,
        )
    done = AuditAnchor.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    head = (
        AuditEvent.objects.filter(seq__gt=done, at__lte=now or timezone.now())
        .order_by("-seq")
        .only("seq", "hash")
        .first()
    )
    if head is None or head.seq is None:
        return None
    data = bytes.fromhex(head.hash)
    try:
        [token] = stamp(data=[data], url=url, timeout=timeout)
    except Exception as exc:  # pyHanko's TimestampRequestError, an OSError, a rejection…
        raise DomainError(
            "tsa_unavailable",
            Message(
                f"Không lấy được dấu thời gian để neo nhật ký kiểm toán ({url}): {exc}. Sẽ thử lại sau.",
                f"The time-stamping authority ({url}) did not time-stamp the audit trail: {exc}. It will be tried "
                "again.",
            ),
            status=503,
        ) from exc
    try:
        stamped_at = token_check(token=token, data=data)
    except TokenInvalid as exc:
        raise DomainError(
            "tsa_bad_token",
            Message(
                f"Máy chủ cấp dấu thời gian ({url}) trả về dấu thời gian không hợp lệ: {exc.message.vi}.",
                f"The time-stamping authority ({url}) answered with an invalid time stamp: {exc.message.en}.",
            ),
            status=502,
        ) from exc
    try:
        with transaction.atomic():
            return AuditAnchor.objects.create(seq=head.seq, head_hash=head.hash, token=token, stamped_at=stamped_at)
    except IntegrityError:  # a concurrent run anchored the same head
        return None
