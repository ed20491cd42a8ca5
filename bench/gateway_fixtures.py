"""Fixtures of the gateway benchmark, run inside Django with the bench environment
(``bench/gateway.py`` calls it): the registry a department and a consumer need, through the
exchange's services, and a client-credentials token from the city's OpenID provider's token
endpoint (the real one, through Django's test client).

    .venv/bin/python bench/gateway_fixtures.py --light URL --tracking URL

Prints one JSON line: the token, the client id, the services' paths."""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

from hcmgov.core import selectors as core  # noqa: E402
from hcmgov.exchange import services  # noqa: E402
from hcmgov.identity.provider import services as provider  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--light", required=True, help="the bare record service's base URL")
    parser.add_argument("--tracking", required=True, help="the platform's web server (tracking API) base URL")
    args = parser.parse_args()
    agency = core.agency_list().first()
    app = provider.machine_client_register(name="Bench: hệ thống một cửa", agency_id=agency.pk)
    department = services.member_register(code="BENCH.SO-TNMT", name="Sở TN&MT (bench)", name_en="DONRE (bench)")
    city = services.member_register(code="BENCH.UBND-Q1", name="UBND Quận 1 (bench)", name_en="District 1 (bench)")
    land = services.system_connect(member=department, code="dat-dai", name="CSDL đất đai", name_en="Land DB")
    portal = services.system_connect(member=city, code="cong-dvc", name="Cổng dịch vụ công", name_en="Portal")
    consumer = services.system_connect(
        member=city,
        code="mot-cua",
        name="Một cửa điện tử",
        name_en="One-stop",
        client_id=app.client_id,
        rate_per_second=1_000_000,
        burst=1_000_000,
    )
    light = services.service_publish(
        system=land, code="thua-dat", name="Tra cứu thửa đất", name_en="Land parcels", upstream_url=args.light
    )
    tracking = services.service_publish(
        system=portal,
        code="tra-cuu-ho-so",
        name="Tra cứu hồ sơ",
        name_en="Dossier tracking",
        upstream_url=args.tracking.rstrip("/") + "/api/v1/tracking",
    )
    services.right_grant(service=light, consumer=consumer, methods="GET", path_prefix="/records")
    services.right_grant(service=tracking, consumer=consumer, methods="GET")
    answer = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "hcmgov.exchange"},
        HTTP_AUTHORIZATION="Basic "
        + __import__("base64").b64encode(f"{app.client_id}:{app.raw_secret}".encode()).decode(),
    )
    if answer.status_code != 200:
        raise SystemExit(f"token endpoint: {answer.status_code} {answer.content[:400]!r}")
    print(
        json.dumps(
            {
                "token": answer.json()["access_token"],
                "client_id": app.client_id,
                "services": {
                    "light": "BENCH.SO-TNMT/dat-dai/thua-dat",
                    "tracking": "BENCH.UBND-Q1/cong-dvc/tra-cuu-ho-so",
                },
            }
        )
    )


if __name__ == "__main__":
    main()
