"""Bench fixtures, run inside Django (``bench/run.py`` calls it as a subprocess with the bench env).

Writes to ``--out``:
- ``submit.txt``: one request template a line, ``<bearer token>\\t<JSON body>`` — real procedures of
  the demo catalogue, valid form data (``jsonform.sample`` + ``validate``), a small real PDF for
  each required non-"present" document, many applicants, agencies that handle the procedure today;
- ``tracking_api.txt`` / ``tracking_html.txt``: one path a line, for random existing dossiers
  (code + secret read from the database).
Prints a JSON summary on the last line of stdout.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from hcmgov.catalog import selectors as catalog  # noqa: E402
from hcmgov.common import jsonform  # noqa: E402
from hcmgov.common.context import Actor, acting_as  # noqa: E402
from hcmgov.core import selectors as core  # noqa: E402
from hcmgov.identity import selectors as identity_read  # noqa: E402
from hcmgov.identity import services as identity  # noqa: E402
from hcmgov.identity.models import ApiToken  # noqa: E402

TOKEN_NAME = "bench"  # noqa: S105 - the name of the tokens, not a secret
USER_PREFIX = "bench.congdan"


def small_pdf(title: str) -> bytes:
    """A small, well-formed one-page PDF (valid xref table), like a scanned copy's wrapper."""
    text = title.encode("ascii", "replace")[:60].replace(b"(", b"[").replace(b")", b"]")
    stream = b"BT /F1 14 Tf 72 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def agency_fits(procedure: Any, agency: Any, day: Any) -> bool:
    """Same rule as ``dossiers.services._agency_fits``: kind, department, in force on ``day``."""
    if agency.kind != procedure.agency_kind:
        return False
    if procedure.agency_department and agency.department != procedure.agency_department:
        return False
    return agency.valid_from <= day and (agency.valid_to is None or agency.valid_to >= day)


def ensure_applicants(count: int) -> list[Any]:
    existing = {
        u.username: u for u in identity_read.users_of_kind(kind="citizen") if u.username.startswith(USER_PREFIX)
    }
    rng = random.Random(7)
    users = []
    with acting_as(Actor.system("bench")):
        for i in range(1, count + 1):
            username = f"{USER_PREFIX}{i:05d}"
            user = existing.get(username)
            if user is None:
                user = identity.user_create(
                    username=username,
                    password=None,
                    kind="citizen",
                    full_name=jsonform.sample_name(rng),
                    email=f"{username}@example.vn",
                )
            users.append(user)
    return users


def issue_tokens(users: list[Any]) -> list[str]:
    """Fresh tokens for this run (the raw value is only known at issue); the previous run's are revoked."""
    ApiToken.objects.filter(name=TOKEN_NAME, user__username__startswith=USER_PREFIX).update(revoked=True)
    with acting_as(Actor.system("bench")):
        return [identity.api_token_issue(user=u, name=TOKEN_NAME).raw for u in users]  # type: ignore[attr-defined]


def submit_templates(out: Path, applicants: int, bodies: int, seed: int) -> dict[str, Any]:
    today = timezone.localdate()
    rng = random.Random(seed)
    agencies = list(core.agency_list(day=today))
    plans = []
    for p in catalog.procedure_search():
        version = catalog.procedure_version_in_force(procedure=p, day=today)
        pool = [a for a in agencies if agency_fits(p, a, today)]
        forms = []
        for _ in range(60):
            data = jsonform.sample(version.form_schema, rng)
            if not jsonform.validate(version.form_schema, data):
                forms.append(data)
            if len(forms) >= 15:
                break
        if not pool or not forms:
            print(f"skipped {p.code}: agencies={len(pool)} valid forms={len(forms)}", file=sys.stderr)
            continue
        docs = [d for d in version.required_documents if d.get("kind") != "present" and d.get("required", True)]
        attachments = [
            {
                "requirement": d["code"],
                "filename": f"{d['code'].lower()}.pdf",
                "content_base64": base64.b64encode(small_pdf(f"{p.code} {d['code']}")).decode(),
            }
            for d in docs
        ]
        plans.append((p, pool, forms, attachments))
    users = ensure_applicants(applicants)
    tokens = issue_tokens(users)
    by_kind: Counter[str] = Counter()
    agencies_used: set[str] = set()
    attachments_total = 0
    with (out / "submit.txt").open("w") as f:
        for _ in range(bodies):
            p, pool, forms, attachments = rng.choice(plans)
            agency = rng.choice(pool)
            body = {"procedure": p.code, "agency": agency.code, "form": rng.choice(forms), "attachments": attachments}
            f.write(rng.choice(tokens) + "\t" + json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
            by_kind[p.agency_kind] += 1
            agencies_used.add(agency.code)
            attachments_total += len(attachments)
    return {
        "procedures": len(plans),
        "procedure_codes": sorted(p.code for p, *_ in plans),
        "applicants": len(users),
        "agencies_in_templates": len(agencies_used),
        "agencies_by_kind_of_procedure": dict(by_kind),
        "templates": bodies,
        "attachments_per_dossier_avg": round(attachments_total / bodies, 2),
        "pdf_bytes": len(small_pdf("x" * 20)),
    }


def tracking_paths(out: Path, count: int) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'dossiers_dossier'")
        estimate = max(int(cursor.fetchone()[0]), 1)
        percent = min(100.0, 100.0 * count * 1.3 / estimate)
        cursor.execute(
            f"SELECT code, tracking_secret FROM dossiers_dossier TABLESAMPLE BERNOULLI ({percent:.4f}) LIMIT %s",  # noqa: S608
            [count],
        )
        rows = cursor.fetchall()
    random.Random(11).shuffle(rows)
    with (out / "tracking_api.txt").open("w") as api, (out / "tracking_html.txt").open("w") as html:
        for code, secret in rows:
            api.write(f"/api/v1/tracking/{quote(code)}?secret={quote(secret)}\n")
            html.write(f"/tra-cuu/?code={quote(code)}&secret={quote(secret)}\n")
    return {"tracking_codes": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--applicants", type=int, default=1000)
    parser.add_argument("--bodies", type=int, default=4000)
    parser.add_argument("--codes", type=int, default=100_000)
    parser.add_argument("--only", choices=["submit", "tracking"], default=None)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    if args.only in (None, "submit"):
        info.update(submit_templates(args.out, args.applicants, args.bodies, args.seed))
    if args.only in (None, "tracking"):
        info.update(tracking_paths(args.out, args.codes))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
