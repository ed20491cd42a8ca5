"""DataStore search against Datasette (issue 9): the same 1,000,000 rows, the same filter and sort.

The table is the city's dossier statistics by day, district and procedure (``ngay`` date, ``quan``
district, ``thu_tuc`` procedure, ``linh_vuc`` field, ``so_ho_so``, ``dung_han`` counts,
``ty_le_dung_han`` rate), generated deterministically. Ours lives in the benchmark's own
PostgreSQL database (schema ``datastore``), loaded once over HTTP through ``datastore_create`` and
``datastore_upsert`` (method insert) in batches of ``--batch`` rows, and kept for later runs; its
indexes: the primary key (ngay, quan, thu_tuc) and (quan, ngay). Datasette's is a SQLite file with
the same rows and the index (quan, ngay), served by ``datasette serve -i`` (immutable: its fastest
mode for static data) as it ships (uvicorn, one process).

Measured, one after the other in one run, with wrk over loopback (``bench/tracking.lua``: random
paths from a file, every status counted), at ``--connections`` (default 1 and 8):

* ours: ``GET /api/3/action/datastore_search?resource_id=…&filters={"quan": "<district>"}&sort=ngay desc
  &limit=100`` on granian (WSGI, 2 workers, as ``make serve``), the anonymous public read;
* Datasette: ``GET /db/ho_so.json?quan=<district>&_sort_desc=ngay&_size=100``.

Both answer the 100 newest rows of a random district (about 45,000 rows each) and the district's
row count (CKAN's ``total``, Datasette's ``filtered_table_rows_count``); the first answers are
compared before measuring.

    .venv/bin/python bench/datastore_search.py [--rows 1000000] [--duration 15] [--connections 1,8]

Result: ``bench/results/datastore_search.json`` (with the machine and the calibration of bench/run.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

DB = "postgres://postgres@127.0.0.1:5432/hcmgov_dsbench"
DISTRICTS = [
    "Quận 1", "Quận 3", "Quận 4", "Quận 5", "Quận 6", "Quận 7", "Quận 8", "Quận 10", "Quận 11", "Quận 12",
    "Bình Thạnh", "Gò Vấp", "Phú Nhuận", "Tân Bình", "Tân Phú", "Bình Tân", "Thủ Đức", "Bình Chánh",
    "Hóc Môn", "Củ Chi", "Nhà Bè", "Cần Giờ",
]  # fmt: skip
FIELDS_OF_LAW = ["Hộ tịch", "Đất đai", "Xây dựng", "Kinh doanh", "Giao thông", "Lao động", "Y tế", "Giáo dục"]
PROCEDURES = 50
FIELDS = [
    {"id": "ngay", "type": "date"},
    {"id": "quan", "type": "text"},
    {"id": "thu_tuc", "type": "text"},
    {"id": "linh_vuc", "type": "text"},
    {"id": "so_ho_so", "type": "int"},
    {"id": "dung_han", "type": "int"},
    {"id": "ty_le_dung_han", "type": "numeric"},
]
START = dt.date(2023, 1, 1)


def row(i: int) -> dict[str, Any]:
    """Row ``i``: one day × district × procedure (22 × 50 a day, so about 909 days for 1,000,000)."""
    per_day = len(DISTRICTS) * PROCEDURES
    district = i % len(DISTRICTS)
    procedure = (i // len(DISTRICTS)) % PROCEDURES
    count = (i * 7919) % 120 + 1
    on_time = count - (i * 104729) % (count // 5 + 1)
    return {
        "ngay": (START + dt.timedelta(days=i // per_day)).isoformat(),
        "quan": DISTRICTS[district],
        "thu_tuc": f"1.{procedure + 1:06d}",
        "linh_vuc": FIELDS_OF_LAW[procedure % len(FIELDS_OF_LAW)],
        "so_ho_so": count,
        "dung_han": on_time,
        "ty_le_dung_han": round(on_time / count, 4),
    }


# --- inside Django: the publisher, its token, the dataset and how many rows the table holds --------


def inner(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from hcmgov.identity import services as identity
    from hcmgov.identity.models import User
    from hcmgov.opendata import services
    from hcmgov.opendata.datastore_db import store
    from hcmgov.opendata.models import DatastoreTable, Membership

    services.licenses_sync()
    org = services.organization_upsert(name="so-tttt-bench", title="Sở Thông tin và Truyền thông (thử tải)")
    dataset = services.dataset_upsert(
        organization=org,
        data={"name": "thong-ke-ho-so-bench", "title": "Thống kê hồ sơ theo ngày, quận, thủ tục (thử tải)",
              "license_id": "cc-by"},  # no "resources": the table's resource stays
    )  # fmt: skip
    user = User.objects.filter(username="bench-datastore").first() or identity.user_create(
        username="bench-datastore", password=None, full_name="Biên tập thử tải"
    )
    Membership.objects.get_or_create(organization=org, user=user, defaults={"capacity": "editor"})
    token = identity.api_token_issue(user=user, name="bench-datastore").raw
    table = DatastoreTable.objects.filter(resource__dataset=dataset, resource__state="active").first()
    rows = store().count(str(table.resource_id)) if table else 0
    print(json.dumps({"token": token, "package_id": dataset.name,
                      "resource_id": str(table.resource_id) if table else None, "rows": rows}))  # fmt: skip


# --- outside: load, serve, measure -------------------------------------------------------------------


def post(base: str, name: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/3/action/{name}", json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": token},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - loopback
            return dict(json.load(response)["result"])
    except urllib.error.HTTPError as exc:
        sys.exit(f"{name} failed: {exc.code} {exc.read()[:2000]!r}")


def load_ours(base: str, fixture: dict[str, Any], rows: int, batch: int) -> dict[str, Any]:
    import run

    token = fixture["token"]
    started = time.monotonic()
    where: dict[str, Any] = {
        "resource": {"package_id": fixture["package_id"], "name": "Thống kê hồ sơ / Dossier statistics"}
    }
    if fixture["resource_id"]:  # a table of another size: emptied and made again on the same resource
        post(base, "datastore_delete", {"resource_id": fixture["resource_id"]}, token)
        where = {"resource_id": fixture["resource_id"]}
    created = post(base, "datastore_create", {
        **where, "fields": FIELDS, "primary_key": ["ngay", "quan", "thu_tuc"], "indexes": ["quan,ngay"],
    }, token)  # fmt: skip
    rid = created["resource_id"]
    for first in range(0, rows, batch):
        records = [row(i) for i in range(first, min(rows, first + batch))]
        post(base, "datastore_upsert", {"resource_id": rid, "method": "insert", "records": records}, token)
        if (first // batch) % 10 == 0:
            run.log(f"  loaded {first + len(records):,} rows ({time.monotonic() - started:.0f} s)")
    elapsed = time.monotonic() - started
    import psycopg

    with psycopg.connect(DB, autocommit=True) as conn:  # what autovacuum would do a little later
        conn.execute(f'VACUUM ANALYZE datastore."{rid}"')
    return {"resource_id": rid, "rows": rows, "seconds": round(elapsed, 1), "rows_per_s": round(rows / elapsed),
            "batch": batch, "through": "POST datastore_create, then datastore_upsert method=insert"}  # fmt: skip


def build_datasette_db(path: Path, rows: int) -> float:
    if path.exists():
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT count(*) FROM ho_so").fetchone()[0] == rows:
                return 0.0
        path.unlink()
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE ho_so (ngay TEXT, quan TEXT, thu_tuc TEXT, linh_vuc TEXT, so_ho_so INTEGER, dung_han INTEGER, "
        "ty_le_dung_han REAL, PRIMARY KEY (ngay, quan, thu_tuc))"
    )
    names = [f["id"] for f in FIELDS]
    for first in range(0, rows, 50000):
        conn.executemany(
            f"INSERT INTO ho_so VALUES ({', '.join('?' * len(names))})",  # noqa: S608 - our own column count
            [[r[n] for n in names] for r in (row(i) for i in range(first, min(rows, first + 50000)))],
        )
    conn.execute("CREATE INDEX ho_so_quan_ngay ON ho_so (quan, ngay)")
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return time.monotonic() - started


def paths_files(rid: str, n: int = 2000) -> tuple[Path, Path, Path]:
    import run

    rng = random.Random(9)
    ours, theirs, bare = [], [], []
    for _ in range(n):
        district = rng.choice(DISTRICTS)
        q = urllib.parse.urlencode({"resource_id": rid, "filters": json.dumps({"quan": district}, ensure_ascii=False),
                                    "sort": "ngay desc", "limit": 100})  # fmt: skip
        ours.append(f"/api/3/action/datastore_search?{q}")
        theirs.append(
            "/db/ho_so.json?" + urllib.parse.urlencode({"quan": district, "_sort_desc": "ngay", "_size": 100})
        )
        bare.append(theirs[-1] + "&_nosuggest=1")
    a, b, c = run.WORK / "ds-ours.txt", run.WORK / "ds-datasette.txt", run.WORK / "ds-datasette-nosuggest.txt"
    a.write_text("\n".join(ours) + "\n")
    b.write_text("\n".join(theirs) + "\n")
    c.write_text("\n".join(bare) + "\n")
    return a, b, c


def get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return dict(json.load(response))


def same_answer(ours_url: str, theirs_url: str) -> dict[str, Any]:
    mine = get_json(ours_url)["result"]
    theirs = get_json(theirs_url)
    a = [{k: v for k, v in r.items() if k != "_id"} for r in mine["records"]]
    b = [dict(zip(theirs["columns"], r, strict=True)) for r in theirs["rows"]]
    b = [{k: v for k, v in r.items() if k != "rowid"} for r in b]
    key = sorted  # both sort by ngay only: rows of the same day may come in another order
    same_rows = key(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in a) == key(
        json.dumps(r, sort_keys=True, ensure_ascii=False) for r in b
    )
    return {"ours_rows": len(a), "datasette_rows": len(b), "ours_total": mine.get("total"),
            "datasette_total": theirs.get("filtered_table_rows_count"), "same_rows": same_rows}  # fmt: skip


class Datasette:
    def __init__(self, db: Path, port: int) -> None:
        self.db, self.port = db, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import run

        log = (run.WORK / "logs" / "datasette.log").open("wb")
        self.proc = subprocess.Popen(
            [str(run.VENV_BIN / "datasette"), "serve", "-i", str(self.db),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                get_json(self.url + "/db.json")
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("datasette did not start")

    def pids(self) -> list[int]:
        import run

        return run.tree(self.proc.pid) if self.proc else []

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            self.proc.wait(timeout=15)


def measure(url: str, paths: Path, connections: int, duration: int, server_pids: Any) -> dict[str, Any]:
    import run

    run.wrk(url, "tracking.lua", [str(paths)], connections, 3, 1)  # warm-up
    before = run.children_cpu()
    meter = run.CpuMeter({"server": server_pids, "postgresql": run.postgres_pids})
    raw = run.wrk(url, "tracking.lua", [str(paths)], connections, duration, min(2, connections))
    cpu = meter.stop()
    cpu["cpu_percent_of_all_cores"]["load_generator"] = round(
        100 * (run.children_cpu() - before) / (cpu["seconds"] * cpu["cores"]), 1
    )
    out = run.summarise(raw, "200", connections, cpu)
    out.pop("error_samples", None) if not out["errors"] else None
    return out


def outer(args: argparse.Namespace) -> None:
    import run

    env, info = run.prepare(args.database_url, "dsbench", HCMGOV_LOG_LEVEL="WARNING")
    fixture = run.django_script(env, "datastore_search.py", "--inner")
    sqlite_path = run.WORK / "datasette" / "db.db"
    built = build_datasette_db(sqlite_path, args.rows)
    run.log(f"datasette's SQLite file: {args.rows:,} rows ({built:.0f} s to build; 0 = kept)")
    server = run.Server(env, run.free_port(), 2, False)
    uncached_env = {**env, "HCMGOV_DATASTORE_COUNT_CACHE": "0", "PROMETHEUS_MULTIPROC_DIR": str(run.WORK / "prom-nc")}
    uncached = run.Server(uncached_env, run.free_port(), 2, False)
    result: dict[str, Any] = {"rows": args.rows, "what": __doc__.split("\n\n")[0] if __doc__ else ""}
    with run.running(server):
        if fixture["rows"] != args.rows:
            run.log(f"loading {args.rows:,} rows through the API (batches of {args.batch:,})")
            result["load"] = load_ours(server.url, fixture, args.rows, args.batch)
            run.log(f"loaded in {result['load']['seconds']} s ({result['load']['rows_per_s']:,} rows/s)")
            rid = result["load"]["resource_id"]
        else:
            rid = fixture["resource_id"]
            result["load"] = {"kept": True, "resource_id": rid, "rows": args.rows}
            with contextlib.suppress(OSError, ValueError, KeyError):
                before = json.loads((run.RESULTS / "datastore_search.json").read_text())["load"]
                if before.get("resource_id") == rid and "seconds" in before:
                    result["load"]["when_loaded"] = before  # the load's own measurement, from that run
        ours_paths, their_paths, bare_paths = paths_files(rid)
        datasette = Datasette(sqlite_path, run.free_port())
        datasette.start()
        uncached.start()
        try:
            first_ours = server.url + ours_paths.read_text().splitlines()[0]
            first_theirs = datasette.url + their_paths.read_text().splitlines()[0]
            result["same_answer"] = same_answer(first_ours, first_theirs)
            run.log(f"answers compared: {result['same_answer']}")
            result["runs"] = []
            for c in [int(x) for x in args.connections.split(",")]:
                entry: dict[str, Any] = {"connections": c}
                for label, base, paths, pids in (
                    ("ours", server.url, ours_paths, server.server_pids),
                    ("ours_without_count_cache", uncached.url, ours_paths, uncached.server_pids),
                    ("datasette", datasette.url, their_paths, datasette.pids),
                    ("datasette_nosuggest", datasette.url, bare_paths, datasette.pids),
                ):
                    entry[label] = measure(base, paths, c, args.duration, pids)
                    m = entry[label]
                    run.log(f"c={c} {label}: p50 {m['p50_ms']} ms p95 {m['p95_ms']} ms {m['throughput_per_s']}/s")
                for mine in ("ours", "ours_without_count_cache"):
                    for theirs in ("datasette", "datasette_nosuggest"):
                        entry[f"p50_ratio_{mine}_over_{theirs}"] = round(
                            entry[mine]["p50_ms"] / entry[theirs]["p50_ms"], 2
                        )
                        entry[f"throughput_ratio_{mine}_over_{theirs}"] = round(
                            entry[mine]["throughput_per_s"] / max(entry[theirs]["throughput_per_s"], 0.1), 2
                        )
                result["runs"].append(entry)
            if args.profile:
                result["profile_ours"] = run.profile_run(
                    server, args.duration,
                    lambda: run.wrk(server.url, "tracking.lua", [str(ours_paths)], 1, args.duration, 1)["latency_ms"],
                )  # fmt: skip
        finally:
            datasette.stop()
            uncached.stop()
    result["ours_command"] = "granian --interface wsgi --workers 2 --no-ws hcmgov.wsgi:application"
    result["datasette_command"] = f"datasette serve -i {sqlite_path.name} (uvicorn, 1 process, default settings)"
    result["variants"] = {
        "ours": "count cache on (the default): the district's total is counted once per table version",
        "ours_without_count_cache": "HCMGOV_DATASTORE_COUNT_CACHE=0: every request counts the district's rows",
        "datasette": "the URL as specified; Datasette then also runs its facet suggestions (its default)",
        "datasette_nosuggest": "the same URL with &_nosuggest=1: rows and count only, the same work as ours",
    }
    result["target"] = "our p50 no slower than Datasette's"
    result["met"] = {
        f"{mine}_vs_{theirs}": all(r[mine]["p50_ms"] <= r[theirs]["p50_ms"] for r in result["runs"])
        for mine in ("ours", "ours_without_count_cache")
        for theirs in ("datasette", "datasette_nosuggest")
    }
    run.save("datastore_search", result, info)
    run.log(f"met: {result['met']} → bench/results/datastore_search.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--profile", action="store_true", help="py-spy over our server during one more run")
    parser.add_argument("--database-url", default=DB)
    args = parser.parse_args()
    (inner if args.inner else outer)(args)


if __name__ == "__main__":
    main()
