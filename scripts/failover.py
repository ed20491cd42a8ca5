"""Two data centres: lose the primary under load, promote the synchronous standby, lose nothing.

Issue 13, item 5 (docs/operations/failover.md). Runs two PostgreSQL clusters on this machine — a
primary and a standby in synchronous replication (``synchronous_commit = on``,
``synchronous_standby_names = 'FIRST 1 (standby1)'``) — migrates the platform onto the primary,
starts the web server (granian, as ``make serve`` does) with a multi-host database URL, and has
several client threads submit dossiers through ``POST /api/v1/dossiers``, each with its own
``Idempotency-Key``. At a random moment (``--seed``) every process of the primary gets SIGKILL, as
a data centre losing power; the standby is promoted; the application's URL
(``target_session_attrs=read-write``) finds the new primary by itself, the server is not restarted.

Jepsen-style bookkeeping: an answer 201/200 is an acknowledgement; a request that failed or timed
out is *unknown* (it may or may not have committed) and the client retries it with the same key
until it gets an answer. At the end, read from the new primary: every acknowledged dossier is
there, no submission has two dossiers, each key at most one, the day's sequence has no gap, and
every acknowledged key, replayed, answers the same dossier. Exit status 1 on any loss or duplicate.

    .venv/bin/python scripts/failover.py [--seconds 60] [--seed S] [--clients 6] [--keep]

As root (CI) the clusters run as the ``postgres`` OS user (``runuser``); PostgreSQL refuses root.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import http.client
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the virtualenv's bin: hcmgov, granian
DB_NAME = "hcmgov"
STANDBY_NAME = "standby1"
REQUEST_TIMEOUT = 10.0  # seconds a client waits for an answer before it counts the attempt unknown
RETRY_FOR = 90.0  # seconds after the load ends that unknown submissions keep being retried


def pg_bindir() -> Path | None:
    """PostgreSQL's server binaries: $PG_BINDIR, else the newest /usr/lib/postgresql/*/bin."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _pdf() -> bytes:
    """A well-formed one-page PDF: the declaration every submission attaches."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Resources<<>>>>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- the two clusters -------------------------------------------------------------------------


class Lab:
    """The temporary folder, the two clusters and the web server; ``close`` removes them all,
    whatever happened (called from ``finally``, ``atexit`` and on SIGTERM)."""

    def __init__(self, *, bindir: Path, port: int, keep: bool) -> None:
        self.bindir = bindir
        self.keep = keep
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="hcmgov-failover-"))
        if self.as_root:  # PostgreSQL refuses to run as root: the clusters belong to postgres
            shutil.chown(self.dir, "postgres", "postgres")
        self.ports = {"primary": port, "standby": port + 1, "web": port + 4}
        self.server: subprocess.Popen[bytes] | None = None
        self.closed = False

    def data(self, name: str) -> Path:
        return self.dir / name

    def pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # As root, the tool itself is started as postgres (like ``runuser -u postgres --``, without
        # a process in between): stopped on Ctrl-C or SIGTERM, nothing is left running.
        owner: dict[str, Any] = {"user": "postgres", "group": "postgres", "extra_groups": []} if self.as_root else {}
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            **owner,
        )
        if check and done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def url(self, name: str, db: str = DB_NAME) -> str:
        return f"host=127.0.0.1 port={self.ports[name]} user=postgres dbname={db} connect_timeout=3"

    def start_primary(self) -> None:
        primary = self.data("primary")
        self.pg("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": self.ports["primary"],
            "unix_socket_directories": f"'{self.dir}'",
            "wal_level": "replica",
            "max_wal_senders": 4,
            "synchronous_commit": "on",
            "max_connections": 40,
            "shared_buffers": "'64MB'",
        }
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))
        self.pg("pg_ctl", "-D", str(primary), "-l", str(self.dir / "primary.log"), "-w", "start")

    def start_standby(self) -> None:
        standby = self.data("standby")
        port = str(self.ports["primary"])
        source = ("-h", "127.0.0.1", "-p", port, "-U", "postgres")
        self.pg("pg_basebackup", *source, "-D", str(standby), "-R", "-X", "stream", "-c", "fast")
        # After the base backup's own lines: its name for synchronous_standby_names, its port, and
        # no synchronous standby of its own once promoted (the other data centre is gone then:
        # waiting for it would stop every commit).
        with (standby / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={port} user=postgres application_name={STANDBY_NAME}'\n"
                f"port = {self.ports['standby']}\nsynchronous_standby_names = ''\n"
            )
        self.pg("pg_ctl", "-D", str(standby), "-l", str(self.dir / "standby.log"), "-w", "start")

    def postmaster(self, name: str) -> int | None:
        pidfile = self.data(name) / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def kill(self, name: str) -> int:
        """SIGKILL to the postmaster and every process it started, at once: a data centre lost."""
        pid = self.postmaster(name)
        if pid is None:
            return 0
        victims = [pid, *children(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        return len(victims)

    def start_server(self, database_url: str) -> None:
        """The web server as ``make serve`` runs it: granian, WSGI, 2 workers of 2 threads."""
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
            "HCMGOV_VAR_DIR": str(self.dir / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.dir / "prometheus"),
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "filesystem://",
        }
        (self.dir / "prometheus").mkdir(exist_ok=True)
        log = (self.dir / "web.log").open("wb")
        self.server = subprocess.Popen(
            [
                *(str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(self.ports["web"])),
                *("--workers", "2", "--blocking-threads", "2", "--no-ws", "--log-level", "warning"),
                "hcmgov.wsgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers
        )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.server is not None and self.server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
        for name in ("primary", "standby"):
            if self.postmaster(name) is not None:
                done = self.pg("pg_ctl", "-D", str(self.data(name)), "-m", "immediate", "-w", "stop", check=False)
                if done.returncode:
                    self.kill(name)
        if self.keep:
            print(f"kept: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def query(conninfo: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def wait_for(what: str, check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception as exc:  # not up yet: try again until the deadline
            last: object = exc
        else:
            last = "not yet"
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}: {last}")
        time.sleep(0.2)


# --- the clients ------------------------------------------------------------------------------


@dataclass
class Submission:
    """One logical submission: its key, and what the platform answered (if it ever did)."""

    number: int
    key: str
    marker: str
    attempts: int = 0
    unknown: bool = False  # an attempt got no answer: it may or may not have committed
    status: int | None = None
    code: str | None = None
    refusal: str = ""


class Client(threading.Thread):
    """A citizen's API client: submits dossiers one after the other; an attempt that gets no
    answer (timeout, connection lost, 5xx) is retried with the same Idempotency-Key until one comes."""

    def __init__(self, *, index: int, token: str, port: int, body: dict[str, Any], run_id: str, shared: Shared) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.token, self.port, self.body, self.run_id, self.shared = token, port, body, run_id, shared
        self.rng = random.Random(f"{run_id}-{index}")  # noqa: S311 - jitter, not a secret
        self.done: list[Submission] = []

    def post(self, submission: Submission) -> tuple[int, dict[str, Any]] | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        body = {**self.body, "form": {**self.body["form"], "full_name": submission.marker}}
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": submission.key,
        }
        try:
            conn.request("POST", "/api/v1/dossiers", json.dumps(body), headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()
        if response.status >= 500:  # the server could not say: committed or not is unknown
            return None
        return response.status, json.loads(payload or b"{}")

    def submit(self, submission: Submission) -> None:
        pause = 0.1
        while True:
            submission.attempts += 1
            answer = self.post(submission)
            if answer is not None:
                submission.status, payload = answer
                submission.code = payload.get("code")
                if submission.code is None:  # a refusal: kept to be shown
                    submission.refusal = json.dumps(payload, ensure_ascii=False)[:500]
                return
            submission.unknown = True
            if time.monotonic() > self.shared.give_up:
                return
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def run(self) -> None:
        while not self.shared.stop.is_set():
            number = next(self.shared.numbers)
            key, marker = f"failover-{self.run_id}-{number:06d}", f"Thử chuyển vùng {self.run_id} {number:06d}"
            submission = Submission(number, key, marker)
            self.done.append(submission)
            self.submit(submission)
            time.sleep(self.rng.uniform(0, 0.02))  # a little jitter: the kill lands on varied states


@dataclass
class Shared:
    """What the clients share: the numbering of submissions, the end of the load, the last
    moment an unanswered submission is retried."""

    numbers: Iterator[int] = field(default_factory=itertools.count)  # next() on it is atomic
    stop: threading.Event = field(default_factory=threading.Event)
    give_up: float = float("inf")


# --- the run ----------------------------------------------------------------------------------


def prepare_database(clients: int) -> None:
    """(Run in a subprocess against the primary.) The platform's schema (``migrate``), then a
    procedure, an agency that handles it and one citizen per client with an API token — from the
    factories the tests and the demo use. One process for both: Django starts once."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)

    from hcmgov.catalog.tests.factories import ProcedureVersionFactory
    from hcmgov.core.tests.factories import AgencyFactory
    from hcmgov.identity.services import api_token_issue
    from hcmgov.identity.tests.factories import UserFactory

    # the citizens call with API tokens: their factory passwords need not cost a slow hash each
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    agency: Any = AgencyFactory()
    version: Any = ProcedureVersionFactory()
    citizens: list[Any] = [UserFactory() for _ in range(clients)]
    issued: list[Any] = [api_token_issue(user=citizen, name="failover") for citizen in citizens]
    tokens = [token.raw for token in issued]  # the raw value, shown once
    print(json.dumps({"procedure": version.procedure.code, "agency": agency.code, "tokens": tokens}))


def dump_dossiers() -> None:
    """(Run in a subprocess against the new primary.) Every dossier as ``[code, applicant id,
    idempotency key, the form's full name]``, read through the ORM: the form is encrypted at rest."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
    django.setup()
    from hcmgov.dossiers.models import Dossier

    rows = [
        [d.code, d.applicant_id, d.idempotency_key, d.form_data.get("full_name")]
        for d in Dossier.objects.only("code", "applicant_id", "idempotency_key", "form_data").iterator()
    ]
    print(json.dumps(rows, ensure_ascii=False))


def read_dossiers(lab: Lab) -> list[tuple[Any, ...]]:
    url = f"postgres://postgres@127.0.0.1:{lab.ports['standby']}/{DB_NAME}"
    env = {**os.environ, "DATABASE_URL": url, "HCMGOV_VAR_DIR": str(lab.dir / "var"), "PYTHONPATH": str(ROOT / "src")}
    env["DJANGO_SETTINGS_MODULE"] = "hcmgov.settings"
    done = subprocess.run(
        [sys.executable, __file__, "--dump-dossiers"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def prepare(lab: Lab, clients: int) -> tuple[str, dict[str, Any]]:
    """The primary with the platform's schema and what a submission needs, then the standby from
    a base backup of it (how a second data centre is seeded), then synchronous replication on.
    The schema is migrated before the standby exists: the migrations are the slow part of the
    run, and waiting for a standby's flush at each of their commits proves nothing here."""
    began = time.monotonic()
    lab.start_primary()
    primary = lab.url("primary", "postgres")
    query(primary, f"CREATE DATABASE {DB_NAME}")
    p, s = lab.ports["primary"], lab.ports["standby"]
    # libpq tries the hosts in turn and keeps the one that accepts writes: after promotion, every
    # new connection lands on the former standby, with no change to the application.
    database_url = (
        f"postgres://postgres@/{DB_NAME}?host=127.0.0.1,127.0.0.1&port={p},{s}"
        "&target_session_attrs=read-write&connect_timeout=2"
    )
    env = {**os.environ, "DATABASE_URL": database_url, "HCMGOV_VAR_DIR": str(lab.dir / "var")}
    seeded = subprocess.run(
        [sys.executable, __file__, "--prepare-database", str(clients)],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "hcmgov.settings", "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    migrated = time.monotonic()
    query(primary, f"ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({STANDBY_NAME})'")
    query(primary, "SELECT pg_reload_conf()")
    lab.start_standby()
    wait_for(
        "the standby in synchronous replication",
        lambda: (
            query(primary, "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s", STANDBY_NAME)
            == [("sync",)]
        ),
    )
    print(
        f"setup: primary, schema and {clients} citizens with API tokens {migrated - began:.1f} s,"
        f" standby {STANDBY_NAME} in sync after {time.monotonic() - migrated:.1f} s more"
    )
    return database_url, json.loads(seeded.stdout.strip().splitlines()[-1])


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load (the kill lands in 25–65%%)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill's moment (default: random)")
    parser.add_argument("--clients", type=int, default=6, help="concurrent client threads")
    parser.add_argument("--port", type=int, default=9141, help="primary's port; standby +1, web server +4")
    parser.add_argument("--keep", action="store_true", help="keep the clusters' folder and logs")
    parser.add_argument("--prepare-database", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dump-dossiers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare_database is not None:
        prepare_database(args.prepare_database)
        return 0
    if args.dump_dossiers:
        dump_dossiers()
        return 0
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        print("PostgreSQL server binaries not found (set PG_BINDIR)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)  # noqa: S311 - chooses a moment, not a secret
    kill_after = args.seconds * rng.uniform(0.25, 0.65)

    lab = Lab(bindir=bindir, port=args.port, keep=args.keep)
    atexit.register(lab.close)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(lab, args=args, seed=seed, kill_after=kill_after)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        lab.close()


def run(lab: Lab, *, args: argparse.Namespace, seed: int, kill_after: float) -> int:
    started = time.monotonic()
    print(f"hcmgov failover: seed {seed}, {args.seconds:g} s of load, {args.clients} clients, PostgreSQL {lab.bindir}")
    database_url, seeded = prepare(lab, args.clients)
    print(
        f"primary 127.0.0.1:{lab.ports['primary']} → synchronous standby {STANDBY_NAME}"
        f" 127.0.0.1:{lab.ports['standby']}, ready in {time.monotonic() - started:.1f} s"
    )
    lab.start_server(database_url)
    wait_for("the web server", lambda: healthy(lab.ports["web"]), timeout=180)
    server_pid = lab.server.pid if lab.server else 0
    print(f"web server: granian pid {server_pid} on 127.0.0.1:{lab.ports['web']}, DATABASE_URL={database_url}")

    body = {
        "procedure": seeded["procedure"],
        "agency": seeded["agency"],
        "form": {"personal_id": "079123456789", "purpose": "work", "mother": {"full_name": "Trần Thị Bình"}},
        "attachments": [
            {"requirement": "TOKHAI", "filename": "to-khai.pdf", "content_base64": base64.b64encode(_pdf()).decode()}
        ],
    }
    shared = Shared(numbers=itertools.count(1))
    clients = [
        Client(index=i, token=token, port=lab.ports["web"], body=body, run_id=str(seed), shared=shared)
        for i, token in enumerate(seeded["tokens"])
    ]
    load_start = time.monotonic()
    for client in clients:
        client.start()

    time.sleep(max(0.0, load_start + kill_after - time.monotonic()))
    state = query(lab.url("primary"), "SELECT sync_state FROM pg_stat_replication")
    killed_at = time.monotonic()
    victims = lab.kill("primary")
    lab.pg("pg_ctl", "-D", str(lab.data("standby")), "-w", "promote")
    wait_for(
        "the promoted standby",
        lambda: query(lab.url("standby"), "SELECT pg_is_in_recovery()") == [(False,)],
        timeout=30,
    )
    promoted_at = time.monotonic()
    print(
        f"killed the primary at {killed_at - load_start:.2f} s (SIGKILL to the postmaster and {victims - 1} processes;"
        f" standby was {state[0][0] if state else 'absent'}), standby promoted in {promoted_at - killed_at:.2f} s"
    )

    time.sleep(max(0.0, load_start + args.seconds - time.monotonic()))
    shared.stop.set()
    shared.give_up = time.monotonic() + RETRY_FOR
    for client in clients:
        client.join()
    server = lab.server
    repointed = server is not None and server.poll() is None and server.pid == server_pid
    print(f"load ended after {time.monotonic() - load_start:.1f} s; web server not restarted: {repointed}")
    return verify(lab, clients, shared)


def replay(clients: list[Client]) -> int:
    """Send each acknowledged submission again with its key, every client at once: the same
    dossier must come back (200), read from the new primary."""
    same = [0] * len(clients)

    def again(i: int, client: Client) -> None:
        for submission in client.done:
            if submission.unknown or submission.status not in (200, 201):
                continue
            repeat = Submission(submission.number, submission.key, submission.marker)
            client.submit(repeat)
            same[i] += repeat.status == 200 and repeat.code == submission.code

    threads = [threading.Thread(target=again, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(same)


@dataclass
class Tally:
    """What the new primary holds, set against what the clients were told."""

    submitted: list[Submission]
    acknowledged: list[Submission]  # 201/200 at the first attempt
    retried: list[Submission]  # no answer at first, answered on a retry with the same key
    rejected: list[Submission]  # a 4xx: the platform refused (none expected)
    unresolved: list[Submission]  # never answered, even after the retries
    present: int
    duplicated: list[Submission]  # one submission, two dossiers
    duplicated_keys: int  # one (applicant, Idempotency-Key), two dossiers
    lost: list[Submission]  # answered, and not in the new primary under the code answered
    phantom: list[str]  # dossiers no client was answered for
    gaps: int  # numbers missing from (or repeated in) a day's sequence
    by_marker: dict[str, list[str]]
    replay_differs: int = 0

    def failures(self) -> dict[str, int]:
        found = {
            "lost": len(self.lost),
            "duplicated": len(self.duplicated) + self.duplicated_keys,
            "unresolved": len(self.unresolved),
            "rejected": len(self.rejected),
            "phantom": len(self.phantom),
            "sequence gaps": self.gaps,
            "replay differs": self.replay_differs,
            "no acknowledged submission": int(not self.acknowledged),
        }
        return {name: n for name, n in found.items() if n}


def tally(submissions: list[Submission], rows: list[tuple[Any, ...]]) -> Tally:
    """Set the dossiers read from the new primary — ``(code, applicant id, idempotency key, the
    form's marker)`` — against the submissions and what each was answered."""
    answered = [s for s in submissions if s.status in (200, 201)]
    by_marker: dict[str, list[str]] = {}
    by_key: dict[tuple[Any, str], int] = {}
    days: dict[str, list[int]] = {}
    for code, applicant, key, marker in rows:
        by_marker.setdefault(marker, []).append(code)
        if key:
            by_key[(applicant, key)] = by_key.get((applicant, key), 0) + 1
        day, sequence = code.rsplit("-", 1)  # Circular 01/2018/TT-VPCP: gap-free within the day
        days.setdefault(day, []).append(int(sequence))
    gaps = sum(len(set(range(1, max(seqs) + 1)) - set(seqs)) + len(seqs) - len(set(seqs)) for seqs in days.values())
    told = {s.marker for s in answered}
    return Tally(
        submitted=submissions,
        acknowledged=[s for s in answered if not s.unknown],
        retried=[s for s in answered if s.unknown],
        rejected=[s for s in submissions if s.status is not None and s.status not in (200, 201)],
        unresolved=[s for s in submissions if s.status is None],
        present=len(rows),
        duplicated=[s for s in submissions if len(by_marker.get(s.marker, [])) > 1],
        duplicated_keys=sum(1 for n in by_key.values() if n > 1),
        lost=[s for s in answered if s.code not in by_marker.get(s.marker, [])],
        phantom=[marker for marker in by_marker if marker not in told],
        gaps=gaps,
        by_marker=by_marker,
    )


def verify(lab: Lab, clients: list[Client], shared: Shared) -> int:
    rows = read_dossiers(lab)
    t = tally([s for c in clients for s in c.done], rows)
    shared.give_up = time.monotonic() + RETRY_FOR
    same = replay(clients)
    t.replay_differs = len(t.acknowledged) - same
    committed = sum(1 for s in t.retried if s.status == 200)
    unknown = len(t.retried) + len(t.unresolved)
    print(f"submitted     {len(t.submitted)}")
    print(f"acknowledged  {len(t.acknowledged)}  (201 at the first attempt)")
    print(f"unknown       {unknown}  (no answer at the first attempt: timed out, connection lost, 5xx)")
    print(
        f"retried       {len(t.retried)}  (same Idempotency-Key until answered: {committed} had committed → 200,"
        f" {len(t.retried) - committed} had not → 201; {sum(s.attempts for s in t.retried)} attempts)"
    )
    print(f"unresolved    {len(t.unresolved)}")
    print(f"rejected      {len(t.rejected)}  (4xx)")
    print(f"present       {t.present}  (dossiers in the new primary)")
    print(f"replayed      {same}/{len(t.acknowledged)}  (acknowledged keys sent again: the same dossier, 200)")
    print(f"duplicated    {len(t.duplicated)}  (submissions with two dossiers; keys with two: {t.duplicated_keys})")
    print(f"lost          {len(t.lost)}  (answered, not in the new primary)")
    print(f"phantom       {len(t.phantom)}  (dossiers no client was answered for)")
    print(f"sequence gaps {t.gaps}")
    for s in t.lost[:10]:
        print(f"  lost: {s.key} answered {s.status} {s.code}, present as {t.by_marker.get(s.marker)}")
    for s in t.duplicated[:10]:
        print(f"  duplicated: {s.key} → {t.by_marker[s.marker]}")
    for s in t.rejected[:3]:
        print(f"  rejected: {s.key} answered {s.status} {s.refusal}")
    failed = t.failures()
    print("FAILED: " + ", ".join(f"{name} {n}" for name, n in failed.items()) if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
