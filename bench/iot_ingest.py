"""Benchmark of the IoT ingestion (issue 11): readings per second from MQTT to committed rows on
PostgreSQL, against what Mosquitto alone carries on the same machine, measured in the same run.

Targets: ≥ 20,000 readings/s sustained, and ≥ 40 % of Mosquitto's own rate for the same messages.

The messages: one air-quality observation per message, 8 readings (pm25, pm10, no2, o3, co, so2,
temperature, humidity) of one of ``--devices`` devices, about 190 bytes of JSON in the ingestion's
format (``{"observedAt": …, "values": {…}}``); every (device, time) is distinct, so no duplicate
is dropped. The same ``--messages`` messages are sent in both phases by the same publisher: a
Python paho-mqtt client (MQTT 3.1.1, QoS 1, 1,000 messages in flight) in its own process.

(a) Mosquitto alone: the publisher → Mosquitto → one Python paho-mqtt subscriber (MQTT 5, QoS 1,
    acknowledging each message as paho does, doing nothing else). Rate: messages over the time
    from the subscriber's first message to its last.
(b) The ingester: ``hcmgov iot ingest`` (its own process, as in production: shared subscription,
    persistent session, manual acknowledgement after commit, batches of ``IOT_BATCH_READINGS`` or
    ``IOT_BATCH_MILLISECONDS``) → PostgreSQL (COPY into staging, INSERT … ON CONFLICT, rollups
    upserted in the same statement). Rate: readings committed (the ingester's
    ``hcmgov_iot_readings_stored_total``, read every 0.2 s) over the time from its first committed
    batch to the last; checked afterwards with ``count(*)``.

``--messages`` bounds the backlog: the broker holds at most that many messages for the ingester
(below the 65,535 it may have in flight to it), so none is dropped however fast the publisher is.
CPU of each process (publisher, subscriber or ingester, Mosquitto, PostgreSQL) and the load average
go with the numbers; the machine and a calibration as ``bench/run.py`` records them.

    .venv/bin/python bench/iot_ingest.py [--messages 60000] [--devices 500] [--profile] [--no-calibration]

Results: ``bench/results/iot_ingest.json`` and ``bench/results/iot_ingest.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "src"))
import run  # the shared harness of bench/run.py  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_iot_bench"
BROKER = os.environ.get("IOT_MQTT_URL", "mqtt://127.0.0.1:1883")
TARGET_PER_S = 20_000
TARGET_RATIO = 0.40
ATTRS = ("pm25", "pm10", "no2", "o3", "co", "so2", "temperature", "humidity")
PER_MESSAGE = len(ATTRS)
CATEGORIES = [
    ("ingester: store (check + write, the main thread)", ("store (hcmgov/iot/ingester.py",)),
    ("checks: check_message (JSON, times, ranges)", ("check_message (hcmgov/iot/validation.py",)),
    ("json.loads", ("loads (json/__init__.py",)),
    ("write: readings_write (COPY + INSERT … SELECT)", ("readings_write (hcmgov/iot/storage.py",)),
    ("COPY rows (psycopg write_row)", ("write_row (psycopg",)),
    ("the INSERT … SELECT statement (waiting on PostgreSQL)", ("execute (psycopg/cursor.py",)),
    ("paho network thread (receive, decode, on_message)", ("loop_forever (paho",)),
    ("paho: acknowledgements (ack → PUBACK)", ("ack (paho",)),
    ("Prometheus metrics", ("(prometheus_client/",)),
]


# --- the processes of a phase ----------------------------------------------------------------------


def message(i: int, devices: int, base: float) -> bytes:
    # 10 ms apart per device: a run's times span seconds, never overlapping another run's
    when = dt.datetime.fromtimestamp(base + (i // devices) / 100, dt.UTC).isoformat()
    k = i % 97
    values = {
        "pm25": 10 + k * 0.5,
        "pm10": 20 + k * 0.7,
        "no2": 30 + k,
        "o3": 40 + k,
        "co": 900 + k * 10,
        "so2": 5 + k * 0.1,
        "temperature": 28 + (k % 7) * 0.3,
        "humidity": 60 + (k % 30),
    }
    return json.dumps({"observedAt": when, "values": {a: round(values[a], 2) for a in ATTRS}}).encode()


def host_port() -> tuple[str, int]:
    parts = urlsplit(BROKER)
    return parts.hostname or "127.0.0.1", parts.port or 1883


def publisher_main(args: argparse.Namespace) -> None:
    """Publish ``--messages`` as fast as the broker takes them (QoS 1); print the timing as JSON."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(*host_port(), keepalive=60)
    client.loop_start()
    topics = [f"hcmgov/iot/{args.prefix}{d:05d}/readings" for d in range(args.devices)]
    bodies = [message(i, args.devices, args.base) for i in range(args.messages)]
    started = time.monotonic()
    infos = [client.publish(topics[i % args.devices], bodies[i], qos=1) for i in range(args.messages)]
    for info in infos:
        info.wait_for_publish(timeout=120)
    took = time.monotonic() - started
    client.disconnect()
    client.loop_stop()
    acked = sum(1 for info in infos if info.is_published())
    print(json.dumps({"published": args.messages, "acknowledged": acked, "seconds": round(took, 3)}), flush=True)


def subscriber_main(args: argparse.Namespace) -> None:
    """Phase (a)'s subscriber: count messages, acknowledge as paho does; print first/last times."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=mqtt.MQTTv5)
    state = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()
    ready = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        now = time.monotonic()
        if state["n"] == 0:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= args.messages:
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("hcmgov/iot/+/readings", options=SubscribeOptions(qos=1))
    client.on_subscribe = lambda *_: ready.set()
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = 65535  # as the ingester asks
    client.connect(*host_port(), keepalive=60, clean_start=True, properties=props)
    client.loop_start()
    ready.wait(30)
    print("READY", flush=True)
    done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"received": state["n"], "seconds": round(state["last"] - state["first"], 3)}), flush=True)


# --- orchestration -------------------------------------------------------------------------------


def mosquitto_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if (d / "comm").read_text().strip() == "mosquitto":
                    pids.append(int(d.name))
    return pids


def spawn(env: dict[str, str], *argv: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(run.VENV_BIN / "python"), *argv],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def last_json(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text().splitlines()):
        if line.startswith("{") and '"seconds"' in line:
            return dict(json.loads(line))
    raise RuntimeError(f"no result in {log}: {log.read_text()[-2000:]}")


def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: exited: {log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{log.name}: {text!r} not seen: {log.read_text()[-3000:]}")


def reap(proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Wait for ``proc`` to exit; the CPU seconds it used (gone from /proc once reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return float(usage.ru_utime + usage.ru_stime)
        time.sleep(0.05)
    raise RuntimeError(f"process {proc.args} did not finish in {timeout} s")


def with_cpu(cpu: dict[str, Any], name: str, seconds: float) -> dict[str, Any]:
    share = cpu["cpu_percent_of_all_cores"]
    share[name] = round(100 * seconds / (cpu["seconds"] * cpu["cores"]), 1)
    share["other"] = round(max(0.0, share["other"] - share[name]), 1)
    return cpu


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def cpu_of(meter_groups: dict[str, Any]) -> run.CpuMeter:
    return run.CpuMeter(meter_groups)


def phase_broker(env: dict[str, str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sub_log, pub_log = work / "a-subscriber.log", work / "a-publisher.log"
    sub = spawn(
        env,
        str(BENCH / "iot_ingest.py"),
        "subscriber",
        "--messages",
        str(args.messages),
        "--client-id",
        f"bench-sub-{uuid.uuid4().hex[:8]}",
        log=sub_log,
    )
    try:
        wait_for(sub_log, "READY", sub)
        sub_before = run.cpu_ticks([sub.pid]) / os.sysconf("SC_CLK_TCK")
        meter = cpu_of({"mosquitto": mosquitto_pids})
        pub = spawn(env, *publisher_argv(args), log=pub_log)
        pub_cpu = reap(pub, 600)
        sub_cpu = reap(sub, args.timeout + 30) - sub_before
        cpu = with_cpu(with_cpu(meter.stop(), "publisher", pub_cpu), "subscriber", sub_cpu)
    finally:
        stop(sub)
    got, sent = last_json(sub_log), last_json(pub_log)
    rate = got["received"] / got["seconds"] if got["seconds"] else 0.0
    return {
        "messages_received": got["received"],
        "seconds": got["seconds"],
        "messages_per_s": round(rate),
        "readings_per_s": round(rate * PER_MESSAGE),
        "publisher": sent,
        "cpu": cpu,
    }


def publisher_argv(args: argparse.Namespace) -> list[str]:
    return [
        str(BENCH / "iot_ingest.py"),
        "publisher",
        "--messages",
        str(args.messages),
        "--devices",
        str(args.devices),
        "--prefix",
        args.prefix,
        "--base",
        str(args.base),
    ]


def stored_total(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('hcmgov_iot_readings_stored_total{channel="mqtt"}'):
                return float(line.split()[-1])
    return 0.0


def handled_total(port: int) -> float:
    """Readings stored or found already stored: the loop's end (an earlier run's rows would be duplicates)."""
    total = 0.0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(
                ('hcmgov_iot_readings_stored_total{channel="mqtt"}', "hcmgov_iot_readings_duplicate_total")
            ):
                total += float(line.split()[-1])
    return total


def phase_ingester(env: dict[str, str], args: argparse.Namespace, work: Path, url: str) -> dict[str, Any]:
    ing_log, pub_log = work / "b-ingester.log", work / "b-publisher.log"
    port = run.free_port()
    client_id = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    ing_env = {**env, "IOT_MQTT_SHARE_GROUP": f"bench-{uuid.uuid4().hex[:6]}"}
    ing = subprocess.Popen(
        [str(run.VENV_BIN / "hcmgov"), "iot", "ingest", "--client-id", client_id, "--metrics-port", str(port)],
        env=ing_env,
        cwd=ROOT,
        stdout=ing_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    expected = args.messages * PER_MESSAGE
    timeline: list[tuple[float, float]] = []
    profile: dict[str, Any] | None = None
    try:
        wait_for(ing_log, f"subscribed ({client_id})", ing)
        meter = cpu_of({"ingester": lambda: [ing.pid], "mosquitto": mosquitto_pids, "postgresql": run.postgres_pids})
        pub = spawn(env, *publisher_argv(args), log=pub_log)
        spy = None
        if args.profile:
            exe = run.ensure_pyspy()
            raw = work / "profile-ingester.txt"
            spy = subprocess.Popen(
                [
                    str(exe),
                    "record",
                    "--gil",
                    "-p",
                    str(ing.pid),
                    "-d",
                    str(args.profile_seconds),
                    "-r",
                    "100",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                ],
                env={**os.environ, "PYTHONPATH": str(run.PYSPY_DIR)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + args.timeout
        last = 0.0
        while time.monotonic() < deadline:
            last = handled_total(port)
            timeline.append((time.monotonic(), last))
            if last >= expected:
                break
            time.sleep(0.2)
        pub_cpu = reap(pub, 120)
        cpu = with_cpu(meter.stop(), "publisher", pub_cpu)
        if spy is not None:
            spy.wait(timeout=args.profile_seconds + 60)
            profile = run.profile_summary([raw], categories=CATEGORIES) if raw.exists() else None
    finally:
        stop(ing)
        with contextlib.suppress(Exception):
            env_django(env)
            from hcmgov.iot.ingester import session_end

            session_end(client_id, BROKER)
    first = next((t for t, n in timeline if n > 0), None)
    done = next((t for t, n in timeline if n >= expected), None)
    stored = timeline[-1][1] if timeline else 0.0
    # the first poll that saw rows: the batch before it committed at most 0.2 s earlier
    seconds = (done - first) if (first is not None and done is not None) else None
    rate = (expected - timeline_first_value(timeline)) / seconds if seconds else 0.0
    since = dt.datetime.fromtimestamp(args.base, dt.UTC)
    until = since + dt.timedelta(seconds=args.messages // args.devices / 100 + 1)
    counted = run.db_scalar(
        url,
        "SELECT count(*) FROM iot_reading WHERE device_id IN"  # noqa: S608 - our own prefix and times
        f" (SELECT id FROM iot_device WHERE code LIKE '{args.prefix}%')"
        f" AND observed_at >= '{since.isoformat()}' AND observed_at < '{until.isoformat()}'",
    )
    return {
        "readings_expected": expected,
        "readings_stored_metric": int(stored),
        "readings_counted_in_database": int(counted or 0),
        "seconds": round(seconds, 3) if seconds else None,
        "readings_per_s": round(rate),
        "messages_per_s": round(rate / PER_MESSAGE),
        "publisher": last_json(pub_log),
        "cpu": cpu,
        "batches": batch_note(ing_log),
        "profile": profile,
    }


def phase_drain(env: dict[str, str], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """(c) The ingester's own capacity, not bound by the publisher: the ingester is stopped
    (SIGSTOP) while the messages are published — the broker holds them in flight to it, under
    its Receive Maximum — then continued (SIGCONT); rate: readings committed from then to the last."""
    ing_log, pub_log = work / "c-ingester.log", work / "c-publisher.log"
    port = run.free_port()
    client_id = f"bench-drain-{uuid.uuid4().hex[:8]}"
    ing = subprocess.Popen(
        [str(run.VENV_BIN / "hcmgov"), "iot", "ingest", "--client-id", client_id, "--metrics-port", str(port)],
        env={**env, "IOT_MQTT_SHARE_GROUP": f"bench-{uuid.uuid4().hex[:6]}"},
        cwd=ROOT,
        stdout=ing_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    expected = args.drain_messages * PER_MESSAGE
    drain = argparse.Namespace(**{**vars(args), "messages": args.drain_messages, "base": args.base + 3600})
    try:
        wait_for(ing_log, f"subscribed ({client_id})", ing)
        os.kill(ing.pid, signal.SIGSTOP)
        pub = spawn(env, *publisher_argv(drain), log=pub_log)
        reap(pub, 300)
        meter = cpu_of({"ingester": lambda: [ing.pid], "mosquitto": mosquitto_pids, "postgresql": run.postgres_pids})
        started = time.monotonic()
        os.kill(ing.pid, signal.SIGCONT)
        done, last, moved = None, 0.0, time.monotonic()
        while time.monotonic() - started < args.timeout and time.monotonic() - moved < 10:
            now = handled_total(port)
            if now > last:
                last, moved = now, time.monotonic()
            if last >= expected:
                done = time.monotonic()
                break
            time.sleep(0.1)
        cpu = meter.stop()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(ing.pid, signal.SIGCONT)
        stop(ing)
        with contextlib.suppress(Exception):
            env_django(env)
            from hcmgov.iot.ingester import session_end

            session_end(client_id, BROKER)
    seconds = (done - started) if done else None
    rate = expected / seconds if seconds else 0.0
    return {
        "messages": args.drain_messages,
        "readings_expected": expected,
        "readings_handled": int(last),
        "seconds": round(seconds, 3) if seconds else None,
        "readings_per_s": round(rate),
        "messages_per_s": round(rate / PER_MESSAGE),
        "publisher": last_json(pub_log),
        "cpu": cpu,
        "batches": batch_note(ing_log),
    }


def timeline_first_value(timeline: list[tuple[float, float]]) -> float:
    return next((n for _t, n in timeline if n > 0), 0.0)


def batch_note(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if "stopped;" in ln]
    return lines[-1] if lines else ""


_django_ready = False


def env_django(env: dict[str, str]) -> None:
    global _django_ready
    if _django_ready:
        return
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "HCMGOV_VAR_DIR")})
    import django

    django.setup()
    _django_ready = True


def devices_setup(env: dict[str, str], args: argparse.Namespace) -> None:
    """``--devices`` air-quality devices ``<prefix>NNNNN`` (bulk-made: a benchmark fixture; the
    platform registers devices one by one through its service)."""
    env_django(env)
    from django.db import connection

    from hcmgov.iot.models import URN_PREFIX, Device
    from hcmgov.iot.services import default_attributes, password_hash

    with connection.cursor() as cursor:  # the benchmark's own database: start from empty readings and rollups
        cursor.execute("TRUNCATE iot_reading, iot_rollup, iot_quarantine")
    hashed = password_hash("bench")
    have = set(Device.objects.filter(code__startswith=args.prefix).values_list("code", flat=True))
    Device.objects.bulk_create(
        [
            Device(
                code=code,
                entity_id=URN_PREFIX + code,
                kind="air-quality",
                name=f"Bench {code}",
                name_en=f"Bench {code}",
                latitude=10.78,
                longitude=106.70,
                attributes=default_attributes("air-quality"),
                mqtt_username=code,
                mqtt_password_hash=hashed,
            )
            for code in (f"{args.prefix}{d:05d}" for d in range(args.devices))
            if code not in have
        ]
    )


def write_markdown(result: dict[str, Any]) -> None:
    a, b = result["broker_alone"], result["ingester"]
    cpu_a, cpu_b = a["cpu"]["cpu_percent_of_all_cores"], b["cpu"]["cpu_percent_of_all_cores"]
    lines = [
        "# IoT ingestion: MQTT → PostgreSQL (issue 11)",
        "",
        f"Run {result['date']} on {result['machine']['nproc']} cores ({result['machine']['cpu_model']}),"
        f" PostgreSQL {result['machine']['postgresql']}, Mosquitto {result['mosquitto']}; commit"
        f" {result['machine']['git_commit']}.",
        f"Load average before the run: {result['load_before']}; after: {result['load_after']}."
        + (" Other work was running on the machine (see 'other' CPU)." if result["load_before"][0] > 1.0 else ""),
        "",
        f"Messages: {result['messages']:,}, one air-quality observation each = {PER_MESSAGE} readings"
        f" ({result['message_bytes']} bytes of JSON, e.g. `{result['example']}`), from {result['devices']} devices;"
        " QoS 1 throughout; publisher: Python paho-mqtt (MQTT 3.1.1, 1,000 in flight), its own process.",
        "",
        "| | messages/s | readings/s | CPU % of all cores |",
        "|---|---:|---:|---|",
        f"| (a) Mosquitto alone → Python paho subscriber | {a['messages_per_s']:,} | {a['readings_per_s']:,} | "
        + ", ".join(f"{k} {v}" for k, v in cpu_a.items())
        + " |",
        f"| (b) Mosquitto → `hcmgov iot ingest` → PostgreSQL (committed) | {b['messages_per_s']:,} |"
        f" {b['readings_per_s']:,} | " + ", ".join(f"{k} {v}" for k, v in cpu_b.items()) + " |",
        "",
        f"- Ratio (b)/(a): **{result['ratio_percent']} %** (target ≥ {int(TARGET_RATIO * 100)} %);"
        f" sustained ingestion **{b['readings_per_s']:,} readings/s** (target ≥ {TARGET_PER_S:,}).",
        f"- Stored: {b['readings_counted_in_database']:,} of {b['readings_expected']:,} readings counted in the"
        " database afterwards.",
        "- (a)'s rate: the subscriber's first to last message; (b)'s: the ingester's first committed batch to"
        " its last (its `hcmgov_iot_readings_stored_total`, polled every 0.2 s).",
        f"- Calibration: {result.get('calibration', {}).get('hello_req_per_s', 'skipped')} req/s for the bare"
        " Django hello (MEASUREMENTS.md: 11,100).",
        "- CPU % columns: share of all cores during the phase; 'other' is everything else on the machine.",
        "- (a) and (b) carry what one Python publisher offers: when (b) is close to (a), the ingester keeps up"
        " with it and the publisher (on a machine shared with other work) sets both rates; (c) measures the"
        " ingester alone. C clients (`mosquitto_pub`) would move several times more (MEASUREMENTS.md) but"
        " publish one topic per process, i.e. one device, which the per-device checks exist to limit.",
    ]
    c = result.get("ingester_backlog")
    if c:
        cpu_c = c["cpu"]["cpu_percent_of_all_cores"]
        lines += [
            "",
            "(c) The ingester's own capacity, without the publisher's limit:"
            f" {c['messages']:,} messages published while the ingester was stopped (SIGSTOP; the broker"
            " holds them in flight to it), then drained after"
            f" SIGCONT: **{c['readings_per_s']:,} readings/s** ({c['messages_per_s']:,} messages/s;"
            f" {c['readings_handled']:,} of {c['readings_expected']:,} readings committed); CPU % of all cores: "
            + ", ".join(f"{k} {v}" for k, v in cpu_c.items())
            + ".",
        ]
    if b.get("profile"):
        lines += ["", "Profile of the ingester (py-spy, --gil, share of Python samples):", ""]
        lines += [f"- {pct} % {label}" for pct, label in b["profile"]["categories"]]
    lines.append("")
    (run.RESULTS / "iot_ingest.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "publisher", "subscriber"])
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--devices", type=int, default=500)
    parser.add_argument("--prefix", default="bench-aq-")
    parser.add_argument("--base", type=float, default=0.0)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument("--no-calibration", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the ingester during phase (b)")
    parser.add_argument("--profile-seconds", type=int, default=10)
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    parser.add_argument(
        "--drain-messages",
        type=int,
        default=12_000,
        help="(c): messages of the backlog (0: skip it); Mosquitto 2.0 dropped part of a 20,000 backlog here",
    )
    args = parser.parse_args()
    if args.mode == "publisher":
        publisher_main(args)
        return
    if args.mode == "subscriber":
        subscriber_main(args)
        return

    url = args.database_url
    run.ensure_database(url)
    work = run.WORK / "iot"
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in {"PROMETHEUS_MULTIPROC_DIR"}} | {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(work / "var"),
    }
    load_before = [round(x, 2) for x in os.getloadavg()]
    result: dict[str, Any] = {
        "name": "iot_ingest",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": run.machine(url),
        "load_before": load_before,
        "mosquitto": subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False).stdout.split(
            "\n"
        )[0],
    }
    run.log(f"database {url}; load {load_before}")
    run.hcmgov(env, "migrate", "--noinput")
    if not args.no_calibration:
        run.ensure_wrk()
        hello_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus")}  # the hello server's, not ours
        (work / "prometheus").mkdir(exist_ok=True)
        result["calibration"] = run.calibrate(hello_env, argparse.Namespace(workers=2, blocking_threads=2, threads=1))
        run.log(f"calibration: {result['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100)")
    devices_setup(env, args)
    # fresh times each run: nothing of an earlier run is a duplicate (within retention, partitions made on demand)
    args.base = float(int(time.time()) - 3600 * 24)
    example = message(0, args.devices, args.base)
    result.update(messages=args.messages, devices=args.devices, message_bytes=len(example), example=example.decode())
    run.log(f"(a) Mosquitto alone: {args.messages:,} messages")
    result["broker_alone"] = phase_broker(env, args, work)
    run.log(f"(a) {result['broker_alone']['messages_per_s']:,} messages/s")
    run.log("(b) the ingester")
    result["ingester"] = phase_ingester(env, args, work, url)
    run.log(f"(b) {result['ingester']['readings_per_s']:,} readings/s")
    if args.drain_messages:
        run.log(f"(c) the ingester draining a backlog of {args.drain_messages:,} messages")
        result["ingester_backlog"] = phase_drain(env, args, work)
        run.log(f"(c) {result['ingester_backlog']['readings_per_s']:,} readings/s")
    a, b = result["broker_alone"]["readings_per_s"], result["ingester"]["readings_per_s"]
    result["ratio_percent"] = round(100 * b / a, 1) if a else None
    result["targets"] = {"readings_per_s": TARGET_PER_S, "ratio": TARGET_RATIO}
    result["met"] = {"readings_per_s": b >= TARGET_PER_S, "ratio": bool(a) and b / a >= TARGET_RATIO}
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    run.log(f"ratio {result['ratio_percent']} %; load after {result['load_after']}")
    print(json.dumps({k: v for k, v in result.items() if k not in {"machine"}}, indent=1, default=str)[:6000])
    if not args.no_save:
        run.RESULTS.mkdir(parents=True, exist_ok=True)
        (run.RESULTS / "iot_ingest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        write_markdown(result)


if __name__ == "__main__":
    main()
