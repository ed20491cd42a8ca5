"""Benchmark of signed results: PDF render time, results signed per second on one core (PAdES,
with and without an RFC 3161 time-stamp from the TSA simulator over HTTP), verifications per
second. Runs inside Django on a throw-away SQLite database (``HCMGOV_VAR_DIR`` in a temporary
folder) unless ``DATABASE_URL`` is set; writes ``bench/results/signing.json`` and prints a table.

    .venv/bin/python bench/signing.py [-n 200] [--profile sign|sign_tsa|verify]

With ``--profile``, ``BENCH_SORT`` (``cumulative`` by default, or ``tottime``…) and ``BENCH_LINES``
choose the profile's order and length.

Targets: signing ≥ 20/s per core, verification ≥ 50/s.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(tempfile.mkdtemp(prefix="hcm_sign_bench_"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("HCMGOV_VAR_DIR", str(WORK / "var"))
os.environ["HCMGOV_PKI_DIR"] = str(WORK / "pki")
os.environ["HCMGOV_TSA_URL"] = ""
sys.path.insert(0, str(ROOT / "src"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from hcmgov import simulators  # noqa: E402
from hcmgov.core.tests.factories import AgencyFactory  # noqa: E402
from hcmgov.documents import pki, signing, verification  # noqa: E402

TARGETS = {"sign": 20.0, "sign_tsa": 20.0, "verify": 50.0}


def machine() -> dict[str, object]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
    }


def timed(n: int, fn, profile: bool = False) -> float:
    """Seconds for ``n`` calls of ``fn`` (after one warm-up call)."""
    fn()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    elapsed = time.perf_counter() - start
    if profiler:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("BENCH_LINES", "25")))
        print(out.getvalue())
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--profile", choices=["sign", "sign_tsa", "verify", "render"], default=None)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    agency: Any = AgencyFactory(name="Ủy ban nhân dân Phường Bến Thành", code=f"B{int(time.time()) % 10**8}.H29")
    certificate = pki.certificate_issue_demo(agency_id=agency.pk)
    content = signing.ResultContent(
        title_vi="Giấy chứng nhận đăng ký hộ kinh doanh",
        title_en="Household business registration certificate",
        number="41M8012345",
        agency_name=agency.name,
        applicant_name="Nguyễn Thị Ánh Tuyết",
        dossier_code="000.00.31.H29-250701-0001",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        issued=dt.date(2025, 7, 1),
        paragraphs=("Chứng nhận hộ kinh doanh Phở Bà Tư, 12 Lê Lợi, phường Bến Thành.",) * 3,
        verify_url="https://dichvucong.hochiminhcity.gov.vn/kiem-tra/abcdef0123456789",
    )
    results: dict[str, dict[str, float]] = {}

    render_s = timed(args.renders, lambda: signing.result_pdf(content=content), args.profile == "render")
    results["render"] = {"n": args.renders, "seconds": render_s, "ms_each": 1000 * render_s / args.renders}
    pdf = signing.result_pdf(content=content)

    def sign() -> signing.Signed:
        return signing.pdf_sign(pdf=pdf, certificate=certificate, reason="Cấp kết quả", location="TP. Hồ Chí Minh")

    seconds = timed(args.n, sign, args.profile == "sign")
    results["sign"] = {"n": args.n, "seconds": seconds, "per_second": args.n / seconds}

    with simulators.running("tsa") as url:
        root = WORK / "tsa-root.pem"
        root.write_bytes(urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url + "/_sim/ca.pem").read())
        os.environ["HCMGOV_TSA_URL"] = url
        os.environ["HCMGOV_TRUSTED_ROOTS"] = str(root)
        seconds = timed(args.n, sign, args.profile == "sign_tsa")
        results["sign_tsa"] = {"n": args.n, "seconds": seconds, "per_second": args.n / seconds}
        signed = sign()
        os.environ["HCMGOV_TSA_URL"] = ""

    assert verification.pdf_verify(data=signed.data).status == "valid"
    seconds = timed(args.n, lambda: verification.pdf_verify(data=signed.data), args.profile == "verify")
    results["verify"] = {"n": args.n, "seconds": seconds, "per_second": args.n / seconds}

    report = {
        "machine": machine(),
        "notes": "single process, one core; sign = pdf_sign only (render excluded), PAdES "
        + ("with the DSS (CRL, chain: towards B-LT)" if signing.embed_validation_info() else "without a DSS")
        + "; sign_tsa adds an RFC 3161 token from the TSA simulator over HTTP on loopback (the simulator "
        "runs in this process too); verify = pdf_verify of the time-stamped result (pyHanko validation, "
        "CRL, time-stamp).",
        "load_average_at_end": os.getloadavg(),  # 1, 5, 15 min, this run included
        "targets_per_second": TARGETS,
        "results": results,
        "file_bytes": {"unsigned": len(pdf), "signed": len(signed.data)},
    }
    out = ROOT / "bench" / "results" / "signing.json"
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"{'measure':<12}{'n':>6}{'seconds':>10}{'per second':>12}{'target':>8}  ok")
    print(
        f"{'render':<12}{args.renders:>6}{render_s:>10.2f}{args.renders / render_s:>12.1f}{'-':>8}"
        f"  ({results['render']['ms_each']:.0f} ms each)"
    )
    for key in ("sign", "sign_tsa", "verify"):
        row = results[key]
        ok = "yes" if row["per_second"] >= TARGETS[key] else "NO"
        print(f"{key:<12}{row['n']:>6.0f}{row['seconds']:>10.2f}{row['per_second']:>12.1f}{TARGETS[key]:>8.0f}  {ok}")
    print(f"machine: {report['machine']}\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
