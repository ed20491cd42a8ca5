"""The load of ``scripts/scale_test.py`` and the checks it makes afterwards (docs/operations/scale-test.md).

The load, through nginx: ``scripts/failover.py``'s submitting clients (an ``Idempotency-Key`` each,
an attempt without an answer retried with the same key); citizens logged in on the portal reading
their dossiers; an API client reading the catalogue; a department's system calling the gateway;
sensors publishing QoS 1 readings to Mosquitto; open steps given deadlines seconds away.

The checks read PostgreSQL, Redis and the SMTP relay's simulator, and call the nodes one by one.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import itertools
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import failover

ENGINES = {"PostgreSQL": 5432, "Redis": 6379, "RabbitMQ": 5672, "Mosquitto": 1883}
QUOTA = 30  # the gateway's daily quota of the system the limit check calls as
OVER_QUOTA = 15  # calls made beyond it, spread over the gateway nodes
SUBMIT_PAUSE = 0.6  # seconds a submitting client waits between two submissions
GATEWAY_PERIOD = 1.2  # seconds between two gateway calls of the load
SENSOR_PERIOD = 0.25  # seconds between two readings of one sensor
SETTLE_FOR = 240.0  # seconds after the load for the outbox, the timers and the ingesters to finish
VN = dt.timezone(dt.timedelta(hours=7))
TIMEOUT = 10.0


# --- HTTP ------------------------------------------------------------------------------------


def request(
    port: int, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage | None, bytes]:
    """One request to 127.0.0.1:``port``; status 0 when no answer came (refused, reset, timeout)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    except (OSError, http.client.HTTPException):
        return 0, None, b""
    finally:
        conn.close()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    status, _, body = request(port, "GET", path, headers=headers)
    return status, body


def _cookies(headers: http.client.HTTPMessage | None, jar: dict[str, str]) -> None:
    for line in headers.get_all("Set-Cookie") or [] if headers else []:
        name, _, value = line.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()


def problem_type(status: int, body: bytes) -> str:
    """`` (type)`` of a refusal's problem document (RFC 9457), or nothing."""
    if status < 400:
        return ""
    try:
        return f" ({str(json.loads(body).get('type', '')).rsplit('/', 1)[-1]})"
    except (ValueError, AttributeError):
        return f" ({body[:60]!r})" if body else ""


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def login(port: int, username: str, password: str, jar: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """The portal's login form (``/dang-nhap/``), as a browser fills it: its CSRF token first.
    Returns the answer's status (302: logged in) and the cookies."""
    jar = {} if jar is None else jar
    status, headers, page = request(port, "GET", "/dang-nhap/", headers={"Cookie": cookie_header(jar)})
    _cookies(headers, jar)
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or found is None:
        return status or -1, jar
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": found.group(1).decode(), "username": username, "password": password}
    )
    status, headers, _ = request(
        port,
        "POST",
        "/dang-nhap/",
        body=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie_header(jar)},
    )
    _cookies(headers, jar)
    return status, jar


def client_token(port: int, client: dict[str, str], scope: str) -> str:
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    status, _, body = request(
        port,
        "POST",
        "/o/token/",
        body=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise RuntimeError(f"POST /o/token/ answered {status}: {body[:300]!r}")
    return str(json.loads(body)["access_token"])


# --- fixtures (inside Django) --------------------------------------------------------------------


def fixtures(*, devices: int) -> dict[str, Any]:
    """(In the preparing subprocess, after ``hcmgov demo``.) Two systems of a department calling
    the demo's tracking service through the gateway — one for the load, one under a daily quota
    — the sensors, dossiers to look up, the open steps to give deadlines, the demo's logins."""
    from django.conf import settings

    from hcmgov.common.context import Actor, acting_as
    from hcmgov.core import selectors as core
    from hcmgov.dossiers import demo
    from hcmgov.dossiers.models import Dossier, DossierStep
    from hcmgov.exchange import services as exchange
    from hcmgov.exchange.models import Service
    from hcmgov.identity.provider import services as provider
    from hcmgov.iot import services as iot

    tracking = Service.objects.select_related("system__member").get(code="tra-cuu-ho-so")
    agency = core.agency_list().first()
    clients = {}
    with acting_as(Actor.system("scale-test")):
        for name, quota in (("load", 0), ("quota", QUOTA)):
            app = provider.machine_client_register(name=f"Kiểm thử quy mô / scale test ({name})", agency_id=agency.pk)
            system = exchange.system_connect(
                member=tracking.system.member,
                code=f"scale-{name}",
                name=f"Hệ thống kiểm thử quy mô ({name})",
                name_en=f"Scale test system ({name})",
                client_id=app.client_id,
                rate_per_second=1000,
                burst=1000,
                daily_quota=quota,
            )
            exchange.right_grant(service=tracking, consumer=system, methods="GET", granted_by="scale-test")
            clients[name] = {"client_id": app.client_id, "client_secret": app.raw_secret}
        codes = [f"SCALE-{i:03d}" for i in range(devices)]
        for i, code in enumerate(codes):
            iot.device_register(
                code=code,
                kind="air-quality",
                name=f"Trạm kiểm thử quy mô {i}",
                name_en=f"Scale test station {i}",
                latitude=10.70 + i * 0.003,
                longitude=106.62 + i * 0.003,
            )
    member, system = tracking.system.member.code, tracking.system.code
    return {
        "service": f"{member}/{system}/{tracking.code}",
        "clients": clients,
        "devices": codes,
        "tracked": [list(row) for row in Dossier.objects.order_by("pk").values_list("code", "tracking_secret")[:30]],
        "steps": list(DossierStep.objects.filter(state="open", waiting=False).values_list("pk", flat=True)),
        "password": demo.DEMO_PASSWORD,
        "browsers": ["congdan1", "congdan2"],
        "session_user": "congdan38",
        "lockout_user": "congdan39",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "web_limits": {name: list(limit) for name, limit in getattr(settings, "RATE_LIMITS", {}).items()},
    }


# --- the load ----------------------------------------------------------------------------------


class PacedClient(failover.Client):
    """``failover.Client`` with a citizen's pause between two submissions while the load lasts (none
    in the replay): the point here is a city's mixed load, not the most the web nodes can take —
    at full speed four clients outrun what three workers on two shared cores deliver, and the
    outbox's backlog then holds every periodic task (the step timers) behind it in the queue."""

    def submit(self, submission: failover.Submission) -> None:
        super().submit(submission)
        self.shared.stop.wait(SUBMIT_PAUSE)


class Load:
    """Every client of the run, each in a thread; ``counts`` tallies the answers by kind."""

    def __init__(self, *, nginx: int, seeded: dict[str, Any], run_id: str, db: str, seconds: float) -> None:
        self.nginx, self.seeded, self.run_id, self.db, self.seconds = nginx, seeded, run_id, db, seconds
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.shared = failover.Shared(numbers=itertools.count(1))
        body = {
            "procedure": seeded["procedure"],
            "agency": seeded["agency"],
            "form": {"personal_id": "079123456789", "purpose": "work", "mother": {"full_name": "Trần Thị Bình"}},
            "attachments": [
                {
                    "requirement": "TOKHAI",
                    "filename": "to-khai.pdf",
                    "content_base64": base64.b64encode(failover._pdf()).decode(),
                }
            ],
        }
        self.clients = [
            PacedClient(index=i, token=token, port=nginx, body=body, run_id=run_id, shared=self.shared)
            for i, token in enumerate(seeded["tokens"])
        ]
        self.sent: dict[int, int] = {}  # MQTT message id → the reading's time (ms since the epoch)
        self.sent_device: dict[int, str] = {}
        self.acked: list[int] = []  # message ids the broker acknowledged (PUBACK)
        self.armed_at: dt.datetime | None = None
        self.threads = [
            threading.Thread(target=self._guard, args=(self.browse, name), name=f"browse-{name}", daemon=True)
            for name in seeded["browsers"]
        ] + [
            threading.Thread(target=self._guard, args=(fn,), name=fn.__name__, daemon=True)
            for fn in (self.api_reads, self.gateway_calls, self.sensors, self.arm_timers)
        ]
        self.started = 0.0

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def _guard(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a client that broke is counted, and shown
            self.count(f"{fn.__name__} broke: {exc!s:.200}")

    def start(self) -> None:
        self.started = time.monotonic()
        for thread in [*self.clients, *self.threads]:
            thread.start()

    def finish(self) -> None:
        time.sleep(max(0.0, self.started + self.seconds - time.monotonic()))
        self.stop.set()
        self.shared.stop.set()
        self.shared.give_up = time.monotonic() + failover.RETRY_FOR
        for thread in [*self.clients, *self.threads]:
            thread.join()

    def summary(self) -> str:
        submissions = [s for c in self.clients for s in c.done]
        parts = [f"{len(submissions)} submissions"]
        parts += [f"{key} {n}" for key, n in sorted(self.counts.items())]
        parts.append(f"readings published {len(self.sent)}, acknowledged by the broker {len(self.acked)}")
        return "; ".join(parts)

    # --- the clients ---------------------------------------------------------------------------

    def browse(self, username: str) -> None:
        """A citizen logged in once reads their dossiers again and again: whichever web node answers
        must know the session (a 302 to the login page is a lost session)."""
        status, jar = login(self.nginx, username, self.seeded["password"])
        if status != 302:
            self.count(f"portal login failed ({status})")
            return
        while not self.stop.wait(0.3):
            status, headers, _ = request(self.nginx, "GET", "/ho-so/", headers={"Cookie": cookie_header(jar)})
            location = headers.get("Location", "") if headers else ""
            if status == 200:
                self.count("portal reads 200")
            elif status == 302 and "dang-nhap" in location:
                self.count("portal reads sent to login")
            else:
                self.count(f"portal reads {status}")

    def api_reads(self) -> None:
        while not self.stop.wait(0.2):
            self.count(f"api reads {get(self.nginx, '/api/v1/procedures')[0]}")

    def gateway_calls(self) -> None:
        """A department's system looks dossiers up through the gateway, whose provider is the
        portal's tracking API behind nginx — limited per client address (public_lookup): the
        calls stay below its rate."""
        token = client_token(self.nginx, self.seeded["clients"]["load"], "hcmgov.exchange")
        tracked = itertools.cycle(self.seeded["tracked"])
        while not self.stop.wait(GATEWAY_PERIOD):
            code, secret = next(tracked)
            path = f"/x/{self.seeded['service']}/{code}?secret={secret}"
            status, body = get(self.nginx, path, headers={"Authorization": f"Bearer {token}"})
            self.count(f"gateway calls {status}{problem_type(status, body)}")

    def sensors(self) -> None:
        """Each sensor publishes one reading every SENSOR_PERIOD seconds, QoS 1; each reading's
        time is unique (ms), so that what is stored can be matched to what was acknowledged."""
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hcmgov-scale-{self.run_id}-sensors",
            protocol=mqtt.MQTTv5,
        )
        # paho calls this in its network thread holding its own lock: append only (no lock of ours)
        client.on_publish = lambda _c, _u, mid, reason, _p: None if reason.is_failure else self.acked.append(mid)
        client.connect("127.0.0.1", 1883, keepalive=30)
        client.loop_start()
        base = int(time.time() * 1000) - 60_000
        try:
            for n in itertools.count():
                if self.stop.wait(SENSOR_PERIOD / len(self.seeded["devices"])) or n >= 60_000:  # ids are 16 bits
                    break
                code = self.seeded["devices"][n % len(self.seeded["devices"])]
                at = base + n * 10
                observed = dt.datetime.fromtimestamp(at / 1000, dt.UTC).isoformat(timespec="milliseconds")
                payload = json.dumps({"observedAt": observed, "values": {"pm25": 20 + n % 50}})
                info = client.publish(f"hcmgov/iot/{code}/readings", payload, qos=1)
                self.sent[info.mid], self.sent_device[info.mid] = at, code
            deadline = time.monotonic() + 30  # the acknowledgements still on their way
            while len(self.acked) < len(self.sent) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            client.disconnect()
            client.loop_stop()

    def arm_timers(self) -> None:
        """The demo's open steps fall due seconds from now, one a second: a reminder from 10 s
        ahead, the deadline 15 s after it (the scheduler's step timers run every minute)."""
        if self.stop.wait(5):
            return
        rows = failover.query(
            self.db,
            "WITH armed AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM dossiers_dossierstep"
            " WHERE id = ANY(%s)) UPDATE dossiers_dossierstep s"
            " SET remind_at = now() + make_interval(secs => 10 + n),"
            " due_at = now() + make_interval(secs => 25 + n), reminded_at = NULL, escalated_at = NULL"
            " FROM armed WHERE s.id = armed.id RETURNING now()",
            self.seeded["steps"],
        )
        self.armed_at = rows[0][0] if rows else None
        self.count("steps given a deadline", len(rows))


# --- the checks ------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    ok: bool
    detail: str


class Checks:
    def __init__(
        self, *, load: Load, env: dict[str, str], smtp_http: int, web: list[int], gateways: list[int], redis: Any
    ) -> None:
        self.load, self.env, self.smtp_http, self.web, self.gateways, self.redis = (
            load,
            env,
            smtp_http,
            web,
            gateways,
            redis,
        )
        self.db = env["DATABASE_URL"]
        self.submissions = [s for c in load.clients for s in c.done]
        self.answered = [s for s in self.submissions if s.status in (200, 201) and s.code]

    def q(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return failover.query(self.db, sql, *params)

    def run(self) -> list[Result]:
        waited, left = self.settle()
        print(f"settled after {waited:.0f} s" + (f" (still waiting for: {', '.join(left)})" if left else ""))
        return [
            self.check_submissions(),
            self.check_outbox(),
            self.check_timers(),
            self.check_readings(),
            self.check_logins(),
            self.check_limits(),
        ]

    # --- waiting for the asynchronous parts -------------------------------------------------------

    def mails(self) -> Counter[str]:
        status, body = get(self.smtp_http, "/messages")
        if status != 200:
            return Counter()
        subjects = (m.get("subject", "") for m in json.loads(body)["messages"])
        return Counter(m.group(1) for s in subjects if (m := re.match(r"\[([^\]]+)\] Đã nhận hồ sơ trực tuyến", s)))

    def stored_readings(self) -> dict[tuple[str, int], int]:
        rows = self.q(
            "SELECT d.code, (extract(epoch FROM r.observed_at) * 1000)::bigint, count(*) FROM iot_reading r"
            " JOIN iot_device d ON d.id = r.device_id WHERE d.code = ANY(%s) AND r.attribute = 'pm25' GROUP BY 1, 2",
            self.load.seeded["devices"],
        )
        return {(code, int(at)): n for code, at, n in rows}

    def acked_readings(self) -> set[tuple[str, int]]:
        return {(self.load.sent_device[mid], self.load.sent[mid]) for mid in self.load.acked if mid in self.load.sent}

    def waiting_for(self) -> list[str]:
        left = []
        if self.q("SELECT count(*) FROM core_outboxevent WHERE delivered_at IS NULL")[0][0]:
            left.append("outbox")
        steps = self.load.seeded["steps"]
        fired = self.q(
            "SELECT count(*) FROM dossiers_dossierstep WHERE id = ANY(%s) AND reminded_at IS NOT NULL"
            " AND escalated_at IS NOT NULL",
            steps,
        )[0][0]
        if fired < len(steps):
            left.append(f"timers ({fired}/{len(steps)})")
        if self.acked_readings() - set(self.stored_readings()):
            left.append("readings")
        mails = self.mails()
        if any(s.code not in mails for s in self.answered):
            left.append("e-mails")
        return left

    def settle(self) -> tuple[float, list[str]]:
        began = time.monotonic()
        while True:
            left = self.waiting_for()
            if not left or time.monotonic() - began > SETTLE_FOR:
                time.sleep(3)  # a late second delivery would show in the checks
                return time.monotonic() - began, left
            time.sleep(2)

    # --- the checks --------------------------------------------------------------------------------

    def check_submissions(self) -> Result:
        done = subprocess.run(
            [sys.executable, str(Path(failover.__file__)), "--dump-dossiers"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        prefix = f"Thử chuyển vùng {self.load.run_id} "  # failover.Client's marker
        rows = [tuple(r) for r in json.loads(done.stdout.strip().splitlines()[-1]) if str(r[3]).startswith(prefix)]
        t = failover.tally(self.submissions, rows)
        self.load.shared.give_up = time.monotonic() + failover.RETRY_FOR
        same = failover.replay(self.load.clients)
        t.replay_differs = len(t.acknowledged) - same
        committed = sum(1 for s in t.retried if s.status == 200)
        failed = t.failures()
        return Result(
            "submissions",
            not failed,
            f"{len(t.submitted)} submitted, {len(t.acknowledged) + len(t.retried)} acknowledged"
            f" ({len(t.retried)} unknown at first, answered on retry with the same key: {committed} had committed),"
            f" {len(t.unresolved)} unresolved, {len(t.rejected)} refused; in the database {t.present}:"
            f" lost {len(t.lost)}, duplicated {len(t.duplicated) + t.duplicated_keys}, phantom {len(t.phantom)},"
            f" sequence gaps {t.gaps}; replayed {same}/{len(t.acknowledged)} → the same dossier"
            + (f" — {', '.join(f'{k} {v}' for k, v in failed.items())}" if failed else ""),
        )

    def check_outbox(self) -> Result:
        total, pending, retried, given_up = self.q(
            "SELECT count(*), count(*) FILTER (WHERE delivered_at IS NULL), count(*) FILTER (WHERE attempts > 1),"
            " count(*) FILTER (WHERE delivered_at IS NULL AND attempts >= 10) FROM core_outboxevent"
        )[0]
        codes = [s.code for s in self.answered]
        events = dict(
            self.q(
                "SELECT key, count(*) FROM core_outboxevent WHERE topic = 'dossier.submitted' AND key = ANY(%s)"
                " GROUP BY key",
                codes,
            )
        )
        mails = self.mails()
        one_event = sum(1 for c in codes if events.get(c) == 1)
        one_mail = sum(1 for c in codes if mails.get(c) == 1)
        twice = sum(1 for c in codes if mails.get(c, 0) > 1)
        ok = not pending and one_event == len(codes) and one_mail == len(codes)
        return Result(
            "outbox",
            ok,
            f"{total} events, {total - pending} delivered, {pending} pending ({given_up} given up), {retried} needed"
            f" more than one attempt; acknowledged dossiers with exactly one dossier.submitted event"
            f" {one_event}/{len(codes)}, whose e-mail reached the SMTP relay exactly once {one_mail}/{len(codes)}"
            f" (twice or more: {twice})",
        )

    def check_timers(self) -> Result:
        if self.load.armed_at is None:
            return Result("timers", False, "no step was given a deadline")
        rows = self.q(
            "SELECT s.id, s.reminded_at >= s.remind_at, s.escalated_at >= s.due_at,"
            " (SELECT count(*) FROM core_outboxevent e WHERE e.topic = 'step.reminder'"
            "  AND e.payload->>'step_id' = s.id::text AND e.created_at >= %s),"
            " (SELECT count(*) FROM core_outboxevent e WHERE e.topic = 'step.escalation'"
            "  AND e.payload->>'step_id' = s.id::text AND e.created_at >= %s)"
            " FROM dossiers_dossierstep s WHERE s.id = ANY(%s)",
            self.load.armed_at,
            self.load.armed_at,
            self.load.seeded["steps"],
        )
        timers = 2 * len(rows)
        on_time = sum(bool(r[1]) + bool(r[2]) for r in rows)
        once = sum((r[3] == 1) + (r[4] == 1) for r in rows)
        twice = sum((r[3] > 1) + (r[4] > 1) for r in rows)
        return Result(
            "timers",
            bool(rows) and once == timers and on_time == timers,
            f"{timers} timers ({len(rows)} steps: a reminder and a deadline each) fired by the scheduler:"
            f" exactly once {once}/{timers}, not before their time {on_time}/{timers}, twice or more {twice}",
        )

    def check_readings(self) -> Result:
        acked = self.acked_readings()
        stored = self.stored_readings()
        missing = acked - set(stored)
        doubled = sum(1 for n in stored.values() if n > 1)
        unacked_stored = len(set(stored) - acked)
        return Result(
            "readings",
            bool(acked) and not missing and not doubled,
            f"{len(self.load.sent)} QoS 1 readings published, {len(acked)} acknowledged by the broker; stored"
            f" {len(acked) - len(missing)}/{len(acked)} of them, missing {len(missing)}, stored twice {doubled}"
            f" ({unacked_stored} stored without an acknowledgement)",
        )

    def check_logins(self) -> Result:
        seeded = self.load.seeded
        status, jar = login(self.load.nginx, seeded["session_user"], seeded["password"])
        pages = [request(p, "GET", "/ho-so/", headers={"Cookie": cookie_header(jar)})[0] for p in self.web]
        bearer = {"Authorization": f"Bearer {seeded['tokens'][0]}"}
        api = [get(p, "/api/v1/dossiers", headers=bearer)[0] for p in self.web]
        counts = self.load.counts
        lost = counts["portal reads sent to login"]
        reads = sum(n for k, n in counts.items() if k.startswith("portal reads"))
        ok = status == 302 and pages.count(200) == len(self.web) and api.count(200) == len(self.web) and not lost
        return Result(
            "logins",
            ok and reads > 0,
            f"a login through nginx ({status}) valid on {pages.count(200)}/{len(self.web)} web nodes asked directly"
            f" {pages}; a citizen's bearer token on {api.count(200)}/{len(self.web)} {api}; during the load"
            f" {reads} page reads by logged-in citizens, {lost} sent back to the login page",
        )

    def check_limits(self) -> Result:
        gateway_ok, gateway = self.gateway_quota()
        lookup_ok, lookup = self.public_lookup_limit()
        lockout_ok, lockout = self.login_lockout()
        return Result("limits", gateway_ok and lookup_ok and lockout_ok, f"{gateway}; {lookup}; {lockout}")

    def gateway_quota(self) -> tuple[bool, str]:
        """The gateway's daily quota of a system, counted in Redis by every gateway node."""
        seeded = self.load.seeded
        quota = seeded["clients"]["quota"]
        token = client_token(self.load.nginx, quota, "hcmgov.exchange")
        code, secret = seeded["tracked"][0]
        passed, refused_on = 0, Counter[int]()
        for i in range(QUOTA + OVER_QUOTA):
            port = self.gateways[i % len(self.gateways)]
            status, body = get(
                port, f"/x/{seeded['service']}/{code}?secret={secret}", headers={"Authorization": f"Bearer {token}"}
            )
            if status == 429 and b"exchange_daily_quota" in body:
                refused_on[port] += 1
            elif status:
                passed += 1
        day = dt.datetime.now(VN).strftime("%Y%m%d")
        counted = int(self.redis.get(f"hcmgov:x:day:{quota['client_id']}:{day}") or 0)
        ok = passed == QUOTA and len(refused_on) == len(self.gateways) and counted == QUOTA
        return ok, (
            f"gateway daily quota {QUOTA}: {QUOTA + OVER_QUOTA} calls alternating over {len(self.gateways)} gateway"
            f" nodes → {passed} passed, {sum(refused_on.values())} refused 429 (on {len(refused_on)} nodes),"
            f" Redis counts {counted}"
        )

    def public_lookup_limit(self) -> tuple[bool, str]:
        """The web's per-address limit of public lookups (``public_lookup``, hcmgov.common.ratelimit),
        one bucket in Redis for every web node — when this tree has it."""
        rate, burst = self.load.seeded["web_limits"].get("public_lookup", (0, 0))
        if rate <= 0:
            return True, "public lookups: no per-address limit in this tree (RATE_LIMITS has no public_lookup)"
        code, secret = self.load.seeded["tracked"][0]
        calls = int(burst) + 30
        passed, refused_on = 0, Counter[int]()
        began = time.monotonic()
        for i in range(calls):
            port = self.web[i % len(self.web)]
            status, _ = get(port, f"/api/v1/tracking/{code}?secret={secret}")
            if status == 429:
                refused_on[port] += 1
            elif status:
                passed += 1
        elapsed = time.monotonic() - began
        most = int(burst) + int(elapsed * rate) + 1  # the bucket refills while the calls are made
        keys = self.redis.keys("hcmgov:rate:public_lookup:*")
        ok = 0 < passed <= most and len(refused_on) == len(self.web) and bool(keys)
        return ok, (
            f"public lookups ({rate:g}/s per address, burst {burst:g}): {calls} calls over {len(self.web)} web nodes"
            f" in {elapsed:.1f} s → {passed} passed (at most {most} allowed), {sum(refused_on.values())} refused 429"
            f" (on {len(refused_on)} nodes), one bucket in Redis ({len(keys)} key)"
        )

    def login_lockout(self) -> tuple[bool, str]:
        """django-axes: failed logins counted in PostgreSQL, whichever web node the attempt reached."""
        seeded = self.load.seeded
        user, limit = seeded["lockout_user"], seeded["failure_limit"]
        statuses = []
        for i in range(limit + 3):
            status, _ = login(self.web[i % len(self.web)], user, "sai-mat-khau-0")
            statuses.append(status)
            if status == 429:
                break
        right, _ = login(self.web[len(statuses) % len(self.web)], user, seeded["password"])
        ok = statuses[-1] == 429 and len(statuses) == limit and right == 429
        return ok, (
            f"login lockout after {limit} failures: wrong passwords over {len(self.web)} web nodes answered"
            f" {statuses}, then the right password on another node {right}"
        )
