"""Page speed of the server-rendered pages (issue 14, item 4): p95 < 100 ms on the demo data, and a
procedure page transfers < 200 KB with everything it references.

1. ``p95`` — each main page type on its own, as the person who uses it: the home page, a procedure
   page, a procedure search, a citizen's "Hồ sơ của tôi" and one of their dossiers (logged in), the
   back office's queue and a dossier there (a desk officer, logged in with the second factor done),
   the leaders' dashboard (a leader). Each run GETs random paths of its kind (20 procedures, a few
   searches, the citizen's and the officer's dossiers) with the person's session cookie; every
   answer must be 200 (a redirect to the login page would measure the wrong page).
2. ``procedure_page_bytes`` — one procedure page and every file it references (style sheets, what
   they import, the fonts and images they name, scripts, the icon), fetched as a browser asks for
   them (``Accept-Encoding: gzip, br``) and counted as they come over the wire: headers and bodies,
   compressed where the server compresses. Fonts are counted for every subset the style sheets
   declare (Vietnamese, Latin, Latin Extended): a browser fetches only the subsets the page's text
   uses, so this is an upper bound.

Orchestration as ``bench/run.py`` (its helpers: a PostgreSQL database of its own, migrate, machine
record and calibration, granian with 2 WSGI workers as ``make serve``, wrk from a separate process):
PostgreSQL (``DATABASE_URL`` or postgres://postgres@127.0.0.1:5432/hcmgov_bench_pages, created if
missing) → migrate → ``hcmgov demo`` (once: the database is kept) → collectstatic (the server serves
the static files itself, through WhiteNoise, as in production) → sessions and paths (this file with
``--fixtures``, inside Django) → wrk per page type → ``bench/results/pages.json`` and ``pages.md``.

    .venv/bin/python bench/pages.py                 # 15 s a page type
    .venv/bin/python bench/pages.py --quick --out /tmp/pages.json   # 3 s runs: proves it works
    .venv/bin/python bench/pages.py --profile always   # py-spy of every page type (default: of a miss)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, beside this file

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/hcmgov_bench_pages"
P95_MS = 100
PROCEDURE_PAGE_BYTES = 200 * 1000
# the page types, in the order they are measured: who asks, and what the paths are drawn from
PAGES = {
    "home": "the home page (procedure search form and the first results), anyone",
    "procedure": "a procedure page /thu-tuc/{code}/, anyone",
    "search": "a procedure search /?q=…, anyone",
    "my_dossiers": "“Hồ sơ của tôi” /ho-so/, a citizen with dossiers",
    "dossier": "a dossier /ho-so/{code}/, its applicant",
    "office_queue": "the back office's queues /office/, a desk officer",
    "office_dossier": "a dossier in the back office /office/ho-so/{code}/, a desk officer of its agency",
    "dashboard": "the leaders' dashboard /dashboard/, a leader",
}
SEARCHES = ["khai sinh", "ket hon", "dang ky kinh doanh", "giay phep xay dung", "cu tru", "dat dai", "1.001193"]
DEMO_OFFICER, DEMO_LEADER = "canbo.saigon", "lanhdao.saigon"  # hcmgov demo's people (dossiers/…/demo.py)

LUA = r"""-- GET random lines "<Cookie header>\t<path>" (bench/pages.py)
threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
local lines = {}
function init(args)
  for line in io.lines(args[1]) do
    local a = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, a - 1), line:sub(a + 1) }
  end
  math.randomseed(os.time() + tid * 7919)
end
function request()
  local t = lines[math.random(#lines)]
  local headers = { ["Accept-Encoding"] = "gzip, br", ["Accept"] = "text/html" }
  if t[1] ~= "-" then headers["Cookie"] = t[1] end
  return wrk.format("GET", t[2], headers)
end
expected = 200
dofile("BENCH_DIR" .. "report.lua")
"""


# --- inside Django: who asks for what ------------------------------------------------------------


def fixtures(out: Path) -> dict[str, Any]:
    """Sessions for a citizen with dossiers, a desk officer and a leader of the demo city (made as a
    login makes them, the second factor marked done for the officials), and the paths of each page
    type, written as wrk's line files ``pages-<type>.txt``."""
    import django

    django.setup()
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from hcmgov.catalog import selectors as catalog
    from hcmgov.dossiers.models import CLOSED, Dossier
    from hcmgov.identity.models import RoleAssignment, User

    def cookie(user: Any) -> str:
        client = Client()
        client.force_login(user)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is not None:
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    busiest = Dossier.objects.values("applicant").annotate(n=Count("id")).order_by("-n").first()
    if busiest is None:
        sys.exit("no dossier in the database: run `hcmgov demo` first")
    citizen = User.objects.get(pk=busiest["applicant"])
    officer = User.objects.get(username=DEMO_OFFICER)
    leader = User.objects.get(username=DEMO_LEADER)
    agencies = RoleAssignment.objects.filter(user=officer).values_list("agency_id", flat=True)
    office_codes = list(
        Dossier.objects.filter(agency_id__in=agencies).exclude(status__in=CLOSED).values_list("code", flat=True)[:50]
    )
    own_codes = list(Dossier.objects.filter(applicant=citizen).values_list("code", flat=True)[:50])
    procedures = [p.code for p in catalog.procedure_search(q="", field="", level="", agency_kind="")[:20]]
    c_citizen, c_officer, c_leader = cookie(citizen), cookie(officer), cookie(leader)
    lines = {
        "home": [("-", "/")],
        "procedure": [("-", f"/thu-tuc/{code}/") for code in procedures],
        "search": [("-", "/?" + "q=" + q.replace(" ", "+")) for q in SEARCHES],
        "my_dossiers": [(c_citizen, "/ho-so/")],
        "dossier": [(c_citizen, f"/ho-so/{code}/") for code in own_codes],
        "office_queue": [(c_officer, "/office/")],
        "office_dossier": [(c_officer, f"/office/ho-so/{code}/") for code in office_codes],
        "dashboard": [(c_leader, "/dashboard/")],
    }
    for name, rows in lines.items():
        if not rows:
            sys.exit(f"no path for {name}: is the demo city loaded?")
        (out / f"pages-{name}.txt").write_text("".join(f"{c}\t{p}\n" for c, p in rows))
    return {
        "citizen_dossiers": busiest["n"],
        "office_dossiers_sampled": len(office_codes),
        "own_dossiers_sampled": len(own_codes),
        "procedures_sampled": len(procedures),
        "dossiers_in_database": Dossier.objects.count(),
        "paths": {name: len(rows) for name, rows in lines.items()},
    }


# --- over HTTP: one page and what it references --------------------------------------------------


def _get(base: str, path: str, cookie: str = "") -> tuple[int, dict[str, str], bytes, int]:
    """GET as a browser does (compressed if the server will): status, headers, the decoded body, and
    the bytes on the wire (status line, headers and the body as sent)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Accept-Encoding": "gzip, br", "User-Agent": "hcmgov-bench-pages"}
    if cookie and cookie != "-":
        headers["Cookie"] = cookie
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    head = {k.lower(): v for k, v in response.getheaders()}
    wire = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + sum(
        len(k) + len(v) + 4 for k, v in response.getheaders()
    )
    conn.close()
    encoding = head.get("content-encoding", "")
    body = raw
    if encoding == "gzip":
        body = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    elif encoding == "br":
        import brotli  # whitenoise serves .br only where brotli made them

        body = brotli.decompress(raw)
    return response.status, head, body, wire + 2 + len(raw)


HTML_REFS = re.compile(r"<(?:link[^>]+href|script[^>]+src|img[^>]+src|source[^>]+srcset)=\"([^\"]+)\"", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
CSS_IMPORT = re.compile(r"@import\s+['\"]([^'\"]+)['\"]")


def _css_refs(text: str) -> list[str]:
    """What a style sheet makes the browser fetch: its imports, and of each ``src`` list of an
    @font-face its first file (WOFF2, which every browser we serve takes before WOFF)."""
    refs = CSS_IMPORT.findall(text)
    for block in re.findall(r"@font-face\s*{([^}]*)}", text):
        src = re.search(r"src\s*:([^;]+)", block)
        first = CSS_URL.search(src.group(1)) if src else None
        if first:
            refs.append(first.group(1))
    rest = re.sub(r"@font-face\s*{[^}]*}", "", text)
    refs += [u for u in CSS_URL.findall(rest) if not u.startswith("data:")]
    return refs


def page_weight(base: str, path: str) -> dict[str, Any]:
    """A page and everything it references, fetched once each, with the bytes each took."""
    status, head, body, wire = _get(base, path)
    if status != 200:
        raise RuntimeError(f"{path}: {status}")
    files: list[dict[str, Any]] = [
        {"url": path, "bytes": wire, "type": head.get("content-type", ""), "encoding": head.get("content-encoding", "")}
    ]
    html = body.decode("utf-8", "replace")
    queue = [urljoin(path, u) for u in HTML_REFS.findall(html)]
    seen = {path}
    while queue:
        url = queue.pop(0)
        if url in seen or not url.startswith("/"):  # off-site: the pages fetch nothing from outside
            continue
        seen.add(url)
        status, head, body, wire = _get(base, url)
        ctype = head.get("content-type", "")
        files.append(
            {"url": url, "bytes": wire, "status": status, "type": ctype, "encoding": head.get("content-encoding", "")}
        )
        if status == 200 and "css" in ctype:
            queue += [urljoin(url, u) for u in _css_refs(body.decode("utf-8", "replace"))]
    by_kind: dict[str, int] = {}
    for f in files:
        kind = "html" if f is files[0] else _kind(f["url"], f["type"])
        by_kind[kind] = by_kind.get(kind, 0) + f["bytes"]
    total = sum(f["bytes"] for f in files)
    return {
        "path": path,
        "total_bytes": total,
        "by_kind_bytes": by_kind,
        "files": files,
        "html_compressed": bool(files[0]["encoding"]),
        "meets_target": total < PROCEDURE_PAGE_BYTES,
        "target_bytes": PROCEDURE_PAGE_BYTES,
    }


def _kind(url: str, ctype: str) -> str:
    if "css" in ctype:
        return "css"
    if "javascript" in ctype:
        return "js"
    if "font" in ctype or url.endswith((".woff2", ".woff", ".ttf")):
        return "fonts"
    if "image" in ctype:
        return "images"
    return "other"


# --- the run -------------------------------------------------------------------------------------


def check_paths(server: run.Server, name: str) -> None:
    """Every line of a page type answers 200 before it is measured (not a redirect to the login)."""
    for line in (run.WORK / f"pages-{name}.txt").read_text().splitlines():
        cookie, path = line.split("\t", 1)
        status, _, _, _ = _get(server.url, path, cookie)
        if status != 200:
            sys.exit(f"{name}: GET {path} answered {status}, not 200")


def measure(server: run.Server, args: argparse.Namespace, name: str) -> dict[str, Any]:
    lines = str(run.WORK / f"pages-{name}.txt")
    run.wrk(server.url, script=args.lua, script_args=[lines], connections=args.connections, duration=2, threads=1)
    raw, cpu = run.run_wrk_measured(
        server, script=args.lua, script_args=[lines], connections=args.connections, duration=args.duration, threads=1
    )
    result = run.summarise(raw, "200", args.connections, cpu)
    result["page"] = PAGES[name]
    result["target"] = {"p95_ms": P95_MS}
    result["meets_target"] = result["errors"] == 0 and result["p95_ms"] < P95_MS
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3-second runs (a smoke test: numbers are rough)")
    parser.add_argument("--duration", type=int, default=15, help="seconds measured per page type")
    parser.add_argument("--connections", type=int, default=4, help="wrk's connections (people at once)")
    parser.add_argument("--only", help="comma-separated page types (default: all): " + ", ".join(PAGES))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--blocking-threads", type=int, default=int(os.environ.get("THREADS", "2")), help="granian's (make serve: 2)"
    )
    parser.add_argument(
        "--port",
        type=int,
        help="serve on this loopback port (the calibration's server too, before it); default: a free one",
    )
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy of the workers in one more run (not counted) of each page type that missed (auto), each, none",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument(
        "--out",
        type=Path,
        help="write the JSON here (and the report beside it, .md) instead of bench/results/pages.json: "
        "for a run on a busy machine, whose numbers are not the record",
    )
    parser.add_argument("--fixtures", type=Path, help=argparse.SUPPRESS)  # internal: run inside Django
    args = parser.parse_args()
    if args.fixtures:
        print(json.dumps(fixtures(args.fixtures)))
        return
    if args.quick:
        args.duration = 3
    names = [n.strip() for n in args.only.split(",")] if args.only else list(PAGES)
    unknown = set(names) - set(PAGES)
    if unknown:
        sys.exit(f"unknown page types: {', '.join(sorted(unknown))}")

    if args.port:  # the calibration's server on this port, ours on the next
        ports = iter(range(args.port, args.port + 2))
        run.free_port = lambda: next(ports)
    env, info = run.prepare(args.database_url, "pages")
    info["bench_command"] = " ".join([".venv/bin/python bench/pages.py", *sys.argv[1:]])
    if not run.db_scalar(args.database_url, "SELECT count(*) FROM dossiers_dossier"):
        run.log("loading the demo city (hcmgov demo: units, agencies, procedures, people, 3,000 dossiers)")
        info["demo_s"] = round(run.hcmgov(env, "demo", "--quiet"), 1)
    run.hcmgov(env, "collectstatic", "--noinput", "--verbosity", "0")
    info["fixtures"] = run.django_script(env, "pages.py", "--fixtures", str(run.WORK))
    lua = run.WORK / "pages.lua"
    lua.write_text(LUA.replace("BENCH_DIR", str(run.BENCH) + "/"))
    args.lua = os.path.relpath(lua, run.BENCH)  # wrk's -s is taken relative to bench/ (run.wrk)
    extra = ["--blocking-threads", str(args.blocking_threads)]
    info["server"] = {
        "command": f"granian --interface wsgi --workers {args.workers} --no-ws {' '.join(extra)} hcmgov.wsgi"
    }
    results: dict[str, Any] = {}
    server = run.Server(env, run.free_port(), args.workers, False, extra)
    with run.running(server):
        run.log(f"server up at {server.url}")
        procedure = (run.WORK / "pages-procedure.txt").read_text().splitlines()[0].split("\t", 1)[1]
        weight = page_weight(server.url, procedure)
        run.log(f"procedure page {procedure}: {weight['total_bytes']:,} bytes with its files {weight['by_kind_bytes']}")
        for name in names:
            check_paths(server, name)
            r = results[name] = measure(server, args, name)
            if args.profile == "always" or (args.profile == "auto" and not r["meets_target"]):
                run.log(f"{name}: profiling (one more run, not counted)")
                profile = run.profile_run(server, args.duration, lambda n=name: measure(server, args, n))  # type: ignore[misc]
                profiled = profile.pop("run")
                profile["run"] = {k: profiled[k] for k in ("throughput_per_s", "p50_ms", "p95_ms", "p99_ms", "errors")}
                r["profile"] = profile
            run.log(f"{name}: {r['throughput_per_s']}/s p50 {r['p50_ms']} ms p95 {r['p95_ms']} ms errors {r['errors']}")
    out = args.out or run.RESULTS / "pages.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"name": "pages", **info, "results": results, "procedure_page_weight": weight}
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(report(info, results, weight))
    run.log(f"written {out} and {out.with_suffix('.md')}")


def report(info: dict[str, Any], results: dict[str, Any], weight: dict[str, Any]) -> str:
    m = info["machine"]
    lines = [
        "# Page speed of the server-rendered pages (issue 14, item 4)",
        "",
        f"Run {info['date']} with `{info['bench_command']}` on {m['nproc']} cores ({m['cpu_model']}), "
        f"PostgreSQL {m['postgresql']}, commit {m['git_commit']}. Calibration (bare Django hello on granian): "
        f"{info['calibration']['hello_req_per_s']:,} req/s (MEASUREMENTS.md: 11,100). "
        f"Server ({info['server']['command']}), "
        "PostgreSQL and wrk share the machine's cores. Demo data: " + json.dumps(info["fixtures"]) + ".",
        "",
        f"Target: p95 < {P95_MS} ms for each page type; "
        f"a procedure page with its files < {PROCEDURE_PAGE_BYTES:,} bytes.",
        "",
        "| page type | who, what | connections | requests/s | p50 ms | p95 ms | p99 ms | errors | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['page']} | {r['connections']} | {r['throughput_per_s']:,} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['errors']} | {'yes' if r['meets_target'] else '**no**'} |"
        )
    kinds = ", ".join(f"{k} {v:,}" for k, v in weight["by_kind_bytes"].items())
    lines += [
        "",
        f"Procedure page `{weight['path']}` with everything it references: **{weight['total_bytes']:,} bytes** "
        f"on the wire ({kinds}; HTML {'compressed' if weight['html_compressed'] else 'not compressed'}) — "
        f"target < {PROCEDURE_PAGE_BYTES:,}: {'met' if weight['meets_target'] else '**not met**'}. Fonts are counted "
        "for every subset the style sheets declare (an upper bound: a browser fetches the subsets the text uses).",
        "",
        "| file | type | encoding | bytes |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{f['url']}` | {f['type']} | {f['encoding'] or '—'} | {f['bytes']:,} |" for f in weight["files"]]
    profiled = {n: r["profile"] for n, r in results.items() if "profile" in r}
    if profiled:
        lines += ["", "Where the time goes (py-spy, share of the workers' Python CPU time, hcmgov frames):", ""]
        for name, p in profiled.items():
            top = "; ".join(f"{pct} % {frame}" for pct, frame in p["hcmgov_inclusive_top"][:6])
            lines.append(f"- {name}: {top}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
