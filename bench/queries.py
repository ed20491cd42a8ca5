"""Count the SQL queries of one submission and one status lookup (Django test client, same stack as
the server: middleware, auth, API). Run by ``bench/run.py`` after the fixtures; prints JSON.

With ``--queues N``: where a back-office read's time goes in PostgreSQL — ``N`` lines of
``queues.txt`` (the benchmark's reads) through the same stack, every statement timed on the client
(``connection.execute_wrapper``), summed by request kind and by statement shape; and the plan
(``EXPLAIN (ANALYZE, BUFFERS)``) of the slowest statement seen. For ``bench/run.py``'s profile of
a queues miss: those reads are PostgreSQL-bound.

    .venv/bin/python bench/queries.py --work bench/.work
    .venv/bin/python bench/queries.py --work bench/.work --queues 300
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import uuid
from collections import Counter, defaultdict
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


def _shape(sql: str) -> str:
    """A statement without its values: numbers and quoted strings as ?, whitespace folded."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql)
    sql = re.sub(r"\(\?(?:, \?)+\)", "(?…)", sql)
    return re.sub(r"\s+", " ", sql).strip()


def _request_kind(path: str) -> str:
    base, _, query = path.partition("?")
    if base.startswith("/api/v1/office/queues/"):
        return base
    keys = sorted(k.split("=", 1)[0] for k in query.split("&") if k and not k.startswith("page="))
    return f"{base}?{'&'.join(keys)}"


def queues(lines_file: Path, n: int) -> dict[str, Any]:
    """The PostgreSQL time of ``n`` back-office reads (``<token>\t<path>`` lines), by statement shape."""
    client = Client()
    lines = [line.split("\t", 1) for line in lines_file.read_text().splitlines() if line][:n]
    per_shape: dict[str, list[float]] = defaultdict(list)
    per_kind: dict[str, list[float]] = defaultdict(list)
    slowest: tuple[float, str] = (0.0, "")
    current: list[float] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal slowest
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ms = (time.perf_counter() - started) * 1000
            current.append(ms)
            text = sql if params is None else connection.ops.last_executed_query(context["cursor"], sql, params)
            per_shape[_shape(text)].append(ms)
            if ms > slowest[0] and text.lstrip().upper().startswith("SELECT"):
                slowest = (ms, text)

    for token, path in lines[:20]:  # warm: connections, caches, plans
        client.get(path, headers={"Authorization": f"Bearer {token}"})
    per_shape.clear()
    slowest = (0.0, "")
    whole: list[float] = []
    with connection.execute_wrapper(timed):
        for token, path in lines:
            current.clear()
            started = time.perf_counter()
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            whole.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            per_kind[_request_kind(path)].append(sum(current))
    total_sql = sum(sum(v) for v in per_shape.values())
    plan: list[str] = []
    if slowest[1]:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest[1])
            plan = [row[0] for row in cursor.fetchall()]
    whole.sort()
    return {
        "requests": len(lines),
        "subject": "PostgreSQL, timed on the client: every statement of the reads (Django test client, in process)",
        "request_ms_median": round(whole[len(whole) // 2], 2),
        "request_ms_p95": round(whole[int(len(whole) * 0.95)], 2),
        "sql_share_of_request_time": round(100 * total_sql / max(sum(whole), 1e-9), 1),
        "statements_per_request": round(sum(len(v) for v in per_shape.values()) / max(len(lines), 1), 1),
        "by_kind": sorted(
            (
                {
                    "kind": k,
                    "requests": len(v),
                    "sql_ms_median": round(sorted(v)[len(v) // 2], 2),
                    "sql_ms_max": round(max(v), 2),
                }
                for k, v in per_kind.items()
            ),
            key=lambda r: -r["sql_ms_median"],
        ),
        "by_statement": [
            {
                "share": round(100 * sum(v) / max(total_sql, 1e-9), 1),
                "calls": len(v),
                "ms_mean": round(sum(v) / len(v), 2),
                "statement": shape[:400],
            }
            for shape, v in sorted(per_shape.items(), key=lambda kv: -sum(kv[1]))[:12]
        ],
        "slowest": {"ms": round(slowest[0], 2), "statement": slowest[1][:2000], "plan": plan[:60]},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--queues", type=int, default=0, metavar="N", help="PostgreSQL time of N back-office reads")
    args = parser.parse_args()
    if args.queues:
        print(json.dumps({"queues": queues(args.work / "queues.txt", args.queues)}))
        return
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
