"""The edge's control plane: one Python process beside its nginx (``hcmgov exchange edge``).

It writes nginx's configuration and the registry from the registry's snapshot, starts nginx, and
then, in a loop:

- **ships the message log**: nginx writes one line per call to ``access.log``: the record
  ``gateway.lua`` made and linked onto its worker's hash chain, as a row of PostgreSQL's COPY
  text format (``config.LOG_LINE``). The control plane checks each line's shape, counts it (the
  metrics, the quotas) and stores them in batches as they are
  (:class:`~hcmgov.exchange.gateway.logwriter.LogWriter`), and keeps the offset it has stored up
  to in ``access.pos``. A restart reads again from that offset and skips the records already
  stored (same node and seq), so nothing is lost or stored twice. The file is rotated (renamed,
  nginx told to reopen) once it is large and fully read.
- **re-reads the registry** every ``EXCHANGE_REGISTRY_REFRESH`` seconds and reloads nginx
  (gracefully: calls in flight finish on the old workers) when services, systems, rights or keys
  changed;
- **counts each system's calls of the day** (Vietnam's day) from the lines it ships, and marks a
  system over its daily quota in the registry when it reaches it. nginx itself counts the quota
  on the exact call (``gateway.lua``: counters shared by the workers, seeded from the message
  log's count when the control plane starts); this count is what a new nginx starts from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from hcmgov.common import metrics
from hcmgov.exchange import selectors
from hcmgov.exchange.edge import config
from hcmgov.exchange.gateway.logwriter import COLUMNS, LogWriter, copy_unescape
from hcmgov.exchange.models import MessageLogRecord
from hcmgov.exchange.selectors import Snapshot

log = logging.getLogger("hcmgov.exchange.edge")

VN = dt.timezone(dt.timedelta(hours=7))
ROTATE_BYTES = 64 * 1024 * 1024
COUNTED_OUT = frozenset(  # refusals that took nothing of a system's quota (the Python limiter's view)
    {
        "exchange_unauthenticated",
        "exchange_unknown_client",
        "exchange_no_right",
        "exchange_rate_limited",
        "exchange_daily_quota",
        "exchange_bad_header",
        "exchange_unknown_service",
    }
)


def edge_settings(
    *, port: int | None = None, workers: int | None = None, directory: Path | None = None
) -> config.EdgeSettings:
    user, group = config.worker_user()
    return config.EdgeSettings(
        user=user,
        user_group=group,
        port=port if port is not None else int(settings.EXCHANGE_EDGE_PORT),
        workers=workers if workers is not None else int(settings.EXCHANGE_EDGE_WORKERS),
        directory=directory or Path(settings.VAR_DIR) / "edge",
        python_gateway=settings.EXCHANGE_GATEWAY_URL,
        modules=tuple(settings.EXCHANGE_EDGE_MODULES.split()),
        tls_certificate=settings.EXCHANGE_EDGE_TLS_CERTIFICATE,
        tls_key=settings.EXCHANGE_EDGE_TLS_KEY,
        tls_client_ca=settings.EXCHANGE_EDGE_TLS_CLIENT_CA,
    )


WIDTH = len(COLUMNS)


class Lines:
    """nginx's lines into records: each line a row of COPY's text format (:data:`logwriter.COLUMNS`),
    made and linked by ``gateway.lua``. A line of the wrong shape (one nginx wrote without the
    module's record: ``-``) cannot become a record: it is logged with its text and counted.

    A record is a tuple (the edge ships thousands a second): the line (without its newline), node,
    seq, the whole second of its instant since the epoch, client id, service, status, error,
    seconds taken."""

    def __init__(self) -> None:
        self._head = ""
        self._epoch = 0

    def records(self, complete: bytes) -> list[Record]:
        out: list[Record] = []
        head, epoch = self._head, self._epoch
        for line in complete.decode("utf-8", "replace").split("\n"):
            if not line:
                continue
            f = line.split("\t")
            # what COPY would refuse the whole batch for, checked here: the shape, the numbers
            if (
                len(f) != WIDTH
                or f[17] != "\\N"
                or len(f[19]) != 64
                or len(f[2]) != 27
                or not (f[1].isdigit() and f[10].isdigit() and f[13].isdigit() and f[14].isdigit())
                or not (f[1] + f[10] + f[13] + f[14]).isascii()
            ):
                self._malformed(line)
                continue
            try:
                seconds = float(f[12]) / 1000
                if f[2][:19] != head:
                    head = f[2][:19]
                    epoch = int(dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp())
            except ValueError:
                self._malformed(line)
                continue
            if line.count("\\") == 1:  # only the NULL of the bodies: no field escaped
                client, service, error = f[4], f[6], f[11]
            else:
                client, service, error = copy_unescape(f[4]), copy_unescape(f[6]), copy_unescape(f[11])
            out.append((line, f[0], int(f[1]), epoch, client, service, int(f[10]), error, seconds))
        self._head, self._epoch = head, epoch
        return out

    @staticmethod
    def _malformed(line: str) -> None:
        log.error("edge: a malformed line of nginx's log, not stored", extra={"line": line[:2000]})
        metrics.EXCHANGE_CALLS.labels("-", "0", "exchange_log_malformed").inc()


Record = tuple[str, str, int, int, str, str, int, str, float]


@dataclass
class Quotas:
    """Calls of the day per system (Vietnam's day), from the lines shipped."""

    day: str = ""
    used: dict[str, int] = field(default_factory=dict)
    _day_starts: int = 2**62  # the day of ``used``, in seconds since the epoch (none yet: every line is another day)
    _day_ends: int = -(2**62)

    def count(self, second: int, client_id: str, error: str) -> None:
        if not client_id or error in COUNTED_OUT:
            return
        if not self._day_starts <= second < self._day_ends:  # another day (a new one, or a late line)
            local = dt.datetime.fromtimestamp(second, VN)
            day = local.strftime("%Y%m%d")
            if day != self.day:
                self.day, self.used = day, {}
            self._day_starts = second - (second + 7 * 3600) % 86400  # Vietnam's midnight (UTC+7, no DST)
            self._day_ends = self._day_starts + 86400
        used = self.used
        used[client_id] = used.get(client_id, 0) + 1

    def load(self, now: float) -> None:
        """Start from what the message log holds for today (every gateway process's calls)."""
        start = dt.datetime.fromtimestamp(now, VN).replace(hour=0, minute=0, second=0, microsecond=0)
        self.day = start.strftime("%Y%m%d")
        rows = (
            MessageLogRecord.objects.filter(at__gte=start)
            .exclude(client_id="")
            .exclude(error__in=COUNTED_OUT)
            .values_list("client_id")
        )
        self.used = {}
        for (client_id,) in rows.iterator(chunk_size=5000):
            self.used[client_id] = self.used.get(client_id, 0) + 1

    def over(self, snapshot: Snapshot, now: float) -> set[str]:
        if dt.datetime.fromtimestamp(now, VN).strftime("%Y%m%d") != self.day:
            self.day, self.used = dt.datetime.fromtimestamp(now, VN).strftime("%Y%m%d"), {}
        return {
            c.client_id
            for c in snapshot.consumers.values()
            if c.daily_quota and self.used.get(c.client_id, 0) >= c.daily_quota
        }


class Edge:
    def __init__(self, edge: config.EdgeSettings, *, writer: LogWriter | None = None, nginx: str | None = None):
        self.settings = edge
        self.dir = edge.directory
        self.nginx = nginx or settings.EXCHANGE_EDGE_NGINX
        self.writer = writer or LogWriter(interval=settings.EXCHANGE_LOG_INTERVAL)
        self.process: subprocess.Popen[bytes] | None = None
        self.snapshot = Snapshot()
        self.quotas = Quotas()
        self.over: set[str] = set()
        self.written: tuple[str, str] = ("", "")
        self.shipped = 0
        self._log = self.dir / "access.log"
        self._pos_file = self.dir / "access.pos"
        self._offset = 0
        self._inode = 0
        self._pending = b""
        self._uncertain_until = -1  # after a restart: lines up to this offset may be stored already
        self._seed: tuple[str, dict[str, int]] = ("", {})  # nginx's quota counters at start: day, calls
        self._lines = Lines()
        self._counters: dict[tuple[str, int, str], Any] = {}
        self._histograms: dict[str, Any] = {}

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.tls_certificate else "http"
        return f"{scheme}://{self.settings.host}:{self.settings.port}"

    # --- configuration ---------------------------------------------------------------------------

    def write(self) -> bool:
        """Write nginx.conf and registry.json from the snapshot; whether anything changed."""
        conf = config.nginx_conf(self.snapshot, self.settings)
        reg = config.registry_json(
            config.registry(
                self.snapshot, over_quota=self.over, used=self._seed[1], day=self._seed[0], node=self.writer.node
            )
        )
        if (conf, reg) == self.written:
            return False
        for name, text in (("registry.json", reg), ("nginx.conf", conf)):
            path = self.dir / name
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the token keys are in it
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            tmp.replace(path)
        self.written = (conf, reg)
        return True

    def refresh(self, *, now: float | None = None) -> bool:
        """Re-read the registry; reload nginx when its configuration changed."""
        close_old_connections()
        self.snapshot = selectors.registry_snapshot(now=time.time())
        self.over = self.quotas.over(self.snapshot, now or time.time())
        changed = self.write()
        if changed and self.process is not None:
            self.reload()
        return changed

    def check(self) -> None:
        done = subprocess.run(  # noqa: S603 - our nginx, our configuration
            [self.nginx, "-t", "-q", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"nginx -t: {done.stderr.strip()}")

    def reload(self) -> None:
        try:
            self.check()
        except RuntimeError:
            log.exception("edge: the new configuration is refused; the running one stays")
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    # --- the process -----------------------------------------------------------------------------

    def start(self, *, timeout: float = 15.0) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        temp = self.settings.temp
        for path in (temp, *(temp / sub for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.settings.user:  # nginx started as root: its workers run as this user and write there
                shutil.chown(path, self.settings.user, self.settings.user_group)
        self._resume()
        now = time.time()
        self.quotas.load(now)
        # nginx's counters of the day start from what the message log holds (read once: a reload
        # keeps nginx's own counters, which are ahead of the log)
        self._seed = (str(int((now + 7 * 3600) // 86400)), dict(self.quotas.used))
        self.refresh()
        self.check()
        self.writer.start()
        self.process = subprocess.Popen(  # noqa: S603
            [self.nginx, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1, context=self._probe_tls()).read()  # noqa: S310
                return
            except OSError:
                if self.process.poll() is not None:
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise RuntimeError(f"nginx stopped: {err.strip()}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _probe_tls(self) -> ssl.SSLContext | None:
        """The liveness probe of our own child nginx on its local address: that it answers, not who
        it is (its certificate names the public host)."""
        if not self.settings.tls_certificate:
            return None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGQUIT)  # graceful: calls in flight finish, logs flushed
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        self.ship()
        self.writer.stop()

    def run(self, *, stop: Any = None, ship_every: float = 0.05) -> None:
        """The loop: ship the log, re-read the registry every few seconds (until ``stop()`` is true
        or nginx ends)."""
        next_refresh = time.monotonic() + settings.EXCHANGE_REGISTRY_REFRESH
        while not (stop and stop()):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"nginx ended with code {self.process.returncode}")
            try:
                self.ship()
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + settings.EXCHANGE_REGISTRY_REFRESH
                    self.refresh()
            except Exception:  # the database is away: nginx goes on, the lines wait in the file
                log.exception("edge: control loop")
                close_old_connections()
                time.sleep(1.0)
            time.sleep(ship_every)

    # --- the message log -------------------------------------------------------------------------

    def _resume(self) -> None:
        try:
            saved = json.loads(self._pos_file.read_text())
            self._offset, self._inode = int(saved["offset"]), int(saved["inode"])
        except (OSError, ValueError, KeyError):
            self._offset, self._inode = 0, 0
        try:
            stat = self._log.stat()
        except FileNotFoundError:
            self._offset, self._inode = 0, 0
            return
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._offset, self._inode = 0, stat.st_ino  # another file: read it whole, checking each line
        self._uncertain_until = stat.st_size

    def _save_position(self) -> None:
        tmp = self._pos_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset": self._offset, "inode": self._inode}))
        tmp.replace(self._pos_file)

    def ship(self) -> int:
        """Store the lines nginx has written since the last call; how many."""
        if self.writer.pending() and not self.writer.flush(timeout=5.0):
            raise RuntimeError("edge: the message log could not be written (kept, tried again)")
        try:
            stat = self._log.stat()
        except FileNotFoundError:
            return 0
        if stat.st_ino != self._inode:
            self._inode, self._offset, self._pending = stat.st_ino, 0, b""
        if stat.st_size <= self._offset:
            return 0
        with self._log.open("rb") as f:
            f.seek(self._offset)
            data = self._pending + f.read(stat.st_size - self._offset)
        end = data.rfind(b"\n") + 1
        complete, self._pending = data[:end], data[end:]
        start_offset = self._offset
        self._offset = stat.st_size
        records = self._lines.records(complete)
        if self._uncertain_until > start_offset:
            records = self._not_stored(records)
            self._uncertain_until = -1
        tally: dict[tuple[str, int, str], list[float]] = {}
        count = self.quotas.count
        append = self.writer.append_line
        for line, _node, _seq, second, client_id, service, status, error, seconds in records:
            append(line)
            count(second, client_id, error)
            key = (service or "-", status, error)
            taken = tally.get(key)
            if taken is None:
                taken = tally[key] = []
            taken.append(seconds)
        self._count(tally)
        if not self.writer.flush(timeout=30.0):
            # the writer keeps them and tries again; the place saved stays at what is stored, so a
            # restart reads them again (and skips what was stored meanwhile)
            raise RuntimeError("edge: the message log could not be written")
        self._save_position()
        self.shipped += len(records)
        if self._offset >= ROTATE_BYTES and not self._pending and self._log.name == "access.log":
            self._rotate()
        return len(records)

    def _not_stored(self, records: list[Record]) -> list[Record]:
        """Of lines read again after a restart, those not already in the message log."""
        if not records:
            return records
        stored: set[tuple[str, int]] = set()
        for node in {r[1] for r in records}:
            first = min(r[2] for r in records if r[1] == node)
            stored.update(MessageLogRecord.objects.filter(node=node, seq__gte=first).values_list("node", "seq"))
        return [r for r in records if (r[1], r[2]) not in stored]

    def _rotate(self) -> None:
        old = self._log.with_suffix(".log.1")
        self._log.replace(old)
        if self.process is not None:
            self.process.send_signal(signal.SIGUSR1)  # nginx reopens access.log
        time.sleep(max(0.2, self.settings.log_flush_ms / 1000 * 4))
        self._log = old
        try:
            self.ship()  # what the workers wrote to the old file before they reopened
        finally:
            self._log = self.dir / "access.log"
            self._inode, self._offset, self._pending = 0, 0, b""

    def _count(self, tally: dict[tuple[str, int, str], list[float]]) -> None:
        """The calls shipped, into the metrics: one update per label, not one per call (each update
        of a multi-process metric writes its file)."""
        for (label, status, error), seconds in tally.items():
            key = (label, status, error)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = metrics.EXCHANGE_CALLS.labels(label, str(status), error)
            counter.inc(len(seconds))
            histogram = self._histograms.get(label)
            if histogram is None:
                histogram = self._histograms[label] = metrics.EXCHANGE_LATENCY.labels(label)
            metrics.observe_many(histogram, seconds)
