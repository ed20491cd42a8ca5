"""What the soak's users need, made inside Django (``bench/soak/run.py`` runs this file as a
subprocess with the soak's environment) and written as one JSON file for the locustfile:

- ``citizens``: API tokens of citizen accounts, and ``submissions``: request bodies for
  ``POST /api/v1/dossiers`` (real procedures of the demo catalogue, valid form data, a small real
  PDF for each required document, an agency that handles the procedure today), as
  ``bench/fixtures.py`` builds them for the submission benchmark;
- ``officials``: per agency the bodies above go to (and the demo's busiest), the token of an
  official holding the five processing roles there (``bench/processing_fixtures.py``'s team);
- ``clients``: a machine client of the API (OAuth2 client credentials, ``hcmgov.api``), and the
  open-data resources with a datastore table and a few search words;
- ``devices``: IoT stations registered with their HTTP Basic password, and ``ngsi``: an
  official's token and NGSI-LD entities (air sensors) to PATCH.

Each run issues fresh tokens (the raw value is only known at issue); the devices and entities are
created once and their passwords reset.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))

import fixtures as submit_fixtures  # noqa: E402 - bench/fixtures.py: sets Django up on import
import processing_fixtures  # noqa: E402 - bench/processing_fixtures.py
from django.utils import timezone  # noqa: E402

from hcmgov.catalog import selectors as catalog  # noqa: E402
from hcmgov.common import jsonform  # noqa: E402
from hcmgov.common.context import Actor, acting_as  # noqa: E402
from hcmgov.core import selectors as core  # noqa: E402
from hcmgov.identity import services as identity  # noqa: E402
from hcmgov.identity.models import ApiToken  # noqa: E402
from hcmgov.identity.provider import services as provider  # noqa: E402
from hcmgov.iot import services as iot  # noqa: E402
from hcmgov.iot.models import Device  # noqa: E402
from hcmgov.ngsi import jsonld  # noqa: E402
from hcmgov.ngsi import services as ngsi  # noqa: E402
from hcmgov.ngsi.models import Entity  # noqa: E402
from hcmgov.opendata.models import Resource  # noqa: E402

TOKEN_NAME = "soak"  # noqa: S105 - the tokens' name, not a secret
DEVICE_PREFIX = "SOAK-AQ-"
ENTITY_PREFIX = "urn:ngsi-ld:AirQualityObserved:soak-"
SEARCH_WORDS = ["dân cư", "hồ sơ", "không khí", "thủ tục", "giao thông", "population", "dossier", ""]


def submissions(*, bodies: int, seed: int) -> tuple[list[dict[str, Any]], set[int]]:
    """Request bodies for ``POST /api/v1/dossiers``: a third of the procedures, each with a few
    valid forms, sent to at most three agencies each (so that the officials' queues fill)."""
    today = timezone.localdate()
    rng = random.Random(seed)
    agencies = list(core.agency_list(day=today))
    plans = []
    for p in catalog.procedure_search():
        version = catalog.procedure_version_in_force(procedure=p, day=today)
        pool = [a for a in agencies if submit_fixtures.agency_fits(p, a, today)]
        form = jsonform.sample_valid(version.form_schema, rng, tries=50)
        if not pool or form is None:
            continue
        attachments = [
            {
                "requirement": d["code"],
                "filename": f"{d['code'].lower()}.pdf",
                "content_base64": base64.b64encode(submit_fixtures.small_pdf(f"{p.code} {d['code']}")).decode(),
            }
            for d in version.required_documents
            if d.get("kind") != "present" and d.get("required", True)
        ]
        plans.append((p, rng.sample(pool, min(3, len(pool))), form, attachments))
    if not plans:
        sys.exit("no procedure with an agency and a valid form: is the demo city loaded (hcmgov demo)?")
    rng.shuffle(plans)
    plans = plans[: max(5, len(plans) // 3)]
    out, used = [], set()
    for _ in range(bodies):
        p, pool, form, attachments = rng.choice(plans)
        agency = rng.choice(pool)
        used.add(agency.pk)
        out.append({"procedure": p.code, "agency": agency.code, "form": form, "attachments": attachments})
    return out, used


def citizen_tokens(count: int) -> list[str]:
    users = submit_fixtures.ensure_applicants(count)
    ApiToken.objects.filter(name=TOKEN_NAME, user__in=users).update(revoked=True)
    with acting_as(Actor.system("bench")):
        return [identity.api_token_issue(user=u, name=TOKEN_NAME).raw for u in users]  # type: ignore[attr-defined]


def official_tokens(agency_ids: set[int]) -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as c:  # the demo agencies with the most open desk steps: work to do at once
        c.execute(
            "SELECT agency_id FROM dossiers_dossierstep WHERE state = 'open' AND role = 'receiver'"
            " GROUP BY agency_id ORDER BY count(*) DESC LIMIT 4"
        )
        busiest = {row[0] for row in c.fetchall()}
    users = {a: processing_fixtures.official(a) for a in sorted(agency_ids | busiest)}
    ApiToken.objects.filter(name=TOKEN_NAME, user__in=list(users.values())).update(revoked=True)
    with acting_as(Actor.system("bench")):
        return [
            {"agency_id": a, "token": identity.api_token_issue(user=u, name=TOKEN_NAME).raw}  # type: ignore[attr-defined]
            for a, u in users.items()
        ]


def api_client() -> dict[str, Any]:
    agency = core.agency_list(day=timezone.localdate()).first()
    with acting_as(Actor.system("bench")):
        app = provider.machine_client_register(name=f"soak client {timezone.now():%Y%m%d%H%M%S}", agency_id=agency.pk)
    resources = [str(r) for r in Resource.objects.filter(datastore_active=True).values_list("id", flat=True)[:20]]
    return {"client_id": app.client_id, "client_secret": app.raw_secret, "resources": resources, "words": SEARCH_WORDS}


def devices(count: int) -> list[dict[str, str]]:
    out = []
    with acting_as(Actor.system("bench")):
        for i in range(count):
            code = f"{DEVICE_PREFIX}{i:03d}"
            device = Device.objects.filter(code=code).first()
            if device is None:
                device, _ = iot.device_register(
                    code=code, kind="air-quality", name=f"Trạm đo tải {i}", name_en=f"Soak station {i}",
                    latitude=10.70 + i * 0.002, longitude=106.62 + i * 0.002,
                )  # fmt: skip
            out.append({"code": code, "password": iot.device_credentials_reset(device=device)})
    return out


def ngsi_fixtures(count: int) -> dict[str, Any]:
    ctx = jsonld.context_for(None)
    existing = set(Entity.objects.filter(entity_id__startswith=ENTITY_PREFIX).values_list("entity_id", flat=True))
    ids = []
    for i in range(count):
        entity_id = f"{ENTITY_PREFIX}{i:03d}"
        ids.append(entity_id)
        if entity_id in existing:
            continue
        ngsi.entity_create(
            body={
                "id": entity_id,
                "type": "AirQualityObserved",
                "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [106.7, 10.78]}},
                "pm25": {"type": "Property", "value": 20, "unitCode": "GQ"},
                "temperature": {"type": "Property", "value": 28, "unitCode": "CEL"},
            },
            ctx=ctx,
        )
    user = processing_fixtures.official(core.agency_list(day=timezone.localdate()).first().pk)
    with acting_as(Actor.system("bench")):
        token = identity.api_token_issue(user=user, name=f"{TOKEN_NAME}-ngsi").raw  # type: ignore[attr-defined]
    return {"token": token, "entities": ids}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--bodies", type=int, default=400)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    bodies, agencies = submissions(bodies=args.bodies, seed=args.seed)
    data = {
        "citizens": citizen_tokens(args.citizens),
        "submissions": bodies,
        "officials": official_tokens(agencies),
        "client": api_client(),
        "devices": devices(args.devices),
        "ngsi": ngsi_fixtures(args.devices),
    }
    args.out.write_text(json.dumps(data, ensure_ascii=False))
    print(
        json.dumps(
            {
                "citizens": len(data["citizens"]),
                "submission_bodies": len(bodies),
                "procedures": len({b["procedure"] for b in bodies}),
                "agencies": len(agencies),
                "officials": len(data["officials"]),
                "datastore_resources": len(data["client"]["resources"]),
                "devices": len(data["devices"]),
                "ngsi_entities": len(data["ngsi"]["entities"]),
            }
        )
    )


if __name__ == "__main__":
    main()
