"""The city's capacity model: how many processes and cores the platform needs, from what the
benchmarks measured (bench/results/*.json) and stated assumptions about the city's load.

    .venv/bin/python bench/capacity.py          # writes docs/operations/capacity.md

Every number of the table is computed here from those two sources, so a benchmark run again
changes the table when this is run again; nothing is typed by hand but the assumptions below.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "operations" / "capacity.md"

HEADROOM = 0.5  # plan to run every process at half of what it was measured to do
WORKING_DAYS = 250


@dataclass(frozen=True)
class Assumption:
    name: str
    value: float
    unit: str
    why: str
    confidence: str


ASSUMPTIONS = [
    Assumption("population", 10_000_000, "people", "issue 16: about ten million people", "high"),
    Assumption(
        "dossiers_per_year",
        5_000_000,
        "dossiers",
        "all levels, all channels; the order of magnitude of the city's yearly dossiers (not read from an "
        "official report: replace with the reporting system's own count)",
        "low",
    ),
    Assumption("online_share", 0.5, "", "the plan's target: at least half of all dossiers online", "high"),
    Assumption(
        "peak_hour_share",
        0.2,
        "of a working day",
        "a working day's traffic is concentrated in the morning; the busiest hour carries a fifth of it",
        "medium",
    ),
    Assumption(
        "tracking_per_dossier",
        10,
        "lookups",
        "people look their dossier's status up several times while it is processed",
        "low",
    ),
    Assumption("pages_per_dossier", 30, "pages", "search, procedure page, form steps, account, result", "low"),
    Assumption(
        "actions_per_dossier",
        6,
        "actions",
        "officials' steps: receive, assign, review, approve, sign, return",
        "medium",
    ),
    Assumption(
        "exchange_calls_per_year",
        100_000_000,
        "calls",
        "systems of departments, districts and wards calling each other and the national platform (NDXP)",
        "low",
    ),
    Assumption(
        "surge_applications",
        300_000,
        "dossiers",
        "a campaign opening on one day, such as the online enrolment of first-graders and sixth-graders",
        "low",
    ),
    Assumption("surge_first_hour_share", 0.4, "", "the share of a campaign sent in its first hour", "low"),
    Assumption("sensors", 50_000, "sensors", "the pilot's 1,000 grown to the city's roads and stations", "low"),
    Assumption("readings_per_sensor_minute", 1, "readings", "one reading a minute per sensor", "medium"),
    Assumption(
        "ngsi_updates_share",
        0.1,
        "of readings",
        "context updates of entities through NGSI-LD (most readings arrive over MQTT)",
        "low",
    ),
]
A = {a.name: a.value for a in ASSUMPTIONS}


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def _machine(data: dict) -> str:
    m = data.get("machine", {})
    return f"{m.get('nproc', '?')} cores {m.get('cpu_model', '?')}, {str(data.get('date', m.get('date', '')))[:10]}"


@dataclass(frozen=True)
class Workload:
    name: str
    process: str
    peak_per_s: float
    measured_per_s: float
    measured_cores: int
    source: str
    machine: str

    @property
    def cores(self) -> float:
        """Cores needed at the peak, with the headroom: measured rate per core of the benchmark's machine
        (which ran the database on the same cores: a conservative figure for the application alone)."""
        per_core = self.measured_per_s / self.measured_cores
        return self.peak_per_s / (per_core * HEADROOM)


def workloads() -> list[Workload]:
    peak_share = A["peak_hour_share"] / 3600
    dossiers_day = A["dossiers_per_year"] / WORKING_DAYS
    submit, tracking, act = _load("submit"), _load("tracking_api"), _load("act")
    gateway, ingest, ngsi = _load("gateway"), _load("iot_ingest"), _load("ngsi")
    pages = _load("tracking_html")
    light = gateway["providers"]["light"]
    best = light[light["gateway_best"]]["throughput"]["throughput_per_s"]
    readings_s = A["sensors"] * A["readings_per_sensor_minute"] / 60
    return [
        Workload(
            "online submissions",
            "web",
            dossiers_day * A["online_share"] * peak_share,
            submit["best"]["throughput_per_s"],
            submit["machine"]["nproc"],
            "bench/results/submit.json",
            _machine(submit),
        ),
        Workload(
            "status lookups (API)",
            "web",
            dossiers_day * A["tracking_per_dossier"] * peak_share,
            tracking["best"]["throughput_per_s"],
            tracking["machine"]["nproc"],
            "bench/results/tracking_api.json",
            _machine(tracking),
        ),
        Workload(
            "portal pages (server-rendered)",
            "web",
            dossiers_day * A["online_share"] * A["pages_per_dossier"] * peak_share,
            pages["best"]["throughput_per_s"],
            pages["machine"]["nproc"],
            "bench/results/tracking_html.json (a status page)",
            _machine(pages),
        ),
        Workload(
            "officials' actions",
            "web",
            dossiers_day * A["actions_per_dossier"] * peak_share,
            act["best"]["throughput_per_s"],
            act["machine"]["nproc"],
            "bench/results/act.json",
            _machine(act),
        ),
        Workload(
            "data sharing calls",
            "gateway",
            A["exchange_calls_per_year"] / WORKING_DAYS * peak_share,
            best,
            gateway["machine"]["nproc"],
            f"bench/results/gateway.json ({light['gateway_best']})",
            _machine(gateway),
        ),
        Workload(
            "sensor readings (MQTT)",
            "ingester",
            readings_s,
            ingest["ingester"]["readings_per_s"],
            ingest["machine"]["nproc"],
            "bench/results/iot_ingest.json",
            _machine(ingest),
        ),
        Workload(
            "surge: campaign submissions",
            "web",
            A["surge_applications"] * A["surge_first_hour_share"] / 3600,
            submit["best"]["throughput_per_s"],
            submit["machine"]["nproc"],
            "bench/results/submit.json",
            _machine(submit),
        ),
        Workload(
            "surge: campaign pages",
            "web",
            A["surge_applications"] * A["surge_first_hour_share"] * A["pages_per_dossier"] / 3600,
            pages["best"]["throughput_per_s"],
            pages["machine"]["nproc"],
            "bench/results/tracking_html.json (a status page)",
            _machine(pages),
        ),
        Workload(
            "NGSI-LD entity updates",
            "web",
            readings_s * A["ngsi_updates_share"],
            ngsi["results"]["ngsi_update"]["throughput_per_s"],
            ngsi["machine"]["nproc"],
            "bench/results/ngsi.json (ngsi_update)",
            _machine(ngsi),
        ),
    ]


def render() -> str:
    rows = workloads()
    lines = [
        "# Capacity: processes and cores for the city",
        "",
        "Generated by `bench/capacity.py` from the benchmarks' results (`bench/results/*.json`) and the",
        "assumptions below; run it again after `make bench` to refresh. Do not edit by hand.",
        "",
        "## Method",
        "",
        "For each workload: the rate at the busiest hour (from the assumptions), and the rate one",
        "machine of the benchmark sustained (its cores shared by the application, PostgreSQL and the",
        "load generator, so the figure per core is conservative for the application alone). Cores",
        f"needed = peak rate ÷ (measured rate per core × {HEADROOM:.0%} headroom). Processes follow from",
        "the units in `deploy/systemd/`: a web process per 2 cores (granian, 2 threads), a gateway",
        "process per core, an ingester per 2 cores. The database is sized apart (below).",
        "",
        "## Assumptions",
        "",
        "| assumption | value | why | confidence |",
        "|---|---:|---|---|",
    ]
    for a in ASSUMPTIONS:
        value = f"{a.value:,.0f}" if a.value >= 10 else f"{a.value:g}"
        lines.append(f"| {a.name} | {value} {a.unit} | {a.why} | {a.confidence} |")
    lines += [
        "",
        "## Peak load and what it needs",
        "",
        "| workload | process | peak /s | measured /s (machine) | cores needed | source |",
        "|---|---|---:|---:|---:|---|",
    ]
    per_process: dict[str, float] = {}
    for w in rows:
        per_process[w.process] = per_process.get(w.process, 0.0) + w.cores
        lines.append(
            f"| {w.name} | {w.process} | {w.peak_per_s:,.1f} | {w.measured_per_s:,.0f} on {w.measured_cores} cores "
            f"({w.machine}) | {w.cores:.2f} | {w.source} |"
        )
    cores_per = {"web": 2, "gateway": 1, "ingester": 2}
    lines += ["", "## Processes", "", "| process | cores | processes | for safety |", "|---|---:|---:|---|"]
    for process, cores in sorted(per_process.items()):
        count = max(2, math.ceil(cores / cores_per[process]))
        lines.append(f"| {process} | {cores:.1f} | {count} | at least 2, on different machines, so one can stop |")
    lines += [
        "| worker | — | 2 × 8 threads | the outbox, notifications and syncs follow the submissions: "
        "a small multiple of them |",
        "| scheduler | — | 2–3 (one leads) | `hcmgov scheduler`, leader-elected |",
        "",
        "## The database",
        "",
        "Every workload above writes to PostgreSQL; in the benchmarks it shared the machine's cores, so",
        "the cores above already include it. At city scale it runs on its own machines (a primary and a",
        "synchronous standby): size it for the sum of the write workloads with the same headroom, and",
        "for the warehouse refresh at night. The synchronous standby adds one round trip between the",
        "data centres to every commit (not measured here: both clusters of `scripts/failover.py` run",
        "on one machine).",
        "",
        "## What this does not yet show",
        "",
        "- The assumptions marked low should be replaced by the city's own counts (the reporting system",
        "  has them once the platform runs).",
        "- The everyday load is small beside one machine's capacity: the count of processes is set by",
        "  availability (two of each kind, on different machines) and by surges (the campaign rows,",
        "  which the web tier must absorb in its first hour), not by the yearly volume.",
        "- The rates are per machine of 2 cores; a larger machine does not scale linearly (one",
        "  PostgreSQL, locks, memory bandwidth): `make scale-test` measures several processes together.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
