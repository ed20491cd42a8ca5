"""A city on one machine: many processes of each kind, one of each killed under load, nothing lost.

Issue 16, item 3 (docs/operations/scale-test.md). Against the real PostgreSQL, Redis, RabbitMQ and
Mosquitto of this machine, with ``HCMGOV_SCALE=city`` settings (``hcmgov check`` must pass them
first), it starts nginx (a config generated from ``deploy/nginx/hcmgov.conf``) in front of three
web processes and two gateway processes, three Celery workers, one scheduler and two IoT
ingesters — each a separate OS process, as the systemd units in ``deploy/systemd/`` start them —
beside an S3-compatible store (moto's server) and the SMTP relay's simulator. Then, through nginx:

- citizens submit dossiers with an ``Idempotency-Key`` (``scripts/failover.py``'s clients: a
  request that gets no answer is *unknown* and retried with the same key), citizens logged in on
  the portal read their dossiers, an API client reads the catalogue, a department's system calls
  the data sharing gateway, sensors publish QoS 1 readings to the broker, and open steps of the
  demo's dossiers are given deadlines seconds away (the scheduler's step timers fire them);
- one web node, one gateway node, one worker, the scheduler and one ingester get SIGKILL during
  the run, and are started again two seconds later (systemd's ``RestartSec=2``).

Afterwards it checks, and prints with their counts: every acknowledged submission stored once;
every outbox event delivered, and its e-mail sent once; every timer fired once; every QoS 1
reading the broker acknowledged stored once; a login and a bearer token valid on every web node;
the gateway's daily quota and the login lockout enforced across nodes. Exit status 1 on any failure.

    .venv/bin/python scripts/scale_test.py [--seconds 90] [--seed S] [--keep]

Uses the database ``hcmgov_scale`` (dropped and made again), Redis database 9, the RabbitMQ
virtual host ``hcmgov_scale`` (made and removed: ``rabbitmqctl``), an MQTT share group and client
ids of its own (their sessions ended at the end), and ports 18000–18099.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import failover  # scripts/failover.py: the submitting clients and their bookkeeping
import scale_load  # scripts/scale_load.py: the rest of the load, and the checks

ROOT = failover.ROOT
BIN = failover.BIN
DB_NAME = "hcmgov_scale"
VHOST = "hcmgov_scale"
REDIS_DB = 9
PORTS = {
    "nginx": 18080,
    "s3": 18081,
    "smtp": 18082,
    "smtp-http": 18083,
    "ndxp": 18084,
    "web-1": 18010,
    "web-2": 18011,
    "web-3": 18012,
    "gateway-1": 18020,
    "gateway-2": 18021,
}
WEB = ("web-1", "web-2", "web-3")
GATEWAYS = ("gateway-1", "gateway-2")
WORKERS = ("worker-1", "worker-2", "worker-3")
BULK_WORKER = "worker-bulk"  # the long batch jobs' queue (deploy/systemd/hcmgov-worker-bulk.service)
INGESTERS = ("ingester-1", "ingester-2")
# one of each kind, at this share of the load's length; each started again RESTART_AFTER later
KILLS = (("web-2", 0.15), ("gateway-1", 0.3), ("worker-1", 0.45), ("scheduler", 0.55), ("ingester-1", 0.65))
RESTART_AFTER = 2.0
DEMO_DOSSIERS = 100  # the demo city with this many dossiers: about twenty with an open step
CITIZENS = 4  # submitting clients, each a citizen with an API token
DEVICES = 10
S3_KEYS = ("scale-access-key", "scale-secret-key")
MOTO_MISSING = (
    "moto's standalone server (.venv/bin/moto_server) does not start: add `moto[s3,server]` to the dev "
    "dependencies in pyproject.toml (it needs flask and flask-cors)"
)


# --- nginx -----------------------------------------------------------------------------------


def nginx_config(template: str, *, workdir: Path, port: int, web: list[int], gateways: list[int], static: Path) -> str:
    """``deploy/nginx/hcmgov.conf`` made runnable by an unprivileged user: its upstreams are the
    given local ports, its TLS server a plain one on ``port``, its static folder ``static``; the
    rest (balancing, retries, per-address limits, headers, locations) unchanged. Wrapped in a
    main configuration whose pid, logs and temporary files are in ``workdir``."""

    def upstream(name: str, ports: list[int], text: str) -> str:
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n" for p in ports)
        block = re.compile(rf"(upstream {name} \{{\n(?:\s*#[^\n]*\n)*\s*least_conn;\n)(?:\s*server [^\n]*\n)+")
        text, found = block.subn(lambda m: m.group(1) + servers, text)
        if found != 1:
            raise ValueError(f"upstream {name} not found in the template")
        return text

    site = upstream("hcmgov_web", web, template)
    site = upstream("hcmgov_gateway", gateways, site)
    # the port-80 server only redirects to TLS: not wanted here
    site, redirects = re.subn(r"server \{\n\s*listen 80;.*?\n\}\n", "", site, count=1, flags=re.DOTALL)
    site, listens = re.subn(
        r"\n\s*listen 443 ssl http2;\n\s*listen \[::\]:443 ssl http2;", f"\n    listen 127.0.0.1:{port};", site
    )
    site = re.sub(r"\n\s*ssl_[a-z_]+ [^\n]*;", "", site)
    site, aliases = re.subn(r"alias /opt/hcmgov/var/static/;", f"alias {static}/;", site)
    if (redirects, listens, aliases) != (1, 1, 1):
        raise ValueError("deploy/nginx/hcmgov.conf changed shape: update scripts/scale_test.py's nginx_config")
    temp = workdir / "temp"
    return (
        f"worker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log warn;\ndaemon off;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"    access_log {workdir}/access.log;\n"
        "    default_type application/octet-stream;\n"
        + "".join(
            f"    {kind}_temp_path {temp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + site
        + "}\n"
    )


# --- the processes ---------------------------------------------------------------------------


class City:
    """The temporary folder and every process started; ``close`` stops them all and removes what
    the run made (database, virtual host, MQTT sessions), whatever happened."""

    def __init__(self, *, run_id: str, keep: bool) -> None:
        self.run_id = run_id
        self.keep = keep
        self.dir = Path(tempfile.mkdtemp(prefix="hcmgov-scale-"))
        (self.dir / "logs").mkdir()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.argv: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.env = self.city_env()
        self.closed = False
        self.made: list[str] = []  # what close() must undo: "db", "vhost", "sessions"

    def city_env(self) -> dict[str, str]:
        var = self.dir / "var"
        var.mkdir()
        key = self.dir / "oidc-rsa.pem"
        key.write_bytes(_rsa_pem())
        s3 = f"http://127.0.0.1:{PORTS['s3']}"
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
            "HCMGOV_SCALE": "city",
            "HCMGOV_SECRET_KEY": secrets.token_urlsafe(48),  # the same on every node
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "EXCHANGE_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
            "HCMGOV_S3_BUCKET": "hcmgov-scale-documents",
            "HCMGOV_S3_ENDPOINT_URL": s3,
            "HCMGOV_S3_ACCESS_KEY": S3_KEYS[0],
            "HCMGOV_S3_SECRET_KEY": S3_KEYS[1],
            "HCMGOV_S3_REGION": "us-east-1",
            # the warehouse's Parquet through pyarrow, which reads the AWS_* variables
            "HCMGOV_WAREHOUSE_URL": f"s3://hcmgov-scale-warehouse/v1?endpoint_override=127.0.0.1:{PORTS['s3']}&scheme=http",
            "AWS_ACCESS_KEY_ID": S3_KEYS[0],
            "AWS_SECRET_ACCESS_KEY": S3_KEYS[1],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(PORTS["smtp"]),
            "OIDC_RSA_PRIVATE_KEY": str(key),  # a file every node reads
            "HCMGOV_AUDIT_SINK_FILE": "",
            "HCMGOV_PUBLIC_URL": f"http://127.0.0.1:{PORTS['nginx']}",
            "EXCHANGE_GATEWAY_URL": f"http://127.0.0.1:{PORTS['nginx']}",
            "HCMGOV_VAR_DIR": str(var),
            "IOT_MQTT_URL": "mqtt://127.0.0.1:1883",
            "IOT_MQTT_SHARE_GROUP": f"hcmgov-scale-{self.run_id}",
            "HCMGOV_SIM_SMTP_PORT": str(PORTS["smtp"]),
            # the national data exchange platform (its simulator, as `make serve` runs it): the
            # registry's lookups go to it through the gateway
            "EXCHANGE_NDXP_URL": f"http://127.0.0.1:{PORTS['ndxp']}",
            "PYTHONUNBUFFERED": "1",
        }

    def spawn(self, name: str, argv: list[str], **extra: str) -> None:
        self.argv[name] = (argv, {**self.env, **extra})
        self.start(name)

    def start(self, name: str) -> None:
        argv, env = self.argv[name]
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=(self.dir / "logs" / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed with its children, ours alone
        )

    def kill(self, name: str) -> int:
        """SIGKILL to the process and its children at once: the node is gone."""
        proc = self.procs[name]
        victims = [proc.pid, *failover.children(proc.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return len(victims)

    def web(self, name: str) -> None:
        port = str(PORTS[name])
        (self.dir / f"prometheus-{name}").mkdir(exist_ok=True)
        self.spawn(
            name,
            [
                *(str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", port),
                *("--workers", "1", "--blocking-threads", "2", "--no-ws", "--log-level", "warning"),
                "hcmgov.wsgi:application",
            ],
            PROMETHEUS_MULTIPROC_DIR=str(self.dir / f"prometheus-{name}"),
        )

    def gateway(self, name: str) -> None:
        port = str(PORTS[name])
        self.spawn(
            name,
            [
                *(str(BIN / "granian"), "--interface", "asgi", "--loop", "uvloop", "--host", "127.0.0.1"),
                *("--port", port, "--workers", "1", "--no-ws", "--log-level", "warning"),
                "hcmgov.exchange.gateway.asgi:application",
            ],
        )

    def hcmgov(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "hcmgov"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop_all()
        if "sessions" in self.made:  # the broker would keep their share of the messages a week
            ends = [
                subprocess.Popen(
                    [str(BIN / "hcmgov"), "iot", "end-session", "--client-id", self.client_id(name)],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for name in INGESTERS
            ]
            for end in ends:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    end.wait(60)
        if "vhost" in self.made:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", VHOST], capture_output=True, check=False, timeout=60)
        if self.keep:
            print(f"kept: {self.dir} (logs/), database {DB_NAME}")
            return
        try:
            if "db" in self.made:
                admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            _redis().flushdb()
        except Exception as exc:  # the run's verdict stands; what was left is said
            print(f"cleaning up: {exc}", file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)

    def client_id(self, ingester: str) -> str:
        return f"hcmgov-scale-{self.run_id}-{ingester}"


def _rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _redis() -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=5)


def admin(sql: str) -> None:
    failover.query("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5", sql)


def answers(port: int) -> bool:
    import socket

    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        return True
    return False


def healthy(port: int, path: str = "/healthz") -> bool:
    return scale_load.get(port, path)[0] == 200


# --- setting up --------------------------------------------------------------------------------


def prepare_database(out: str) -> None:
    """(Run in a subprocess with the city's environment.) The schema, the demo city with a few
    dossiers (``hcmgov demo``: procedures, units, agencies, citizens, officials, the data sharing
    platform's services), ``scripts/failover.py``'s procedure, agency and citizens with API tokens,
    two systems of a department calling the gateway (one under a daily quota), and the sensors."""
    import django

    django.setup()
    from django.core.management import call_command

    began = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    migrated = time.monotonic()
    call_command("demo", dossiers=DEMO_DOSSIERS, quiet=True, stdout=io.StringIO())
    demo = time.monotonic()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        failover.prepare_database(CITIZENS)
    seeded = json.loads(printed.getvalue().strip().splitlines()[-1])
    seeded.update(scale_load.fixtures(devices=DEVICES))
    seeded["timings"] = (
        f"migrate {migrated - began:.0f} s, demo {demo - migrated:.0f} s, the rest {time.monotonic() - demo:.0f} s"
    )
    Path(out).write_text(json.dumps(seeded, ensure_ascii=False))


def setup(city: City) -> dict[str, Any]:
    """Everything up to the load: engines checked, vhost, buckets, database, the check, processes."""
    began = time.monotonic()
    missing = [f"{name} (127.0.0.1:{port})" for name, port in scale_load.ENGINES.items() if not answers(port)]
    if missing:
        raise RuntimeError("not answering: " + ", ".join(missing))
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None or shutil.which("rabbitmqctl") is None:
        raise RuntimeError("nginx and rabbitmqctl are needed (apt-get install nginx-light rabbitmq-server)")
    busy = [f"{name} {port}" for name, port in PORTS.items() if answers(port)]
    if busy:
        raise RuntimeError("ports in use: " + ", ".join(busy))

    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", VHOST], capture_output=True, check=False, timeout=60)
    for args in (["add_vhost", VHOST], ["set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"]):
        subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, check=True, timeout=60)
    city.made.append("vhost")
    _redis().flushdb()

    city.spawn("s3", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(PORTS["s3"])])
    city.spawn("smtp", [str(BIN / "hcmgov"), "sim", "smtp", "--port", str(PORTS["smtp-http"])])
    city.spawn("ndxp", [str(BIN / "hcmgov"), "sim", "ndxp", "--port", str(PORTS["ndxp"])])
    try:
        failover.wait_for("moto's S3 server", lambda: healthy(PORTS["s3"], "/"), timeout=60)
    except RuntimeError:
        raise RuntimeError(MOTO_MISSING) from None
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{PORTS['s3']}",
        aws_access_key_id=S3_KEYS[0],
        aws_secret_access_key=S3_KEYS[1],
        region_name="us-east-1",
    )
    for bucket in ("hcmgov-scale-documents", "hcmgov-scale-warehouse"):
        s3.create_bucket(Bucket=bucket)

    admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    admin(f"CREATE DATABASE {DB_NAME}")
    city.made.append("db")
    seeded_file = city.dir / "seeded.json"
    static = subprocess.Popen(
        [str(BIN / "hcmgov"), "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=city.env,
        stdout=(city.dir / "logs" / "collectstatic.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    prepared_at = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--prepare-database", str(seeded_file)],
        cwd=ROOT,
        env=city.env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"preparing the database failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    prepared = time.monotonic() - prepared_at
    if static.wait(600):
        raise RuntimeError(f"collectstatic failed: see {city.dir / 'logs' / 'collectstatic.log'}")
    seeded = json.loads(seeded_file.read_text())
    print(
        f"setup: database {DB_NAME} migrated, demo city with {DEMO_DOSSIERS} dossiers, {CITIZENS} citizens with"
        f" API tokens, {DEVICES} sensors, 2 gateway clients in {prepared:.0f} s"
        f" ({seeded['timings']}); {time.monotonic() - began:.0f} s"
    )

    check = city.hcmgov("check", "--deploy", "--fail-level", "ERROR")
    if check.returncode:
        raise RuntimeError(f"hcmgov check refuses the city's settings:\n{check.stdout}{check.stderr}")
    control = subprocess.run(  # the same check without Redis: the city scale checks are on
        [str(BIN / "hcmgov"), "check"],
        cwd=ROOT,
        env={**city.env, "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    refused = sorted(set(re.findall(r"hcmgov\.E1\d\d", control.stdout + control.stderr)))
    print(
        "hcmgov check --deploy (HCMGOV_SCALE=city): passed; the same without REDIS_URL refused:",
        ", ".join(refused) or "no",
    )
    if control.returncode == 0 or "hcmgov.E102" not in refused:
        raise RuntimeError("without Redis, hcmgov check should refuse the city's settings (hcmgov.E102)")

    for name in WEB:
        city.web(name)
    for name in GATEWAYS:
        city.gateway(name)
    for name in WORKERS:
        city.spawn(name, worker_argv(city, name))
    city.spawn(BULK_WORKER, worker_argv(city, BULK_WORKER))
    city.spawn("scheduler", [str(BIN / "hcmgov"), "scheduler"])
    for name in INGESTERS:
        city.spawn(name, [str(BIN / "hcmgov"), "iot", "ingest"], IOT_MQTT_CLIENT_ID=city.client_id(name))
    city.made.append("sessions")
    workdir = city.dir / "nginx"
    (workdir / "temp").mkdir(parents=True)
    conf = workdir / "nginx.conf"
    conf.write_text(
        nginx_config(
            (ROOT / "deploy" / "nginx" / "hcmgov.conf").read_text(),
            workdir=workdir,
            port=PORTS["nginx"],
            web=[PORTS[n] for n in WEB],
            gateways=[PORTS[n] for n in GATEWAYS],
            static=Path(city.env["HCMGOV_VAR_DIR"]) / "static",
        )
    )
    city.spawn("nginx", [nginx, "-p", str(workdir), "-c", str(conf)])
    for name in (*WEB, *GATEWAYS):
        failover.wait_for(name, lambda n=name: healthy(PORTS[n]), timeout=180)
    failover.wait_for("nginx", lambda: healthy(PORTS["nginx"]), timeout=60)
    for name in INGESTERS:
        failover.wait_for(f"{name}'s subscription", lambda n=name: city_log_has(city, n, "subscribed"), timeout=120)
    failover.wait_for("the scheduler's lead", lambda: city_log_has(city, "scheduler", "leading"), timeout=120)
    dead = [name for name, proc in city.procs.items() if proc.poll() is not None]
    if dead:
        raise RuntimeError(f"exited at start: {', '.join(dead)} (logs in {city.dir / 'logs'})")
    print(
        f"started: nginx :{PORTS['nginx']} → web {', '.join(str(PORTS[n]) for n in WEB)}; gateway"
        f" {', '.join(str(PORTS[n]) for n in GATEWAYS)}; {len(WORKERS)} workers and 1 of the bulk queue (--no-beat),"
        " 1 scheduler (leading),"
        f" {len(INGESTERS)} ingesters (share group {city.env['IOT_MQTT_SHARE_GROUP']}); moto S3 :{PORTS['s3']},"
        f" SMTP relay simulator :{PORTS['smtp']}, NDXP simulator :{PORTS['ndxp']}; RabbitMQ vhost {VHOST};"
        f" Redis db {REDIS_DB}; {time.monotonic() - began:.0f} s"
    )
    return seeded


def worker_argv(city: City, name: str) -> list[str]:
    """``hcmgov worker`` as deploy/systemd/hcmgov-worker@.service starts it, each with a node name of
    its own (RabbitMQ lets one connection at a time hold a worker name's control queue: two workers
    named alike on one machine, Celery's ``celery@<host>``, stopped the second with RESOURCE_LOCKED —
    this test found it). The bulk queue's worker as hcmgov-worker-bulk.service starts it."""
    queues, threads = ("bulk", "1") if name == BULK_WORKER else ("celery", "2")
    return [
        str(BIN / "hcmgov"),
        "worker",
        "--no-beat",
        "--queues",
        queues,
        "--concurrency",
        threads,
        "--hostname",
        f"{name}@%h",
    ]


def city_log_has(city: City, name: str, text: str) -> bool:
    return text in (city.dir / "logs" / f"{name}.log").read_text(errors="replace")


# --- the run -------------------------------------------------------------------------------------


def run(city: City, *, seconds: float, seed: int) -> int:
    seeded = setup(city)
    rng = random.Random(seed)  # noqa: S311 - jitter of the kills' moments, not a secret
    load = scale_load.Load(
        nginx=PORTS["nginx"], seeded=seeded, run_id=city.run_id, db=city.env["DATABASE_URL"], seconds=seconds
    )
    load.start()
    print(f"load: {seconds:g} s through nginx :{PORTS['nginx']} (seed {seed})")
    for name, share in KILLS:
        at = seconds * share + rng.uniform(-0.03, 0.03) * seconds
        time.sleep(max(0.0, load.started + at - time.monotonic()))
        victims = city.kill(name)
        killed = time.monotonic() - load.started
        time.sleep(RESTART_AFTER)
        city.start(name)
        print(f"  {killed:6.1f} s  SIGKILL {name} ({victims} processes), started again after {RESTART_AFTER:g} s")
    load.finish()
    print(f"load ended after {time.monotonic() - load.started:.0f} s: {load.summary()}")
    dead = [name for name, proc in city.procs.items() if proc.poll() is not None]
    if dead:
        print(f"  exited during the run: {', '.join(dead)}")
    web_ports = [PORTS[n] for n in WEB]
    gateway_ports = [PORTS[n] for n in GATEWAYS]
    checks = scale_load.Checks(
        load=load, env=city.env, smtp_http=PORTS["smtp-http"], web=web_ports, gateways=gateway_ports, redis=_redis()
    )
    results = checks.run()
    failed = [r for r in results if not r.ok]
    for r in results:
        print(f"{'OK  ' if r.ok else 'FAIL'} {r.name:<12} {r.detail}")
    print("FAILED: " + ", ".join(r.name for r in failed) if failed or dead else "OK")
    return 1 if failed or dead else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="seconds of load (default 90)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kills' moments (default: random)")
    parser.add_argument("--keep", action="store_true", help=f"keep the database {DB_NAME} and the logs")
    parser.add_argument("--prepare-database", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare_database:
        prepare_database(args.prepare_database)
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    city = City(run_id=f"{seed}", keep=args.keep)
    atexit.register(city.close)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"hcmgov scale-test: seed {seed}, folder {city.dir}")
    try:
        return run(city, seconds=args.seconds, seed=seed)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        city.close()


if __name__ == "__main__":
    sys.exit(main())
