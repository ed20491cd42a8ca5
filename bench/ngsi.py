"""Benchmarks of the NGSI-LD broker (issue 11, ``hcmgov.ngsi``), through the API over HTTP.

1. ``ngsi_update`` — entity updates: ``PATCH /ngsi-ld/v1/entities/{id}/attrs`` of a random sensor
   (one Property with observedAt, so each update also appends to the temporal history), bearer
   token; target ≥ 3,000 entity updates/s on this 2-core machine (Orion-LD: ~1,800/s on one CPU).
2. ``ngsi_upsert`` — the same updates carried 50 per request by
   ``POST /entityOperations/upsert?options=update`` (how a gateway pushes a batch of sensors);
   counted in entity updates/s.
3. ``ngsi_temporal_day`` — ``GET /temporal/entities/{id}?timerel=between`` over one sensor-day
   (3 attributes × 1,440 readings a minute) with history for other sensors and days around it, one
   connection; target p95 < 50 ms. Also with ``aggregatedValues`` (avg/min/max per hour).

Orchestration as ``bench/run.py`` (its helpers: machine info, calibration, granian with 2 WSGI
workers as ``make serve``, wrk from a separate process): PostgreSQL (``DATABASE_URL`` or
postgres://postgres@127.0.0.1:5432/hcmgov_bench_ngsi, created if missing) → migrate → fixtures
(this file with ``--fixtures``, inside Django) → wrk → ``bench/results/ngsi.json`` and
``bench/results/ngsi.md``. No subscription exists, so no task worker runs (an update then writes
no outbox event).

    .venv/bin/python -m bench.ngsi            # 20 s runs
    .venv/bin/python -m bench.ngsi --quick    # 5 s runs: proves it works, numbers are rough
    .venv/bin/python -m bench.ngsi --quick --out /tmp/ngsi-quick.json   # not the record (a busy machine)

``bench/ngsi_profile.py`` measures the CPU cost of one update in process (steadier on a shared
machine), profiles it, and samples lock waits under concurrent updates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_bench_ngsi"
TARGETS = {
    "ngsi_update": {"entity_updates_per_s": 3000},
    "ngsi_upsert": {"entity_updates_per_s": 3000},
    "ngsi_temporal_day": {"p95_ms": 50},
    "ngsi_temporal_day_hourly_avg": {"p95_ms": 50},
}
DAY = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
BATCH = 50
SENSOR = "urn:ngsi-ld:AirQualityObserved:hcm-0000"

# the scripts are written to bench/.work at run time (wrk -s); Lua lines may be long
LUA = r"""
threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local token, mode, sensors, batch = "", "patch", 1, 50
local counter = 0
function init(args)
  token, mode, sensors, batch = args[1], args[2], tonumber(args[3]), tonumber(args[4])
  math.randomseed(os.time() + tid * 7919)
end
local function attrs(n)
  counter = counter + 1
  local s = counter % 60
  local minute = math.floor(counter / 60) % 60
  local at = string.format("2026-11-28T%02d:%02d:%02d.%03dZ", (tid * 3) % 24, minute, s, n % 1000)
  local attr = '"pm25":{"type":"Property","value":%d,"unitCode":"GQ","observedAt":"%s"}'
  return string.format(attr, math.random(0, 300), at)
end
function request()
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if mode == "patch" then
    local id = string.format("urn:ngsi-ld:AirQualityObserved:hcm-%04d", math.random(0, sensors - 1))
    return wrk.format("PATCH", "/ngsi-ld/v1/entities/" .. id .. "/attrs", headers, "{" .. attrs(0) .. "}")
  end
  local parts = {}
  local first = math.random(0, sensors - batch)
  for i = 0, batch - 1 do
    local id = string.format("urn:ngsi-ld:AirQualityObserved:hcm-%04d", first + i)
    parts[#parts + 1] = '{"id":"' .. id .. '","type":"AirQualityObserved",' .. attrs(i) .. "}"
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  return wrk.format("POST", "/ngsi-ld/v1/entityOperations/upsert?options=update", headers, body)
end
expected = 204
dofile(BENCH_DIR .. "report.lua")
"""

LUA_GET = r"""
threads = {}
function setup(thread) table.insert(threads, thread) end
local token, path = "", "/"
function init(args) token, path = args[1], args[2] end
function request()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token, ["Accept"] = "application/json"})
end
expected = 200
dofile(BENCH_DIR .. "report.lua")
"""


def fixtures(out: Path, sensors: int, days: int) -> dict[str, Any]:
    """Inside Django: an official's token, ``sensors`` air sensors, and history: the bench sensor's
    day (3 attributes a minute) and, around it, pm25 a minute for every sensor over ``days`` days."""
    import django

    django.setup()
    from hcmgov.identity.services import api_token_issue, user_create
    from hcmgov.ngsi import jsonld, services
    from hcmgov.ngsi.models import AttributeInstance, Entity

    user = user_create(username=f"bench-ngsi-{time.time_ns()}", password=None, kind="official", full_name="Máy đo")
    token = api_token_issue(user=user, name="bench ngsi").raw
    ctx = jsonld.context_for(None)
    existing = set(Entity.objects.values_list("entity_id", flat=True))
    made = 0
    for i in range(sensors):
        entity_id = f"urn:ngsi-ld:AirQualityObserved:hcm-{i:04d}"
        if entity_id in existing:
            continue
        body = {
            "id": entity_id,
            "type": "AirQualityObserved",
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [106.6 + i % 40 * 0.01, 10.7 + i // 40 * 0.01]},
            },
            "pm25": {"type": "Property", "value": 20, "unitCode": "GQ"},
            "pm10": {"type": "Property", "value": 30, "unitCode": "GQ"},
            "temperature": {"type": "Property", "value": 28, "unitCode": "CEL"},
        }
        services.entity_create(body=body, ctx=ctx)
        made += 1
    pks = dict(Entity.objects.values_list("entity_id", "pk"))
    bench_pk = pks[SENSOR]
    rows = 0
    if not AttributeInstance.objects.filter(
        entity=bench_pk, observed_at__gte=DAY, observed_at__lt=DAY + dt.timedelta(days=1)
    ).exists():
        pm25, pm10, temp = (ctx.expand(n) for n in ("pm25", "pm10", "temperature"))
        batch: list[AttributeInstance] = []

        def add(pk: int, attr: str, at: dt.datetime, value: float, unit: str) -> None:
            nonlocal rows
            batch.append(
                AttributeInstance(
                    entity=pk,
                    attr=attr,
                    observed_at=at,
                    value=value,
                    number=value,
                    instance={"type": "Property", "unitCode": unit},
                )
            )
            rows += 1
            if len(batch) >= 5000:
                AttributeInstance.objects.bulk_create(batch)
                batch.clear()

        for minute in range(1440):
            at = DAY + dt.timedelta(minutes=minute)
            add(bench_pk, pm25, at, 20 + minute % 50, "GQ")
            add(bench_pk, pm10, at, 30 + minute % 40, "GQ")
            add(bench_pk, temp, at, 27 + minute % 5, "CEL")
        for d in range(-days // 2, days - days // 2):
            if d == 0:
                continue
            for pk in list(pks.values())[: min(len(pks), 50)]:
                for minute in range(0, 1440, 5):
                    add(pk, pm25, DAY + dt.timedelta(days=d, minutes=minute), 25.0, "GQ")
        AttributeInstance.objects.bulk_create(batch)
    (out / "ngsi_token.txt").write_text(token)
    return {"sensors_created": made, "history_rows_written": rows, "history_rows": AttributeInstance.objects.count()}


def _script(name: str, text: str) -> str:
    path = run.WORK / name
    path.write_text(text.replace("BENCH_DIR", repr(str(run.BENCH) + "/")))
    return str(path)


def measure(
    server: run.Server, args: argparse.Namespace, script: str, script_args: list[str], c: int, ok: str
) -> dict[str, Any]:
    # the script lives in bench/.work: wrk's -s takes it relative to bench/
    rel = os.path.relpath(script, run.BENCH)
    raw, cpu = run.run_wrk_measured(
        server, script=rel, script_args=script_args, connections=c, duration=args.duration, threads=min(2, c)
    )
    return run.summarise(raw, ok, c, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5-second runs (a smoke test)")
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7, help="days of history around the measured one")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--blocking-threads", type=int, default=int(os.environ.get("THREADS", "2")), help="granian's (make serve: 2)"
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy of the workers in one more run (not counted) of each benchmark that missed (auto), each, none",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="write the JSON here (and the report beside it, .md) instead of bench/results/ngsi.json: "
        "for a run on a busy machine, whose numbers are not the record",
    )
    parser.add_argument("--fixtures", type=Path, help=argparse.SUPPRESS)  # internal: run inside Django
    args = parser.parse_args()
    if args.fixtures:
        print(json.dumps(fixtures(args.fixtures, args.sensors, args.days)))
        return
    if args.quick:
        args.duration = 5
    env, info = run.prepare(args.database_url, "ngsi")
    info["bench_command"] = " ".join([".venv/bin/python -m bench.ngsi", *sys.argv[1:]])
    run.log(f"fixtures: {args.sensors} sensors, {args.days} days of history")
    info["fixtures"] = run.django_script(
        env, "ngsi.py", "--fixtures", str(run.WORK), "--sensors", str(args.sensors), "--days", str(args.days)
    )
    token = (run.WORK / "ngsi_token.txt").read_text().strip()
    extra = ["--blocking-threads", str(args.blocking_threads)]
    info["server"] = {
        "command": f"granian --interface wsgi --workers {args.workers} --no-ws {' '.join(extra)} hcmgov.wsgi"
    }
    update = _script("ngsi_update.lua", LUA)
    get = _script("ngsi_get.lua", LUA_GET)
    day = "timerel=between&timeAt=2026-11-27T00:00:00Z&endTimeAt=2026-11-28T00:00:00Z"
    results: dict[str, Any] = {}
    server = run.Server(env, run.free_port(), args.workers, False, extra)
    with run.running(server):
        run.log(f"server up at {server.url}")
        path = f"/ngsi-ld/v1/temporal/entities/{SENSOR}?{day}"
        hourly = f"{path}&options=aggregatedValues&aggrMethods=avg,min,max&aggrPeriodDuration=PT1H"
        runs: dict[str, Callable[[], dict[str, Any]]] = {
            "ngsi_update": lambda: measure(
                server, args, update, [token, "patch", str(args.sensors), "1"], args.connections, "204"
            ),
            "ngsi_upsert": lambda: measure(
                server, args, update, [token, "upsert", str(args.sensors), str(BATCH)],
                max(2, args.connections // 4), "204",
            ),
            "ngsi_temporal_day": lambda: measure(server, args, get, [token, path], 1, "200"),
            "ngsi_temporal_day_hourly_avg": lambda: measure(server, args, get, [token, hourly], 1, "200"),
        }  # fmt: skip
        for name, measured in runs.items():
            result = results[name] = judge(name, measured())
            if args.profile == "always" or (args.profile == "auto" and not result["meets_target"]):
                run.log(f"{name}: profiling (one more run, not counted)")
                profile = run.profile_run(server, args.duration, lambda m=measured, n=name: judge(n, m()))  # type: ignore[misc]
                profiled = profile.pop("run")
                profile["run"] = {k: profiled[k] for k in ("throughput_per_s", "p50_ms", "p95_ms", "errors")}
                result["profile"] = profile
    out = args.out or run.RESULTS / "ngsi.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"name": "ngsi", **info, "results": results}, indent=2, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(report(info, results))
    for name, result in results.items():
        rate = result.get("entity_updates_per_s", result["throughput_per_s"])
        run.log(f"{name}: {rate}/s p95 {result['p95_ms']} ms errors {result['errors']}")


def judge(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The run's rate in entity updates, its costs, its target and whether it met it."""
    if name == "ngsi_upsert":
        result["entity_updates_per_s"] = round(result["throughput_per_s"] * BATCH, 1)
        result["entities_per_request"] = BATCH
    elif name == "ngsi_update":
        result["entity_updates_per_s"] = result["throughput_per_s"]
    costs(result)
    target = result["target"] = TARGETS[name]
    if "entity_updates_per_s" in target:
        result["meets_target"] = result["entity_updates_per_s"] >= target["entity_updates_per_s"]
    else:
        result["meets_target"] = result["p95_ms"] < target["p95_ms"]
    return result


def costs(result: dict[str, Any]) -> None:
    """CPU milliseconds the server and PostgreSQL spent per unit of work (an entity update, or a
    request): on a shared machine the rate depends on the neighbours ("other" in the CPU shares),
    this much less; ``capacity_on_idle_cores_per_s`` is what the two would sustain on the
    machine's cores alone (wrk's share left aside)."""
    cpu = result["cpu"]
    units = result.get("entity_updates_per_s", result["throughput_per_s"]) * cpu["seconds"]
    shares = cpu["cpu_percent_of_all_cores"]
    per = {
        part: round(shares[part] / 100 * cpu["cores"] * cpu["seconds"] * 1000 / max(units, 1), 3)
        for part in ("web_server", "postgresql")
    }
    result["cpu_ms_per_unit"] = per
    result["capacity_on_idle_cores_per_s"] = round(cpu["cores"] * 1000 / max(sum(per.values()), 1e-6))


def report(info: dict[str, Any], results: dict[str, Any]) -> str:
    m = info["machine"]
    lines = [
        "# NGSI-LD broker benchmarks (issue 11)",
        "",
        f"Run {info['date']} with `{info['bench_command']}` on {m['nproc']} cores ({m['cpu_model']}), "
        f"PostgreSQL {m['postgresql']}, commit {m['git_commit']}. Calibration (bare Django hello on granian): "
        f"{info['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100). Server, PostgreSQL and wrk "
        "share the machine's cores. Fixtures: " + json.dumps(info["fixtures"]) + ".",
        "",
        "| benchmark | connections | requests/s | entity updates/s | p50 ms | p95 ms | p99 ms | errors | target "
        "| met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        target = ", ".join(f"{k} {v}" for k, v in r["target"].items())
        lines.append(
            f"| {name} | {r['connections']} | {r['throughput_per_s']:,} | {r.get('entity_updates_per_s', '')} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {target} | "
            f"{'yes' if r['meets_target'] else 'no'} |"
        )
    lines += [
        "",
        "CPU shares (% of all cores) per run; CPU ms per unit (an entity update for the first two, a "
        "request for the others) of the web server and PostgreSQL, and the rate those costs allow on "
        "the machine's cores alone (the machine was shared: see `other`):",
        "",
    ]
    for name, r in results.items():
        lines.append(
            f"- {name}: {json.dumps(r['cpu']['cpu_percent_of_all_cores'])}; ms per unit "
            f"{json.dumps(r['cpu_ms_per_unit'])}; capacity on idle cores ≈ {r['capacity_on_idle_cores_per_s']:,}/s"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
