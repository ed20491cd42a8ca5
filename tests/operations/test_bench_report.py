"""bench/report.py (bench/results/REPORT.md): fed small results in the shapes the benchmarks write
(copied, cut down, from bench/results/*.json), it reads our number, the peer's and the target
from each, computes the ratio, marks results older than ``--since`` as stale, says "not run" for
a missing file and "unreadable" for a file of another shape, and never fails on either."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_report() -> Any:
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


report = _load_report()
UTC = dt.UTC


def machine(**extra: Any) -> dict[str, Any]:
    return {
        "nproc": 2,
        "cpu_model": "AMD EPYC",
        "ram_gib": 23.5,
        "kernel": "6.18.44-fc-v669",
        "git_commit": "97c8b80c5df0",
        **extra,
    }


def calibration(hello: int, asgi: int | None = None) -> dict[str, Any]:
    cal: dict[str, Any] = {"hello_req_per_s": hello, "measurements_md_req_per_s": 11100, "ratio": hello / 11100}
    if asgi is not None:
        cal["asgi_hello_req_per_s"] = asgi
    return cal


def run_result(name: str, target: dict[str, Any], met: bool, date: str, **best: Any) -> dict[str, Any]:
    return {
        "name": name,
        "benchmark": name,
        "target": target,
        "best": {"connections": 8, "throughput_per_s": 100.0, "p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0, **best},
        "met": met,
        "date": date,
        "machine": machine(),
        "calibration": calibration(20000, asgi=40000),
    }


def results() -> dict[str, Any]:
    """A complete set, every headline's file, in today's shapes."""
    today = "2026-11-28 14:54 UTC"
    tracking_html = run_result("tracking_html", {"throughput_per_s": 1500}, False, today, throughput_per_s=878.0)
    tracking_html["calibration"] = calibration(21058)  # an older run: no ASGI hello
    return {
        "submit.json": run_result(
            "submit", {"throughput_per_s": 200, "p99_ms": 250}, False, today, throughput_per_s=96.2, p99_ms=198.6
        ),
        "tracking_api.json": run_result(
            "tracking_api", {"throughput_per_s": 1500}, True, today, throughput_per_s=2000.0
        ),
        "tracking_html.json": tracking_html,
        "act.json": run_result("act", {"throughput_per_s": 300}, False, "2026-11-27 04:49 UTC", throughput_per_s=136.0),
        "queues.json": run_result("queues", {"p95_ms": 100}, True, today, p95_ms=84.0),
        "ipn.json": {
            **run_result("ipn", {"throughput_per_s": 500, "double_counted_payments": 0}, False, today),
            "zero_double_counted_payments": True,
        },
        "signing.json": {
            "machine": {"nproc": 2, "cpu": "AMD EPYC", "date": "2026-11-28T15:09:16+00:00", "commit": "7155945a" * 5},
            "targets_per_second": {"sign": 20.0, "sign_tsa": 20.0, "verify": 50.0},
            "results": {
                "render": {"n": 20, "seconds": 3.5, "ms_each": 176.0},
                "sign": {"n": 200, "seconds": 4.5, "per_second": 44.2},
                "sign_tsa": {"n": 200, "seconds": 9.4, "per_second": 19.5},
                "verify": {"n": 200, "seconds": 3.1, "per_second": 63.5},
            },
        },
        "ocr.json": {
            "machine": {
                "nproc": 2,
                "cpu": "AMD EPYC",
                "date": today,
                "commit": "f427bbce",
                "uncommitted_changes": True,
            },
            "runs": {"1": {"pages_per_minute": 13.0}, "2": {"pages_per_minute": 24.6}},
            "levels": {"clean": {"cer_worst": 0.0}, "poor": {"cer_worst": 0.00657}},
        },
        "prefill.json": {
            "prefill_ms": {"p50": 6.0, "p95": 8.52},
            "target_p95_ms": 30.0,
            "met": True,
            "date": today,
            "machine": machine(),
        },
        "portal-sync.json": {
            "target_changes_per_s": 200.0,
            "changes_per_s": 1968.8,
            "met": True,
            "end_to_end": {"sustainable_changes_per_s": 1623.2},
            "date": today,
            "machine": machine(),
        },
        "package_search.json": {
            "uncached": {"overall_ms": {"p95": 38.2}},
            "cached": {"overall_ms": {"p95": 31.75}},
            "target_p95_ms": 50.0,
            "met": True,
            "met_cached": True,
            "date": today,
            "machine": machine(),
        },
        "datastore_search.json": {
            "runs": [
                {
                    "connections": 1,
                    "ours": {"p50_ms": 5.0, "throughput_per_s": 170.0},
                    "datasette": {"p50_ms": 700.0, "throughput_per_s": 1.4},
                    "datasette_nosuggest": {"p50_ms": 4.0, "throughput_per_s": 200.0},
                }
            ],
            "target": "our p50 no slower than Datasette's",
            "date": today,
            "machine": machine(),
        },
        "quality_index.json": {
            "target_cold_s": 1.0,
            "target_cached_ms": 50.0,
            "month": {"cold_ms": {"median": 46.7}, "cached_ms": {"median": 1.13}},
            "plan": {"cold_ms": {"median": 1200.0}, "cached_ms": {"median": 18.5}},
            "met_cold": True,
            "met_cached": True,
            "met_plan_cold": False,
            "met_plan_cached": True,
            "date": "2026-11-28T14:01:16+00:00",
            "machine": machine(),
        },
        "gateway.json": {
            "providers": {
                "light": {
                    "direct": {"throughput": {"throughput_per_s": 18000.0}},
                    "nginx": {"throughput": {"throughput_per_s": 13500.0}},
                    "gateway": {"throughput": {"throughput_per_s": 10800.0}},
                    "ratio_gateway_to_direct": 0.6,
                    "added_p50_ms": 0.115,
                    "nginx_added_p50_ms": 0.145,
                    "met": True,
                }
            },
            "target": {"ratio_to_direct": 0.5, "added_p50_ms": 2.0},
            "date": today,
            "machine": machine(cpu_model="Intel(R) Xeon(R) Processor"),
            "calibration": calibration(6908),
        },
        "iot_ingest.json": {
            "broker_alone": {"readings_per_s": 92000},
            "ingester": {"readings_per_s": 59800},
            "targets": {"readings_per_s": 20000, "ratio": 0.4},
            "met": {"readings_per_s": True, "ratio": True},
            "date": today,
            "machine": machine(),
        },
        "ngsi.json": {
            "name": "ngsi",
            "date": today,
            "machine": machine(),
            "results": {
                "ngsi_update": {
                    "entity_updates_per_s": 3381.7,
                    "p95_ms": 6.9,
                    "target": {"entity_updates_per_s": 3000},
                    "meets_target": True,
                },
                "ngsi_temporal_day": {"p95_ms": 11.6, "target": {"p95_ms": 50}, "meets_target": True},
            },
        },
        "pages.json": {
            "name": "pages",
            "date": today,
            "machine": machine(),
            "results": {
                "procedure": {
                    "page": "a procedure page",
                    "p95_ms": 9.05,
                    "throughput_per_s": 687.7,
                    "target": {"p95_ms": 100},
                    "meets_target": True,
                }
            },
            "procedure_page_weight": {"total_bytes": 120597, "target_bytes": 200000, "meets_target": True},
        },
    }


def write(folder: Path, docs: dict[str, Any]) -> Path:
    for name, doc in docs.items():
        (folder / name).write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return folder


def rows_by(rows: list[Any], benchmark: str) -> list[Any]:
    found = [r for r in rows if r.benchmark.startswith(benchmark)]
    assert found, f"no row {benchmark!r} in {[r.benchmark for r in rows]}"
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 14:54 UTC", dt.datetime(2026, 11, 28, 14, 54, tzinfo=UTC)),
        ("2026-11-28T14:01:16+00:00", dt.datetime(2026, 11, 28, 14, 1, 16, tzinfo=UTC)),
        ("2026-11-28T21:01:16+07:00", dt.datetime(2026, 11, 28, 14, 1, 16, tzinfo=UTC)),
        ("2026-11-28T14:01:16Z", dt.datetime(2026, 11, 28, 14, 1, 16, tzinfo=UTC)),
        ("2026-11-28T14:01:16", dt.datetime(2026, 11, 28, 14, 1, 16, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
        (1764341656, None),
    ],
)
def test_every_date_format_of_the_results_is_read(text, expected):
    assert report.parse_date(text) == expected


def test_the_date_is_found_at_the_top_or_in_the_machine_record():
    assert report.result_date({"date": "2026-11-28 14:54 UTC"}) == dt.datetime(2026, 11, 28, 14, 54, tzinfo=UTC)
    nested = {"machine": {"date": "2026-11-27T13:09:16+00:00"}}
    assert report.result_date(nested) == dt.datetime(2026, 11, 27, 13, 9, 16, tzinfo=UTC)
    assert report.result_date({"machine": "?"}) is None


def test_rows_carry_our_number_the_peer_the_ratio_the_target_and_met(tmp_path):
    rows, _ = report.collect(write(tmp_path, results()))

    (submit,) = rows_by(rows, "Dossier submission")
    assert submit.ours == "96.2/s, p99 199 ms"
    assert submit.target == "≥ 200/s, p99 < 250 ms"
    assert submit.met is False
    assert submit.ratio is None
    assert submit.machine == "2 × AMD EPYC"
    assert submit.calibration == "20,000 (×1.80); ASGI 40,000"
    assert submit.date == dt.datetime(2026, 11, 28, 14, 54, tzinfo=UTC)

    (api,) = rows_by(rows, "Status lookup, API")  # the web floor: the ASGI hello of its own calibration
    assert api.peer == "bare ASGI hello (calibration)"
    assert api.peer_value == "40,000/s"
    assert api.ratio == pytest.approx(2000 / 40000)
    assert api.met is True
    (page,) = rows_by(rows, "Status lookup, page")  # no ASGI hello in that run: the Django one
    assert page.peer == "bare Django hello, WSGI (calibration)"
    assert page.ratio == pytest.approx(878 / 21058)

    (queues,) = rows_by(rows, "Back-office queues")
    assert queues.ours.startswith("p95 84.0 ms")
    assert queues.target == "p95 < 100 ms"

    sign, tsa, verify = rows_by(rows, "Signing") + rows_by(rows, "Verifying")
    assert (sign.met, tsa.met, verify.met) == (True, False, True)  # 19.5/s against 20/s: computed here
    assert tsa.date == dt.datetime(2026, 11, 28, 15, 9, 16, tzinfo=UTC)
    assert tsa.calibration == "—"

    (ocr,) = rows_by(rows, "OCR")
    assert ocr.met is None
    assert "none recorded" in ocr.target

    nosuggest, default = rows_by(rows, "CKAN datastore_search")
    assert nosuggest.peer.startswith("Datasette, _nosuggest")
    assert nosuggest.ratio == pytest.approx(5.0 / 4.0)
    assert nosuggest.met is False  # our p50 5 ms against Datasette's 4 ms
    assert default.ratio == pytest.approx(5.0 / 700.0)
    assert default.met is True

    (plan_cold,) = rows_by(rows, "Plan targets, cold")
    assert plan_cold.met is False
    assert plan_cold.target == "≤ 1 s"

    (gateway,) = rows_by(rows, "Data-sharing gateway")
    assert gateway.peer == "nginx proxy_pass"
    assert gateway.ratio == pytest.approx(10800 / 13500)
    assert gateway.machine == "2 × Intel(R) Xeon(R) Processor"
    assert gateway.calibration == "6,908 (×0.62)"

    (iot,) = rows_by(rows, "MQTT")
    assert iot.ratio == pytest.approx(59800 / 92000)
    assert iot.target == "≥ 20,000 readings/s, ≥ 40 % of Mosquitto"
    assert iot.met is True

    (update,) = rows_by(rows, "NGSI-LD entity updates")
    assert update.target == "≥ 3,000 updates/s"
    (weight,) = rows_by(rows, "Procedure page weight")
    assert weight.ours == "120,597 bytes"
    assert all(not r.problem for r in rows)


def test_a_missing_result_is_not_run_and_another_shape_is_unreadable(tmp_path):
    docs = results()
    del docs["gateway.json"]
    del docs["ocr.json"]
    docs["act.json"] = {"name": "act", "target": {"throughput_per_s": 300}, "met": False, "date": "2026-11-28"}
    docs["queues.json"] = "{ not json"
    docs["ngsi.json"] = []
    docs["pages.json"] = {"results": {"home": {"p95_ms": "fast"}}}
    docs["ipn.json"]["met"] = "no"
    rows, docs_read = report.collect(write(tmp_path, docs))

    (gateway,) = rows_by(rows, "Data-sharing gateway")
    assert gateway.problem == "not run"
    assert gateway.file == "gateway.json"
    assert rows_by(rows, "OCR")[0].problem == "not run"
    assert rows_by(rows, "Advancing a step")[0].problem == "unreadable: no best"
    assert rows_by(rows, "Back-office queues")[0].problem.startswith("unreadable: JSONDecodeError")
    assert rows_by(rows, "NGSI-LD")[0].problem == "unreadable: not a JSON object"
    assert rows_by(rows, "Pages")[0].problem.startswith("unreadable: ")
    assert rows_by(rows, "Payment gateway IPN")[0].problem == "unreadable: met is not true/false: 'no'"
    assert "gateway.json" not in docs_read

    text = report.render(rows, docs_read, now=dt.datetime(2026, 11, 28, 16, 0, tzinfo=UTC))
    assert "| Data-sharing gateway vs nginx | not run |" in text
    assert "unreadable: no best" in text
    misses = text.split("## Misses", 1)[1]
    assert "Advancing a step" not in misses  # unreadable is not a miss
    assert "Dossier submission" in misses


def test_results_older_than_since_are_stale_and_counted(tmp_path):
    docs = results()
    docs["submit.json"]["date"] = "2026-11-28 14:54 UTC"  # the minute the run started: this run's
    docs["signing.json"]["machine"].pop("date")  # no date: cannot be this run's
    rows, docs_read = report.collect(write(tmp_path, docs), since=dt.datetime(2026, 11, 28, 14, 54, 30, tzinfo=UTC))

    assert rows_by(rows, "Dossier submission")[0].stale is False
    assert rows_by(rows, "Advancing a step")[0].stale is True  # 2026-11-27 04:49 UTC
    assert rows_by(rows, "Plan targets, cold")[0].stale is True  # 2026-11-28T14:01:16+00:00
    assert all(r.stale for r in rows_by(rows, "Signing"))
    stale = [r for r in rows if r.stale]
    assert len(stale) == 1 + 4 + 3  # act, the quality index's four rows, signing's three

    text = report.render(rows, docs_read, since=dt.datetime(2026, 11, 28, 14, 54, 30, tzinfo=UTC))
    assert f"{len(rows) - len(stale)} of {len(rows)} rows; {len(stale)} stale" in text
    assert "| stale (2026-11-27 04:49 UTC) |" in text
    assert "[act.json](act.json), 2026-11-27 04:49 UTC: 1 row" in text
    assert "[quality_index.json](quality_index.json), 2026-11-28 14:01 UTC: 4 rows" in text


def test_without_since_nothing_is_stale(tmp_path):
    rows, _ = report.collect(write(tmp_path, results()))
    assert not any(r.stale for r in rows)


def test_the_report_is_written_with_machine_calibration_headlines_and_misses(tmp_path):
    out = report.write(write(tmp_path, results()), now=dt.datetime(2026, 11, 28, 16, 0, tzinfo=UTC))
    text = out.read_text(encoding="utf-8")
    assert out == tmp_path / "REPORT.md"
    assert text.startswith("# Benchmark report\n\nWritten 2026-11-28 16:00 UTC")
    machines = text.split("## Machine", 1)[1].split("##", 1)[0]
    assert "| 2 | AMD EPYC | 23.5 GiB | 6.18.44-fc-v669 | 97c8b80c5df0 |" in machines
    assert "f427bbce-dirty" in machines  # OCR's record: uncommitted changes
    assert "| 2 | Intel(R) Xeon(R) Processor |" in machines
    calibrations = text.split("## Calibration", 1)[1].split("## Headlines", 1)[0]
    assert "11,100" in calibrations
    assert "| [submit.json](submit.json) | 2026-11-28 14:54 UTC | 20,000 | ×1.80 | 40,000 |" in calibrations
    assert "| 6,908 | ×0.62 | not measured |" in calibrations
    assert (
        "| Status lookup, API (1,000,000 dossiers) | 2,000/s | bare ASGI hello (calibration) | 40,000/s | 0.05 |"
        " ≥ 1,500/s | yes | 2026-11-28 14:54 UTC | 2 × AMD EPYC | 20,000 (×1.80); ASGI 40,000 |"
        " [tracking_api.json](tracking_api.json) |"
    ) in text
    misses = text.split("## Misses", 1)[1].split("##", 1)[0]
    missed = [line for line in misses.splitlines() if line.startswith("- ")]
    assert len(missed) == 7  # submit, tracking page, act, ipn, sign_tsa, datastore _nosuggest, plan cold
    assert "- Advancing a step (API): 136/s against ≥ 300/s (2026-11-27 04:49 UTC; [act.json](act.json))" in missed


def test_an_empty_results_folder_gives_a_report_of_not_run_rows(tmp_path):
    out = report.write(tmp_path)
    text = out.read_text(encoding="utf-8")
    assert text.count("| not run |") == len(report.HEADLINES)
    assert "No result records its machine." in text
    assert "Every headline with a result meets its target." in text


def test_the_worker_s_backlog_after_a_run_counts_in_the_rate_sustained_and_the_cpu_per_request(tmp_path):
    """bench/run.py waits after each submission run for the worker to deliver the events the run
    left: the rate sustained and the CPU of that delivery belong to the run's requests."""
    found = results()
    found["submit.json"]["best"].update(
        ok=1924,
        duration_s=20.0,
        sustained_per_s=64.1,
        worker_backlog={
            "pending_at_end": 500,
            "seconds_to_deliver": 10.0,
            "left": 0,
            "core_seconds": {"task_worker": 9.62, "postgresql": 1.924, "other": 3.0},
        },
        cpu={"cores": 2, "cpu_percent_of_all_cores": {"web_server": 48.1, "task_worker": 9.62, "postgresql": 19.24}},
    )
    text = report.write(write(tmp_path, found)).read_text(encoding="utf-8")
    assert "| 96.2/s, p99 199 ms; 64.1/s sustained (the worker's backlog delivered) |" in text
    # per request: web 48.1 % × 2 cores / 96.2/s = 10 core-ms; the worker 2 in the run + 9.62 s / 1,924
    # requests = 5 after it; PostgreSQL 4 + 1; "other" of the wait not counted
    assert (
        "CPU per request: 22.0 core-ms (web server 10.0, task worker 7.0, postgresql 5.0, with the worker's"
        " backlog delivered after the run); at the target's 200/s these 2 cores have 10.0 core-ms per request"
        " (2.2× over)"
    ) in text


def test_a_miss_says_where_the_time_went_from_its_cores_and_profile(tmp_path):
    """bench/run.py records the cores' split of the chosen run and, for a miss, a py-spy profile of
    the web workers and the task worker: the report prints them under the miss."""
    found = results()
    found["submit.json"]["best"]["cpu"] = {
        "cores": 2,
        "busy_percent_of_all_cores": 99.2,
        "cpu_percent_of_all_cores": {"web_server": 43.0, "task_worker": 29.0, "postgresql": 23.8, "other": 3.0},
    }
    found["submit.json"]["profile"] = {
        "samples": 1296,
        "categories": [
            [92.7, "whole request (WSGIHandler)"],
            [90.0, "the view function (ninja operation or page view)"],
            [0.4, "logging"],
            [16.0, "psycopg: sending queries, reading rows"],
            [26.6, "Django ORM: compiling SQL (as_sql)"],
        ],
        "hcmgov_inclusive_top": [
            [91.8, "SecurityHeadersMiddleware.__call__ (hcmgov/common/headers.py:65)"],
            [81.5, "submit (hcmgov/dossiers/api.py:196)"],
            [37.0, "dossier_submit (hcmgov/dossiers/services/submission.py:189)"],
        ],
        "task_worker": {
            "samples": 700,
            "hcmgov_inclusive_top": [[60.0, "deliver (hcmgov/core/outbox.py:10)"]],
        },
    }
    found["act.json"]["profile"] = {"samples": 5, "categories": "not a list of pairs"}
    text = report.write(write(tmp_path, found)).read_text(encoding="utf-8")
    misses = text.split("## Misses", 1)[1].split("## Not in the table", 1)[0]
    submit = misses.split("- Dossier submission", 1)[1].split("\n- ", 1)[0]
    assert (
        "  - cores (2), share of all during the run: web server 43.0 %, task worker 29.0 %, postgresql 23.8 %,"
        " other 3.0 %; busy 99.2 %"
    ) in submit
    assert (
        "  - CPU per request: 20.5 core-ms (web server 8.9, task worker 6.0, postgresql 4.9, other 0.6); at the"
        " target's 200/s these 2 cores have 10.0 core-ms per request (2.1× over)"
    ) in submit  # 43 % of 2 cores at 96.2/s: 8.9 core-ms
    assert (
        "  - py-spy of the web workers (1,296 samples, share of their Python CPU time): Django ORM: compiling SQL"
        " (as_sql) 26.6 %, psycopg: sending queries, reading rows 16.0 %\n"
    ) in submit  # the wrapping categories and those under 1 % left out, the largest first
    assert (
        "  - heaviest hcmgov frames (inclusive): `submit (hcmgov/dossiers/api.py:196)` 81.5 %,"
        " `dossier_submit (hcmgov/dossiers/services/submission.py:189)` 37.0 %"
    ) in submit  # the middleware around every request left out
    assert (
        "task worker beside them (700 samples), heaviest hcmgov frames: `deliver (hcmgov/core/outbox.py:10)` 60.0 %"
        in submit
    )
    act = misses.split("- Advancing a step", 1)[1].split("\n- ", 1)[0]
    assert "cores and profile unreadable" in act  # a profile of another shape: said, and the report still written
    tracking = misses.split("- Status lookup, page", 1)[1].split("\n- ", 1)[0]
    assert "  - " not in tracking  # nothing recorded, nothing printed


def _profile(subject: str, frame: str, wall: bool = False) -> dict[str, Any]:
    return {
        "samples": 420,
        "subject": subject,
        "note": "py-spy --idle, wall clock: waits count" if wall else "py-spy --gil",
        "categories": [[12.5, "psycopg: sending queries, reading rows"], [0.2, "logging"]],
        "hcmgov_inclusive_top": [[70.0, frame]],
        "self_top": [[30.0, "Connection.wait (psycopg/connection.py:495)"]],
    }


def test_the_misses_of_the_other_benchmarks_say_where_the_time_went_from_their_profiles(tmp_path):
    """Pages, package_search, the plan targets, NGSI-LD and the gateway profile a miss (py-spy of
    the server's workers, or of the bench process for an in-process one, wall clock): the report
    prints it under the miss, and says so when a miss carries none."""
    found = results()
    page = found["pages.json"]["results"]["procedure"]
    page.update(p95_ms=140.0, meets_target=False)
    page["cpu"] = {"cores": 2, "cpu_percent_of_all_cores": {"web_server": 60.0, "postgresql": 30.0}}
    page["profile"] = _profile("the web workers", "procedure (hcmgov/web/views.py:120)")
    found["package_search.json"].update(met=False)
    found["package_search.json"]["profile"] = _profile(
        "the bench process: package_search", "package_search (hcmgov/opendata/search.py:40)", wall=True
    )
    found["quality_index.json"]["plan"]["cold_profile"] = _profile(
        "the bench process: the plan targets, cold", "plan_targets (hcmgov/reporting/targets.py:277)", wall=True
    )
    found["ngsi.json"]["results"]["ngsi_update"].update(entity_updates_per_s=2000.0, meets_target=False)
    light = found["gateway.json"]["providers"]["light"]
    light.update(met=False, gateway_best="edge-w1")
    light["edge-w1"] = {
        "throughput": {"cpu": {"cpu_percent_of_all_cores": {"provider_light": 40.0, "edge_nginx": 45.0, "wrk": 0.2}}}
    }
    text = report.write(write(tmp_path, found)).read_text(encoding="utf-8")
    misses = text.split("## Misses", 1)[1].split("## Not in the table", 1)[0]

    def under(start: str) -> str:
        return misses.split("- " + start, 1)[1].split("\n- ", 1)[0]

    procedure = under("Page: procedure")
    assert "  - cores (2), share of all during the run: web server 60.0 %, postgresql 30.0 %" in procedure
    assert (
        "  - py-spy of the web workers (420 samples, share of their Python CPU time):"
        " psycopg: sending queries, reading rows 12.5 %\n"
    ) in procedure
    assert "heaviest hcmgov frames (inclusive): `procedure (hcmgov/web/views.py:120)` 70.0 %" in procedure
    assert "heaviest frames by own time: `Connection.wait (psycopg/connection.py:495)` 30.0 %" in procedure
    search = under("CKAN package_search")
    assert "py-spy of the bench process: package_search (420 samples, share of the wall-clock time)" in search
    plan = under("Plan targets, cold")
    assert "`plan_targets (hcmgov/reporting/targets.py:277)` 70.0 %" in plan
    ngsi = under("NGSI-LD entity updates")
    assert "no profile in the result" in ngsi  # a miss without one: said
    gateway = under("Data-sharing gateway, provider light")
    assert "cores during the edge-w1 run, share of all: edge nginx 45.0 %, provider light 40.0 %" in gateway
    assert "wrk" not in gateway  # under half a per cent: left out
