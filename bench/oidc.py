"""Benchmarks of the city's OpenID provider's token endpoint (``POST /o/token/``).

1. ``oidc_code_exchange`` — authorization code → tokens (``client_secret_basic``, PKCE S256, an ID
   token signed RS256, a refresh token): many codes are issued beforehand (rows of DOT's grants,
   as the authorization endpoint writes them), then each is exchanged once; target ≥ 300/s.
2. ``oidc_client_credentials`` — a machine client's access token (scope ``hcmgov.api``); target
   ≥ 1,000 tokens/s.

Orchestration as ``bench/run.py`` (whose helpers it uses): PostgreSQL (``DATABASE_URL`` or
postgres://postgres@127.0.0.1:5432/hcmgov_bench_oidc, created if missing) → migrate → fixtures
(this file with ``--fixtures``, inside Django) → granian as ``make serve`` starts it (2 WSGI
workers, no task worker: the token endpoint queues nothing) → wrk with ``bench/token.lua`` →
``bench/results/oidc_*.json``.

    .venv/bin/python -m bench.oidc            # 20 s runs, 8 connections
    .venv/bin/python -m bench.oidc --quick    # 5 s runs: proves it works, numbers are rough
    .venv/bin/python -m bench.oidc --tag before   # bench/results/oidc_*.before.json (an A/B pair)

Each result file records the date, the machine (with the git commit), the server and bench command
lines and the target.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402 - bench/run.py, beside this file

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_bench_oidc"
TARGETS = {"oidc_code_exchange": {"throughput_per_s": 300}, "oidc_client_credentials": {"throughput_per_s": 1000}}
REDIRECT = "https://rp.bench.example/callback"
VERIFIER = "bench-verifier-" + "v" * 40


# --- fixtures (run inside Django) -----------------------------------------------------------------


def fixtures(out: Path, codes: int) -> dict[str, Any]:
    """A relying party with ``codes`` fresh authorization codes, and a machine client; the wrk
    input files: one line per request, ``<Authorization header>\\t<form body>``."""
    import django

    django.setup()
    from django.utils import timezone
    from oauth2_provider.models import Grant

    from hcmgov.core.selectors import agency_list
    from hcmgov.identity.provider import services as provider
    from hcmgov.identity.services import user_create

    rp = provider.oidc_client_register(name=f"bench RP {time.time():.0f}", redirect_uris=[REDIRECT], trusted=True)
    machine = provider.machine_client_register(name=f"bench machine {time.time():.0f}", agency_id=agency_list()[0].pk)
    person = user_create(username=f"bench-oidc-{time.time_ns()}", password=None, full_name="Người dùng thử")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    expires = timezone.now() + dt.timedelta(hours=2)
    prefix = os.urandom(6).hex()
    Grant.objects.bulk_create(
        [
            Grant(
                application=rp,
                user=person,
                code=f"{prefix}{i:08d}",
                expires=expires,
                redirect_uri=REDIRECT,
                scope="openid profile",
                code_challenge=challenge,
                code_challenge_method="S256",
                nonce=f"n{i}",
                claims="{}",
            )
            for i in range(codes)
        ],
        batch_size=2000,
    )

    def basic(app: Any) -> str:
        return "Basic " + base64.b64encode(f"{app.client_id}:{app.raw_secret}".encode()).decode()

    with (out / "oidc_codes.txt").open("w") as f:
        for i in range(codes):
            body = (
                f"grant_type=authorization_code&code={prefix}{i:08d}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
            )
            f.write(f"{basic(rp)}\t{body}\n")
    (out / "oidc_machine.txt").write_text(f"{basic(machine)}\tgrant_type=client_credentials&scope=hcmgov.api\n")
    return {"codes": codes, "rp": rp.client_id, "machine": machine.client_id}


# --- orchestration --------------------------------------------------------------------------------


def bench(server: run.Server, args: argparse.Namespace, name: str, lines: Path, mode: str) -> dict[str, Any]:
    raw, cpu = run.run_wrk_measured(
        server,
        script="token.lua",
        script_args=[str(lines), mode, str(min(args.threads, args.connections))],
        connections=args.connections,
        duration=args.duration,
        threads=args.threads,
    )
    result = run.summarise(raw, "200", args.connections, cpu)
    # On a shared machine the throughput depends on the neighbours ("other" in the CPU shares);
    # the CPU each request cost the server and PostgreSQL depends much less on them
    cores, seconds, shares = cpu["cores"], cpu["seconds"], cpu["cpu_percent_of_all_cores"]
    result["cpu_ms_per_request"] = {
        part: round(shares[part] / 100 * cores * seconds * 1000 / max(result["ok"], 1), 2)
        for part in ("web_server", "postgresql")
    }
    result["target"] = TARGETS[name]
    result["meets_target"] = result["throughput_per_s"] >= TARGETS[name]["throughput_per_s"]
    return result


def save(name: str, result: dict[str, Any], info: dict[str, Any], tag: str = "") -> None:
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    path = run.RESULTS / (f"{name}.{tag}.json" if tag else f"{name}.json")
    path.write_text(json.dumps({"name": name, **info, **result}, indent=2, ensure_ascii=False) + "\n")
    run.log(f"{name}: {result['throughput_per_s']:,.0f}/s ok={result['ok']} errors={result['errors']} → {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5-second runs, fewer codes (a smoke test)")
    parser.add_argument("--duration", type=int, default=20, help="seconds of each measured run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--codes", type=int, default=0, help="codes to issue beforehand (default: enough)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument(
        "--blocking-threads",
        type=int,
        default=int(os.environ.get("THREADS", "2")),
        help="granian's --blocking-threads (make serve: THREADS, default 2)",
    )
    parser.add_argument("--tag", default="", help="written as bench/results/oidc_*.<tag>.json (e.g. before, after)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument("--fixtures", type=Path, help=argparse.SUPPRESS)  # internal: run inside Django
    args = parser.parse_args()
    if args.fixtures:
        print(json.dumps(fixtures(args.fixtures, args.codes)))
        return
    if args.quick:
        args.duration = 5
    codes = args.codes or args.duration * 1_000  # more than the endpoint can exchange in the time

    run.ensure_wrk()
    url = args.database_url
    run.ensure_database(url)
    run.WORK.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hcmgov.settings",
        "HCMGOV_VAR_DIR": str(run.WORK / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(run.WORK / "prometheus"),
    }
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "machine": run.machine(url),
        "bench_command": " ".join([".venv/bin/python -m bench.oidc", *sys.argv[1:]]),
    }
    run.log("migrate, demo (agencies)")
    run.hcmgov(env, "migrate", "--noinput")
    run.hcmgov(env, "demo")
    run.log(f"fixtures: {codes:,} authorization codes, a machine client")
    made = run.django_script(env, "oidc.py", "--fixtures", str(run.WORK), "--codes", str(codes))
    run.log(f"fixtures: {made}")
    extra = ["--blocking-threads", str(args.blocking_threads)]
    info["server"] = {
        "command": f"granian --interface wsgi --workers {args.workers} --no-ws {' '.join(extra)} "
        "hcmgov.wsgi:application",
        "as_make_serve": args.blocking_threads == 2,
    }
    server = run.Server(env, run.free_port(), args.workers, False, extra)
    with run.running(server):
        run.log(f"server up at {server.url}")
        for name, lines, mode in [
            ("oidc_client_credentials", run.WORK / "oidc_machine.txt", "random"),
            ("oidc_code_exchange", run.WORK / "oidc_codes.txt", "once"),
        ]:
            save(name, bench(server, args, name, lines, mode), info, args.tag)


if __name__ == "__main__":
    main()
