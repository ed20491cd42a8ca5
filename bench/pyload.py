"""A Python load generator (asyncio + aiohttp), measured against wrk as a candidate (see
docs/decisions/0007-benchmarks.md). Not used by ``make bench``; aiohttp is not a project dependency:

    pip install --target /tmp/hcmgov-bench-aiohttp aiohttp
    PYTHONPATH=/tmp/hcmgov-bench-aiohttp .venv/bin/python bench/pyload.py URL --paths FILE -c 32 -d 30
    ... --submit bench/.work/submit.txt   (POST /api/v1/dossiers, unique Idempotency-Key)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter

import aiohttp


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--paths", help="GET: one path a line")
    parser.add_argument("--submit", help="POST /api/v1/dossiers: '<token>\\t<body>' a line")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=30)
    args = parser.parse_args()
    paths = open(args.paths).read().splitlines() if args.paths else []  # noqa: SIM115
    templates = [ln.split("\t", 1) for ln in open(args.submit).read().splitlines()] if args.submit else []  # noqa: SIM115
    prefix = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    counter = 0
    deadline = time.monotonic() + args.duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, counter
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                if templates:
                    counter += 1
                    token, body = random.choice(templates)
                    headers = {
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Idempotency-Key": f"pyload-{prefix}-{counter}",
                    }
                    async with session.post(f"{args.url}/api/v1/dossiers", data=body, headers=headers) as r:
                        await r.read()
                else:
                    async with session.get(args.url + random.choice(paths)) as r:
                        await r.read()
                statuses[r.status] += 1
                latencies.append(time.perf_counter() - started)
            except aiohttp.ClientError:
                errors += 1

    cpu0 = time.process_time()
    t0 = time.monotonic()
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.connections)))
    elapsed = time.monotonic() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))], 3) if latencies else 0

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "per_second": round(len(latencies) / elapsed, 1),
                "statuses": dict(statuses),
                "errors": errors,
                "p50_ms": pct(50),
                "p95_ms": pct(95),
                "p99_ms": pct(99),
                "loadgen_cpu_percent_of_one_core": round(100 * (time.process_time() - cpu0) / elapsed, 1),
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
