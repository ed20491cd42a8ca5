"""The data sharing platform's headline (issue 7): on 2 cores, the gateway's throughput with
authentication, the access check, the quota and the message log ≥ 50 % of calling the same
provider directly, and its added p50 latency ≤ 2 ms; nginx ``proxy_pass`` to the same provider
measured in the same run as the reference.

Two providers stand behind it: ``light`` — a bare ASGI record service (``bench/upstream.py``,
granian, 1 worker) that reads no database, so that the gateway's own cost shows in full — and
``tracking`` — a real service of the platform, the public dossier-tracking API on PostgreSQL
(granian WSGI, 2 workers, as ``make serve``). For each, wrk (1 thread) calls it directly, through
nginx and through the gateway (granian ASGI, ``--gateway-workers``), with the same bearer token
in every request (the direct and nginx calls ignore it): ``--connections`` for throughput, then
one connection for the latency each adds. Provider, gateway, nginx, PostgreSQL and wrk share the
machine's cores; /proc accounting records each one's CPU.

After the gateway's runs the message log is checked: one record per answered call, nothing
missing (the count of records written during the runs against wrk's count of answers, allowing
for the calls in flight when the run stopped and those of the warm-up still in flight when it
started: at most one per connection each), and the chain verified by ``hcmgov exchange verify``.

    .venv/bin/python bench/gateway.py [--duration 20] [--connections 32] [--gateway-workers 1]

Results: ``bench/results/gateway.json`` and ``bench/results/gateway.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # the shared harness of bench/run.py

ROOT, BENCH, WORK, RESULTS, VENV_BIN = run.ROOT, run.BENCH, run.WORK, run.RESULTS, run.VENV_BIN
log = run.log
TARGET_RATIO = 0.5
TARGET_ADDED_P50_MS = 2.0


class Proc:
    """A server process started in its own session (stopped with its children)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], probe: str, cwd: Path = ROOT) -> None:
        self.name, self.cmd, self.env, self.probe, self.cwd = name, cmd, env, probe, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        logs = WORK / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=(logs / f"{self.name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {logs / (self.name + '.log')}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.probe, timeout=2) as r:  # noqa: S310
                if r.status < 500:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer {self.probe} within 60 s")

    def pids(self) -> list[int]:
        return run.tree(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@contextlib.contextmanager
def started(*procs: Proc) -> Iterator[None]:
    try:
        for p in procs:
            p.start()
        yield
    finally:
        for p in reversed(procs):
            p.stop()


def granian(app: str, port: int, workers: int, interface: str, extra: list[str] | None = None) -> list[str]:
    return [
        str(VENV_BIN / "granian"),
        "--interface",
        interface,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-ws",
        "--log-level",
        "warning",
        *(extra or []),
        app,
    ]


LUA_CJSON = "/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so"


def ensure_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found and Path("/usr/lib/nginx/modules/ngx_http_lua_module.so").exists() and Path(LUA_CJSON).exists():
        return found
    log("nginx or its Lua module not found: installing nginx-light, libnginx-mod-http-lua, lua-cjson (Debian)")
    apt = ["apt-get", "install", "-y", "-qq", "nginx-light", "libnginx-mod-http-lua", "lua-cjson"]
    if os.geteuid() != 0:
        apt.insert(0, "sudo")
    if subprocess.run(apt, check=False).returncode != 0:
        subprocess.run([*apt[: apt.index("install")], "update", "-qq"], check=True)
        subprocess.run(apt, check=True)
    return shutil.which("nginx") or "/usr/sbin/nginx"


NGINX_CONF = """
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    upstream light {{ server 127.0.0.1:{light}; keepalive 64; }}
    upstream tracking {{ server 127.0.0.1:{web}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port};
        location /healthz {{ return 200 "ok"; }}
        location /records/ {{
            proxy_pass http://light;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location /api/v1/tracking/ {{
            proxy_pass http://tracking;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
}}
"""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def lines_file(name: str, token: str, paths: list[str]) -> Path:
    path = WORK / f"gateway_{name}.txt"
    path.write_text("".join(f"{token}\t{p}\n" for p in paths))
    return path


def measure(target_url: str, lines: Path, connections: int, duration: int, groups: dict[str, Any]) -> dict[str, Any]:
    before = run.children_cpu()
    meter = run.CpuMeter(groups)
    raw = run.wrk(target_url, "get_auth.lua", [str(lines)], connections, duration, 1)
    cpu = meter.stop()
    load_s = run.children_cpu() - before
    share = cpu["cpu_percent_of_all_cores"]
    share["wrk"] = round(100 * load_s / (cpu["seconds"] * cpu["cores"]), 1)
    share["other"] = round(max(0.0, share["other"] - share["wrk"]), 1)
    result = run.summarise(raw, "200", connections, cpu)
    result["statuses"] = raw["statuses"]
    return result


def profile_gateway(
    proc: Proc, name: str, base: str, lines: Path, args: argparse.Namespace, groups: dict[str, Any]
) -> dict[str, Any]:
    """py-spy (``--gil``) of the gateway's Python processes during one more throughput run (not
    counted): the ASGI gateway's workers, or the edge's control plane (its nginx workers run Lua,
    which py-spy does not see: the cores' split of the measured run shows their share)."""
    pids = [pid for pid in proc.pids() if _comm(pid) != "nginx"]
    subject = (
        f"the gateway's workers ({name})"
        if name.startswith("gateway")
        else f"the edge's control plane ({name}; its nginx workers' Lua is not sampled)"
    )
    log(f"{name}: profiling {len(pids)} processes (one more run, not counted)")
    profile = run.profile_pids(
        pids, args.duration, lambda: measure(base, lines, args.connections, args.duration, groups), subject=subject
    )
    profiled = profile.pop("run")
    profile["run"] = {k: profiled[k] for k in ("throughput_per_s", "p50_ms", "errors")}
    return profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds of each measured run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--gateway-workers", default="1,2", help="gateway processes to try (one run each)")
    parser.add_argument("--edge-workers", default="1,2", help="edge nginx workers to try ('' for none)")
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--providers", default="light,tracking")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or run.DEFAULT_DB)
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy of the best gateway's Python processes in one more run when a provider missed (auto)",
    )
    args = parser.parse_args()
    started_at = time.monotonic()
    run.ensure_wrk()
    nginx = ensure_nginx()
    url = args.database_url
    run.ensure_database(url)
    WORK.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(WORK / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(WORK / "prometheus"),
        "EXCHANGE_REGISTRY_REFRESH": "5",
    }
    (WORK / "prometheus").mkdir(parents=True, exist_ok=True)
    info = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": run.machine(url)}
    log(f"database {url}; machine {info['machine']}")
    run.hcmgov(env, "migrate", "--noinput")
    if int(run.db_scalar(url, "SELECT count(*) FROM dossiers_dossier")) == 0:
        run.hcmgov(env, "demo")
    info["calibration"] = run.calibrate(env, argparse.Namespace(workers=2, blocking_threads=2, threads=1))
    log(f"calibration: {info['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100)")

    counts = [int(n) for n in args.gateway_workers.split(",") if n.strip()]
    ports = {k: run.free_port() for k in ("light", "web", "nginx")}
    edge_counts = [int(n) for n in args.edge_workers.split(",") if n.strip()]
    for n in counts:
        ports[f"gateway-w{n}"] = run.free_port()
    for n in edge_counts:
        ports[f"edge-w{n}"] = run.free_port()
    light = Proc(
        "upstream", granian("upstream:application", ports["light"], 1, "asgi"), env,
        f"http://127.0.0.1:{ports['light']}/records/1", cwd=BENCH,
    )  # fmt: skip
    web = Proc(
        "web", granian("hcmgov.wsgi:application", ports["web"], 2, "wsgi", ["--blocking-threads", "2"]), env,
        f"http://127.0.0.1:{ports['web']}/healthz",
    )  # fmt: skip
    fixtures = run.django_script(
        env, "gateway_fixtures.py", "--light", f"http://127.0.0.1:{ports['light']}",
        "--tracking", f"http://127.0.0.1:{ports['web']}",
    )  # fmt: skip
    token, svc = fixtures["token"], fixtures["services"]
    gateways = {
        f"gateway-w{n}": Proc(
            f"gateway-w{n}",
            granian(
                "hcmgov.exchange.gateway.asgi:application", ports[f"gateway-w{n}"], n, "asgi", ["--loop", "uvloop"]
            ),
            env,
            f"http://127.0.0.1:{ports[f'gateway-w{n}']}/healthz",
        )
        for n in counts
    }
    # the gateway's fast path: nginx with the Lua module, and its control plane (hcmgov exchange edge)
    for n in edge_counts:
        gateways[f"edge-w{n}"] = Proc(
            f"edge-w{n}",
            [str(VENV_BIN / "hcmgov"), "exchange", "edge", "--port", str(ports[f"edge-w{n}"]), "--workers", str(n),
             "--dir", str(WORK / f"edge-w{n}")],
            env,
            f"http://127.0.0.1:{ports[f'edge-w{n}']}/healthz",
        )  # fmt: skip
    conf_dir = Path(tempfile.mkdtemp(prefix="hcmgov-nginx-"))
    (conf_dir / "nginx.conf").write_text(
        NGINX_CONF.format(
            workers=args.nginx_workers, dir=conf_dir, light=ports["light"], web=ports["web"], port=ports["nginx"]
        )
    )
    proxy = Proc(
        "nginx", [nginx, "-c", str(conf_dir / "nginx.conf"), "-p", str(conf_dir)], env,
        f"http://127.0.0.1:{ports['nginx']}/healthz",
    )  # fmt: skip
    rng = random.Random(7)
    pairs = [
        (code, secret)
        for code, secret in (
            line.split("|")
            for line in subprocess.run(
                ["psql", url, "-Atc", "SELECT code, tracking_secret FROM dossiers_dossier ORDER BY random() LIMIT 2000"],  # noqa: E501
                capture_output=True, text=True, check=True,
            ).stdout.split()
        )
    ]  # fmt: skip
    paths = {
        "light": [f"/records/{rng.randrange(1, 1_000_000)}" for _ in range(5000)],
        "tracking": [f"/{code}?secret={secret}" for code, secret in pairs],
    }
    prefixes = {
        "light": {"direct": "", "nginx": "", **dict.fromkeys(gateways, f"/x/{svc['light']}")},
        "tracking": {
            "direct": "/api/v1/tracking",
            "nginx": "/api/v1/tracking",
            **dict.fromkeys(gateways, f"/x/{svc['tracking']}"),
        },
    }
    bases = {
        "light": {"direct": ports["light"], "nginx": ports["nginx"], **{g: ports[g] for g in gateways}},
        "tracking": {"direct": ports["web"], "nginx": ports["nginx"], **{g: ports[g] for g in gateways}},
    }
    groups = {
        "provider_light": light.pids,
        "provider_web": web.pids,
        "gateway": lambda: [pid for g in gateways.values() for pid in g.pids()],
        # of the edge's share, its nginx (the rest is its Python control plane shipping the log)
        "edge_nginx": lambda: [pid for g in gateways.values() for pid in g.pids() if _comm(pid) == "nginx"],
        "nginx": proxy.pids,
        "postgresql": run.postgres_pids,
    }
    out: dict[str, Any] = {"providers": {}}
    with started(light, web, *gateways.values(), proxy):
        log(f"up: {ports}")
        for provider in args.providers.split(","):
            res: dict[str, Any] = {}
            for target in ("direct", "nginx", *gateways):
                lines = lines_file(
                    f"{provider}_{target}", token, [prefixes[provider][target] + p for p in paths[provider]]
                )
                base = f"http://127.0.0.1:{bases[provider][target]}"
                run.wrk(base, "get_auth.lua", [str(lines)], args.connections, args.warmup, 1)  # warm-up
                t0 = dt.datetime.now(dt.UTC).isoformat()
                thr = measure(base, lines, args.connections, args.duration, groups)
                t1 = dt.datetime.now(dt.UTC).isoformat()
                lat = measure(base, lines, 1, max(5, args.duration // 2), groups)
                entry = {"throughput": thr, "latency_1_connection": lat}
                if target.startswith(("gateway", "edge")):
                    time.sleep(1.5)  # the log writer's last batch (the edge: nginx's lines shipped)
                    # the calls logged during the measured run: every one wrk counted, those still
                    # in flight when it stopped, and those of the warm-up still in flight when it
                    # started (at most one per connection each)
                    written = int(
                        run.db_scalar(
                            url,
                            "SELECT count(*) FROM exchange_messagelogrecord"  # noqa: S608 - our own values
                            f" WHERE at >= '{t0}' AND at <= '{t1}' AND service = '{svc[provider]}'",
                        )
                    )
                    answered = thr["requests"]
                    entry["message_log"] = {
                        "records_written": written,
                        "calls_answered": answered,
                        "complete": answered <= written <= answered + 2 * args.connections,
                    }
                res[target] = entry
                log(
                    f"{provider} {target}: {thr['throughput_per_s']:,}/s p50 {thr['p50_ms']} ms"
                    f" (errors {thr['errors']}); 1 connection p50 {lat['p50_ms']} ms"
                    + (f"; log {entry['message_log']}" if "message_log" in entry else "")
                )
            best = max(gateways, key=lambda g: res[g]["throughput"]["throughput_per_s"])

            def base_of(target: str, provider: str = provider) -> str:
                return f"http://127.0.0.1:{bases[provider][target]}"

            def lines_of(target: str, provider: str = provider) -> Path:
                return WORK / f"gateway_{provider}_{target}.txt"  # lines_file's

            res["gateway"] = via = res[best]
            res["gateway_best"] = best
            for kind in ("gateway", "edge"):
                mine = [g for g in gateways if g.startswith(kind + "-")]
                if mine:
                    top = max(mine, key=lambda g: res[g]["throughput"]["throughput_per_s"])
                    res[f"ratio_{kind}_best_to_direct"] = round(
                        res[top]["throughput"]["throughput_per_s"]
                        / max(1e-9, res["direct"]["throughput"]["throughput_per_s"]),
                        3,
                    )
            direct = res["direct"]
            res["ratio_gateway_to_direct"] = round(
                via["throughput"]["throughput_per_s"] / max(1e-9, direct["throughput"]["throughput_per_s"]), 3
            )
            res["ratio_nginx_to_direct"] = round(
                res["nginx"]["throughput"]["throughput_per_s"] / max(1e-9, direct["throughput"]["throughput_per_s"]), 3
            )
            res["added_p50_ms"] = round(
                via["latency_1_connection"]["p50_ms"] - direct["latency_1_connection"]["p50_ms"], 3
            )
            res["nginx_added_p50_ms"] = round(
                res["nginx"]["latency_1_connection"]["p50_ms"] - direct["latency_1_connection"]["p50_ms"], 3
            )
            res["met"] = (
                res["ratio_gateway_to_direct"] >= TARGET_RATIO
                and res["added_p50_ms"] <= TARGET_ADDED_P50_MS
                and via["throughput"]["errors"] == 0
                and via["message_log"]["complete"]
            )
            if args.profile == "always" or (args.profile == "auto" and not res["met"]):
                res["profile"] = profile_gateway(gateways[best], best, base_of(best), lines_of(best), args, groups)
            out["providers"][provider] = res
            log(
                f"{provider}: gateway/direct {res['ratio_gateway_to_direct']:.0%}, nginx/direct"
                f" {res['ratio_nginx_to_direct']:.0%}, added p50 {res['added_p50_ms']} ms — met: {res['met']}"
            )
    verify = subprocess.run(
        [str(VENV_BIN / "hcmgov"), "exchange", "verify"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    out["chain_verify"] = {"exit_code": verify.returncode, "output": (verify.stdout + verify.stderr)[-3000:]}
    log(f"hcmgov exchange verify: exit {verify.returncode}")
    out.update(
        {
            "name": "gateway",
            "target": {"ratio_to_direct": TARGET_RATIO, "added_p50_ms": TARGET_ADDED_P50_MS},
            "gateway_workers": counts,
            "edge_workers": edge_counts,
            "nginx_workers": args.nginx_workers,
            "connections": args.connections,
            "duration_s": args.duration,
            **info,
        }
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gateway.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "gateway.md").write_text(report(out))
    log(f"done in {time.monotonic() - started_at:,.0f} s: bench/results/gateway.json, gateway.md")


def _per_call(t: dict[str, Any], *percents: float) -> str:
    """CPU time a call cost each process group (µs), from its share of all cores over the run:
    where the time goes, whatever the ratio."""
    cpu = t["cpu"]
    calls = max(1, t["requests"])
    return " / ".join(f"{p / 100 * cpu['cores'] * cpu['seconds'] * 1e6 / calls:.0f}" for p in percents)


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Data sharing gateway (`bench/gateway.py`)",
        "",
        f"{r['date']}; {m.get('nproc')} cores ({m.get('cpu_model')}), commit {m.get('git_commit')}; calibration"
        f" {r['calibration']['hello_req_per_s']:,} req/s (bare Django hello; MEASUREMENTS.md: 11,100). Gateway:"
        " `gateway-wN` the Python gateway on granian ASGI (uvloop), `edge-wN` its fast path (nginx with its Lua"
        " module and the control plane shipping its message log: docs/decisions/0024, 0029), N workers; the best"
        " of all counted;"
        f" nginx {r['nginx_workers']} worker(s), keepalive to the"
        f" provider; wrk 1 thread, {r['connections']} connections for {r['duration_s']} s, then 1 connection for"
        " latency. Provider, gateway, nginx, PostgreSQL and wrk share the cores.",
        "",
        f"Target: through the gateway ≥ {TARGET_RATIO:.0%} of the direct throughput, added p50 ≤"
        f" {TARGET_ADDED_P50_MS} ms.",
        "",
        "| provider | path | throughput | p50 | p99 | errors | 1-connection p50 | CPU % provider / gateway /"
        " nginx / PostgreSQL / wrk | CPU µs a call: provider / gateway (of which the edge's nginx) / nginx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in r["providers"].items():
        for target in ("direct", "nginx", *(k for k in res if k.startswith(("gateway-", "edge-")))):
            t, lat = res[target]["throughput"], res[target]["latency_1_connection"]
            c = t["cpu"]["cpu_percent_of_all_cores"]
            provider_cpu = c["provider_light"] if name == "light" else c["provider_web"]
            per_call = _per_call(t, provider_cpu, c["gateway"], c["nginx"])
            if target.startswith("edge-") and "edge_nginx" in c:
                p, g, n = per_call.split(" / ")
                per_call = f"{p} / {g} ({_per_call(t, c['edge_nginx'])}) / {n}"
            lines.append(
                f"| {name} | {target} | **{t['throughput_per_s']:,.0f}/s** | {t['p50_ms']:.2f} ms |"
                f" {t['p99_ms']:.2f} ms | {t['errors']} of {t['requests']:,} | {lat['p50_ms']:.2f} ms |"
                f" {provider_cpu} / {c['gateway']} / {c['nginx']} / {c['postgresql']} / {c['wrk']} | {per_call} |"
            )
    lines += ["", "| provider | gateway / direct | nginx / direct | added p50 (gateway) | added p50 (nginx) |"
              " message log complete | met |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, res in r["providers"].items():
        ml = res["gateway"]["message_log"]
        best = res.get("gateway_best", "")
        lines.append(
            f"| {name} | **{res['ratio_gateway_to_direct']:.0%}** ({best}; Python gateway"
            f" {res.get('ratio_gateway_best_to_direct', 0):.0%}) | {res['ratio_nginx_to_direct']:.0%} |"
            f" **{res['added_p50_ms']:.2f} ms** | {res['nginx_added_p50_ms']:.2f} ms |"
            f" {ml['records_written']:,} records for {ml['calls_answered']:,} calls |"
            f" {'yes' if res['met'] else '**no**'} |"
        )
    lines += [
        "",
        f"`hcmgov exchange verify` after the runs: exit code {r['chain_verify']['exit_code']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
