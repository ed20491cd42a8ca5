"""Fixtures of the processing benchmarks, run inside Django (``bench/run.py`` calls it).

Writes to ``--out``:
- ``act.txt``: one line per open step to act on, ``<bearer token>\\t<path>\\t<JSON body>``: half are
  desk receipts of freshly submitted dossiers (POST …/steps/{id}/actions {"action": "receive"}),
  half are the specialist's review of received ones ({"action": "forward"}). Each line is used
  once: a step acted on is closed. The dossiers are submitted through the real service
  (``dossier_submit``), spread over the agencies that handle each procedure.
- ``queues.txt``: ``<bearer token>\\t<path>`` lines of back-office reads by officials of the agencies
  with the most dossiers: every work queue, page 1 and deeper pages, and searches by code prefix,
  applicant name, procedure, status and date range.
Prints a JSON summary on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from hcmgov.catalog import selectors as catalog  # noqa: E402
from hcmgov.common import jsonform  # noqa: E402
from hcmgov.common.context import Actor, acting_as  # noqa: E402
from hcmgov.core import selectors as core  # noqa: E402
from hcmgov.dossiers import services  # noqa: E402
from hcmgov.dossiers.files import Attachment  # noqa: E402
from hcmgov.dossiers.models import Channel, Dossier, DossierStep  # noqa: E402
from hcmgov.identity import selectors as identity_read  # noqa: E402
from hcmgov.identity import services as identity  # noqa: E402
from hcmgov.identity.models import ApiToken, RoleAssignment  # noqa: E402
from hcmgov.payments import fees  # noqa: E402
from hcmgov.payments.models import Stage  # noqa: E402

sys_path = Path(__file__).resolve().parent
import sys  # noqa: E402

sys.path.insert(0, str(sys_path))
from fixtures import agency_fits, ensure_applicants, small_pdf  # noqa: E402

TOKEN_NAME = "bench-processing"  # noqa: S105 - a token's name
OFFICIAL = "bench.canbo"
ROLES = ("receiver", "specialist", "head", "leader", "clerk")


def official(agency_id: int) -> Any:
    """The bench team of one agency: one official holding the five processing roles there (real
    officials hold roles in one agency or a few; their queues are scoped by them)."""
    username = f"{OFFICIAL}.{agency_id}"
    user = identity_read.user_by_username(username=username)
    if user is None:
        with acting_as(Actor.system("bench")):
            user = identity.user_create(
                username=username, password=None, kind="official", full_name=f"Cán bộ đo tải {agency_id}",
                email=f"{username}@tphcm.gov.vn",
            )  # fmt: skip
    have = set(RoleAssignment.objects.filter(user=user).values_list("role", flat=True))
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(user=user, role=r, agency_id=agency_id) for r in ROLES if r not in have]
    )
    return user


def tokens(users: dict[int, Any]) -> dict[int, str]:
    ApiToken.objects.filter(name=TOKEN_NAME).update(revoked=True)
    with acting_as(Actor.system("bench")):
        return {a: str(identity.api_token_issue(user=u, name=TOKEN_NAME).raw) for a, u in users.items()}  # type: ignore[attr-defined]


def submit_many(count: int, seed: int) -> list[Dossier]:
    """Submit ``count`` dossiers through the service, round-robin over procedures and agencies."""
    rng = random.Random(seed)
    today = timezone.localdate()
    agencies = list(core.agency_list(day=today))
    plans = []
    for p in catalog.procedure_search():
        version = catalog.procedure_version_in_force(procedure=p, day=today)
        pool = [a for a in agencies if agency_fits(p, a, today)]
        form = jsonform.sample_valid(version.form_schema, rng, tries=50)
        if not pool or form is None:
            continue
        if fees.fee_stage(version.fee_stage) == Stage.SUBMISSION and fees.fees_total(
            fees.fees_compute(items=version.fees, channel=Channel.ONLINE, form_data=form, day=today)
        ):
            # a fee due before processing, as the payments handler computes it (most procedures
            # list fee lines of 0 đồng or of no known amount: nothing is charged for those): the
            # worker's payment order (an outbox reaction to the submission) holds the dossier in
            # status 6, where the desk cannot receive it
            continue
        docs = [
            Attachment(d["code"], f"{d['code'].lower()}.pdf", small_pdf(d["code"]))
            for d in version.required_documents
            if d.get("kind") != "present" and d.get("required", True)
        ]
        plans.append((p, pool, form, docs))
    if not plans:
        raise SystemExit("no procedure can be submitted and processed without a fee paid first")
    applicants = ensure_applicants(200)
    made = []
    with acting_as(Actor.system("bench")):
        for i in range(count):
            p, pool, form, docs = plans[i % len(plans)]
            dossier, _ = services.dossier_submit(
                applicant=applicants[i % len(applicants)], procedure_code=p.code, agency_code=rng.choice(pool).code,
                form_data=form, attachments=docs,
            )  # fmt: skip
            made.append(dossier)
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=20000, help="open steps to act on (each used once)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    started = time.monotonic()
    # the agencies with the most dossiers: their queues are the longest
    with connection.cursor() as c:
        c.execute("SELECT agency_id, count(*) FROM dossiers_dossier GROUP BY agency_id ORDER BY count(*) DESC LIMIT 5")
        busiest = [(a, n) for a, n in c.fetchall()]
    # procedures whose fee is due before processing are left out (submit_many): the task worker
    # beside the server would hold their dossiers in status 6 while this runs (28 Nov: a dossier the
    # worker had put on hold refused by the desk stopped make bench)
    dossiers = submit_many(args.steps, args.seed)
    users = {a: official(a) for a in {d.agency_id for d in dossiers} | {a for a, _ in busiest}}
    raw = tokens(users)
    # half of them received now, so that their specialist step is open
    with acting_as(Actor.system("bench")):
        for d in dossiers[::2]:
            services.dossier_receive(dossier=d, official=users[d.agency_id])
    lines = []
    for d in dossiers:
        step = DossierStep.objects.filter(dossier_id=d.pk, state="open").values_list("pk", "role").first()
        if step is None:
            continue
        action = "receive" if step[1] == "receiver" else "forward"
        body = json.dumps({"action": action})
        lines.append(f"{raw[d.agency_id]}\t/api/v1/dossiers/{d.code}/steps/{step[0]}/actions\t{body}")
    random.Random(args.seed).shuffle(lines)
    (args.out / "act.txt").write_text("\n".join(lines) + "\n")
    # back-office reads by the teams of the busiest agencies
    reads = []
    procedures = [p.code for p in catalog.procedure_search()]
    rng = random.Random(args.seed)
    samples = {
        a: list(Dossier.objects.filter(agency_id=a).values_list("code", "applicant_name")[:200]) for a, _ in busiest
    }
    for _ in range(2000):
        agency = rng.choice([a for a, _ in busiest])
        kind = rng.random()
        if kind < 0.5:
            queue = rng.choice(["mine", "unit", "receive", "due_today", "overdue", "supplement"])
            page = rng.choice([1, 1, 1, 2, 5])
            path = f"/api/v1/office/queues/{queue}?page={page}"
        else:
            params: dict[str, Any] = {}
            pick = rng.random()
            code, name = rng.choice(samples[agency])
            if pick < 0.25:
                params["code"] = code[: rng.choice([13, 20, 25])]
            elif pick < 0.5:
                params["applicant"] = name.split()[-1]
            elif pick < 0.75:
                params["procedure"] = rng.choice(procedures)
                params["status"] = rng.choice([2, 4, 5, 10])
            else:
                params["submitted_from"] = "2026-01-01"
                params["submitted_to"] = "2026-03-31"
                params["status"] = rng.choice([4, 10])
            path = f"/api/v1/office/search?{urlencode(params)}"
        reads.append(f"{raw[agency]}\t{path}")
    (args.out / "queues.txt").write_text("\n".join(reads) + "\n")
    print(
        json.dumps(
            {
                "act_lines": len(lines),
                "queue_reads": len(reads),
                "busiest_agencies": busiest,
                "bench_officials": len(users),
                "open_steps_total": DossierStep.objects.filter(state="open").count(),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
