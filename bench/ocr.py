"""OCR benchmark: pages per minute on one core and with two processes, and the character error
rate per degradation level, over generated scans of a Vietnamese birth certificate
(``hcmgov.documents.tests.scans``) sent as one-page scanned PDFs, the form desks send them in.

    .venv/bin/python bench/ocr.py [--per-level 5] [--levels clean,light,medium,heavy,poor]

Writes ``bench/results/ocr.json`` (every page's numbers, the machine, the settings) and prints a
short table. No Django: ``hcmgov.documents.ocr`` needs none. Generating the scans is not timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from hcmgov.documents import ocr  # noqa: E402
from hcmgov.documents.tests import scans  # noqa: E402

REFERENCE = scans.reference_text()


def _read(job: tuple[str, int, bytes]) -> dict:
    level, seed, data = job
    started = time.perf_counter()
    result = ocr.recognise(data=data, content_type="application/pdf")
    return {
        "level": level,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 3),
        "cer": round(scans.cer(reference=REFERENCE, hypothesis=result.text), 5),
        "confidence": result.confidence,
        "ocr_pages": result.ocr_pages,
    }


def run(jobs: list[tuple[str, int, bytes]], processes: int) -> tuple[float, list[dict]]:
    started = time.perf_counter()
    if processes == 1:
        pages = [_read(job) for job in jobs]
    else:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pages = pool.map(_read, jobs, chunksize=1)
    return time.perf_counter() - started, pages


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(  # the code's changes, not the results make bench's other benchmarks wrote
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results",
         ":(exclude)docs/operations/capacity.md"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    tesseract = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit.stdout.strip(),
        "uncommitted_changes": bool(dirty.stdout.strip()),
        "tesseract": (tesseract.stdout or tesseract.stderr).splitlines()[0] if tesseract.returncode == 0 else None,
        "load_average_before": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-level", type=int, default=5, help="pages per degradation level")
    parser.add_argument("--levels", default=",".join(scans.LEVELS), help="comma-separated levels")
    parser.add_argument("--out", default=str(ROOT / "bench/results/ocr.json"))
    args = parser.parse_args()
    levels = args.levels.split(",")
    jobs = [
        (level, seed, scans.scan_pdf(level=level, seed=100 + seed))
        for level in levels
        for seed in range(args.per_level)
    ]
    report: dict = {
        "machine": machine(),
        "settings": {
            "lang": ocr.OCR_LANG,
            "dpi": ocr.OCR_DPI,
            "denoise": ocr.OCR_DENOISE,
            "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT"),
            "levels": {name: vars(scans.LEVELS[name]) for name in levels},
        },
        "pages": len(jobs),
        "runs": {},
    }
    for processes in (1, 2):
        seconds, pages = run(jobs, processes)
        report["runs"][str(processes)] = {
            "processes": processes,
            "seconds": round(seconds, 2),
            "pages_per_minute": round(len(jobs) / seconds * 60, 1),
            "pages": pages,
        }
        print(f"{processes} process(es): {len(jobs)} pages in {seconds:.1f} s", flush=True)
    one = report["runs"]["1"]["pages"]
    report["levels"] = {}
    for level in levels:
        rows = [p for p in one if p["level"] == level]
        report["levels"][level] = {
            "cer_mean": round(statistics.mean(p["cer"] for p in rows), 5),
            "cer_worst": max(p["cer"] for p in rows),
            "confidence_mean": round(statistics.mean(p["confidence"] or 0 for p in rows), 2),
            "seconds_mean": round(statistics.mean(p["seconds"] for p in rows), 2),
        }
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    m = report["machine"]
    print(f"\n{m['cpu']}, {m['nproc']} cores, {m['tesseract']}, {m['date']}, commit {m['commit'][:10]}")
    print(f"lang {ocr.OCR_LANG}, {ocr.OCR_DPI} dpi, denoise {ocr.OCR_DENOISE} px, scanned one-page PDFs\n")
    print("| processes | pages | seconds | pages/min |\n|---|---|---|---|")
    for r in report["runs"].values():
        print(f"| {r['processes']} | {len(jobs)} | {r['seconds']} | {r['pages_per_minute']} |")
    print("\n| level | CER mean | CER worst | confidence | s/page (1 process) |\n|---|---|---|---|---|")
    for level, r in report["levels"].items():
        print(
            f"| {level} | {r['cer_mean'] * 100:.2f} % | {r['cer_worst'] * 100:.2f} % "
            f"| {r['confidence_mean']} | {r['seconds_mean']} |"
        )
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
