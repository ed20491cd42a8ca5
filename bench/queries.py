"""Count the SQL queries of one submission and one status lookup (Django test client, same stack as
the server: middleware, auth, API). Run by ``bench/run.py`` after the fixtures; prints JSON.

    .venv/bin/python bench/queries.py --work bench/.work
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def _kind(sql: str | None) -> str:
    if not sql:  # a statement sent through a server-binding cursor (prepared): Django logs no text
        return "prepared statement"
    head = sql.lstrip().split(None, 1)[0].upper()
    if head == "SELECT" and " FROM " in sql.upper():
        table = sql.upper().split(" FROM ", 1)[1].split()[0].strip('"').lower()
        return f"SELECT {table}"
    if head == "INSERT":
        return "INSERT " + sql.split()[2].strip('"')
    if head == "UPDATE":
        return "UPDATE " + sql.split()[1].strip('"')
    return head


def measure(call: Any, repeat: int) -> dict[str, Any]:
    call()  # warm caches, connection
    with CaptureQueriesContext(connection) as ctx:
        status = call()
    captured = list(ctx.captured_queries)  # read now: later requests reset the connection's query log
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "status": status,
        "queries": len(captured),
        "by_statement": dict(Counter(_kind(q["sql"]) for q in captured).most_common()),
        "in_process_ms_median": round(timings[len(timings) // 2], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    client = Client()
    out: dict[str, Any] = {}
    submit_file = args.work / "submit.txt"
    if submit_file.exists():
        token, body = submit_file.read_text().splitlines()[0].split("\t", 1)

        def submit() -> int:
            response = client.post(
                "/api/v1/dossiers",
                data=body,
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"bench-q-{uuid.uuid4().hex}"},
            )
            return response.status_code

        out["submit"] = measure(submit, args.repeat)
    paths = args.work / "tracking_api.txt"
    if paths.exists():
        api_path = paths.read_text().splitlines()[0]
        html_path = (args.work / "tracking_html.txt").read_text().splitlines()[0]
        out["tracking_api"] = measure(lambda: client.get(api_path).status_code, args.repeat * 5)
        out["tracking_html"] = measure(lambda: client.get(html_path).status_code, args.repeat * 5)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
