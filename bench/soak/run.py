"""Load and soak (issue 13 item 7): citizens, officials, API clients and sensors at once for ten
minutes against the platform's real processes, with no errors and bounded memory.

    .venv/bin/python bench/soak/run.py                  # 10 minutes (`make soak`)
    .venv/bin/python bench/soak/run.py --minutes 2      # a shorter soak
    .venv/bin/python bench/soak/run.py --smoke          # ~20 s, few users (tests/operations/test_soak_smoke.py)

1. PostgreSQL (``DATABASE_URL``, or postgres://postgres@127.0.0.1:5432/hcmgov_soak, created if
   missing) → ``hcmgov migrate`` → ``hcmgov demo`` (idempotent) → ``bench/soak/fixtures.py`` (the
   users' accounts, tokens, a machine client, IoT devices and NGSI-LD entities).
2. The processes as ``make serve`` starts them: granian WSGI (``--workers``/``--threads``, as
   WORKERS/THREADS), the task worker (``hcmgov worker``: beat, outbox, notifications), and the
   simulators the demo runs beside them (payment gateway, post, time-stamping authority, NDXP).
3. locust headless (``bench/soak/locustfile.py``) for the run's length, its statistics in CSV;
   meanwhile the resident memory (RSS) of every server process is sampled every 10 s (5 s in the
   smoke).
4. ``bench/results/soak.json`` and ``bench/results/soak.md`` (``--out``: elsewhere): p50/p95/p99
   per request type, per user class and overall, failures, requests/s, RSS at start, middle and
   end of each process, and whether memory stayed bounded (the rule: see :func:`memory_verdict`).

The run fails (exit status 1) on any failed request or unbounded memory.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SOAK = Path(__file__).resolve().parent
BENCH = SOAK.parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402 - bench/run.py: machine info, process trees, database creation

ROOT = bench.ROOT
VENV_BIN = bench.VENV_BIN
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_soak"
CLASSES = ("citizen", "official", "client", "sensor")
DEMO_DOSSIERS = 3000  # `hcmgov demo` fills up to this many: a database with them has the demo city
# as `make serve`: the simulators the demo runs when no real gateway, post or TSA is configured
SIMULATORS = ("pay", "post", "tsa", "ndxp")
# memory is bounded when the second half's RSS, at its least-squares slope, would grow by less
# than this share of its mid-run size in ten minutes (noise from arenas and caches filling stays
# below it; a leak of a few kB per request on thousands of requests a minute does not)
GROWTH_LIMIT_PER_10_MIN = 0.05


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- processes -----------------------------------------------------------------------------------


class Processes:
    """The web server, the task worker and the simulators, each in its own session (stopped by
    process group, ours alone)."""

    def __init__(self, env: dict[str, str], port: int, workers: int, threads: int, logs: Path) -> None:
        self.env, self.port, self.workers, self.threads, self.logs = env, port, workers, threads, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.procs[name] = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=(self.logs / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(SIMULATORS, start=1):
            self._spawn(f"sim-{name}", [str(VENV_BIN / "hcmgov"), "sim", name, "--port", str(self.port + i)], self.env)
        self._spawn("worker", [str(VENV_BIN / "hcmgov"), "worker"], self.env)
        self._spawn(
            "web",
            [
                str(VENV_BIN / "granian"),
                *("--interface", "wsgi", "--host", "127.0.0.1", "--port", str(self.port)),
                *("--workers", str(self.workers), "--blocking-threads", str(self.threads)),
                *("--no-ws", "--log-level", "warning", "hcmgov.wsgi:application"),
            ],
            self.env,
        )
        # a loaded machine imports slowly
        bench.wait_answering(f"{self.url}/healthz", self.procs, self.logs, seconds=300, pause=0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def groups(self) -> dict[str, list[int]]:
        """Each process we started and its children, by a stable label (granian's workers:
        web-1, web-2…; the worker's pool processes: worker-child-1…)."""
        out: dict[str, list[int]] = {}
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                continue
            pids = bench.tree(proc.pid)
            out[name] = [proc.pid]
            for k, pid in enumerate(sorted(pids[1:]), start=1):
                out[f"{name}-child-{k}" if name != "web" else f"web-worker-{k}"] = [pid]
        return out

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """RSS of every server process every ``period`` seconds: ``samples`` is a list of
    ``(seconds since start, {label: MiB})``."""

    def __init__(self, processes: Processes, period: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.processes, self.period = processes, period
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.halt = threading.Event()
        self.started_at = time.monotonic()

    def sample(self) -> None:
        row = {label: sum(rss_kib(p) for p in pids) / 1024 for label, pids in self.processes.groups().items()}
        self.samples.append((round(time.monotonic() - self.started_at, 1), {k: round(v, 1) for k, v in row.items()}))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.period)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)
        self.sample()


# --- results -------------------------------------------------------------------------------------


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, MiB)`` points, in MiB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0


def memory_verdict(samples: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
    """RSS at start, middle and end of each process and of the platform's together (``total``: the
    web server and its workers, the task worker and its children; the simulators stand in for
    outside systems and are reported, not judged), and the rule: memory is bounded when the
    total's least-squares slope over the second half of the run, held for ten minutes, adds less
    than ``GROWTH_LIMIT_PER_10_MIN`` of the mid-run total. The first half is warm-up (imports,
    connection pools, caches filling); a leak keeps growing after it."""
    labels = sorted({label for _, row in samples for label in row})
    half = samples[len(samples) // 2 :]
    per: dict[str, Any] = {}

    def platform(row: dict[str, float]) -> float:
        return sum(v for k, v in row.items() if not k.startswith("sim-"))

    for label in [*labels, "total"]:
        series = [(t, row.get(label, 0.0) if label != "total" else platform(row)) for t, row in samples]
        second = [(t, v) for t, v in series[len(series) // 2 :]]
        start, mid, end = series[0][1], series[len(series) // 2][1], series[-1][1]
        per[label] = {
            "start_mib": round(start, 1),
            "middle_mib": round(mid, 1),
            "end_mib": round(end, 1),
            "growth_mib": round(end - start, 1),
            "growth_second_half_mib": round(end - mid, 1),
            "slope_second_half_mib_per_min": round(slope_per_min(second), 2),
        }
    total = per["total"]
    projected = total["slope_second_half_mib_per_min"] * 10
    limit = GROWTH_LIMIT_PER_10_MIN * total["middle_mib"]
    return {
        "processes": per,
        "rule": (
            "bounded when the platform's total RSS (web server and workers, task worker; not the simulators):"
            " its least-squares slope over the second half of the run, held for 10 minutes,"
            f" adds less than {GROWTH_LIMIT_PER_10_MIN:.0%} of the mid-run total"
        ),
        "second_half_samples": len(half),
        "projected_growth_10_min_mib": round(projected, 1),
        "limit_mib": round(limit, 1),
        "bounded": projected < limit,
    }


def read_stats(prefix: Path) -> dict[str, Any]:
    """locust's ``<prefix>_stats.csv``: per request name and the ``Aggregated`` row."""
    rows = list(csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()))

    def num(row: dict[str, str], key: str) -> float:
        value = row.get(key, "") or "0"
        return float(value) if value != "N/A" else 0.0

    def entry(row: dict[str, str]) -> dict[str, Any]:
        return {
            "requests": int(num(row, "Request Count")),
            "failures": int(num(row, "Failure Count")),
            "requests_per_s": round(num(row, "Requests/s"), 2),
            "p50_ms": num(row, "50%"),
            "p95_ms": num(row, "95%"),
            "p99_ms": num(row, "99%"),
            "max_ms": round(num(row, "Max Response Time"), 1),
        }

    out: dict[str, Any] = {"requests": {}, "overall": {}}
    for row in rows:
        if row["Name"] == "Aggregated":
            out["overall"] = entry(row)
        else:
            out["requests"][f"{row['Name']}"] = {"method": row["Type"], **entry(row)}
    by_class: dict[str, dict[str, int]] = {}
    for name, e in out["requests"].items():
        cls = name.split(":", 1)[0]
        c = by_class.setdefault(cls, {"requests": 0, "failures": 0})
        c["requests"] += e["requests"] if e["method"] != "INFO" else 0
        c["failures"] += e["failures"]
    out["by_class"] = by_class
    failures_csv = prefix.parent / f"{prefix.name}_failures.csv"
    out["failure_messages"] = (
        [{k: r[k] for k in ("Method", "Name", "Error", "Occurrences")} for r in csv.DictReader(failures_csv.open())]
        if failures_csv.exists()
        else []
    )
    return out


def markdown(result: dict[str, Any]) -> str:
    s, m, mem = result["stats"], result["machine"], result["memory"]
    o = s["overall"]
    lines = [
        "# Load and soak (issue 13 item 7)",
        "",
        f"{result['date']} · {result['minutes']} min · {result['users']} users (spawn {result['spawn_rate']}/s) ·"
        f" granian WSGI {result['web_workers']} workers × {result['threads']} threads, task worker, simulators"
        f" ({', '.join(SIMULATORS)}) · PostgreSQL {m['postgresql']}",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['ram_gib']} GiB; git {m['git_commit']}."
        " Shared with other sessions: the numbers are for this run's conditions, not the platform's capacity.",
        "",
        f"**{o['requests']:,} requests, {o['failures']} failures, {o['requests_per_s']} requests/s;"
        f" p50 {o['p50_ms']:.0f} ms, p95 {o['p95_ms']:.0f} ms, p99 {o['p99_ms']:.0f} ms.**"
        f" Memory {'bounded' if mem['bounded'] else 'NOT bounded'}: {mem['rule']}"
        f" — projected {mem['projected_growth_10_min_mib']} MiB against a limit of {mem['limit_mib']} MiB.",
        "",
        "| request | n | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in sorted(s["requests"].items()):
        lines.append(
            f"| {name} | {e['requests']:,} | {e['failures']} | {e['requests_per_s']} | {e['p50_ms']:.0f} |"
            f" {e['p95_ms']:.0f} | {e['p99_ms']:.0f} | {e['max_ms']:.0f} |"
        )
    lines.append(
        f"| **all** | {o['requests']:,} | {o['failures']} | {o['requests_per_s']} | {o['p50_ms']:.0f} |"
        f" {o['p95_ms']:.0f} | {o['p99_ms']:.0f} | {o['max_ms']:.0f} |"
    )
    lines += [
        "",
        "By user class: "
        + ", ".join(
            f"{k} {v['requests']:,} requests ({v['failures']} failed)" for k, v in sorted(s["by_class"].items())
        ),
        "",
        f"Resident memory (MiB), sampled every {result['sample_seconds']} s; slope over the second half of the run:",
        "",
        "| process | start | middle | end | growth | second-half slope MiB/min |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, p in mem["processes"].items():
        shown = label if label != "total" else "**platform total** (not the simulators)"
        lines.append(
            f"| {shown} | {p['start_mib']} | {p['middle_mib']} | {p['end_mib']} | {p['growth_mib']:+} |"
            f" {p['slope_second_half_mib_per_min']:+} |"
        )
    if s["failure_messages"]:
        lines += ["", "Failures:", ""] + [
            f"- {f['Name']}: {f['Error'][:200]} ({f['Occurrences']}×)" for f in s["failure_messages"]
        ]
    lines += ["", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--spawn-rate", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("THREADS", "2")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SOAK_PORT", "9160")))
    parser.add_argument("--smoke", action="store_true", help="~20 s, 8 users: proves every user class works")
    parser.add_argument("--skip-prepare", action="store_true", help="the database is ready (migrated, demo loaded)")
    parser.add_argument("--out", type=Path, default=bench.RESULTS, help="folder of soak.json and soak.md")
    args = parser.parse_args()
    seconds = 20 if args.smoke else int(args.minutes * 60)
    users = 8 if args.smoke else args.users
    spawn = 8.0 if args.smoke else args.spawn_rate
    sample_seconds = 5 if args.smoke else 10

    url = os.environ.get("DATABASE_URL") or DEFAULT_DB
    work = bench.WORK / "soak"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": os.environ.get("HCMGOV_VAR_DIR", str(bench.WORK / "var-soak")),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
        "HCMGOV_PUBLIC_URL": f"http://127.0.0.1:{args.port}",
        "HCMGOV_SIM_PAY_IPN_URL": f"http://127.0.0.1:{args.port}/api/v1/payments/vnpay/ipn",
        "HCMGOV_VNPAY_PAY_URL": f"http://127.0.0.1:{args.port + 1}/paymentv2/vpcpay.html",
        "HCMGOV_VNPAY_API_URL": f"http://127.0.0.1:{args.port + 1}/merchant_webapi/api/transaction",
        "HCMGOV_VNPAY_STATEMENT_URL": f"http://127.0.0.1:{args.port + 1}/_sim/statement?date={{date}}",
        "HCMGOV_VNPAY_TMN_CODE": "HCMGOV01",
        "HCMGOV_VNPAY_HASH_SECRET": "HCMGOVSIMHASHSECRET0123456789ABC",  # the simulator's well-known test account
        "HCMGOV_SIM_POST_WEBHOOK_URL": f"http://127.0.0.1:{args.port}/api/v1/postal/tracking",
        "HCMGOV_POST_URL": f"http://127.0.0.1:{args.port + 2}",
        "HCMGOV_POST_TOKEN": "SIM-POST-TOKEN-0123456789",
        "HCMGOV_POST_WEBHOOK_SECRET": "SIM-POST-WEBHOOK-SECRET-0123456789",
        "HCMGOV_SIM_TSA_DIR": str(work / "sim-tsa"),
        "HCMGOV_TSA_URL": f"http://127.0.0.1:{args.port + 3}/",
        "EXCHANGE_NDXP_URL": f"http://127.0.0.1:{args.port + 4}",
    }
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    for f in Path(env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        f.unlink()
    bench.ensure_database(url)
    if not args.skip_prepare:
        log(f"database {url}: migrate")
        bench.hcmgov(env, "migrate", "--noinput")
        if (bench.db_scalar(url, "SELECT count(*) FROM dossiers_dossier") or 0) < DEMO_DOSSIERS:
            log("hcmgov demo")
            # as `make up`: the demo is loaded before the simulators run, so without their addresses
            # (the results it signs are time-stamped as when no TSA is configured)
            simulated = {"HCMGOV_TSA_URL", "HCMGOV_VNPAY_PAY_URL", "HCMGOV_VNPAY_API_URL", "HCMGOV_POST_URL"}
            bench.hcmgov({k: v for k, v in env.items() if k not in simulated}, "demo", "--quiet")
    if not (Path(env["HCMGOV_VAR_DIR"]) / "static" / "staticfiles.json").exists():  # the pages' assets
        bench.hcmgov(env, "collectstatic", "--noinput", "--verbosity", "0")
    fixtures_file = work / "fixtures.json"
    made = bench.django_script(env, "soak/fixtures.py", "--out", str(fixtures_file))
    log(f"fixtures: {made}")
    info = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": bench.machine(url)}

    processes = Processes(env, args.port, args.workers, args.threads, work / "logs")
    prefix = work / "locust"
    command = (
        f"locust -f bench/soak/locustfile.py --headless -u {users} -r {spawn:g} -t {seconds}s"
        f" --host {processes.url} --csv {prefix.relative_to(ROOT)}"
    )
    try:
        processes.start()
        log(f"servers up at {processes.url}; {command}")
        sampler = Sampler(processes, sample_seconds)
        sampler.start()
        with (work / "locust.log").open("wb") as out:
            locust = subprocess.run(
                [
                    str(VENV_BIN / "locust"),
                    *("-f", str(SOAK / "locustfile.py"), "--headless", "-u", str(users), "-r", f"{spawn:g}"),
                    *("-t", f"{seconds}s", "--host", processes.url, "--csv", str(prefix), "--only-summary"),
                    *("--stop-timeout", "10", "--loglevel", "WARNING"),
                ],
                env={**env, "SOAK_FIXTURES": str(fixtures_file)},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=seconds + 120,
            )
        sampler.stop()
        dead = processes.dead()
    finally:
        processes.stop()

    stats = read_stats(prefix)
    memory = memory_verdict(sampler.samples)
    result = {
        **info,
        "minutes": round(seconds / 60, 2),
        "smoke": args.smoke,
        "users": users,
        "spawn_rate": spawn,
        "web_workers": args.workers,
        "threads": args.threads,
        "sample_seconds": sample_seconds,
        "command": command,
        "locust_exit_status": locust.returncode,
        "processes_died": dead,
        "fixtures": made,
        "stats": stats,
        "memory": memory,
        "rss_samples": sampler.samples,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    (args.out / "soak.md").write_text(markdown(result))
    o = stats["overall"]
    log(
        f"{o['requests']:,} requests, {o['failures']} failures, {o['requests_per_s']}/s;"
        f" p50 {o['p50_ms']} p95 {o['p95_ms']} p99 {o['p99_ms']} ms; memory bounded: {memory['bounded']}"
        f" (projected {memory['projected_growth_10_min_mib']} MiB / limit {memory['limit_mib']} MiB);"
        f" by class {stats['by_class']}; results in {args.out}"
    )
    ok = o["failures"] == 0 and not dead and (args.smoke or memory["bounded"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
