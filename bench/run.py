"""The benchmarks of the foundation issue (``make bench``).

1. ``submit``  — dossier submission through the API on PostgreSQL: ``POST /api/v1/dossiers`` with a
   bearer token and a unique ``Idempotency-Key``; target ≥ 200 dossiers/s sustained, p99 < 250 ms.
   Run as a sweep over concurrency (8, 16, 32 connections): p99 depends on it.
3. ``processing`` — advancing a step (``POST …/steps/{id}/actions``, each request closes one open
   step; target ≥ 300 actions/s) and the back office's queues and search over the filled database
   (target p95 < 100 ms).
2. ``tracking`` — public status lookup ``GET /api/v1/tracking/{code}?secret=…`` (and the HTML page
   ``/tra-cuu/``) over ≥ 1,000,000 dossiers, random existing codes; target ≥ 1,500 requests/s.
4. ``ipn`` — the payments issue's: the gateway's IPN, ``GET /api/v1/payments/vnpay/ipn?<signed>`` on
   PostgreSQL; target ≥ 500 callbacks/s with repeats mixed in, and zero double-counted payments. Each
   line of the file (``bench/payment_fixtures.py lines``) is a successful payment's signed result for
   a pending transaction of a due order (dossiers of fee procedures submitted through the service,
   their orders and transactions made by ``order_ensure`` / ``transaction_start``: the pool is kept
   and topped up before each run); about 30 % of the lines repeat an earlier one (right after it,
   racing it, or later). ``bench/ipn.lua`` sends every line once, in order, and counts the answers
   by RspCode (00 confirmed, 02 already confirmed). Each run's file is sized at 2× the fastest rate
   seen so far (at least ``--ipn-rate``/s), so it does not run out; after each run the books are
   checked in the database (``payment_fixtures.py verify``): one 00 per transaction, each paying one
   order, one receipt per paid order, no order paid twice, no refunds. Needs only the demo city,
   not the 1,000,000-dossier fill. The server's environment carries the gateway settings (the
   simulator's merchant account: ``hcmgov.simulators.pay``).

Orchestration: PostgreSQL (``DATABASE_URL`` or postgres://postgres@127.0.0.1:5432/hcmgov_bench,
created if missing) → migrate → demo (+ ``hcmgov demo --dossiers N --quiet`` until the database
holds ``--dossiers`` rows; the filled database is kept and reused) → fixtures (``bench/fixtures.py``)
→ the production server started as ``make serve`` does (granian WSGI, 2 workers, ``--no-ws``, with
the task worker of the default queue beside it: the long batch jobs' queue is not served while the
runs measure) on a free loopback port → wrk (``bench/*.lua``) from a separate process,
warm-up then a fixed-time measured run → stop → ``bench/results/<name>.json`` and
``bench/results/README.md``. Server, worker, PostgreSQL and load generator share the machine's cores.

    .venv/bin/python bench/run.py [--only submit|tracking|processing|ipn] [--duration 30] [--profile auto|always|never]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_bench"
NOT_CODE = (":(exclude)bench/results", ":(exclude)docs/operations/capacity.md")  # written by make bench
PYSPY_DIR = Path("/tmp/hcmgov-bench-pyspy")  # noqa: S108 - a tool outside the project, not data

TARGETS = {
    "submit": {"throughput_per_s": 200, "p99_ms": 250},
    "act": {"throughput_per_s": 300},
    "queues": {"p95_ms": 100},
    "tracking_api": {"throughput_per_s": 1500},
    "tracking_html": {"throughput_per_s": 1500},
    "ipn": {"throughput_per_s": 500},
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- environment ----------------------------------------------------------------------------------

# A load generator is one address and a handful of tokens standing for thousands of people: the
# platform's rate limits per address and per token (hcmgov.common.ratelimit, proven by
# tests/security/test_rate_limits.py) would refuse it and the benchmark would measure them. Every
# benchmark and the soak run import this module, so they all serve without them.
os.environ.setdefault("HCMGOV_API_TOKEN_RATE", "0")
os.environ.setdefault("HCMGOV_PUBLIC_FORM_RATE", "0")


def wait_answering(
    url: str, procs: dict[str, subprocess.Popen[bytes]], logs: Path, *, seconds: float, pause: float = 0.3
) -> None:
    """Wait until ``url`` answers 200; fail at once when one of ``procs`` has exited (its log is in
    ``logs``: a file, or a folder of ``<name>.log``), or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                log_file = logs / f"{name}.log" if logs.is_dir() else logs
                raise RuntimeError(f"{name} exited; see {log_file}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as r,  # noqa: S310 - loopback
        ):
            if r.status == 200:
                return
        time.sleep(pause)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk not found: installing the Debian package")
    apt = ["apt-get", "install", "-y", "-qq", "wrk"]
    if os.geteuid() != 0:
        apt.insert(0, "sudo")
    if subprocess.run(apt, check=False).returncode != 0:
        subprocess.run([*apt[:-4], "update", "-qq"], check=True)
        subprocess.run(apt, check=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk could not be installed")
    return found


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    name = params.get("dbname") or "postgres"
    admin = make_conninfo(**{**params, "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def db_scalar(url: str, sql: str) -> Any:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def hcmgov(env: dict[str, str], *args: str, quiet: bool = True) -> float:
    started = time.monotonic()
    out = subprocess.DEVNULL if quiet else None
    subprocess.run([str(VENV_BIN / "hcmgov"), *args], env=env, check=True, cwd=ROOT, stdout=out)
    return time.monotonic() - started


def django_script(env: dict[str, str], script: str, *args: str) -> dict[str, Any]:
    """Run a bench script inside Django; it prints a JSON object on its last line."""
    cmd = [str(VENV_BIN / "python"), str(BENCH / script), *args]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{script} failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


SEQUENCE_REPAIR = """
WITH used AS (
    SELECT a.code AS scope, (d.submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day,
           max(split_part(d.code, '-', 3)::int) AS last
    FROM dossiers_dossier d JOIN core_agency a ON a.id = d.agency_id
    WHERE d.submitted_at >= now() - interval '3 days'
    GROUP BY 1, 2
), behind AS (
    SELECT used.* FROM used LEFT JOIN core_daysequence s ON s.scope = used.scope AND s.day = used.day
    WHERE s.last IS NULL OR s.last < used.last
), fixed AS (
    INSERT INTO core_daysequence (scope, day, last) SELECT scope, day, last FROM behind
    ON CONFLICT (scope, day) DO UPDATE SET last = GREATEST(core_daysequence.last, EXCLUDED.last)
    RETURNING 1
)
SELECT count(*) FROM fixed
"""


def repair_sequences(url: str) -> int:
    """Day sequences behind the codes already issued (``hcmgov demo --dossiers`` raises them only
    when it finishes: an interrupted fill leaves them behind, and submissions then collide on the
    dossier code with a 500). Raise them for recent days; return how many were behind."""
    return int(db_scalar(url, SEQUENCE_REPAIR) or 0)


_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A loopback port free now and not given before in this process (the kernel may hand the
    same free port to two binds in a row: two servers of one benchmark on one port, seen once)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


def machine(url: str) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip()
        except OSError:
            return ""

    versions = run(
        str(VENV_BIN / "python"),
        "-c",
        "import sys, django, granian; print(sys.version.split()[0], django.__version__, granian.__version__)",
    ).split()
    # changes to the code, not the results this run's earlier benchmarks wrote (nor the capacity page made of them)
    dirty = bool(run("git", "status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE))
    return {
        # the cores this process may use (not `nproc`: it obeys OMP_THREAD_LIMIT, which the OCR
        # module sets to 1 for Tesseract in every process that loads Django)
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": versions[0] if versions else "",
        "django": versions[1] if len(versions) > 1 else "",
        "granian": versions[2] if len(versions) > 2 else "",
        "postgresql": db_scalar(url, "SHOW server_version"),
        "wrk": " ".join(run("wrk", "-v").split()[:2]) if shutil.which("wrk") else "",
        "git_commit": run("git", "rev-parse", "--short=12", "HEAD") + ("-dirty" if dirty else ""),
    }


# --- CPU accounting: who used the cores during a measured run --------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def postgres_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if (d / "comm").read_text().strip() == "postgres":
                    pids.append(int(d.name))
    return pids


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of ``pids``, plus the times of their children already reaped (cutime + cstime):
    a PostgreSQL backend that exits during the run still counts, through the postmaster."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])
    return total


def system_ticks() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts[:8]), idle


class CpuMeter:
    """CPU seconds used during a run by: the web server, the task worker, PostgreSQL, the load
    generator, and everything else on the machine (another engineer's tests would show there).
    Process lists are taken again at the end, so processes started during the run count too."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.start = {k: cpu_ticks(f()) for k, f in groups.items()}
        self.sys_start = system_ticks()
        self.t0 = time.monotonic()

    def stop(self) -> dict[str, Any]:
        hz = os.sysconf("SC_CLK_TCK")
        elapsed = time.monotonic() - self.t0
        used = {k: max(0, cpu_ticks(f()) - self.start[k]) / hz for k, f in self.groups.items()}
        total, idle = system_ticks()
        busy = ((total - self.sys_start[0]) - (idle - self.sys_start[1])) / hz
        used["other"] = max(0.0, busy - sum(used.values()))
        cores = os.cpu_count() or 1
        return {
            "cores": cores,
            "seconds": round(elapsed, 1),
            "busy_percent_of_all_cores": round(100 * busy / (elapsed * cores), 1),
            "cpu_percent_of_all_cores": {k: round(100 * v / (elapsed * cores), 1) for k, v in used.items()},
        }


# --- the server ----------------------------------------------------------------------------------


class Server:
    """granian + task worker, as ``make serve`` starts them."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        workers: int,
        with_worker: bool,
        extra: list[str] | None = None,
        app: str = "hcmgov.wsgi:application",
        cwd: Path = ROOT,
        interface: str = "wsgi",
    ) -> None:
        self.env, self.port, self.workers, self.with_worker = env, port, workers, with_worker
        self.extra, self.app, self.cwd, self.interface = extra or [], app, cwd, interface
        self.procs: list[subprocess.Popen[bytes]] = []
        self.granian: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.worker_log = WORK / "logs" / "worker.log"

    def start(self) -> None:
        prom = Path(self.env["PROMETHEUS_MULTIPROC_DIR"])
        prom.mkdir(parents=True, exist_ok=True)
        for f in prom.glob("*.db"):
            f.unlink()
        logs = WORK / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if self.with_worker:
            self._start_worker(logs / "worker.log")
        self.granian = subprocess.Popen(
            [
                str(VENV_BIN / "granian"),
                "--interface",
                self.interface,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--no-ws",
                "--log-level",
                "warning",
                *self.extra,
                self.app,
            ],
            env=self.env,
            cwd=self.cwd,
            stdout=(logs / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(self.granian)
        wait_answering(f"{self.url}{self.probe}", {"granian": self.granian}, logs / "server.log", seconds=60)

    def _start_worker(self, log_file: Path) -> None:
        # the default queue's worker (with the scheduler), the one whose work requests make: the
        # long batch jobs' queue is left unserved during the runs. In the city it has workers of its
        # own (deploy/systemd/hcmgov-worker-bulk.service); here its hourly warehouse refresh over a
        # million dossiers would take minutes of the cores a measured run shares.
        self.worker = subprocess.Popen(
            [str(VENV_BIN / "hcmgov"), "worker", "--queues", "celery"],
            env=self.env,
            cwd=ROOT,
            stdout=log_file.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(self.worker)
        self.worker_log = log_file

    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.poll() is None

    def worker_failure(self) -> str:
        """The last critical message of the task worker's log (why it stopped), if any."""
        found = ""
        with contextlib.suppress(OSError):
            for line in self.worker_log.read_text(errors="replace").splitlines():
                if '"CRITICAL"' in line:
                    with contextlib.suppress(ValueError):
                        found = str(json.loads(line).get("message", ""))[:300]
        return found

    def restart_worker(self) -> None:
        """Start the task worker again after it died (its log is kept: worker-<n>.log)."""
        n = sum(1 for p in self.procs if p is not self.granian)
        self._start_worker(WORK / "logs" / f"worker-{n + 1}.log")
        time.sleep(3)

    @property
    def probe(self) -> str:
        return "/healthz" if self.app.startswith("hcmgov") else "/"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server_pids(self) -> list[int]:
        return tree(self.granian.pid) if self.granian else []

    def web_workers(self) -> list[int]:
        return [p for p in self.server_pids() if p != (self.granian.pid if self.granian else None)]

    def worker_pids(self) -> list[int]:
        return tree(self.worker.pid) if self.worker else []

    def stop(self) -> None:
        for proc in self.procs:  # each was started in its own session: its group is ours alone
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- load ----------------------------------------------------------------------------------------


def wrk(url: str, script: str, script_args: list[str], connections: int, duration: int, threads: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(BENCH / script),
        url,
        "--",
        *script_args,
    ]
    # errors="replace": a sampled error body, cut at 400 bytes, may split a UTF-8 character
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", cwd=ROOT, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    data = json.loads(line[len("BENCH_JSON ") :])
    data["command"] = " ".join(cmd)
    return data


def summarise(raw: dict[str, Any], ok_status: str, connections: int, cpu: dict[str, Any]) -> dict[str, Any]:
    ok = raw["statuses"].get(ok_status, 0)
    socket_errors = sum(raw["socket_errors"].values())
    other = {k: v for k, v in raw["statuses"].items() if k != ok_status}
    pct = raw["latency_ms"]["percentiles"]
    return {
        "connections": connections,
        "duration_s": raw["duration_s"],
        "requests": raw["requests"],
        "ok": ok,
        "throughput_per_s": round(ok / raw["duration_s"], 1),
        "errors": sum(other.values()) + socket_errors,
        "error_statuses": other,
        "socket_errors": raw["socket_errors"],
        "p50_ms": pct["50"],
        "p95_ms": pct["95"],
        "p99_ms": pct["99"],
        "latency_ms": raw["latency_ms"],
        "error_samples": raw["samples"],
        "cpu": cpu,
        "command": raw["command"],
    }


def children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def run_wrk_measured(server: Server, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    before = children_cpu()
    meter = CpuMeter({"web_server": server.server_pids, "task_worker": server.worker_pids, "postgresql": postgres_pids})
    raw = wrk(server.url, **kw)
    cpu = meter.stop()
    load_s = children_cpu() - before
    cores = cpu["cores"]
    cpu["cpu_percent_of_all_cores"]["load_generator"] = round(100 * load_s / (cpu["seconds"] * cores), 1)
    cpu["cpu_percent_of_all_cores"]["other"] = round(
        max(0.0, cpu["cpu_percent_of_all_cores"]["other"] - cpu["cpu_percent_of_all_cores"]["load_generator"]), 1
    )
    return raw, cpu


def measure(
    server: Server, script: str, script_args: list[str], c: int, args: argparse.Namespace, ok: str
) -> dict[str, Any]:
    raw, cpu = run_wrk_measured(
        server, script=script, script_args=script_args, connections=c, duration=args.duration, threads=args.threads
    )
    return summarise(raw, ok, c, cpu)


def calibrate(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """The bare Django "hello" view (bench/hello.py) on granian, 2 WSGI workers, wrk -t1 -c32: the
    reference point of shared/MEASUREMENTS.md (~11,100 req/s there). Then the bare ASGI "hello"
    (bench/hello_asgi.py, no framework) on granian ASGI, the same workers and wrk command: the web
    floor, the peer the platform's lightest requests are compared with (bench/report.py)."""

    def requests_per_s(url: str) -> float:
        subprocess.run(["wrk", "-t1", "-c32", "-d2s", url], capture_output=True, check=False)
        proc = subprocess.run(["wrk", "-t1", "-c32", "-d10s", url], capture_output=True, text=True, check=False)
        found = re.search(r"Requests/sec:\s+([\d.]+)", proc.stdout)
        return float(found.group(1)) if found else 0.0

    hello_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
    server = Server(hello_env, free_port(), args.workers, False, app="hello:application", cwd=BENCH)
    with running(server):
        value = requests_per_s(server.url + "/")
    asgi_server = Server(
        hello_env, free_port(), args.workers, False, app="hello_asgi:application", cwd=BENCH, interface="asgi"
    )
    with running(asgi_server):
        asgi = requests_per_s(asgi_server.url + "/")
    return {
        "hello_req_per_s": round(value),
        "measurements_md_req_per_s": 11100,
        "ratio": round(value / 11100, 2),
        "command": "granian --interface wsgi --workers 2 --no-ws bench/hello.py; wrk -t1 -c32 -d10s",
        "asgi_hello_req_per_s": round(asgi),
        "asgi_command": f"granian --interface asgi --workers {args.workers} --no-ws bench/hello_asgi.py;"
        " wrk -t1 -c32 -d10s",
    }


def prepare(url: str, name: str, **extra_env: str) -> tuple[dict[str, str], dict[str, Any]]:
    """A stand-alone benchmark's start (bench/prefill.py, package_search.py, datastore_search.py):
    its own PostgreSQL database created and migrated, its environment (var folder ``var-{name}``),
    and the run's info: date, machine, calibration."""
    ensure_wrk()
    ensure_database(url)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "prometheus").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(WORK / f"var-{name}"),
        "PROMETHEUS_MULTIPROC_DIR": str(WORK / "prometheus"),
        **extra_env,
    }
    info: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(url)}
    log(f"database {url}; machine {info['machine']}")
    hcmgov(env, "migrate", "--noinput")
    info["calibration"] = calibrate(env, argparse.Namespace(workers=2, blocking_threads=2, threads=1))
    log(f"calibration: {info['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100)")
    return env, info


# --- profiling -----------------------------------------------------------------------------------


def ensure_pyspy() -> Path:
    exe = PYSPY_DIR / "bin" / "py-spy"
    if not exe.exists():
        log("installing py-spy into /tmp (not a project dependency)")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(PYSPY_DIR), "py-spy"],
            check=False,
        )
        if not exe.exists():  # the venv may have no pip: the system's
            pip = ["python3", "-m", "pip", "install", "--quiet", "--target", str(PYSPY_DIR), "py-spy"]
            subprocess.run(pip, check=True)
    return exe


# What a sample is spent on: a sample counts in a category when any of its frames contains one of
# the strings (inclusive time; categories overlap, e.g. the ORM inside the audit record).
CATEGORIES = [
    ("whole request (WSGIHandler)", ("WSGIHandler.__call__",)),
    ("middleware before/after the view (request minus view)", ()),
    ("whole request, Django's test client (in process)", ("ClientHandler.__call__ (django/test/client.py",)),
    (
        "the view function (ninja operation or page view)",
        ("Operation.run (ninja", "track (hcmgov/web/views.py", "_get_response (django/core/handlers/base.py"),
    ),
    ("ninja: parse + validate input (pydantic)", ("_get_values (ninja",)),
    ("ninja: serialise the response", ("_result_to_response (ninja",)),
    ("bearer token lookup (api_token_user)", ("api_token_user (hcmgov",)),
    ("form validation (jsonform.validate, jsonschema)", ("validate (hcmgov/common/jsonform.py",)),
    ("attachment checks (puremagic)", ("check_attachment (hcmgov",)),
    ("file storage writes", ("Storage.save (django",)),
    ("working-day calendar (due date)", ("appointment_date (hcmgov",)),
    ("audit record (audit_record)", ("audit_record (hcmgov",)),
    ("outbox event (event_publish)", ("event_publish (hcmgov",)),
    ("Django ORM: compiling SQL (as_sql)", (".as_sql (django/db/models/sql/compiler.py",)),
    ("psycopg: sending queries, reading rows", ("Cursor.execute (psycopg", "Cursor.fetch")),
    ("transaction commit", ("commit (django/db/backends/base/base.py",)),
    ("Prometheus metrics (prometheus_client)", ("(prometheus_client/",)),
    ("logging", ("(logging/__init__.py",)),
    ("templates (django.template)", ("(django/template/",)),
    ("sessions, auth middleware", ("(django/contrib/sessions/", "(django/contrib/auth/middleware")),
]


# More categories for the IPN's profile (the gateway's callback, payments.services.callback_handle).
IPN_CATEGORIES = [
    ("IPN: callback_handle (the whole service)", ("callback_handle (hcmgov/payments/services.py",)),
    ("IPN: signature check (vnpay.verify, HMAC-SHA512)", ("verify (hcmgov/payments/adapters/vnpay.py",)),
    ("IPN: settle (conditional UPDATEs of transaction and order, receipt)", ("_settle (hcmgov/payments/services.py",)),
    ("IPN: order paid (UPDATE, receipt number and row, payment.paid)", ("_order_paid (hcmgov/payments/services.py",)),
    ("IPN: callback kept (GatewayCallback)", ("_keep (hcmgov/payments/services.py",)),
]


def profile_summary(
    raw_files: list[Path],
    top: int = 30,
    categories: list[tuple[str, tuple[str, ...]]] = CATEGORIES,
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Inclusive and self time per frame from py-spy's collapsed stacks (all workers together);
    stacks with a frame containing one of ``skip`` are left out."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    total = 0
    for path in raw_files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack:
                continue
            if skip and any(needle in stack for needle in skip):
                continue
            n = int(count)
            total += n
            frames = [re.sub(r" \(.*?site-packages/", " (", f) for f in stack.split(";")]
            own[frames[-1]] += n
            for f in set(frames):
                inclusive[f] += n
            for label, needles in categories:
                if any(needle in f for f in frames for needle in needles):
                    counts[label] += n
    idle_markers = ("serve_forever", "_serve", "wait (threading", "select (selectors")

    def pct(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    hcm = [(f, n) for f, n in inclusive.most_common() if "hcmgov/" in f or "(hcmgov" in f]
    view = counts["the view function (ninja operation or page view)"]
    whole = counts["whole request (WSGIHandler)"] + counts["whole request, Django's test client (in process)"]
    counts["middleware before/after the view (request minus view)"] = whole - view
    return {
        "samples": total,
        "subject": "the web workers",
        "note": "py-spy --gil: only the thread holding the GIL is sampled, so shares are of Python CPU time",
        "categories": [[pct(counts[label]), label] for label, _ in categories],
        "inclusive_top": [[pct(n), f] for f, n in inclusive.most_common(top) if not f.startswith(idle_markers)],
        "hcmgov_inclusive_top": [[pct(n), f] for f, n in hcm[:top]],
        "self_top": [[pct(n), f] for f, n in own.most_common(top)],
    }


class Spy:
    """py-spy ``record`` of some processes, raw collapsed stacks into ``WORK/profile-<pid>.txt``:
    for ``seconds``, or until ``stop()`` (SIGINT: py-spy writes what it has). ``gil``: only the
    thread holding the GIL is sampled (Python CPU time); without it, with ``idle``, every sample of
    every thread counts, waits included (wall-clock time, for a latency)."""

    def __init__(self, pids: list[int], seconds: int = 0, gil: bool = True, idle: bool = False, rate: int = 50):
        exe = ensure_pyspy()
        self.outs: dict[int, Path] = {}
        self.spies: list[subprocess.Popen[bytes]] = []
        self.seconds = seconds
        for pid in pids:
            out = self.outs[pid] = WORK / f"profile-{pid}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.unlink(missing_ok=True)
            cmd = [str(exe), "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "-o", str(out)]
            cmd += ["--gil"] if gil else []
            cmd += ["--idle"] if idle else []
            cmd += ["-d", str(seconds)] if seconds else []
            self.spies.append(
                subprocess.Popen(
                    cmd,
                    env={**os.environ, "PYTHONPATH": str(PYSPY_DIR)},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(0.5)  # attached before the work starts

    def stop(self) -> None:
        for spy in self.spies:
            if not self.seconds and spy.poll() is None:
                spy.send_signal(signal.SIGINT)
        for spy in self.spies:
            try:
                spy.wait(timeout=self.seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()

    def files(self, pids: list[int] | None = None) -> list[Path]:
        return [o for pid, o in self.outs.items() if (pids is None or pid in pids) and o.exists()]


def profile_run(
    server: Server, seconds: int, run: Any, categories: list[tuple[str, tuple[str, ...]]] = CATEGORIES
) -> dict[str, Any]:
    """py-spy of the web workers while ``run`` runs, and of the task worker beside them (its own
    summary, ``task_worker``: what the events a request publishes cost after it)."""
    web, worker_pids = server.web_workers(), server.worker_pids()
    return profile_pids(web, seconds, run, categories, beside=worker_pids)


def profile_pids(
    pids: list[int],
    seconds: int,
    run: Any,
    categories: list[tuple[str, tuple[str, ...]]] = CATEGORIES,
    beside: list[int] | None = None,
    subject: str = "the web workers",
) -> dict[str, Any]:
    """py-spy (``--gil``) of ``pids`` while ``run`` runs; of ``beside`` too, summarised apart as the
    task worker (``task_worker``)."""
    spy = Spy(pids + (beside or []), seconds)
    result = run()
    spy.stop()
    summary = profile_summary(spy.files(pids), categories=categories)
    summary["subject"] = subject
    summary["run"] = result
    worker = profile_summary(spy.files(beside or []), categories=[])
    if worker["samples"]:
        summary["task_worker"] = {k: worker[k] for k in ("samples", "hcmgov_inclusive_top", "self_top")}
    return summary


@contextlib.contextmanager
def self_profile(
    subject: str, categories: list[tuple[str, tuple[str, ...]]] = CATEGORIES, rate: int = 100
) -> Iterator[dict[str, Any]]:
    """py-spy of this very process while the block runs, wall clock (``--idle``, no ``--gil``):
    for an in-process latency benchmark, where a request's time goes, waits on PostgreSQL included
    (``psycopg`` frames). The summary fills the yielded dict when the block ends."""
    summary: dict[str, Any] = {}
    spy = Spy([os.getpid()], gil=False, idle=True, rate=rate)
    try:
        yield summary
    finally:
        spy.stop()
        summary.update(profile_summary(spy.files(), categories=categories, skip=("Spy.__init__ (",)))
        summary["subject"] = subject
        summary["note"] = "py-spy --idle, wall clock: waits (PostgreSQL, locks) count where they happen"


# --- benchmarks ----------------------------------------------------------------------------------


def outbox_settle(server: Server, url: str, timeout: float = 900) -> dict[str, Any]:
    """Wait for the task worker beside the server to deliver what a measured run left in the
    outbox: the events a run publishes are its work too, and a worker that falls behind would
    otherwise do it during the next benchmark (28 Nov: the backlog of the submissions took a fifth
    of the cores while status lookups were measured). Returns the events pending when the run
    ended, the seconds the worker took to deliver them, and the CPU it and PostgreSQL used then."""
    sql = "SELECT count(*) FROM core_outboxevent WHERE delivered_at IS NULL AND attempts < 10"  # MAX_ATTEMPTS
    pending = left = int(db_scalar(url, sql))
    meter = CpuMeter({"task_worker": server.worker_pids, "postgresql": postgres_pids})
    start = time.monotonic()
    while left and time.monotonic() - start < timeout:
        time.sleep(1)
        left = int(db_scalar(url, sql))
    cpu = meter.stop()
    seconds = time.monotonic() - start if pending else 0.0
    core_s = {k: round(v / 100 * cpu["cores"] * cpu["seconds"], 2) for k, v in cpu["cpu_percent_of_all_cores"].items()}
    return {"pending_at_end": pending, "seconds_to_deliver": round(seconds, 1), "left": left, "core_seconds": core_s}


def settle_after(server: Server, url: str, result: dict[str, Any]) -> str:
    """After a measured run: its events delivered (``outbox_settle``), recorded on ``result`` with the
    rate sustained when their delivery counts (None when the worker had not finished at the
    timeout); the words for the log."""
    result["worker_backlog"] = backlog = outbox_settle(server, url)
    seconds = result["duration_s"] + backlog["seconds_to_deliver"]
    result["sustained_per_s"] = None if backlog["left"] else round(result["ok"] / seconds, 1)
    return (
        f"; the worker delivered the {backlog['pending_at_end']:,} events left in {backlog['seconds_to_deliver']} s"
        f" after: {result['sustained_per_s']}/s sustained"
    )


def bench_submit(server: Server, args: argparse.Namespace, url: str, fixtures: dict[str, Any]) -> dict[str, Any]:
    templates = str(WORK / "submit.txt")
    stamp = time.strftime("%Y%m%d%H%M%S")
    sweep = [int(c) for c in args.submit_connections.split(",")]
    log(f"submit: warm-up {args.warmup}s at {sweep[0]} connections")
    wrk(server.url, "submit.lua", [f"bench-{stamp}-w", templates], sweep[0], args.warmup, args.threads)
    runs = []
    for c in sweep:
        prefix = f"bench-{stamp}-c{c}"
        before_rows = db_scalar(url, "SELECT count(*) FROM dossiers_dossier")
        log(f"submit: {c} connections, {args.duration}s")
        result = measure(server, "submit.lua", [prefix, templates], c, args, "201")
        created = db_scalar(url, f"SELECT count(*) FROM dossiers_dossier WHERE idempotency_key LIKE '{prefix}-%%'")  # noqa: S608
        result["dossiers_in_db_for_this_run"] = created
        result["dossiers_in_db_total"] = before_rows
        result["db_matches_201s"] = created == result["ok"]
        after = settle_after(server, url, result)
        log(
            f"  {result['throughput_per_s']}/s p50 {result['p50_ms']} p95 {result['p95_ms']} "
            f"p99 {result['p99_ms']} ms errors {result['errors']} (db rows {created}){after}"
        )
        runs.append(result)
        time.sleep(2)
    target = TARGETS["submit"]
    meeting = [r for r in runs if r["errors"] == 0 and r["p99_ms"] < target["p99_ms"]]
    best = max(meeting or runs, key=lambda r: r["throughput_per_s"])
    out = {
        "name": "submit",
        "benchmark": "Dossier submission, POST /api/v1/dossiers (PostgreSQL)",
        "target": target,
        "best": best,
        "best_meets_p99": bool(meeting),
        "met": bool(meeting) and best["throughput_per_s"] >= target["throughput_per_s"],
        "sweep": runs,
        "fixtures": fixtures,
        "warmup_s": args.warmup,
    }
    if args.profile == "always" or (args.profile == "auto" and not out["met"]):
        c = best["connections"]
        log(f"submit: profiling the web workers with py-spy ({args.duration}s at {c} connections; not counted)")
        out["profile"] = profile_run(
            server,
            args.duration,
            lambda: measure(server, "submit.lua", [f"bench-{stamp}-p", templates], c, args, "201"),
        )
        outbox_settle(server, url)  # the profile run's events: not the next benchmark's work
    return out


def bench_tracking(server: Server, args: argparse.Namespace, rows: int, codes: int) -> list[dict[str, Any]]:
    results = []
    for name, label, file in (
        ("tracking_api", "Status lookup, GET /api/v1/tracking/{code}?secret=", "tracking_api.txt"),
        ("tracking_html", "Status lookup page, GET /tra-cuu/?code=&secret=", "tracking_html.txt"),
    ):
        paths = str(WORK / file)
        sweep = [int(c) for c in args.tracking_connections.split(",")]
        log(f"{name}: warm-up {args.warmup}s")
        wrk(server.url, "tracking.lua", [paths], sweep[0], args.warmup, args.threads)
        runs = []
        for c in sweep:
            log(f"{name}: {c} connections, {args.duration}s")
            result = measure(server, "tracking.lua", [paths], c, args, "200")
            log(
                f"  {result['throughput_per_s']}/s p50 {result['p50_ms']} p95 {result['p95_ms']} "
                f"p99 {result['p99_ms']} ms errors {result['errors']}"
            )
            runs.append(result)
            time.sleep(2)
        best = max(runs, key=lambda r: (r["errors"] == 0, r["throughput_per_s"]))
        target = TARGETS[name]
        out = {
            "name": name,
            "benchmark": label,
            "target": target,
            "best": best,
            "met": best["errors"] == 0 and best["throughput_per_s"] >= target["throughput_per_s"],
            "sweep": runs,
            "dossiers_in_db": rows,
            "distinct_codes_looked_up_from": codes,
            "warmup_s": args.warmup,
        }
        if args.profile == "always" or (args.profile == "auto" and not out["met"]):
            c = best["connections"]
            log(f"{name}: profiling the web workers with py-spy ({args.duration}s; not counted)")
            out["profile"] = profile_run(
                server,
                args.duration,
                lambda c=c, paths=paths: measure(server, "tracking.lua", [paths], c, args, "200"),
            )
        results.append(out)
    return results


def bench_processing(server: Server, args: argparse.Namespace, env: dict[str, str], rows: int) -> list[dict[str, Any]]:
    """Issue 3's two: advancing a step (each request closes one open step; ≥ 300/s on PostgreSQL)
    and the back office's queues and search over the filled database (p95 < 100 ms)."""
    sweep = [int(c) for c in args.act_connections.split(",")]
    steps = args.act_steps or max(3000, int(len(sweep) * args.duration * 450))
    log(f"processing fixtures: submitting {steps:,} dossiers through the service (half received)")
    (WORK / "act.txt").unlink(missing_ok=True)
    fx = django_script(env, "processing_fixtures.py", "--out", str(WORK), "--steps", str(steps))
    log(f"processing fixtures: {json.dumps(fx)}")
    settled = outbox_settle(server, args.database_url)
    log(f"processing fixtures: the worker delivered their {settled['pending_at_end']:,} events (not measured)")
    lines = (WORK / "act.txt").read_text().splitlines()
    per_run = len(lines) // len(sweep)
    runs = []
    for i, c in enumerate(sweep):
        part = WORK / f"act-{c}.txt"
        part.write_text("\n".join(lines[i * per_run : (i + 1) * per_run]) + "\n")
        log(f"act: {c} connections, {args.duration}s ({per_run:,} open steps available)")
        result = measure(server, "act.lua", [str(part), str(args.threads)], c, args, "200")
        result["steps_available"] = per_run
        after = settle_after(server, args.database_url, result)
        log(
            f"  {result['throughput_per_s']}/s p50 {result['p50_ms']} p95 {result['p95_ms']} "
            f"p99 {result['p99_ms']} ms errors {result['errors']}{after}"
        )
        runs.append(result)
        time.sleep(2)
    best = max(runs, key=lambda r: (r["errors"] == 0, r["throughput_per_s"]))
    act = {
        "name": "act",
        "benchmark": "Advancing a step, POST /api/v1/dossiers/{code}/steps/{id}/actions (PostgreSQL)",
        "target": TARGETS["act"],
        "best": best,
        "met": best["errors"] == 0 and best["throughput_per_s"] >= TARGETS["act"]["throughput_per_s"],
        "sweep": runs,
        "fixtures": fx,
    }
    queues = WORK / "queues.txt"
    log(f"queues: warm-up {args.warmup}s")
    wrk(server.url, "get_auth.lua", [str(queues)], 4, args.warmup, args.threads)
    qruns = []
    for c in [int(c) for c in args.queue_connections.split(",")]:
        log(f"queues: {c} connections, {args.duration}s")
        result = measure(server, "get_auth.lua", [str(queues)], c, args, "200")
        log(f"  {result['throughput_per_s']}/s p50 {result['p50_ms']} p95 {result['p95_ms']} p99 {result['p99_ms']} ms")
        qruns.append(result)
    qbest = min(qruns, key=lambda r: (r["errors"] != 0, r["p95_ms"]))
    queue = {
        "name": "queues",
        "benchmark": "Back-office queues and search, GET /api/v1/office/queues/{q} and /search",
        "target": TARGETS["queues"],
        "best": qbest,
        "met": qbest["errors"] == 0 and qbest["p95_ms"] < TARGETS["queues"]["p95_ms"],
        "sweep": qruns,
        "dossiers_in_db": rows,
        "fixtures": fx,
    }
    if args.profile == "always" or (args.profile == "auto" and not queue["met"]):
        c = qbest["connections"]
        log("queues: profiling (not counted): py-spy of the workers, then each statement's time in process")
        queue["profile"] = profile_run(
            server, args.duration, lambda: measure(server, "get_auth.lua", [str(queues)], c, args, "200")
        )
        queue["statements"] = django_script(env, "queries.py", "--work", str(WORK), "--queues", "300")["queues"]
    if args.profile == "always" or (args.profile == "auto" and not act["met"]):
        c = best["connections"]
        spare = WORK / "act-profile.txt"
        log(f"act: profiling (not counted): {per_run:,} fresh open steps, as many as each measured run had")
        django_script(env, "processing_fixtures.py", "--out", str(WORK), "--steps", str(per_run))
        outbox_settle(server, args.database_url)
        (WORK / "act.txt").rename(spare)
        act["profile"] = profile_run(
            server, args.duration, lambda: measure(server, "act.lua", [str(spare), str(args.threads)], c, args, "200")
        )
    return [act, queue]


IPN_LABEL = "Gateway IPN, GET /api/v1/payments/vnpay/ipn (PostgreSQL, 30 % repeats)"


def ipn_txns(seconds: float, rate: float, repeats: float) -> int:
    """Fresh transactions a file of ``seconds`` × ``rate`` lines needs (the rest are repeats)."""
    return max(100, math.ceil(seconds * rate * (1 - repeats)))


def ipn_file(env: dict[str, str], args: argparse.Namespace, name: str, txns: int) -> tuple[Path, dict[str, Any]]:
    """Top the pool up to ``txns`` pending transactions, then write the file of their IPNs."""
    pool = django_script(env, "payment_fixtures.py", "pool", "--want", str(txns), "--jobs", str(args.ipn_jobs))
    made, rate = pool["submitted_with_new_transactions"], pool["submitted_per_second"]
    log(
        f"ipn fixtures: pool {pool['pending_before']:,} → {pool['pending_after']:,} pending transactions"
        f" ({pool['started_on_existing_due_orders']:,} on due orders, {made:,} new dossiers"
        + (f" at {rate}/s" if made else "")
        + f"; outbox backlog {pool['outbox_backlog_delivered']:,} delivered) in {pool['seconds']:,.0f} s"
    )
    path = WORK / f"ipn-{name}.txt"
    path.unlink(missing_ok=True)
    seed = sum(ord(ch) for ch in name) + int(time.time())
    lines = django_script(
        env,
        "payment_fixtures.py",
        "lines",
        "--out",
        str(path),
        "--transactions",
        str(txns),
        "--duplicates",
        str(args.ipn_repeats),
        "--seed",
        str(seed),
    )
    lines["seed"] = seed
    return path, {"pool": pool, "lines": lines}


def ipn_run(
    server: Server, env: dict[str, str], args: argparse.Namespace, path: Path, c: int, seconds: int
) -> dict[str, Any]:
    """One measured run over ``path``, then the books of its transactions in the database."""
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    raw, cpu = run_wrk_measured(
        server, script="ipn.lua", script_args=[str(path), str(args.threads)], connections=c, duration=seconds,
        threads=args.threads,
    )  # fmt: skip
    result = summarise(raw, "200", c, cpu)
    died = server.with_worker and not server.worker_alive()
    result["task_worker_died"] = died
    result["task_worker_failure"] = server.worker_failure() if died else ""
    ipn = raw["ipn"]
    answers = ipn["answers"]
    ok = answers["00"] + answers["02"]
    socket_errors = sum(raw["socket_errors"].values())
    result.update(
        {
            "ok": ok,
            "throughput_per_s": round(ok / raw["duration_s"], 1),
            "errors": raw["requests"] - ok + socket_errors,
            "answers": answers,
            "other_codes": ipn["other_codes"],
            "other_samples": ipn["other_samples"],
            "lines_sent": ipn["lines_sent"],
            "exhausted": ipn["threads_exhausted"] > 0,
        }
    )
    until = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(1)  # the requests still in flight when wrk stopped reach the database
    books = django_script(
        env, "payment_fixtures.py", "verify", "--lines", str(path), "--since", since, "--until", until
    )
    kept_00 = books["callbacks_kept_by_answer"].get("00", 0)
    in_flight = max(0, ipn["lines_sent"] - raw["requests"])
    # every 00 wrk saw is one the database kept, and the database kept no more than wrk's plus
    # those still in flight when it stopped (answered after it closed its connections)
    wrk_matches = answers["00"] <= kept_00 <= answers["00"] + in_flight and books["callbacks_kept"] <= ipn["lines_sent"]
    checks = {**books["checks"], "wrk_00_answers_match_the_database": wrk_matches}
    result["books"] = {
        "ipn_sent": ipn["lines_sent"],
        "answered": raw["requests"],
        "in_flight_when_wrk_stopped": in_flight,
        "answers_00": answers["00"],
        "answers_02": answers["02"],
        "answers_other": answers["other"],
        **{k: v for k, v in books.items() if k not in ("checks", "zero_double_counted_payments")},
        "checks": checks,
    }
    result["every_00_is_exactly_one_paid_order"] = books["checks"]["every_00_paid_exactly_one_order"] and wrk_matches
    result["zero_double_counted_payments"] = all(checks.values())
    return result


def drain_outbox(env: dict[str, str], url: str, processes: int) -> dict[str, Any]:
    """The reactions a run without the worker left in the outbox (``payment.paid``: the dossier
    released, the applicant told), delivered by ``processes`` worker processes side by side on
    this machine's cores with nothing else running: the worker's rate, which decides how many
    worker processes keep up with the web nodes' payments."""
    pending = int(db_scalar(url, "SELECT count(*) FROM core_outboxevent WHERE delivered_at IS NULL"))
    start_at = time.time() + 6  # each loads Django first, then they begin together
    cmd = [str(VENV_BIN / "python"), str(BENCH / "payment_fixtures.py"), "drain", "--start-at", str(start_at)]
    procs = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    time.sleep(max(0.0, start_at - time.time()))
    meter = CpuMeter({"postgresql": postgres_pids})
    outs = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"drain failed:\n{err[-4000:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    cpu = meter.stop()
    seconds = max(o["seconds"] for o in outs) or 1e-9
    delivered = sum(o["delivered"] for o in outs)
    topics = outs[0]["delivered_since_start_by_topic"]
    return {
        "processes": processes,
        "pending_before": pending,
        "delivered": delivered,
        "seconds": seconds,
        "events_per_s": round(delivered / seconds, 1),
        "payments_released_per_s": round(topics.get("payment.paid", 0) / seconds, 1),
        "worker_cpu_ms_per_event": round(1000 * sum(o["cpu_s"] for o in outs) / max(1, delivered), 2),
        "by_topic": topics,
        "per_process": [{"delivered": o["delivered"], "seconds": o["seconds"], "cpu_s": o["cpu_s"]} for o in outs],
        "postgresql_cpu_percent_of_all_cores": cpu["cpu_percent_of_all_cores"]["postgresql"],
        "busy_percent_of_all_cores": cpu["busy_percent_of_all_cores"],
    }


def wait_quiet(server: Server, limit_s: float, busy_percent: float = 10.0) -> float:
    """Wait (up to ``limit_s``) until the rest of the machine — not the server, the worker,
    PostgreSQL — uses less than ``busy_percent`` of all cores (a neighbour's test suite would take
    the cores from the run); returns what it used over the last 3 s."""
    deadline = time.monotonic() + limit_s
    ours = {"web_server": server.server_pids, "task_worker": server.worker_pids, "postgresql": postgres_pids}
    while True:
        meter = CpuMeter(ours)
        time.sleep(3)
        other = float(meter.stop()["cpu_percent_of_all_cores"]["other"])
        if other < busy_percent or time.monotonic() > deadline:
            if other >= busy_percent:
                log(f"WARNING: the machine is busy ({other}% of all cores used by other processes): measuring anyway")
            return other
        log(f"the machine is busy ({other}% of all cores used by other processes): waiting")
        time.sleep(10)


def ipn_worker_check(server: Server) -> None:
    """The task worker must be running during a measured run (it delivers the outbox: the payment.paid
    events each 00 publishes); start it again if it died."""
    if server.with_worker and not server.worker_alive():
        log(f"WARNING: the task worker is not running ({server.worker_failure() or 'no message'}): restarting it")
        server.restart_worker()


def bench_ipn(server: Server, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """The payments issue's: the gateway's IPN with repeats mixed in, ≥ 500 callbacks/s, and the books
    checked after each run (zero double-counted payments)."""
    sweep = [int(c) for c in args.ipn_connections.split(",")]
    drains = [int(k) for k in args.drain_processes.split(",")]
    fixtures: dict[str, Any] = {}
    fastest = 0.0
    # the warm-up: its own transactions, sized at --ipn-rate (running out early only shortens it)
    warm_txns = ipn_txns(args.warmup, args.ipn_rate, args.ipn_repeats)
    log(f"ipn: fixtures for the warm-up ({warm_txns:,} transactions)")
    path, fixtures["warmup"] = ipn_file(env, args, "warmup", warm_txns)
    fixtures["queries"] = django_script(env, "payment_fixtures.py", "queries")
    log(f"ipn: warm-up {args.warmup}s at {sweep[0]} connections")
    raw = wrk(server.url, "ipn.lua", [str(path), str(args.threads)], sweep[0], args.warmup, args.threads)
    answers = raw["ipn"]["answers"]
    fastest = (answers["00"] + answers["02"]) / raw["duration_s"]
    if raw["ipn"]["threads_exhausted"]:
        fastest *= 2  # it ran out: faster than that
    runs = []
    for c in sweep:
        rate = max(args.ipn_rate, 2 * fastest)
        for _attempt in range(3):
            ipn_worker_check(server)
            txns = ipn_txns(args.duration, rate, args.ipn_repeats)
            path, fx = ipn_file(env, args, f"c{c}", txns)
            ipn_worker_check(server)
            quiet = wait_quiet(server, args.quiet_wait)
            log(f"ipn: {c} connections, {args.duration}s ({fx['lines']['lines']:,} lines, sized for {rate:,.0f}/s)")
            result = ipn_run(server, env, args, path, c, args.duration)
            result["other_cpu_percent_before_run"] = quiet
            result["file"] = {"sized_for_per_s": round(rate), **fx["lines"]}
            result["pool"] = fx["pool"]
            fastest = max(fastest, result["throughput_per_s"])
            b = result["books"]
            log(
                f"  {result['throughput_per_s']}/s p50 {result['p50_ms']} p95 {result['p95_ms']}"
                f" p99 {result['p99_ms']} ms errors {result['errors']};"
                f" answers 00 {b['answers_00']:,} 02 {b['answers_02']:,} other {b['answers_other']};"
                f" orders paid {b['orders_paid']:,}, receipts {b['receipts']:,},"
                f" refunds {b['refunds']}; zero double-counted: {result['zero_double_counted_payments']}"
                f"; other processes {result['cpu']['cpu_percent_of_all_cores']['other']}% of the cores"
            )
            if not server.with_worker:  # the reactions it left: the worker's rate, measured apart
                k = drains[len(runs) % len(drains)]
                result["reactions"] = drain = drain_outbox(env, args.database_url, k)
                log(
                    f"  reactions: {drain['delivered']:,} outbox events delivered by {k} worker process(es) in"
                    f" {drain['seconds']} s: {drain['events_per_s']}/s ({drain['payments_released_per_s']}"
                    f" payments/s), worker CPU {drain['worker_cpu_ms_per_event']} ms/event"
                )
            if result["exhausted"]:
                log("  it RAN OUT of lines: again with a file twice as long")
                rate *= 2
            elif result["task_worker_died"]:
                log(f"  the task worker DIED during the run ({result['task_worker_failure']}): again")
            else:
                runs.append(result)
                break
            runs.append({**result, "repeated": True})  # kept, marked: not a valid measurement
    complete = [r for r in runs if not r.get("repeated")]
    best = max(complete or runs, key=lambda r: (r["errors"] == 0, r["throughput_per_s"]))
    zero_double = all(r["zero_double_counted_payments"] for r in runs)
    out = {
        "name": "ipn",
        "benchmark": IPN_LABEL,
        "target": {**TARGETS["ipn"], "double_counted_payments": 0},
        "best": best,
        "met": best["errors"] == 0 and best["throughput_per_s"] >= TARGETS["ipn"]["throughput_per_s"] and zero_double,
        "throughput_met": best["throughput_per_s"] >= TARGETS["ipn"]["throughput_per_s"],
        "zero_double_counted_payments": zero_double,
        "sweep": runs,
        "fixtures": fixtures,
        "repeat_share": args.ipn_repeats,
        "warmup_s": args.warmup,
        "gateway": {
            "tmn_code": env["HCMGOV_VNPAY_TMN_CODE"],
            "account": "hcmgov.simulators.pay (TMN_CODE, HASH_SECRET)",
        },
    }
    if args.profile == "always" or (args.profile == "auto" and not out["met"]):
        c = best["connections"]
        rate = max(args.ipn_rate, 2 * fastest)
        ipn_worker_check(server)
        path, fx = ipn_file(env, args, "profile", ipn_txns(args.duration, rate, args.ipn_repeats))
        ipn_worker_check(server)
        wait_quiet(server, args.quiet_wait)
        log(f"ipn: profiling the web workers with py-spy ({args.duration}s at {c} connections; not counted)")
        out["profile"] = profile_run(
            server,
            args.duration,
            lambda: ipn_run(server, env, args, path, c, args.duration),
            categories=CATEGORIES + IPN_CATEGORIES,
        )
        out["zero_double_counted_payments_in_profiled_run"] = out["profile"]["run"]["zero_double_counted_payments"]
    return out


# --- report --------------------------------------------------------------------------------------


def run_note(run: dict[str, Any]) -> str:
    """Why a run of the sweep does not count (it was repeated)."""
    if not run.get("repeated"):
        return ""
    return " (ran out of lines: repeated)" if run.get("exhausted") else " (task worker died: repeated)"


def ipn_readme(r: dict[str, Any]) -> list[str]:
    """The IPN benchmark's answers and books, run by run."""
    out = [
        "",
        f"Each line of a run's file is sent once, in order; about {r['repeat_share']:.0%} of them repeat an"
        " earlier IPN (half right after it, racing it; half later). A 00 answer settles a transaction and"
        " pays its order; a repeat is answered 02. After each run the books of the file's transactions are"
        " read from the database (`bench/payment_fixtures.py verify`).",
        "",
        "| connections | IPN sent | answered 00 / 02 / other | callbacks kept | orders paid | transactions"
        " succeeded | receipts | refunds | orders paid twice | every 00 = one paid order | zero double-counted |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["sweep"]:
        b = s["books"]
        out.append(
            f"| {s['connections']}{run_note(s)} | {b['ipn_sent']:,} | {b['answers_00']:,} / {b['answers_02']:,} /"
            f" {b['answers_other']} | {b['callbacks_kept']:,} | {b['orders_paid']:,} | {b['transactions_succeeded']:,}"
            f" | {b['receipts']:,} | {b['refunds']} | {b['orders_with_more_than_one_paying_transaction']}"
            f" | {'yes' if s['every_00_is_exactly_one_paid_order'] else '**no**'}"
            f" | {'yes' if s['zero_double_counted_payments'] else '**NO**'} |"
        )
    drains = [s for s in r["sweep"] if s.get("reactions")]
    if drains:
        out += [
            "",
            "Without the worker, the reactions each run left in the outbox (`payment.paid`: the dossier released"
            " from status 6, then `dossier.payment_settled`: the applicant's e-mail and SMS queued) were delivered"
            " afterwards by worker processes side by side, alone on the cores (`bench/payment_fixtures.py drain`):",
            "",
            "| after the run at | worker processes | events delivered | seconds | events/s | payments released/s"
            " | worker CPU per event | PostgreSQL CPU % |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in drains:
            d = s["reactions"]
            out.append(
                f"| {s['connections']} connections | {d['processes']} | {d['delivered']:,} | {d['seconds']:.1f}"
                f" | {d['events_per_s']:,.0f} | {d['payments_released_per_s']:,.0f}"
                f" | {d['worker_cpu_ms_per_event']} ms | {d['postgresql_cpu_percent_of_all_cores']} |"
            )
    died = [s for s in r["sweep"] if s.get("task_worker_died")]
    if died:
        out += [
            "",
            f"The task worker died during {len(died)} run(s) ({died[0].get('task_worker_failure') or 'no message'});"
            " each such run was repeated after restarting it, and is not counted: without the worker delivering"
            " the outbox, the server has the cores to itself.",
        ]
    q = r.get("fixtures", {}).get("queries") or {}
    if q:
        out += [
            "",
            "SQL statements per IPN (CaptureQueriesContext, BEGIN and COMMIT included; add one `SELECT 1`: the"
            f" connection health check): a first IPN {q['first']['queries']}, a repeat {q['repeat']['queries']}.",
        ]
    fx = r["best"].get("file", {})
    if fx.get("procedures"):
        out.append(
            f"Load ({r['best']['connections']} connections): {fx['transactions']:,} pending transactions, each of"
            f" a due order of a dossier of one of {len(fx['procedures'])} fee procedures at {fx['agencies']}"
            f" agencies, submitted online through the service by {fx['applicants']} applicants; the order made"
            " by the payments handler (`order_ensure`), the transaction by `transaction_start`; amounts as the"
            f" catalogue's fee lines give them ({fx['amount_min_dong']:,} to {fx['amount_max_dong']:,} đồng)."
            " Every IPN is signed with the simulator's merchant account, which the server's gateway settings"
            " carry."
        )
    return out


def write_readme(info: dict[str, Any]) -> None:
    results = {}
    for name in ("submit", "tracking_api", "tracking_html", "act", "queues", "ipn", "fill"):
        path = RESULTS / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`); the JSON files beside this one hold every number,",
        "the wrk command lines and the CPU accounting. Server (granian WSGI, 2 workers, `--no-ws`, the",
        "task worker beside it, as `make serve`), PostgreSQL and the load generator (wrk, 1 thread)",
        "**share the same cores**: the load generator's and PostgreSQL's CPU is taken from the server's.",
        "The task worker serves the default queue; the long batch jobs' queue (the hourly warehouse",
        "refresh, the statistics compaction …) is not served during the runs: in the city it has",
        "workers of its own, and here it would take minutes of the shared cores at random moments.",
        "",
        "| benchmark | target | measured throughput | p50 | p95 | p99 | errors | duration | concurrency | met | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("submit", "tracking_api", "tracking_html", "act", "queues", "ipn"):
        r = results.get(name)
        if not r:
            continue
        b = r["best"]
        t = r["target"]
        target = (f"≥ {t['throughput_per_s']:,}/s" if "throughput_per_s" in t else f"p95 < {t.get('p95_ms')} ms") + (
            f", p99 < {t['p99_ms']} ms" if "p99_ms" in t else ""
        )
        lines.append(
            f"| {r['benchmark']} | {target} | **{b['throughput_per_s']:,.0f}/s** | {b['p50_ms']:.1f} ms "
            f"| {b['p95_ms']:.1f} ms | {b['p99_ms']:.1f} ms | {b['errors']} of {b['requests']:,} "
            f"| {b['duration_s']:.0f} s | {b['connections']} | {'yes' if r['met'] else '**no**'} | {r['date']} |"
        )
    for name in ("submit", "tracking_api", "tracking_html", "act", "queues", "ipn"):
        r = results.get(name)
        if not r or (len(r["sweep"]) < 2 and name not in ("submit", "ipn")):
            continue
        lines += [
            "",
            f"## {r['benchmark']}: by concurrency",
            "",
            "| connections | throughput | p50 | p95 | p99 | max | errors"
            " | CPU % of all cores: server / worker / PostgreSQL / wrk / other |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in r["sweep"]:
            c = s["cpu"]["cpu_percent_of_all_cores"]
            lines.append(
                f"| {s['connections']}{run_note(s)} | {s['throughput_per_s']:,.0f}/s | {s['p50_ms']:.1f} ms"
                f" | {s['p95_ms']:.1f} ms "
                f"| {s['p99_ms']:.1f} ms | {s['latency_ms']['max']:.0f} ms | {s['errors']} "
                f"| {c['web_server']} / {c['task_worker']} / {c['postgresql']} / {c['load_generator']} / {c['other']} |"
            )
        if name == "submit":
            lines += [
                "",
                "Best configuration "
                + ("meeting p99 < 250 ms" if r["best_meets_p99"] else "(none meets p99 < 250 ms: highest throughput)")
                + f": {r['best']['connections']} connections, {r['best']['throughput_per_s']:,.0f} dossiers/s. "
                + "Every dossier counted as created was checked in the database by its Idempotency-Key.",
            ]
            fx = r.get("fixtures", {})
            if fx:
                lines.append(
                    f"Load: {fx.get('procedures')} real procedures, {fx.get('applicants')} applicants with their own"
                    f" tokens, {fx.get('agencies_in_templates')} receiving agencies (commune People's"
                    f" Committees, commune police, departments), {fx.get('attachments_per_dossier_avg')} PDF"
                    " attachments per dossier"
                    f" ({fx.get('pdf_bytes')} bytes each), valid forms from `jsonform.sample`."
                )
            if fx.get("queries"):
                q = fx["queries"]
                lines.append(
                    "SQL statements per request (CaptureQueriesContext; add one `SELECT 1` per request: the"
                    " connection health check, CONN_HEALTH_CHECKS):"
                    + ", ".join(f" {k} {v['queries']}" for k, v in q.items())
                    + "."
                )
        if name == "ipn":
            lines += ipn_readme(r)
    fill = results.get("fill")
    if fill:
        lines += [
            "",
            "## The 1,000,000-dossier database",
            "",
            f"Filled with `hcmgov demo --dossiers N --quiet` on PostgreSQL: {fill['added']:,} dossiers in "
            f"{fill['seconds']:,.0f} s ({fill['per_second']:,.0f}/s) on {fill['date']}; kept and reused by later runs"
            f" (the lookups ran over {results.get('tracking_api', {}).get('dossiers_in_db', 0):,} rows)."
            + (f" {fill['note']}" if fill.get("note") else ""),
        ]
    for name in ("submit", "tracking_api", "act", "ipn"):
        prof = results.get(name, {}).get("profile")
        if not prof:
            continue
        lines += [
            "",
            f"## Profile of the web workers under load: {results[name]['benchmark']}",
            "",
            f"py-spy, {prof['samples']:,} samples over both workers, run at {prof['run']['connections']} connections"
            f" ({prof['run']['throughput_per_s']:,.0f}/s while profiled). Share of samples (inclusive):",
            "",
        ]
        lines += [f"- {share}% `{frame}`" for share, frame in prof.get("categories", [])]
    m = info["machine"]
    cal = info.get("calibration")
    srv = info.get("server")
    lines += [
        "",
        "## Machine",
        "",
        f"- `nproc`: {m['nproc']}; CPU: {m['cpu_model']}; RAM: {m['ram_gib']} GiB; kernel {m['kernel']}",
        f"- Python {m['python']}, Django {m['django']}, granian {m['granian']}, PostgreSQL {m['postgresql']}"
        f" (default configuration), {m['wrk']}",
        f"- git commit {m['git_commit']}",
        *(
            [
                f"- Calibration: the bare Django 'hello' view (`bench/hello.py`, granian, 2 workers, wrk -t1 -c32)"
                f" serves {cal['hello_req_per_s']:,} req/s here against 11,100 in shared/MEASUREMENTS.md"
                f" (×{cal['ratio']}): this machine is"
                f" {'faster' if cal['ratio'] >= 1 else 'slower'} than the reference one by that factor."
            ]
            if cal
            else []
        ),
        *(
            [
                f"- Server: `{srv['command']}`"
                + ("" if srv["as_make_serve"] else " — **an experiment, not `make serve`**")
            ]
            if srv
            else []
        ),
        "- CPU % columns: share of all cores used during the measured run by each party; 'other' is"
        " everything else on the machine (a busy neighbour lowers the numbers).",
        "",
    ]
    (RESULTS / "README.md").write_text("\n".join(lines))


def save(name: str, data: dict[str, Any], info: dict[str, Any]) -> None:
    for key in ("date", "machine", "calibration", "server"):
        if key in info:
            data[key] = info[key]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["submit", "tracking", "processing", "ipn"])
    parser.add_argument("--act-connections", default="4,8", help="concurrency sweep for step actions")
    parser.add_argument("--act-steps", type=int, default=0, help="open steps to prepare (default: enough)")
    parser.add_argument("--queue-connections", default="4", help="concurrency (list) for queue reads")
    parser.add_argument("--duration", type=int, default=30, help="seconds of each measured run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up before each benchmark")
    parser.add_argument("--submit-connections", default="4,8,16,32", help="concurrency sweep for submissions")
    parser.add_argument("--tracking-connections", default="32", help="concurrency (list) for lookups")
    parser.add_argument("--ipn-connections", default="8,16,32", help="concurrency sweep for the gateway's IPN")
    parser.add_argument(
        "--ipn-rate",
        type=float,
        default=300,
        help="IPN/s each run's file is sized for at least (more: 2× the fastest rate seen in the run)",
    )
    parser.add_argument("--ipn-repeats", type=float, default=0.3, help="share of IPN lines that repeat an earlier one")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300,
        help="seconds an IPN run may wait for other processes to leave the cores (then it measures anyway)",
    )
    parser.add_argument(
        "--ipn-jobs",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="processes submitting the IPN fixtures' dossiers side by side",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--dossiers", type=int, default=1_000_000, help="fill the database up to this many")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument("--no-worker", action="store_true", help="do not run the task worker beside the server")
    parser.add_argument(
        "--drain-processes",
        default="1,2",
        help="--no-worker: after each IPN run, worker processes that deliver what it left (cycled over the runs)",
    )
    parser.add_argument(
        "--blocking-threads",
        type=int,
        default=int(os.environ.get("THREADS", "2")),
        help="granian's --blocking-threads (make serve: THREADS, default 2); another value is an experiment",
    )
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="an extra run with py-spy on the web workers: auto = when a target is missed",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    args = parser.parse_args()

    started = time.monotonic()
    global RESULTS
    if args.blocking_threads != 2:  # an experiment: kept apart from the numbers of `make bench`
        RESULTS = RESULTS / f"blocking-threads-{args.blocking_threads}"
    if args.no_worker:  # the web node alone (the worker on other machines): kept apart too
        RESULTS = RESULTS / "no-worker"
    ensure_wrk()
    url = args.database_url
    ensure_database(url)
    WORK.mkdir(parents=True, exist_ok=True)
    from hcmgov.simulators.pay import HASH_SECRET, TMN_CODE

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(WORK / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(WORK / "prometheus"),
        # the gateway: the simulator's merchant account (the IPN benchmark signs with it); nothing
        # listens at the pay URL and there is no transaction API (no query or refund is sent)
        "HCMGOV_VNPAY_PAY_URL": "http://127.0.0.1:9/paymentv2/vpcpay.html",
        "HCMGOV_VNPAY_TMN_CODE": TMN_CODE,
        "HCMGOV_VNPAY_HASH_SECRET": HASH_SECRET,
        "HCMGOV_VNPAY_API_URL": "",
        # the IPN fixtures' transactions stay payable for a week: the pool is kept between runs
        "HCMGOV_PAYMENT_EXPIRY_MINUTES": "10080",
    }
    (WORK / "prometheus").mkdir(parents=True, exist_ok=True)
    info = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(url)}
    log(f"database {url}; machine {info['machine']}")
    log("migrate, collectstatic, demo")
    hcmgov(env, "migrate", "--noinput")
    hcmgov(env, "collectstatic", "--noinput", "--verbosity", "0")
    rows = int(db_scalar(url, "SELECT count(*) FROM dossiers_dossier"))
    if rows == 0:  # a kept database has the demo city already; loading it again over a million
        hcmgov(env, "demo")  # dossiers (its warehouse extract above all) took 12 minutes of each run
        rows = int(db_scalar(url, "SELECT count(*) FROM dossiers_dossier"))
    if args.only in (None, "tracking", "processing") and rows < args.dossiers:
        missing = args.dossiers - rows
        log(f"filling the database: {rows:,} dossiers, adding {missing:,} (kept for later runs)")
        seconds = hcmgov(env, "demo", "--dossiers", str(missing), "--quiet")
        rows = int(db_scalar(url, "SELECT count(*) FROM dossiers_dossier"))
        save(
            "fill",
            {
                "added": missing,
                "seconds": round(seconds, 1),
                "per_second": round(missing / seconds, 1),
                "rows_after": rows,
            },
            info,
        )
        log(f"filled in {seconds:,.0f} s")
    behind = repair_sequences(url)
    if behind:
        log(f"WARNING: {behind} day sequences were behind issued codes (an interrupted fill?): raised")
    subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=False, capture_output=True)
    log("fixtures")
    for stale in ("submit.txt", "tracking_api.txt", "tracking_html.txt"):
        (WORK / stale).unlink(missing_ok=True)
    fixtures: dict[str, Any] = {}
    if args.only in (None, "submit", "tracking"):
        fixtures = django_script(env, "fixtures.py", "--out", str(WORK), *(["--only", args.only] if args.only else []))
        fixtures["queries"] = django_script(env, "queries.py", "--work", str(WORK))
    log(f"fixtures: {json.dumps({k: v for k, v in fixtures.items() if k != 'procedure_codes'})}")

    # Events the fixtures and earlier runs left undelivered would be the worker's work during the
    # measurement (a 28 Nov run: the worker took a third of the cores while status lookups were
    # measured, lookups that make no event at all): delivered first, not measured.
    pending = int(db_scalar(url, "SELECT count(*) FROM core_outboxevent WHERE delivered_at IS NULL"))
    if pending:
        log(f"delivering {pending:,} outbox events the fixtures and earlier runs left (not measured)")
        drained = drain_outbox(env, url, 1)
        log(f"delivered {drained['delivered']:,} in {drained['seconds']:,.0f} s")
    log("calibration: bare Django hello view")
    info["calibration"] = calibrate(env, args)
    log(f"calibration: {info['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100)")
    extra = ["--blocking-threads", str(args.blocking_threads)]
    info["server"] = {
        "command": "granian --interface wsgi --host 127.0.0.1 --port <free> --workers "
        f"{args.workers} --no-ws --log-level warning {' '.join(extra)} hcmgov.wsgi:application".replace("  ", " "),
        "as_make_serve": args.blocking_threads == 2,
        "task_worker": not args.no_worker,
    }
    server = Server(env, free_port(), args.workers, not args.no_worker, extra)
    with running(server):
        log(f"server up at {server.url} (pids {server.server_pids()}, worker {server.worker_pids()[:1]})")
        if args.only in (None, "submit"):
            save("submit", bench_submit(server, args, url, fixtures), info)
        if args.only in (None, "tracking"):
            for result in bench_tracking(server, args, rows, fixtures.get("tracking_codes", 0)):
                result["queries"] = fixtures["queries"].get(result["name"])
                save(result["name"], result, info)
        if args.only in (None, "processing"):
            for result in bench_processing(server, args, env, rows):
                save(result["name"], result, info)
        if args.only in (None, "ipn"):
            save("ipn", bench_ipn(server, args, env), info)
    write_readme(info)
    log(f"done in {time.monotonic() - started:,.0f} s; results in {RESULTS}")


if __name__ == "__main__":
    main()
