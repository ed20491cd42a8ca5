"""Benchmark of the National Public Service Portal connector (issue 8): status changes pushed per
second to the portal's simulator, from :class:`PortalPush` rows queued in bulk on PostgreSQL.
Target: the status sync keeps up with 200 status changes/s.

The simulator (``hcmgov sim portal``) runs as its own process, a real HTTP server on loopback; the
connector runs here as the Celery task runs it (``exchange.tasks.portal_push``: batch after batch
of ``portal_push_send`` until nothing is due). ``--dossiers`` × ``--changes`` rows are queued at
once (``bulk_create``), as after the portal was down for a while, then sent; the rate is changes
sent over the wall-clock time of the sending. Afterwards the simulator must hold every change
once, in order per dossier (its ``/_sim/stats``: accepted, duplicates, out of order), and no row
may remain pending. The machine (cores, CPU model) and a calibration (the bare Django "hello" on
granian, wrk ``-t1 -c32``, as ``bench/run.py``; ``--no-calibration`` skips it) go with the number.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hcmgov_portalbench \\
        .venv/bin/python bench/portal_sync.py [--dossiers 2000] [--changes 5] [--profile]

Results: ``bench/results/portal-sync.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "src"))
import run  # the shared harness of bench/run.py  # noqa: E402

TARGET_PER_S = 200.0
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_portalbench"
TOKEN = "sim-portal-token-0123456789"  # noqa: S105 - the simulator's well-known test account


def start_simulator(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = run.free_port()
    proc = subprocess.Popen(
        [str(run.VENV_BIN / "hcmgov"), "sim", "portal", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("the portal simulator exited")
        try:
            sim(url, "/_sim/stats")
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("the portal simulator did not start within 60 s")


def sim(url: str, path: str, method: str = "GET") -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url + path, method=method)  # noqa: S310 - our loopback simulator
    with opener.open(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def queue(dossiers: int, changes: int) -> int:
    """Queue ``changes`` status changes for each of ``dossiers`` dossiers (statuses 1, 2, 3, 4, 9,
    then 10…), as the outbox handler would, in bulk; returns how many rows."""
    from django.utils import timezone

    from hcmgov.exchange.models import PortalPush

    now = timezone.now()
    statuses = [1, 2, 3, 4, 9, 10, 10, 10, 10, 10]
    rows = []
    for d in range(dossiers):
        code = f"000.00.01.H29-{now:%y%m%d}-{d:06d}"
        for n in range(1, changes + 1):
            at = now - dt.timedelta(minutes=changes - n)
            status = statuses[min(n, len(statuses)) - 1]
            payload = {
                "dossier_code": code,
                "procedure_code": "1.000656",
                "agency_code": "000.00.01.H29",
                "status": status,
                "channel": 2,
                "received_at": (now - dt.timedelta(minutes=changes)).isoformat() if n > 1 else None,
                "appointment_at": (now + dt.timedelta(days=3)).isoformat() if n > 1 else None,
                "finished_at": at.isoformat() if status >= 9 else None,
                "result_url": f"https://dichvucong.hochiminhcity.gov.vn/tra-cuu/?code={code}" if status >= 9 else "",
                "fee_required": True,
                "fee_paid": n > 1,
                "fee_paid_online": n > 1,
                "changed_at": at.isoformat(),
                "sequence": n,
                "_entry": n,
            }
            rows.append(PortalPush(dossier_code=code, sequence=n, payload=payload, next_at=now, created_at=now))
    PortalPush.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def send_all() -> tuple[int, float, int]:
    """Send until nothing is due, as the task does; returns (sent, seconds, runs)."""
    from hcmgov.exchange import portal

    sent, runs = 0, 0
    started = time.perf_counter()
    while True:
        report = portal.portal_push_send()
        runs += 1
        sent += report.sent
        if report.portal_down or report.sent == 0:
            break
    return sent, time.perf_counter() - started, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=5, help="status changes per dossier")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument(
        "--concurrency", type=int, default=0, help="dossiers sent side by side (default: the connector's)"
    )
    parser.add_argument("--no-calibration", action="store_true")
    parser.add_argument("--profile", action="store_true", help="record a py-spy profile of the sending")
    args = parser.parse_args()
    url = args.database_url
    run.ensure_database(url)
    work = Path(tempfile.mkdtemp(prefix="hcmgov-portal-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(work / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
    }
    (work / "prometheus").mkdir(parents=True)
    info: dict[str, Any] = {
        "name": "portal-sync",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": run.machine(url),
    }
    run.log(f"database {url}; machine {info['machine']['nproc']} cores, {info['machine']['cpu_model']}")
    run.hcmgov(env, "migrate", "--noinput")
    if not args.no_calibration:
        run.ensure_wrk()
        info["calibration"] = run.calibrate(env, argparse.Namespace(workers=2, blocking_threads=2, threads=1))
        run.log(f"calibration: {info['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100)")

    simulator, sim_url = start_simulator(env)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HCMGOV_VAR_DIR")})
    os.environ.update({"HCMGOV_PORTAL_URL": sim_url, "HCMGOV_PORTAL_TOKEN": TOKEN, "HCMGOV_PORTAL_TIMEOUT": "10"})
    import django

    django.setup()
    from hcmgov.exchange import portal
    from hcmgov.exchange.models import PortalPush

    if args.concurrency:
        portal.CONCURRENCY = args.concurrency
    try:
        PortalPush.objects.all().delete()
        sim(sim_url, "/_sim/stats", "DELETE")
        rows = queue(args.dossiers, args.changes)
        run.log(f"queued {rows:,} status changes of {args.dossiers:,} dossiers; sending to {sim_url}")
        profiler = None
        if args.profile:
            out = work / "portal-sync.svg"
            profiler = subprocess.Popen(
                [str(run.ensure_pyspy()), "record", "-o", str(out), "-r", "200", "-p", str(os.getpid())],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
        cpu_before = time.process_time()
        sent, seconds, runs = send_all()
        cpu_seconds = time.process_time() - cpu_before
        if profiler is not None:
            profiler.terminate()
            profiler.wait()
            run.log(f"profile: {work / 'portal-sync.svg'}")
        stats = sim(sim_url, "/_sim/stats")
        left = portal.portal_push_stats()
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    rate = sent / seconds if seconds else 0.0
    in_order = all(seqs == list(range(1, args.changes + 1)) for seqs in stats["dossiers"].values())
    checks = {
        "accepted": stats["accepted"],
        "duplicates": stats["duplicates"],
        "out_of_order": stats["out_of_order"],
        "rejected": stats["rejected"],
        "dossiers_held": len(stats["dossiers"]),
        "every_dossier_complete_and_in_order": in_order and len(stats["dossiers"]) == args.dossiers,
        "queue_after": left,
    }
    ok = (
        sent == rows
        and stats["accepted"] == rows
        and stats["out_of_order"] == 0
        and checks["every_dossier_complete_and_in_order"]
        and left["pending"] == 0
        and left["dead"] == 0
    )
    result = {
        **info,
        "target_changes_per_s": TARGET_PER_S,
        "changes_per_s": round(rate, 1),
        "met": ok and rate >= TARGET_PER_S,
        "correct": ok,
        "queued": rows,
        "sent": sent,
        "dossiers": args.dossiers,
        "changes_per_dossier": args.changes,
        "seconds": round(seconds, 3),
        "sender_cpu_seconds": round(cpu_seconds, 3),
        "sender_cpu_ms_per_change": round(1000 * cpu_seconds / max(1, sent), 3),
        "runs_of_portal_push_send": runs,
        "batch": portal.BATCH,
        "concurrency": portal.CONCURRENCY,
        "checks": checks,
        "setup": "one sender process (as the exchange.portal_push task), PostgreSQL and the simulator"
        " (hcmgov sim portal, a separate process: threaded wsgiref, HTTP/1.0) on the same cores",
    }
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    (run.RESULTS / "portal-sync.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    run.log(
        f"sent {sent:,} of {rows:,} in {seconds:.1f} s: {rate:,.0f} changes/s (target {TARGET_PER_S:.0f});"
        f" sender CPU {result['sender_cpu_ms_per_change']} ms/change; checks {checks}; met: {result['met']}"
    )


if __name__ == "__main__":
    main()
