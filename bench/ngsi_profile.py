"""In-process cost of one NGSI-LD entity update (issue 11): ``PATCH /ngsi-ld/v1/entities/{id}/attrs``
of a random sensor, exactly as ``bench/ngsi.py`` sends it (a Property with observedAt, bearer
token), through the WSGI application without a server or a load generator. On a shared 2-core
machine the process's CPU time per request (``time.process_time``) and its PostgreSQL backend's
(read from /proc) are steadier A/B measures than wrk's rate.

    .venv/bin/python -m bench.ngsi_profile                 # CPU µs per update: web, PostgreSQL
    .venv/bin/python -m bench.ngsi_profile --cprofile 30   # and the top 30 functions (cumulative)
    .venv/bin/python -m bench.ngsi_profile --statements    # PostgreSQL time per statement (pg_stat_statements)
    .venv/bin/python -m bench.ngsi_profile --baseline      # and GET /healthz: the middleware stack's floor
    .venv/bin/python -m bench.ngsi_profile --threads 8 --locks   # concurrent PATCHes; pg_locks waits seen
    .venv/bin/python -m bench.ngsi_profile --ab 4          # Django's path and the fast path (decision 0033)
                                                           # in alternation, and a SELECT 1's round trip

The database (``DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/hcmgov_ngsispeed) is
created and migrated if needed; the fixtures are those of ``bench/ngsi.py --fixtures``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hcmgov_ngsispeed")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
_TMP = Path(tempfile.gettempdir()) / "hcmgov-ngsi-profile"
os.environ.setdefault("HCMGOV_VAR_DIR", str(_TMP / "var"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_TMP / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def environ(method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
    }
    setup_testing_defaults(env)  # the rest of a WSGI environ, as the standard library fills it
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def db_cpu() -> float:
    """CPU seconds used so far by this thread's PostgreSQL backend (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.connection is None:
        return 0.0
    pid = connection.connection.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """PATCHes of random sensors through the WSGI application, as the benchmark's Lua script."""

    def __init__(self, token: str, sensors: int, seed: int) -> None:
        from hcmgov.wsgi import application

        self.app = application
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sensors = sensors
        self.rng = random.Random(seed)
        self.counter = 0
        self.seed = seed
        self.statuses: dict[str, int] = {}

    def _start(self, status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        self.statuses[status[:3]] = self.statuses.get(status[:3], 0) + 1

    def healthz(self) -> None:
        """GET /healthz: the platform's whole middleware stack around an empty view (the floor)."""
        result = self.app(environ("GET", "/healthz", {}, b""), self._start)
        for _ in result:
            pass
        if hasattr(result, "close"):
            result.close()

    def one(self) -> None:
        self.counter += 1
        c = self.counter
        at = f"2026-11-28T{(self.seed * 3) % 24:02d}:{c // 60 % 60:02d}:{c % 60:02d}.{c % 1000:03d}Z"
        attr = {"type": "Property", "value": self.rng.randint(0, 300), "unitCode": "GQ", "observedAt": at}
        body = json.dumps({"pm25": attr}).encode()
        entity = f"urn:ngsi-ld:AirQualityObserved:hcm-{self.rng.randrange(self.sensors):04d}"
        env = environ("PATCH", f"/ngsi-ld/v1/entities/{entity}/attrs", self.headers, body)
        result = self.app(env, self._start)
        for _ in result:
            pass
        if hasattr(result, "close"):
            result.close()


def setup(sensors: int) -> str:
    """Create and migrate the database, make the fixtures; the bench token."""
    import run  # bench/run.py

    run.ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    import ngsi  # bench/ngsi.py

    out = _TMP / "work"
    out.mkdir(parents=True, exist_ok=True)
    print(json.dumps({"fixtures": ngsi.fixtures(out, sensors, 1)}), file=sys.stderr)
    return (out / "ngsi_token.txt").read_text().strip()


def statements(top: int) -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT calls, round(total_exec_time::numeric, 2), round((total_exec_time / calls)::numeric, 4), "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 160) FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC LIMIT %s",
            [top],
        )
        return [{"calls": c, "total_ms": float(t), "mean_ms": float(m), "query": q} for c, t, m, q in cursor]


def reset_statements() -> bool:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cursor.execute("SELECT pg_stat_statements_reset()")
        return True
    except Exception as exc:  # not in shared_preload_libraries: say so, measure the rest
        print(f"pg_stat_statements unavailable: {exc}", file=sys.stderr)
        return False


def concurrent(token: str, sensors: int, threads: int, n: int, watch_locks: bool) -> dict[str, Any]:
    """``threads`` clients PATCHing at once (each its own connection), while the main thread samples
    pg_stat_activity for sessions waiting on a lock and what they wait for."""
    from django.db import connection, connections

    latencies: list[float] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        client = Client(token, sensors, seed)
        mine = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.one()
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
        connections.close_all()

    waits: dict[str, int] = {}
    samples = 0
    pool = [threading.Thread(target=worker, args=(i + 1,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    while watch_locks and any(t.is_alive() for t in pool):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.wait_event_type, a.wait_event, l.locktype, l.mode, "
                "left(regexp_replace(a.query, '\\s+', ' ', 'g'), 40) "
                "FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted "
                "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state = 'active'"
            )
            for row in cursor.fetchall():
                key = " | ".join(str(x) for x in row)
                waits[key] = waits.get(key, 0) + 1
        samples += 1
        time.sleep(0.005)
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "threads": threads,
        "updates": len(latencies),
        "updates_per_s_wall": round(len(latencies) / wall, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "activity_samples": samples,
        "active_sessions_seen (wait_event_type | wait_event | ungranted lock | mode | query)": dict(
            sorted(waits.items(), key=lambda kv: -kv[1])[:12]
        ),
    }


def _round(client: Client, n: int) -> tuple[float, float]:
    """Web and PostgreSQL CPU µs per update over ``n`` updates."""
    d0, c0 = db_cpu(), time.process_time()
    for _ in range(n):
        client.one()
    return (time.process_time() - c0) / n * 1e6, (db_cpu() - d0) / n * 1e6


def round_trip(n: int) -> tuple[float, float]:
    """Web and PostgreSQL CPU µs of one prepared ``SELECT 1`` (its own transaction): what any
    statement costs on both sides before it does anything (on this machine's clock, which charges
    a process for being woken)."""
    from hcmgov.common.db import fast_cursor

    d0, c0 = db_cpu(), time.process_time()
    for _ in range(n):
        with fast_cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (time.process_time() - c0) / n * 1e6, (db_cpu() - d0) / n * 1e6


def alternate(client: Client, n: int, rounds: int) -> dict[str, Any]:
    """Django's path and the fast path (``ngsi.fastpath``) in alternation, ``rounds`` times each, so
    that the machine's other load falls on both alike."""
    app: Any = client.app
    if not hasattr(app, "_on"):
        raise SystemExit("hcmgov.wsgi.application is not the fast path's layer")
    from django.db import connection

    # one backend for the whole run (its CPU is read from /proc by pid): Django's path would close
    # the connection past CONN_MAX_AGE at the end of a request and open another
    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.close_at = None
    modes = (("django", False, "on"), ("fast", True, "on"), ("fast_synchronous_commit_off", True, "off"))
    seen: dict[str, dict[str, list[float]]] = {
        name: {"web": [], "postgresql": []} for name in [m[0] for m in modes] + ["select_1"]
    }
    for _ in range(rounds):
        for name, on, sync in modes:
            app._on = on
            with connection.cursor() as cursor:  # option (c) of decision 0033, measured, not taken
                cursor.execute(f"SET synchronous_commit = {sync}")
            web, pg = _round(client, n)
            seen[name]["web"].append(round(web, 1))
            seen[name]["postgresql"].append(round(pg, 1))
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
        web, pg = round_trip(n)
        seen["select_1"]["web"].append(round(web, 1))
        seen["select_1"]["postgresql"].append(round(pg, 1))
    app._on = True
    return {
        "n": n,
        "rounds": rounds,
        "cpu_us_per_update": seen,
        "median": {
            name: {side: round(statistics.median(v), 1) for side, v in sides.items()} for name, sides in seen.items()
        },
        "statuses": client.statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="updates per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--cprofile", type=int, default=0, metavar="TOP", help="profile one round; print TOP rows")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime)")
    parser.add_argument("--statements", action="store_true", help="PostgreSQL time per statement")
    parser.add_argument("--baseline", action="store_true", help="also GET /healthz (the stack's floor)")
    parser.add_argument("--threads", type=int, default=0, help="also run this many concurrent clients")
    parser.add_argument("--locks", action="store_true", help="sample lock waits during the concurrent run")
    parser.add_argument("--ab", type=int, default=0, metavar="ROUNDS", help="Django's path / fast path, alternated")
    args = parser.parse_args()

    token = setup(args.sensors)
    client = Client(token, args.sensors, 1)
    for _ in range(args.warmup):
        client.one()
    if args.ab:
        print(json.dumps(alternate(client, args.n, args.ab), indent=2, ensure_ascii=False))
        return
    stats_on = reset_statements() if args.statements else False
    cpu_us, wall_us, db_us = [], [], []
    for _ in range(args.rounds):
        d0, c0, w0 = db_cpu(), time.process_time(), time.perf_counter()
        for _ in range(args.n):
            client.one()
        cpu_us.append((time.process_time() - c0) / args.n * 1e6)
        wall_us.append((time.perf_counter() - w0) / args.n * 1e6)
        db_us.append((db_cpu() - d0) / args.n * 1e6)
    from django.db import connection

    result: dict[str, Any] = {
        "database": connection.vendor,
        "n": args.n,
        "web_cpu_us_per_update": [round(x, 1) for x in cpu_us],
        "web_cpu_us_median": round(statistics.median(cpu_us), 1),
        "postgresql_cpu_us_median": round(statistics.median(db_us), 1),
        "wall_us_median": round(statistics.median(wall_us), 1),
        "statuses": client.statuses,
    }
    if args.baseline:
        for _ in range(args.warmup):
            client.healthz()
        c0 = time.process_time()
        for _ in range(args.n):
            client.healthz()
        result["healthz_cpu_us_per_request"] = round((time.process_time() - c0) / args.n * 1e6, 1)
    if stats_on:
        result["statements"] = statements(12)
    if args.cprofile:
        profile = cProfile.Profile(time.process_time)  # CPU, not waits on PostgreSQL
        profile.enable()
        for _ in range(args.n):
            client.one()
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(args.sort).print_stats(args.cprofile)
        print(text.getvalue(), file=sys.stderr)
    if args.threads:
        result["concurrent"] = concurrent(
            token, args.sensors, args.threads, max(50, args.n // args.threads), args.locks
        )
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
