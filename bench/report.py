"""The benchmarks' report: ``bench/results/REPORT.md`` from the JSON files ``make bench`` writes.

For each headline: our number, the peer's (started on the same machine by the benchmark itself:
Datasette for open data, nginx ``proxy_pass`` for the gateway, Mosquitto publisher → subscriber
for MQTT, the bare ASGI "hello" of the calibration for the web floor), the ratio ours/peer, the
target (as the benchmark recorded it in its JSON, or as its script states it), whether it is met,
the machine (cores, CPU model), the calibration in force for that result (the machine's speed
varies up to 4× between runs) and the date. Nothing is measured here and no target is typed
here: every figure is read from the results.

``--since`` (ISO date, UTC; ``make bench`` passes the time it started): a result older than it
was not written by this run; its row is marked "stale (date)", and the report's top counts and
lists them. A missing result reads "not run"; a result of an unknown or older shape reads
"unreadable: <reason>" — the report is written whatever the results hold. Standard library only.

    .venv/bin/python bench/report.py [--since 2026-11-28T14:00:00Z] [--results bench/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MEASUREMENTS_MD_REQ_PER_S = 11_100  # the bare Django hello of shared/MEASUREMENTS.md (bench/hello.py)
DASH = "—"


@dataclass
class Row:
    """One headline of the table. ``ratio`` is ours / the peer's, in the row's own unit (for a
    latency, below 1 is better)."""

    benchmark: str
    ours: str = DASH
    peer: str = DASH
    peer_value: str = DASH
    ratio: float | None = None
    target: str = DASH
    met: bool | None = None
    file: str = ""
    date: dt.datetime | None = None
    machine: str = DASH
    calibration: str = DASH
    problem: str = ""  # "not run" or "unreadable: <reason>"
    stale: bool = False
    notes: list[str] = field(default_factory=list)
    why: list[str] = field(default_factory=list)  # for a miss: where the time went (cores, profile)


Extract = Callable[[dict[str, Any]], list[Row]]


class Unreadable(Exception):
    """The result does not have the shape this report reads."""


# --- reading values ------------------------------------------------------------------------------


def get(doc: Any, *path: str | int) -> Any:
    """``doc[path[0]][path[1]]…``; ``Unreadable`` naming the path when a step is missing."""
    here = doc
    for i, key in enumerate(path):
        try:
            here = here[key]
        except (KeyError, IndexError, TypeError):
            raise Unreadable("no " + ".".join(str(k) for k in path[: i + 1])) from None
    return here


def get_or(doc: Any, *path: str | int) -> Any:
    """``get``, or None where a step is missing (a field older results lack)."""
    try:
        return get(doc, *path)
    except Unreadable:
        return None


def number(doc: Any, *path: str | int) -> float:
    value = get(doc, *path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unreadable(f"{'.'.join(str(k) for k in path)} is not a number: {value!r}")
    return float(value)


def flag(doc: Any, *path: str | int) -> bool:
    value = get(doc, *path)
    if not isinstance(value, bool):
        raise Unreadable(f"{'.'.join(str(k) for k in path)} is not true/false: {value!r}")
    return value


def fmt(value: float, unit: str = "") -> str:
    """2,088 for large numbers, 96.2 / 6.89 for small ones."""
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return text + unit


def ratio(ours: float, peer: float) -> float | None:
    return ours / peer if peer else None


# --- dates ---------------------------------------------------------------------------------------

_UTC_MINUTE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*UTC$")


def parse_date(value: Any) -> dt.datetime | None:
    """The results' dates: '2026-11-28 14:54 UTC', ISO with an offset ('…T13:09:16+00:00', '…Z'),
    or naive ISO (taken as UTC). None when it is none of them."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    found = _UTC_MINUTE.match(text)
    if found:
        text = f"{found.group(1)}T{found.group(2)}+00:00"
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def result_date(doc: dict[str, Any]) -> dt.datetime | None:
    """The date of a result: its own ``date`` (bench/run.py and the benchmarks built on it) or its
    machine record's (bench/signing.py, bench/ocr.py)."""
    found = parse_date(doc.get("date"))
    machine = doc.get("machine")
    if found is None and isinstance(machine, dict):
        found = parse_date(machine.get("date"))
    return found


def show_date(when: dt.datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "date unknown"


def is_stale(when: dt.datetime | None, since: dt.datetime) -> bool:
    """Older than ``since``. Most results record their date to the minute: the comparison is
    with ``since``'s minute, so that a result written in the minute the run started is the run's."""
    return when is None or when < since.replace(second=0, microsecond=0)


# --- the machine and the calibration --------------------------------------------------------------


def machine_info(doc: dict[str, Any]) -> dict[str, Any]:
    """The machine record of a result, in one shape: bench/run.py's ``machine()`` (nproc, cpu_model,
    ram_gib, kernel, git_commit) or signing's and OCR's own (nproc, cpu, commit)."""
    m = doc.get("machine")
    if not isinstance(m, dict):
        return {}
    commit = str(m.get("git_commit") or m.get("commit") or "")
    dirty = commit.endswith("-dirty") or m.get("uncommitted_changes") is True
    return {
        "cores": m.get("nproc"),
        "cpu": m.get("cpu_model") or m.get("cpu") or "",
        "ram_gib": m.get("ram_gib"),
        "kernel": m.get("kernel") or "",
        "commit": commit.removesuffix("-dirty")[:12] + ("-dirty" if dirty and commit else ""),
    }


def machine_label(doc: dict[str, Any]) -> str:
    m = machine_info(doc)
    if not m:
        return DASH
    return f"{m['cores'] if m['cores'] is not None else '?'} × {m['cpu'] or 'CPU unknown'}"


def calibration(doc: dict[str, Any]) -> dict[str, Any]:
    cal = doc.get("calibration")
    return cal if isinstance(cal, dict) and isinstance(cal.get("hello_req_per_s"), int | float) else {}


def calibration_label(doc: dict[str, Any]) -> str:
    cal = calibration(doc)
    if not cal:
        return DASH
    ref = cal.get("measurements_md_req_per_s") or MEASUREMENTS_MD_REQ_PER_S
    text = f"{cal['hello_req_per_s']:,.0f} (×{cal['hello_req_per_s'] / ref:.2f})"
    if isinstance(cal.get("asgi_hello_req_per_s"), int | float):
        text += f"; ASGI {cal['asgi_hello_req_per_s']:,.0f}"
    return text


# --- the headlines, one extractor per result file -------------------------------------------------

_RUN_TARGET_WORDS = {
    "throughput_per_s": lambda v: f"≥ {v:,.0f}/s",
    "p99_ms": lambda v: f"p99 < {v:g} ms",
    "p95_ms": lambda v: f"p95 < {v:g} ms",
    "double_counted_payments": lambda v: f"{v:g} double-counted payments",
}


def run_target(target: Any) -> str:
    if not isinstance(target, dict) or not target:
        raise Unreadable("no target")
    return ", ".join(_RUN_TARGET_WORDS.get(k, lambda v, k=k: f"{k} {v}")(v) for k, v in target.items())


def run_rows(label: str, web_floor_peer: bool = False) -> Extract:
    """bench/run.py's results (submit, tracking_api, tracking_html, act, queues, ipn): ``best`` is
    the run the benchmark chose, ``target`` and ``met`` are its own."""

    def extract(doc: dict[str, Any]) -> list[Row]:
        target = get(doc, "target")
        throughput = number(doc, "best", "throughput_per_s")
        if "throughput_per_s" in target:
            ours = fmt(throughput, "/s")
            if "p99_ms" in target:
                ours += f", p99 {fmt(number(doc, 'best', 'p99_ms'), ' ms')}"
        else:
            ours = f"p95 {fmt(number(doc, 'best', 'p95_ms'), ' ms')} ({fmt(throughput, '/s')})"
        sustained = get_or(doc, "best", "sustained_per_s")
        if isinstance(sustained, int | float):
            ours += f"; {fmt(float(sustained), '/s')} sustained (the worker's backlog delivered)"
        if "double_counted_payments" in target and isinstance(doc.get("zero_double_counted_payments"), bool):
            ours += ", double-counted: " + ("none" if doc["zero_double_counted_payments"] else "**some**")
        row = Row(label, ours=ours, target=run_target(target), met=flag(doc, "met"), why=where_time_goes(doc))
        if web_floor_peer:
            cal = calibration(doc)
            if cal.get("asgi_hello_req_per_s"):
                row.peer, peer = "bare ASGI hello (calibration)", float(cal["asgi_hello_req_per_s"])
            elif cal:
                row.peer, peer = "bare Django hello, WSGI (calibration)", float(cal["hello_req_per_s"])
            else:
                peer = 0.0
            if peer:
                row.peer_value, row.ratio = fmt(peer, "/s"), ratio(throughput, peer)
        return [row]

    return extract


# Categories of bench/run.py's profile that wrap the others (shares of nearly all samples): left out
# of a miss's summary, which names where inside the request the time went.
_WRAPPING = ("whole request", "the view function")
# Frames of the middleware chain and the server around every request: not where a request's own time goes.
_AROUND = (
    "hcmgov/common/",  # the middleware, and the fast paths' layer (PublicLookup) around every request
    "hcmgov/identity/middleware",
    "hcmgov/ngsi/fastpath",
    "(hcmgov:",  # a process's entry script, cli and management command: around everything it does
    "(hcmgov/cli.py",
    "/management/commands/",
    "(granian",
    "(django",
    "(ninja",
)


def where_time_goes(doc: dict[str, Any], shown: int = 6) -> list[str]:
    """For a miss of bench/run.py: how the cores were shared during the chosen run (web server, task
    worker, PostgreSQL, load generator) and, when the benchmark profiled its web workers (py-spy,
    ``profile``), the largest categories and hcmgov frames of their Python CPU time."""
    try:
        return _where_time_goes(doc, shown)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # a shape not foreseen
        return [f"cores and profile unreadable: {type(exc).__name__}: {exc}"]


def _where_time_goes(doc: dict[str, Any], shown: int) -> list[str]:
    lines = []
    cpu = get_or(doc, "best", "cpu")
    if isinstance(cpu, dict) and isinstance(cpu.get("cpu_percent_of_all_cores"), dict):
        lines += _cores(cpu)
        lines += _cpu_per_request(doc, cpu)
    profile = doc.get("profile")
    if isinstance(profile, dict) and profile.get("samples"):
        lines += profile_lines(profile, shown)
    elif lines:
        lines.append("no profile in the result (bench/run.py --profile auto profiles a miss)")
    statements = doc.get("statements")
    if isinstance(statements, dict) and statements.get("requests"):
        lines += statement_lines(statements, shown)
    return lines


def statement_lines(st: dict[str, Any], shown: int = 6) -> list[str]:
    """bench/queries.py --queues: the reads' time in PostgreSQL by statement, and the slowest's plan."""
    lines = [
        f"statements of {st['requests']:,} reads, timed in process: request median"
        f" {fmt(float(st['request_ms_median']))} ms, p95 {fmt(float(st['request_ms_p95']))} ms;"
        f" SQL {_pct(st['sql_share_of_request_time'])} of it, {st['statements_per_request']} statements a read"
    ]
    kinds = st.get("by_kind", [])[:shown]
    if kinds:
        lines.append(
            "SQL per read, by kind (median, max ms): "
            + ", ".join(f"`{k['kind']}` {k['sql_ms_median']}, {k['sql_ms_max']}" for k in kinds)
        )
    for row in st.get("by_statement", [])[:3]:
        lines.append(
            f"{_pct(row['share'])} of the SQL time, {row['calls']:,} calls, {row['ms_mean']} ms each:"
            f" `{str(row['statement'])[:300]}`"
        )
    slowest = st.get("slowest") or {}
    plan = [str(line).strip() for line in slowest.get("plan", [])]
    if plan:
        lines.append(f"plan of the slowest ({slowest.get('ms')} ms): " + " · ".join(f"`{p}`" for p in plan[:8]))
    return lines


def _cores(cpu: dict[str, Any]) -> list[str]:
    parts = ", ".join(
        f"{name.replace('_', ' ')} {_pct(share)}"
        for name, share in sorted(cpu["cpu_percent_of_all_cores"].items(), key=lambda kv: -float(kv[1]))
    )
    busy = cpu.get("busy_percent_of_all_cores")
    return [
        f"cores ({cpu.get('cores', '?')}), share of all during the run: {parts}"
        + (f"; busy {_pct(busy)}" if busy is not None else "")
    ]


def profile_why(doc: Any, shown: int = 6) -> list[str]:
    """A miss's profile kept by a benchmark other than bench/run.py (``doc["profile"]``, the shape of
    run.profile_summary), or a line saying there is none."""
    profile = doc.get("profile") if isinstance(doc, dict) else None
    try:
        cpu = doc.get("cpu") if isinstance(doc, dict) else None
        lines = _cores(cpu) if isinstance(cpu, dict) and isinstance(cpu.get("cpu_percent_of_all_cores"), dict) else []
        if not (isinstance(profile, dict) and profile.get("samples")):
            return [*lines, "no profile in the result (the benchmark profiles a miss unless told --profile never)"]
        return lines + profile_lines(profile, shown)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # a shape not foreseen
        return [f"profile unreadable: {type(exc).__name__}: {exc}"]


def profile_lines(profile: dict[str, Any], shown: int = 6) -> list[str]:
    """The largest categories, hcmgov frames (and self frames) of a py-spy summary."""
    lines = []
    subject = str(profile.get("subject", "the web workers"))
    wall = "wall clock" in str(profile.get("note", ""))
    kind = "share of the wall-clock time" if wall else "share of their Python CPU time"
    categories = [
        (float(share), str(label))
        for share, label in profile.get("categories", [])
        if not str(label).startswith(_WRAPPING) and float(share) >= 1
    ]
    categories.sort(key=lambda c: -c[0])
    head = f"py-spy of {subject} ({profile['samples']:,} samples, {kind})"
    shares = ", ".join(f"{label} {_pct(share)}" for share, label in categories[:shown])
    lines.append(head + (f": {shares}" if shares else ""))
    lines += _frames("heaviest hcmgov frames (inclusive)", profile, shown)
    own = [(float(share), str(frame)) for share, frame in profile.get("self_top", [])][:shown]
    if own:
        lines.append("heaviest frames by own time: " + ", ".join(f"`{frame}` {_pct(share)}" for share, frame in own))
    worker = profile.get("task_worker")
    if isinstance(worker, dict) and worker.get("samples"):
        lines += _frames(
            f"py-spy of the task worker beside them ({worker['samples']:,} samples), heaviest hcmgov frames",
            worker,
            shown,
        )
    return lines


def _cpu_per_request(doc: dict[str, Any], cpu: dict[str, Any]) -> list[str]:
    """A rate target as a CPU budget: the core-milliseconds one request used (all processes, by the
    split above) beside the core-milliseconds the machine has per request at the target's rate."""
    rate, target = doc["best"].get("throughput_per_s"), doc.get("target", {}).get("throughput_per_s")
    cores = cpu.get("cores")
    if not (rate and target and cores):
        return []
    per = {k: float(v) / 100 * cores * 1000 / rate for k, v in cpu["cpu_percent_of_all_cores"].items()}
    backlog, ok = doc["best"].get("worker_backlog"), doc["best"].get("ok")
    after = ""
    if isinstance(backlog, dict) and isinstance(backlog.get("core_seconds"), dict) and ok:
        for k, v in backlog["core_seconds"].items():  # the events the run left, delivered after it
            if k != "other":
                per[k] = per.get(k, 0.0) + float(v) * 1000 / ok
        after = ", with the worker's backlog delivered after the run"
    used = sum(v for k, v in per.items() if k != "load_generator")
    parts = ", ".join(
        f"{k.replace('_', ' ')} {v:.1f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if k != "load_generator"
    )
    return [
        f"CPU per request: {used:.1f} core-ms ({parts}{after}); at the target's {fmt(float(target), '/s')} these"
        f" {cores} cores have {cores * 1000 / target:.1f} core-ms per request ({used * target / (cores * 1000):.1f}×"
        " over)"
    ]


def _pct(share: Any) -> str:
    return f"{float(share):.1f} %"


def _frames(title: str, profile: dict[str, Any], shown: int) -> list[str]:
    frames = [
        (float(share), str(frame))
        for share, frame in profile.get("hcmgov_inclusive_top", [])
        if not any(a in str(frame) for a in _AROUND)
    ]
    if not frames:
        return []
    return [title + ": " + ", ".join(f"`{frame}` {_pct(share)}" for share, frame in frames[:shown])]


def signing_rows(doc: dict[str, Any]) -> list[Row]:
    targets = get(doc, "targets_per_second")
    labels = {"sign": "Signing a result (PAdES), one core", "sign_tsa": "Signing + RFC 3161 time-stamp, one core"}
    labels["verify"] = "Verifying a signed result, one core"
    rows = []
    for key, label in labels.items():
        if key not in targets:
            continue
        ours, goal = number(doc, "results", key, "per_second"), number(targets, key)
        rows.append(Row(label, ours=fmt(ours, "/s"), target=f"≥ {goal:g}/s", met=ours >= goal))
    if not rows:
        raise Unreadable("no targets_per_second for sign, sign_tsa or verify")
    return rows


def ocr_rows(doc: dict[str, Any]) -> list[Row]:
    one = number(doc, "runs", "1", "pages_per_minute")
    runs = get(doc, "runs")
    both = f"; {fmt(number(runs, '2', 'pages_per_minute'))} with 2 processes" if "2" in runs else ""
    worst = max((number(v, "cer_worst") for v in get(doc, "levels").values()), default=0.0)
    ours = f"{fmt(one)} pages/min, 1 process{both}; worst CER {worst * 100:.2f} %"
    return [Row("OCR of scanned pages (Tesseract, vie)", ours=ours, target="none recorded (bench/ocr.py states none)")]


def prefill_rows(doc: dict[str, Any]) -> list[Row]:
    goal = number(doc, "target_p95_ms")
    ours = f"p95 {fmt(number(doc, 'prefill_ms', 'p95'), ' ms')}"
    return [
        Row("Form prefill (population data), in process", ours=ours, target=f"p95 < {goal:g} ms", met=flag(doc, "met"))
    ]


def portal_sync_rows(doc: dict[str, Any]) -> list[Row]:
    goal = number(doc, "target_changes_per_s")
    ours = f"{fmt(number(doc, 'changes_per_s'), '/s')} sent"
    sustainable = doc.get("end_to_end", {}).get("sustainable_changes_per_s") if isinstance(doc, dict) else None
    if isinstance(sustainable, int | float):
        ours += f" ({fmt(float(sustainable), '/s')} end to end)"
    return [Row("Portal status sync", ours=ours, target=f"≥ {goal:g} changes/s", met=flag(doc, "met"))]


def package_search_rows(doc: dict[str, Any]) -> list[Row]:
    goal = number(doc, "target_p95_ms")
    ours = f"p95 {fmt(number(doc, 'uncached', 'overall_ms', 'p95'), ' ms')} uncached"
    if isinstance(doc.get("cached"), dict):
        ours += f", {fmt(number(doc, 'cached', 'overall_ms', 'p95'), ' ms')} cached"
    met = flag(doc, "met") and (flag(doc, "met_cached") if "met_cached" in doc else True)
    why = [] if met else profile_why(doc)
    return [Row("CKAN package_search, in process", ours=ours, target=f"p95 < {goal:g} ms", met=met, why=why)]


def datastore_rows(doc: dict[str, Any]) -> list[Row]:
    target = get(doc, "target")
    if not isinstance(target, str):
        raise Unreadable("target is not a sentence")
    peers = {"datasette_nosuggest": "Datasette, _nosuggest (same work)", "datasette": "Datasette, default URL"}
    rows = []
    for run in get(doc, "runs"):
        c = int(number(run, "connections"))
        ours = number(run, "ours", "p50_ms")
        for key, name in peers.items():
            if key not in run:
                continue
            theirs = number(run, key, "p50_ms")
            rows.append(
                Row(
                    f"CKAN datastore_search, 1,000,000 rows, {c} connection{'s' if c > 1 else ''}",
                    ours=f"p50 {fmt(ours, ' ms')} ({fmt(number(run, 'ours', 'throughput_per_s'), '/s')})",
                    peer=name,
                    peer_value=f"p50 {fmt(theirs, ' ms')} ({fmt(number(run, key, 'throughput_per_s'), '/s')})",
                    ratio=ratio(ours, theirs),
                    target=target,
                    met=ours <= theirs,
                )
            )
    if not rows:
        raise Unreadable("no runs against Datasette")
    return rows


def quality_index_rows(doc: dict[str, Any]) -> list[Row]:
    cold, cached = number(doc, "target_cold_s"), number(doc, "target_cached_ms")
    rows = []
    for part, what in (("month", "service-quality index 766, all agencies, a month"), ("plan", "plan targets")):
        for kind, goal, met_key in (("cold", f"≤ {cold:g} s", "cold"), ("cached", f"≤ {cached:g} ms", "cached")):
            ms = number(doc, part, f"{kind}_ms", "median")
            key = f"met_{met_key}" if part == "month" else f"met_plan_{met_key}"
            met = flag(doc, key)
            why = [] if met else profile_why({"profile": get_or(doc, part, f"{kind}_profile")})
            rows.append(
                Row(f"{what.capitalize()}, {kind}", ours=f"median {fmt(ms, ' ms')}", target=goal, met=met, why=why)
            )
    return rows


def gateway_rows(doc: dict[str, Any]) -> list[Row]:
    target = get(doc, "target")
    goal_ratio, goal_p50 = number(target, "ratio_to_direct"), number(target, "added_p50_ms")
    rows = []
    for provider, res in get(doc, "providers").items():
        via = number(res, "gateway", "throughput", "throughput_per_s")
        nginx = number(res, "nginx", "throughput", "throughput_per_s")
        direct = number(res, "direct", "throughput", "throughput_per_s")
        ours = (
            f"{fmt(via, '/s')} ({number(res, 'ratio_gateway_to_direct') * 100:.0f} % of direct {fmt(direct, '/s')};"
            f" +{fmt(number(res, 'added_p50_ms'), ' ms')} p50)"
        )
        rows.append(
            Row(
                f"Data-sharing gateway, provider {provider}",
                ours=ours,
                peer="nginx proxy_pass",
                peer_value=f"{fmt(nginx, '/s')} (+{fmt(number(res, 'nginx_added_p50_ms'), ' ms')} p50)",
                ratio=ratio(via, nginx),
                target=f"≥ {goal_ratio * 100:.0f} % of direct, added p50 ≤ {goal_p50:g} ms",
                met=flag(res, "met"),
                why=[] if flag(res, "met") else gateway_why(res),
            )
        )
    return rows


def gateway_why(res: dict[str, Any]) -> list[str]:
    """A gateway miss: the cores each process took during the best gateway's run (provider, gateway
    or edge, PostgreSQL), and the profile of the Python gateway's workers when kept."""
    lines = []
    for name in ("direct", "nginx", str(res.get("gateway_best", ""))):
        cpu = get_or(res, name, "throughput", "cpu")
        if isinstance(cpu, dict) and isinstance(cpu.get("cpu_percent_of_all_cores"), dict):
            parts = ", ".join(
                f"{k.replace('_', ' ')} {_pct(v)}"
                for k, v in sorted(cpu["cpu_percent_of_all_cores"].items(), key=lambda kv: -float(kv[1]))
                if float(v) >= 0.5
            )
            rate, cores = get_or(res, name, "throughput", "throughput_per_s"), cpu.get("cores")
            per_call = ""
            if rate and cores:
                per_call = "; core-µs per call: " + ", ".join(
                    f"{k.replace('_', ' ')} {float(v) / 100 * cores * 1e6 / rate:,.0f}"
                    for k, v in sorted(cpu["cpu_percent_of_all_cores"].items(), key=lambda kv: -float(kv[1]))
                    if float(v) >= 0.5
                )
            lines.append(f"cores during the {name} run, share of all: {parts}{per_call}")
    return lines + profile_why(res)


def iot_rows(doc: dict[str, Any]) -> list[Row]:
    targets, met = get(doc, "targets"), get(doc, "met")
    ours, alone = number(doc, "ingester", "readings_per_s"), number(doc, "broker_alone", "readings_per_s")
    goal = (
        f"≥ {number(targets, 'readings_per_s'):,.0f} readings/s, ≥ {number(targets, 'ratio') * 100:.0f} % of Mosquitto"
    )
    return [
        Row(
            "MQTT → PostgreSQL ingestion",
            ours=fmt(ours, " readings/s"),
            peer="Mosquitto publisher → subscriber alone",
            peer_value=fmt(alone, " readings/s"),
            ratio=ratio(ours, alone),
            target=goal,
            met=flag(met, "readings_per_s") and flag(met, "ratio"),
        )
    ]


def ngsi_rows(doc: dict[str, Any]) -> list[Row]:
    labels = {
        "ngsi_update": "NGSI-LD entity updates (PATCH attrs)",
        "ngsi_upsert": "NGSI-LD batch upsert",
        "ngsi_temporal_day": "NGSI-LD temporal query, a sensor-day",
        "ngsi_temporal_day_hourly_avg": "NGSI-LD temporal query, hourly averages",
    }
    rows = []
    for key, result in get(doc, "results").items():
        target = get(result, "target")
        if "entity_updates_per_s" in target:
            updates, p95 = number(result, "entity_updates_per_s"), number(result, "p95_ms")
            ours = f"{fmt(updates, ' updates/s')}, p95 {fmt(p95, ' ms')}"
            goal = f"≥ {number(target, 'entity_updates_per_s'):,.0f} updates/s"
        else:
            ours, goal = f"p95 {fmt(number(result, 'p95_ms'), ' ms')}", f"p95 < {number(target, 'p95_ms'):g} ms"
        met = flag(result, "meets_target")
        rows.append(Row(labels.get(key, key), ours=ours, target=goal, met=met, why=[] if met else profile_why(result)))
    return rows


def pages_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for key, result in get(doc, "results").items():
        rows.append(
            Row(
                f"Page: {key} — {result.get('page', key)}",
                ours=f"p95 {fmt(number(result, 'p95_ms'), ' ms')} ({fmt(number(result, 'throughput_per_s'), '/s')})",
                target=f"p95 < {number(result, 'target', 'p95_ms'):g} ms",
                met=flag(result, "meets_target"),
                why=[] if flag(result, "meets_target") else profile_why(result),
            )
        )
    weight = doc.get("procedure_page_weight")
    if isinstance(weight, dict):
        rows.append(
            Row(
                "Procedure page weight (HTML, CSS, fonts, images)",
                ours=f"{number(weight, 'total_bytes'):,.0f} bytes",
                target=f"< {number(weight, 'target_bytes'):,.0f} bytes",
                met=flag(weight, "meets_target"),
            )
        )
    return rows


@dataclass(frozen=True)
class Headline:
    file: str
    label: str  # the row when the file is missing or unreadable
    extract: Extract


HEADLINES = [
    Headline("submit.json", "Dossier submission (API, PostgreSQL)", run_rows("Dossier submission (API, PostgreSQL)")),
    Headline(
        "tracking_api.json",
        "Status lookup, API",
        run_rows("Status lookup, API (1,000,000 dossiers)", web_floor_peer=True),
    ),
    Headline(
        "tracking_html.json",
        "Status lookup, page",
        run_rows("Status lookup, page /tra-cuu/ (1,000,000 dossiers)", web_floor_peer=True),
    ),
    Headline("act.json", "Advancing a step (API)", run_rows("Advancing a step (API)")),
    Headline("queues.json", "Back-office queues and search (API)", run_rows("Back-office queues and search (API)")),
    Headline("ipn.json", "Payment gateway IPN (30 % repeats)", run_rows("Payment gateway IPN (30 % repeats)")),
    Headline("signing.json", "Signing and verifying results", signing_rows),
    Headline("ocr.json", "OCR of scanned pages", ocr_rows),
    Headline("prefill.json", "Form prefill", prefill_rows),
    Headline("portal-sync.json", "Portal status sync", portal_sync_rows),
    Headline("package_search.json", "CKAN package_search", package_search_rows),
    Headline("datastore_search.json", "CKAN datastore_search vs Datasette", datastore_rows),
    Headline("quality_index.json", "Service-quality index 766 and plan targets", quality_index_rows),
    Headline("gateway.json", "Data-sharing gateway vs nginx", gateway_rows),
    Headline("iot_ingest.json", "MQTT ingestion vs Mosquitto", iot_rows),
    Headline("ngsi.json", "NGSI-LD", ngsi_rows),
    Headline("pages.json", "Pages (p95 per page type, procedure page weight)", pages_rows),
]


# --- collecting and writing ----------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(doc, dict):
        raise Unreadable("not a JSON object")
    return doc


def headline_rows(results: Path, headline: Headline) -> tuple[list[Row], dict[str, Any] | None]:
    """The rows of one headline, and its document (None when missing or unreadable as JSON)."""
    path = results / headline.file
    if not path.exists():
        return [Row(headline.label, problem="not run", file=headline.file)], None
    try:
        doc = load(path)
    except Unreadable as exc:
        return [Row(headline.label, problem=f"unreadable: {exc}", file=headline.file)], None
    try:
        rows = headline.extract(doc)
    except Unreadable as exc:
        rows = [Row(headline.label, problem=f"unreadable: {exc}")]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # a shape not foreseen
        rows = [Row(headline.label, problem=f"unreadable: {type(exc).__name__}: {exc}")]
    if not rows:
        rows = [Row(headline.label, problem="unreadable: no results in it")]
    for row in rows:
        row.file = headline.file
        row.date = result_date(doc)
        row.machine = machine_label(doc)
        row.calibration = calibration_label(doc)
    return rows, doc


def collect(results: Path, since: dt.datetime | None = None) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    """Every headline's rows, stale ones marked; and the documents read, by file name."""
    rows: list[Row] = []
    docs: dict[str, dict[str, Any]] = {}
    for headline in HEADLINES:
        found, doc = headline_rows(results, headline)
        if doc is not None:
            docs[headline.file] = doc
        for row in found:
            row.stale = since is not None and row.problem != "not run" and is_stale(row.date, since)
        rows += found
    return rows, docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def met_word(row: Row) -> str:
    if row.problem:
        return DASH
    return DASH if row.met is None else ("yes" if row.met else "**no**")


def ratio_word(row: Row) -> str:
    if row.ratio is None:
        return DASH
    return f"{row.ratio:.2f}" if row.ratio < 10 else f"{row.ratio:,.1f}"


def date_word(row: Row) -> str:
    if row.problem == "not run":
        return DASH
    return f"stale ({show_date(row.date)})" if row.stale else show_date(row.date)


def machines_section(docs: dict[str, dict[str, Any]]) -> list[str]:
    groups: dict[tuple[str, ...], dict[str, set[str]]] = {}
    for name, doc in docs.items():
        m = machine_info(doc)
        if not m:
            continue
        ram = f"{m['ram_gib']} GiB" if m["ram_gib"] is not None else "?"
        key = (str(m["cores"]), m["cpu"] or "?", ram, m["kernel"] or "?")
        group = groups.setdefault(key, {"commits": set(), "files": set()})
        if m["commit"]:
            group["commits"].add(m["commit"])
        group["files"].add(name)
    lines = ["## Machine", ""]
    if not groups:
        return [*lines, "No result records its machine.", ""]
    lines += ["| cores | CPU | RAM | kernel | git commits | results |", "|---|---|---|---|---|---|"]
    for (cores, cpu, ram, kernel), group in sorted(groups.items()):
        lines.append(
            f"| {cores} | {_cell(cpu)} | {ram} | {kernel} | {', '.join(sorted(group['commits'])) or '?'} |"
            f" {', '.join(sorted(group['files']))} |"
        )
    return [*lines, ""]


def calibration_section(docs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Calibration",
        "",
        "The bare Django 'hello' view (`bench/hello.py`, granian WSGI, 2 workers) and the bare ASGI 'hello'",
        "(`bench/hello_asgi.py`, no framework, granian ASGI, 2 workers), each under `wrk -t1 -c32 -d10s`, run by",
        "each benchmark before it measures; shared/MEASUREMENTS.md records "
        f"{MEASUREMENTS_MD_REQ_PER_S:,} req/s for the Django one on its reference machine.",
        "",
    ]
    found = []
    for name, doc in docs.items():
        cal = calibration(doc)
        if cal:
            found.append((result_date(doc), name, cal))
    if not found:
        return [*lines, "No result carries a calibration.", ""]
    found.sort(key=lambda f: (f[0] or dt.datetime.min.replace(tzinfo=dt.UTC), f[1]), reverse=True)
    lines += [
        f"| result | date | Django WSGI hello req/s | × {MEASUREMENTS_MD_REQ_PER_S:,} | ASGI hello req/s |",
        "|---|---|---:|---:|---:|",
    ]
    for when, name, cal in found:
        hello = float(cal["hello_req_per_s"])
        ref = float(cal.get("measurements_md_req_per_s") or MEASUREMENTS_MD_REQ_PER_S)
        asgi = cal.get("asgi_hello_req_per_s")
        asgi_text = f"{asgi:,.0f}" if isinstance(asgi, int | float) else "not measured"
        lines.append(f"| [{name}]({name}) | {show_date(when)} | {hello:,.0f} | ×{hello / ref:.2f} | {asgi_text} |")
    values = [float(c["hello_req_per_s"]) for _, _, c in found if c["hello_req_per_s"]]
    if len(values) > 1 and min(values):
        lines += [
            "",
            f"Across these results the Django hello ran at {min(values):,.0f} to {max(values):,.0f} req/s"
            f" (×{max(values) / min(values):.1f}): compare a result with the calibration of its own row.",
        ]
    return [*lines, ""]


def render(
    rows: list[Row], docs: dict[str, dict[str, Any]], since: dt.datetime | None = None, now: dt.datetime | None = None
) -> str:
    now = now or dt.datetime.now(dt.UTC)
    measured = [r for r in rows if r.problem != "not run"]
    stale = [r for r in rows if r.stale]
    lines = [
        "# Benchmark report",
        "",
        f"Written {show_date(now)} by `bench/report.py` from `bench/results/*.json` (`make bench`); do not edit:",
        "run it again. Each benchmark starts its peer on the same machine in the same run: Datasette for open",
        "data, nginx `proxy_pass` for the gateway, Mosquitto publisher → subscriber for MQTT, the bare ASGI",
        "'hello' of the calibration for the web floor. Ratio = ours / the peer's, in the row's unit (for a",
        "latency, below 1 is better).",
        "",
    ]
    if since is not None:
        lines.append(
            f"**This run** (since {show_date(since)}): {len(measured) - len(stale)} of {len(rows)} rows;"
            f" {len(stale)} stale (kept from earlier runs)."
        )
        if stale:
            by_file: dict[str, list[Row]] = {}
            for r in stale:
                by_file.setdefault(r.file, []).append(r)
            lines += ["", "Stale results (not written by this run):", ""]
            for name, found in by_file.items():
                benchmarks = "; ".join(dict.fromkeys(r.benchmark for r in found))
                lines.append(
                    f"- [{name}]({name}), {show_date(found[0].date)}: {len(found)} row{'s' if len(found) > 1 else ''}"
                    f" ({benchmarks})"
                )
    else:
        lines.append(f"No `--since` given: {len(measured)} of {len(rows)} rows have a result, each with its own date.")
    missing = [r for r in rows if r.problem]
    if missing:
        lines += ["", "Without a number:", ""]
        lines += [f"- {r.benchmark} ({r.file}): {r.problem}" for r in missing]
    lines += ["", *machines_section(docs), *calibration_section(docs)]
    lines += [
        "## Headlines",
        "",
        "| benchmark | ours | peer | peer's | ours/peer | target | met | date | machine | calibration (Django hello"
        " req/s) | result |",
        "|---|---|---|---|---:|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours = r.problem or r.ours
        link = f"[{r.file}]({r.file})" if r.file and r.problem != "not run" else r.file
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    r.benchmark,
                    ours,
                    r.peer,
                    r.peer_value,
                    ratio_word(r),
                    r.target,
                    met_word(r),
                    date_word(r),
                    r.machine,
                    r.calibration,
                    link,
                )
            )
            + " |"
        )
    misses = [r for r in rows if r.met is False and not r.problem]
    lines += ["", "## Misses", ""]
    if misses:
        for r in misses:
            when = f"stale, {show_date(r.date)}" if r.stale else show_date(r.date)
            lines.append(f"- {r.benchmark}: {r.ours} against {r.target} ({when}; [{r.file}]({r.file}))")
            lines += [f"  - {_cell(w)}" for w in r.why]
    else:
        lines.append("Every headline with a result meets its target.")
    lines += [
        "",
        "## Not in the table",
        "",
        "- `bench/capacity.py` writes no JSON: it turns these results into `docs/operations/capacity.md`.",
        "- OCR has no target recorded in its result or in `bench/ocr.py`: its row gives the numbers only.",
        "",
    ]
    return "\n".join(lines)


def write(results: Path, since: dt.datetime | None = None, now: dt.datetime | None = None) -> Path:
    rows, docs = collect(results, since)
    out = results / "REPORT.md"
    out.write_text(render(rows, docs, since, now), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", help="ISO date, UTC: results older than it are marked stale (make bench's start)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results folder (REPORT.md is written there)")
    args = parser.parse_args()
    since = None
    if args.since:
        since = parse_date(args.since)
        if since is None:
            parser.error(f"--since: not an ISO date: {args.since!r}")
    out = write(args.results, since)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
