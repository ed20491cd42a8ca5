"""Per-request CPU cost of the Django stack, in one process, without a server or a load generator:
the WSGI application is called directly with the environ granian would build for a GET. On a
shared 2-core machine its CPU time per request is a steadier A/B measure than wrk's req/s (a busy
neighbour changes wall time, much less the process's own CPU time). PostgreSQL's CPU time is reported
apart (its backend process for this connection, read from /proc).

Run after ``bench/run.py`` (or ``bench/ab.py``) has prepared ``bench/.work`` (database, paths files):

    .venv/bin/python bench/inproc.py [--paths bench/.work/tracking_api.txt] [-n 4000] [--rounds 3]
    .venv/bin/python bench/inproc.py --token   # an authenticated GET /api/v1/dossiers with a bearer token

With ``py-spy record -r 997 -f raw -o out.txt -- .venv/bin/python bench/inproc.py ...`` it gives a
fine-grained profile (``--quiet-warmup`` skips the warm-up from the numbers, not from the profile).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hcmgov_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
os.environ.setdefault("HCMGOV_VAR_DIR", str(WORK / "var"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(WORK / "prometheus-inproc"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def environ(path: str, headers: dict[str, str]) -> dict[str, object]:
    path_info, _, query = path.partition("?")
    env: dict[str, object] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def db_cpu() -> float:
    """CPU seconds used so far by this process's PostgreSQL backend (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.connection is None:
        return 0.0
    pid = connection.connection.info.backend_pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=WORK, help="folder of the fixtures (bench/fixtures.py --out)")
    parser.add_argument("--paths", help="GET paths, one a line (default: <work>/tracking_api.txt)")
    parser.add_argument("--token", action="store_true", help="GET /api/v1/dossiers?status=9 with bench bearer tokens")
    parser.add_argument("-n", type=int, default=4000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()

    from hcmgov.wsgi import application

    statuses: dict[str, int] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1

    if args.token:
        tokens = [line.split("\t", 1)[0] for line in (args.work / "submit.txt").read_text().splitlines()]
        # status=9 (an unused filter): the listing is empty, so the cost is the authentication
        requests = [("/api/v1/dossiers?status=9", {"Authorization": f"Bearer {t}"}) for t in tokens]
    else:
        args.paths = args.paths or str(args.work / "tracking_api.txt")
        requests = [(p, {}) for p in Path(args.paths).read_text().splitlines()]
    rng = random.Random(1)

    def one() -> None:
        path, headers = requests[rng.randrange(len(requests))]
        result = application(environ(path, headers), start_response)
        for _ in result:
            pass
        if hasattr(result, "close"):
            result.close()

    for _ in range(args.warmup):
        one()
    cpu_us, wall_us, db_us = [], [], []
    for _ in range(args.rounds):
        d0, c0, w0 = db_cpu(), time.process_time(), time.perf_counter()
        for _ in range(args.n):
            one()
        cpu_us.append((time.process_time() - c0) / args.n * 1e6)
        wall_us.append((time.perf_counter() - w0) / args.n * 1e6)
        db_us.append((db_cpu() - d0) / args.n * 1e6)
    print(
        json.dumps(
            {
                "paths": "token" if args.token else Path(args.paths).name,
                "n": args.n,
                "cpu_us_per_request": [round(x, 1) for x in cpu_us],
                "cpu_us_median": round(statistics.median(cpu_us), 1),
                "cpu_us_min": round(min(cpu_us), 1),
                "wall_us_median": round(statistics.median(wall_us), 1),
                "postgresql_cpu_us_median": round(statistics.median(db_us), 1),
                "statuses": statuses,
            }
        )
    )


if __name__ == "__main__":
    main()
