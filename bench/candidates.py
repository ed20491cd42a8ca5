"""Measure the load-generator candidates against the same server (docs/decisions/0007-benchmarks.md).

Run after ``bench/run.py`` has prepared ``bench/.work`` (fixtures, static files):

    pip install --target /tmp/hcmgov-bench-aiohttp aiohttp    # only for the Python candidate
    .venv/bin/python bench/candidates.py [--duration 10]

Each candidate drives the same endpoint with 32 connections on the same cores as the server; the
better generator is the one that leaves more CPU to the server (higher req/s at the server) while
using less itself. Writes bench/results/candidates.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run

AIOHTTP = Path("/tmp/hcmgov-bench-aiohttp")  # noqa: S108 - a tool outside the project


def pg_connections(url: str, stop: threading.Event, seen: list[int]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()
            seen.append(int(row[0]) if row else 0)
            time.sleep(0.5)


def timed(server: run.Server, url: str, cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    stop, seen = threading.Event(), []  # type: ignore[var-annotated]
    watcher = threading.Thread(target=pg_connections, args=(url, stop, seen), daemon=True)
    watcher.start()
    before = run.children_cpu()
    meter = run.CpuMeter({"web_server": server.server_pids, "task_worker": server.worker_pids})
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t0
    cpu = meter.stop()
    stop.set()
    watcher.join()
    load = run.children_cpu() - before
    out: dict[str, Any] = {
        "command": " ".join(cmd),
        "loadgen_cpu_percent_of_one_core": round(100 * load / elapsed, 1),
        "server_cpu_percent_of_all_cores": cpu["cpu_percent_of_all_cores"]["web_server"],
        "max_db_connections_of_bench_db": max(seen or [0]),
    }
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            ok = sum(v for k, v in data["statuses"].items() if k.startswith("2"))
            out.update(
                per_second=round(data["requests"] / data["duration_s"], 1),
                ok_per_second=round(ok / data["duration_s"], 1) if data["statuses"] else None,
                statuses=data["statuses"],
                p50_ms=data["latency_ms"]["percentiles"]["50"],
                p99_ms=data["latency_ms"]["percentiles"]["99"],
            )
        elif line.startswith("Requests/sec:"):
            out["per_second"] = float(line.split()[1])
        elif line.startswith("{"):
            data = json.loads(line)
            out.update({k: data[k] for k in ("per_second", "statuses", "p50_ms", "p99_ms", "errors")})
    if proc.returncode != 0:
        out["failed"] = proc.stderr[-500:]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--blocking-threads", type=int, default=None, help="granian --blocking-threads N")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or run.DEFAULT_DB)
    args = parser.parse_args()
    url, d, c = args.database_url, str(args.duration), str(args.connections)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(run.WORK / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(run.WORK / "prometheus"),
    }
    paths = str(run.WORK / "tracking_api.txt")
    health = run.WORK / "healthz.txt"
    health.write_text("/healthz\n")
    py = str(run.VENV_BIN / "python")
    pyenv = {**os.environ, "PYTHONPATH": str(AIOHTTP)}
    extra = ["--blocking-threads", str(args.blocking_threads)] if args.blocking_threads else []
    server = run.Server(env, run.free_port(), 2, with_worker=False, extra=extra)
    results: dict[str, Any] = {}
    with run.running(server):
        u = server.url
        lua = str(run.BENCH / "tracking.lua")
        pyload = [py, str(run.BENCH / "pyload.py"), u, "-c", c, "-d", d, "--paths"]
        plan = {
            "healthz: wrk -t1, no script": ["wrk", "-t1", f"-c{c}", f"-d{d}s", f"{u}/healthz"],
            "healthz: wrk -t2, no script": ["wrk", "-t2", f"-c{c}", f"-d{d}s", f"{u}/healthz"],
            "healthz: wrk -t1, Lua counting statuses": [
                "wrk", "-t1", f"-c{c}", f"-d{d}s", "-s", lua, u, "--", str(health)
            ],
            "healthz: python asyncio+aiohttp": [*pyload, str(health)],
            "tracking: wrk -t1, Lua counting statuses": [
                "wrk", "-t1", f"-c{c}", f"-d{d}s", "-s", lua, u, "--", paths
            ],
            "tracking: wrk -t1, Lua nocount": [
                "wrk", "-t1", f"-c{c}", f"-d{d}s", "-s", lua, u, "--", paths, "nocount"
            ],
            "tracking: python asyncio+aiohttp": [*pyload, paths],
        }  # fmt: skip
        for name, cmd in plan.items():
            if "aiohttp" in name and not AIOHTTP.exists():
                results[name] = {"skipped": f"aiohttp not installed in {AIOHTTP}"}
                continue
            run.wrk(u, "tracking.lua", [str(health)], int(c), 2, 1)  # settle
            results[name] = timed(server, url, cmd, pyenv if "aiohttp" in name else None)
            run.log(f"{name}: {results[name]}")
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    (run.RESULTS / "candidates.json").write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "server": "granian --interface wsgi --workers 2 --no-ws " + " ".join(extra) + " (no task worker)",
                "connections": args.connections,
                "duration_s": args.duration,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
