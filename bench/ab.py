"""``bench/run.py`` for A/B experiments: same orchestration, but results go to a scratch folder
(``$HCMGOV_BENCH_OUT``, default /tmp/hcmgov-bench-ab), never to bench/results/ (the published numbers
come from one clean ``make bench`` run).

    .venv/bin/python bench/ab.py --only tracking --duration 10 --dossiers 200000 [--profile always]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run

run.RESULTS = Path(os.environ.get("HCMGOV_BENCH_OUT", "/tmp/hcmgov-bench-ab"))  # noqa: S108 - scratch output

if __name__ == "__main__":
    run.main()
