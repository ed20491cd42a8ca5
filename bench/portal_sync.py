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

Before the sending, the record stage (``--record-dossiers`` per set, 0 skips it) delivers the
outbox events of real dossiers walked through the flow, as the worker does; ``--record-workers 2``
delivers them with two worker processes side by side (PostgreSQL, SKIP LOCKED), and
``--profile-record PATH`` writes a cProfile (CPU time) of its deliveries with the connector on.

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
import traceback
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


# --- the record stage: real dossiers, their outbox events delivered as the worker does ------------

# A dossier's way through the test flow (``catalog.tests.factories.with_test_flow``): each step one
# service call, one outbox event; five of them change the status (1, 2, 3, 9, 10), ``approve`` not.
WALK = (
    ("receive", "receiver"),
    ("forward", "specialist"),
    ("approve", "head"),
    ("sign", "leader"),
    ("return", "clerk"),
)


def record_setup() -> dict[str, Any]:
    """A procedure with the test flow, an agency, its five officials and a citizen, from the
    factories the tests use (``conftest.py``: ``version``, ``agency``, ``staff``, ``citizen``). The
    procedure is free of charge: with a fee, the dossier waits for a payment (status 13) that no
    one here makes."""
    from django.db import transaction
    from fixtures import small_pdf

    from hcmgov.catalog.tests.factories import ProcedureFactory
    from hcmgov.core.tests.factories import AdminUnitFactory, AgencyFactory
    from hcmgov.identity.tests.factories import UserFactory

    # the factories number from 0 in each process, and this database keeps the runs before: each
    # starts after the rows its model holds (earlier runs made fewer than that, after 2000)
    for made in (ProcedureFactory, AdminUnitFactory, AgencyFactory, UserFactory):
        made.reset_sequence(2000 + made._meta.model.objects.count(), force=True)
    with transaction.atomic():
        return _record_setup(small_pdf("TOKHAI"))


def _record_setup(pdf: bytes) -> dict[str, Any]:
    from hcmgov.catalog.tests.factories import ProcedureVersionFactory, with_test_flow
    from hcmgov.core.tests.factories import AgencyFactory
    from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

    version = with_test_flow(ProcedureVersionFactory(fees=[]))
    agency = AgencyFactory()
    staff = {role: RoleAssignmentFactory(agency=agency, role=role).user for _, role in WALK}
    return {"version": version, "agency": agency, "staff": staff, "citizen": UserFactory(), "pdf": pdf}


def record_submit(setup: dict[str, Any], count: int) -> list[Any]:
    """Submit ``count`` dossiers through ``dossier_submit`` (status 1), as a citizen does."""
    from hcmgov.dossiers.files import Attachment
    from hcmgov.dossiers.services import dossier_submit
    from hcmgov.dossiers.tests.conftest import VALID_FORM

    made = []
    for _ in range(count):
        dossier, _ = dossier_submit(
            applicant=setup["citizen"],
            procedure_code=setup["version"].procedure.code,
            agency_code=setup["agency"].code,
            form_data=dict(VALID_FORM),
            attachments=[Attachment("TOKHAI", "to-khai.pdf", setup["pdf"])],
        )
        made.append(dossier)
    return made


def record_act(setup: dict[str, Any], made: list[Any], action: str, role: str) -> list[Any]:
    """Take ``action`` on each dossier's open step through ``dossier_act``, as its official does."""
    from hcmgov.dossiers.models import DossierStep
    from hcmgov.dossiers.services import dossier_act

    steps = dict(DossierStep.objects.filter(dossier__in=made, state="open").values_list("dossier_id", "pk"))
    return [dossier_act(dossier=d, official=setup["staff"][role], step_id=steps[d.pk], action=action) for d in made]


def postgres_cpu() -> float:
    """CPU seconds of this process's PostgreSQL backend (not the other databases' on the server)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return run.cpu_ticks([pid]) / os.sysconf("SC_CLK_TCK")


PROFILE: Any = None  # a cProfile.Profile of the record stage's deliveries with the connector on (--profile-record)


def deliver_all(profile: Any = None, workers: int = 1) -> tuple[int, float, float, float]:
    """Deliver the outbox until nothing is pending, as the worker does (``outbox_drain`` tick
    after tick); returns (events, seconds, CPU seconds of the worker, CPU seconds of its
    PostgreSQL backend). With ``workers`` > 1, that many worker processes drain side by side
    (forked; each claims its rows with SKIP LOCKED, as ``core.tasks.outbox_deliver``'s chains do
    on PostgreSQL), and the CPU is theirs added up."""
    if workers > 1:
        return _deliver_parallel(workers)
    pg = postgres_cpu()
    cpu, started = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    events = _drain()
    if profile is not None:
        profile.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return events, seconds, cpu, postgres_cpu() - pg


def _drain() -> int:
    from hcmgov.core.services import outbox_drain

    events = 0
    while True:
        delivered = outbox_drain()
        events += delivered
        if delivered == 0:
            return events


def _deliver_parallel(workers: int) -> tuple[int, float, float, float]:
    from django.db import connections

    connections.close_all()  # each process its own connection: none shared across the fork
    started = time.perf_counter()
    children: list[tuple[int, int]] = []
    for _ in range(workers):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker process: drain, report (events, CPU, PostgreSQL CPU), leave
            os.close(read)
            code = 0
            try:
                pg, cpu = postgres_cpu(), time.process_time()
                events = _drain()
                report = [events, time.process_time() - cpu, postgres_cpu() - pg]
                os.write(write, json.dumps(report).encode())
            except BaseException:  # the exit code tells the parent, which fails the run
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        children.append((pid, read))
    totals = [0.0, 0.0, 0.0]
    for pid, read in children:
        with os.fdopen(read) as pipe:
            text = pipe.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not text:
            sys.exit(f"a worker process of the record stage failed (status {status})")
        for n, value in enumerate(json.loads(text)):
            totals[n] += value
    seconds = time.perf_counter() - started
    return int(totals[0]), seconds, totals[1], totals[2]


def record_stage(dossiers: int, portal_url: str, workers: int = 1) -> dict[str, Any]:
    """Two like sets of ``dossiers`` real dossiers walked through the flow step by step; after each
    step the outbox (that step's events) is delivered and timed: one set with the connector off
    (``HCMGOV_PORTAL_URL`` empty: every other handler of those topics), the other with it on. The
    difference is the portal's share (``portal_push_record``). As the worker meets them live, each
    event finds one new change of its dossier (or none, for ``approve``)."""
    from django.conf import settings
    from django.db import connection

    from hcmgov.common.context import Actor, acting_as
    from hcmgov.core.models import OutboxEvent
    from hcmgov.dossiers.models import DossierEvent
    from hcmgov.exchange.models import PortalPush

    totals = {side: {"events": 0, "seconds": 0.0, "cpu_seconds": 0.0, "pg_seconds": 0.0} for side in ("off", "on")}
    with acting_as(Actor.system("bench")):
        setup = record_setup()
        settings.HCMGOV_PORTAL_URL = ""
        deliver_all()  # anything left from before: not measured
        sets: dict[str, list[Any]] = {}
        for number, (action, role) in enumerate((("submit", "citizen"), *WALK)):
            for side in ("off", "on"):
                if number == 0:
                    sets[side] = record_submit(setup, dossiers)
                else:
                    sets[side] = record_act(setup, sets[side], action, role)
                settings.HCMGOV_PORTAL_URL = portal_url if side == "on" else ""
                events, seconds, cpu, pg = deliver_all(PROFILE if side == "on" else None, workers)
                settings.HCMGOV_PORTAL_URL = portal_url
                totals[side]["events"] += events
                totals[side]["seconds"] += seconds
                totals[side]["cpu_seconds"] += cpu
                totals[side]["pg_seconds"] += pg
            run.log(f"record: {action} of {dossiers:,} dossiers ×2 delivered")
    ids = {side: [d.pk for d in made] for side, made in sets.items()}
    changes = {side: DossierEvent.objects.filter(dossier_id__in=ids[side]).count() for side in ids}
    codes = [d.code for d in sets["on"]]
    pushed = PortalPush.objects.filter(dossier_code__in=codes)
    queued: dict[str, list[int]] = {}
    for code, status in pushed.order_by("dossier_code", "sequence").values_list("dossier_code", "payload__status"):
        queued.setdefault(code, []).append(status)
    history: dict[str, list[int]] = {}
    for code, status in (
        DossierEvent.objects.filter(dossier_id__in=ids["on"])
        .order_by("dossier__code", "at", "id")
        .values_list("dossier__code", "status_to")
    ):
        history.setdefault(code, []).append(status)
    failed = OutboxEvent.objects.filter(delivered_at__isnull=True).count()
    off_pushed = PortalPush.objects.filter(dossier_code__in=[d.code for d in sets["off"]]).count()
    result: dict[str, Any] = {
        "dossiers_per_set": dossiers,
        "connection_vendor": connection.vendor,
        "worker_processes": workers,
    }
    for side, t in totals.items():
        n = changes[side]
        result[f"connector_{side}"] = {
            "status_changes": n,
            "outbox_events": t["events"],
            "seconds": round(t["seconds"], 3),
            "changes_per_s": round(n / t["seconds"], 1) if t["seconds"] else 0.0,
            "worker_cpu_seconds": round(t["cpu_seconds"], 3),
            "worker_cpu_ms_per_change": round(1000 * t["cpu_seconds"] / max(1, n), 3),
            "postgres_cpu_ms_per_change": round(1000 * t["pg_seconds"] / max(1, n), 3),
        }
    on, off = result["connector_on"], result["connector_off"]
    share_s = totals["on"]["seconds"] - totals["off"]["seconds"]
    share_cpu = totals["on"]["cpu_seconds"] - totals["off"]["cpu_seconds"]
    result["portal_share"] = {
        "seconds": round(share_s, 3),
        "ms_per_change": round(1000 * share_s / max(1, on["status_changes"]), 3),
        "changes_per_s": round(on["status_changes"] / share_s, 1) if share_s > 0 else None,
        "worker_cpu_ms_per_change": round(1000 * share_cpu / max(1, on["status_changes"]), 3),
        "postgres_cpu_ms_per_change": round(on["postgres_cpu_ms_per_change"] - off["postgres_cpu_ms_per_change"], 3),
        "note": "connector on minus connector off over like sets: the cost of portal_push_record alone",
    }
    result["checks"] = {
        "undelivered_events": failed,
        "pushes_with_connector_off": off_pushed,
        "pushes_with_connector_on": pushed.count(),
        "statuses_queued": sorted({tuple(v) for v in queued.values()}),
        "every_dossier_queued_as_its_history": len(history) == dossiers and queued == history,
    }
    result["correct"] = failed == 0 and off_pushed == 0 and result["checks"]["every_dossier_queued_as_its_history"]
    return result


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


def end_to_end(record: dict[str, Any], send: dict[str, Any]) -> dict[str, Any]:
    """The whole path of a status change for one worker process: the slower of its two stages
    (both run in the worker, so the CPU of one change is the two stages' CPU added up)."""
    on, share = record["connector_on"], record["portal_share"]
    send_ms = send["sender_cpu_ms_per_change"]
    whole_ms = on["worker_cpu_ms_per_change"] + send_ms
    portal_ms = share["worker_cpu_ms_per_change"] + send_ms
    stages = {
        "record_outbox_delivery_connector_on": on["changes_per_s"],
        "record_portal_share_only": share["changes_per_s"],
        "send": send["changes_per_s"],
    }
    sustainable = min(on["changes_per_s"], send["changes_per_s"])
    return {
        "stages_changes_per_s": stages,
        "sustainable_changes_per_s": sustainable,
        "met": sustainable >= TARGET_PER_S and bool(record["correct"]) and bool(send["correct"]),
        # None: the portal's share is within the noise of the two sets (connector on no slower than off)
        "portal_only_sustainable_changes_per_s": min(share["changes_per_s"] or float("inf"), send["changes_per_s"]),
        "worker_cpu_ms_per_change": {
            "record_whole_delivery": on["worker_cpu_ms_per_change"],
            "record_portal_share": share["worker_cpu_ms_per_change"],
            "send": send_ms,
            "sum_whole_delivery_and_send": round(whole_ms, 3),
            "sum_portal_share_and_send": round(portal_ms, 3),
        },
        "changes_per_s_per_core": {
            "whole_delivery_and_send": round(1000 / whole_ms, 1) if whole_ms > 0 else None,
            "portal_share_and_send": round(1000 / portal_ms, 1) if portal_ms > 0 else None,
        },
        "note": "record = the outbox delivery of real dossiers' events (every handler of those topics);"
        " its portal share = connector on minus off. Worker CPU only (PostgreSQL's is in record.*)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=5, help="status changes per dossier")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument(
        "--concurrency", type=int, default=0, help="dossiers sent side by side (default: the connector's)"
    )
    parser.add_argument(
        "--record-dossiers", type=int, default=300, help="dossiers per set of the record stage (0: skip it)"
    )
    parser.add_argument(
        "--record-workers",
        type=int,
        default=1,
        help="worker processes delivering the record stage side by side (PostgreSQL: SKIP LOCKED)",
    )
    parser.add_argument("--no-calibration", action="store_true")
    parser.add_argument(
        "--profile-record", metavar="PATH", help="write a cProfile (pstats) of the record stage, connector on"
    )
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
        record = None
        if args.profile_record:
            import cProfile

            global PROFILE
            PROFILE = cProfile.Profile(time.process_time)  # CPU, not wall: the cores are shared
        if args.record_dossiers:
            run.log(f"record stage: 2 sets of {args.record_dossiers:,} dossiers through the flow")
            record = record_stage(args.record_dossiers, sim_url, args.record_workers)
            if PROFILE is not None:
                PROFILE.dump_stats(args.profile_record)
                run.log(f"record profile (connector on; CPU figures inflated by the profiler): {args.profile_record}")
            run.log(f"record: {json.dumps(record)}")
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
    if record is not None:
        result["record"] = record
        result["end_to_end"] = end_to_end(record, result)
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    (run.RESULTS / "portal-sync.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    run.log(
        f"sent {sent:,} of {rows:,} in {seconds:.1f} s: {rate:,.0f} changes/s (target {TARGET_PER_S:.0f});"
        f" sender CPU {result['sender_cpu_ms_per_change']} ms/change; checks {checks}; met: {result['met']}"
    )


if __name__ == "__main__":
    main()
