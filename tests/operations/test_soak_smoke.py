"""The soak (bench/soak/run.py, issue 13 item 7) in its smoke mode: the real processes (granian,
the task worker, the simulators) on PostgreSQL, locust for ~20 s with a few users of every class.
It proves the scenario works end to end — every user class's requests succeed — so that the
ten-minute run (`make soak`) measures load, not a broken script. Memory is not judged in 20 s.
Runs in the suite's PostgreSQL pass, on a database of its own (``SOAK_DATABASE_URL``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# a database of the soak's own on the suite's PostgreSQL server (the demo city is loaded into it once)
_SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hcmgov").rsplit("/", 1)[0]
SOAK_DB = os.environ.get("SOAK_DATABASE_URL", f"{_SERVER}/hcmgov_soak")


def postgres_answers(url: str) -> bool:
    return (
        subprocess.run(  # noqa: S603 - this repo's script, our interpreter
            [sys.executable, str(ROOT / "scripts" / "pg_available.py"), url], capture_output=True, check=False
        ).returncode
        == 0
    )


@pytest.mark.postgres
def test_every_user_class_makes_requests_and_none_fails(tmp_path, settings):
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.skip("the soak runs on PostgreSQL: in the suite's PostgreSQL pass")
    if not postgres_answers(SOAK_DB):
        pytest.skip(f"PostgreSQL not reachable at {SOAK_DB}")
    env = {**os.environ, "DATABASE_URL": SOAK_DB}
    env.pop("HCMGOV_VAR_DIR", None)
    run = subprocess.run(  # noqa: S603 - this repo's script, our interpreter
        [sys.executable, str(ROOT / "bench" / "soak" / "run.py"), "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,  # the first run loads the demo city
        check=False,
    )
    assert (tmp_path / "soak.json").exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((tmp_path / "soak.json").read_text())
    stats = result["stats"]
    assert stats["overall"]["failures"] == 0, stats["failure_messages"]
    assert result["processes_died"] == []
    for cls in ("citizen", "official", "client", "sensor"):
        assert stats["by_class"].get(cls, {}).get("requests", 0) > 0, f"no requests by {cls}: {stats['by_class']}"
    names = set(stats["requests"])
    assert "citizen: POST /api/v1/dossiers" in names  # a submission, not only reads
    assert "sensor: POST /iot/v1/readings" in names
    assert {"p50_ms", "p95_ms", "p99_ms"} <= set(stats["overall"])
    assert result["memory"]["processes"]["total"]["end_mib"] > 0
    assert (tmp_path / "soak.md").read_text().startswith("# Load and soak")
    assert run.returncode == 0, run.stdout[-3000:]
