"""Acceptance (issue 11): an NGSI-LD client library works against the API. The library is
ngsildclient (Orange's, the one the issue names), in a virtualenv of its own (``make install``
builds ``.venv-ngsildclient`` from ``ngsildclient.requirements.txt`` beside this file, hashes
pinned) because its pins conflict with the project's lock: httpx < 0.24, rich < 13, aiofiles < 0.9.
``ngsildclient_drive.py`` runs in that interpreter against the live server over HTTP, with a bearer
token. Nothing is fetched at test time; without the virtualenv (`make install` builds it) the test fails."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from hcmgov.identity.services import api_token_issue
from hcmgov.identity.tests.factories import UserFactory

PYTHON = Path(os.environ.get("HCMGOV_NGSILDCLIENT_PYTHON", settings.ROOT_DIR / ".venv-ngsildclient/bin/python"))
SCRIPT = Path(__file__).with_name("ngsildclient_drive.py")

pytestmark = pytest.mark.django_db(transaction=True)


def test_ngsildclient_creates_reads_queries_updates_and_deletes(live_server):
    # not skipped when it is missing: `make install` builds it, and a suite that silently lost this
    # test would no longer show that a client library works against the broker
    assert PYTHON.exists(), f"no ngsildclient virtualenv at {PYTHON}: run `make install`"
    token = api_token_issue(user=UserFactory(official=True), name="ngsildclient").raw
    where = urlsplit(live_server.url)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NGSI_HOST": where.hostname or "localhost",
        "NGSI_PORT": str(where.port),
        "NGSI_TOKEN": token,
        "NO_PROXY": "*",
    }
    done = subprocess.run(  # noqa: S603 - our script, the pinned interpreter
        [str(PYTHON), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "created": True,
        "id": "urn:ngsi-ld:AirQualityObserved:HCMC:q1-001",
        "pm25": 35.2,
        "location": [106.7009, 10.7769],
        "name": "Trạm q1-001",
        "batch_ok": True,
        "count": 3,
        "dirty": ["urn:ngsi-ld:AirQualityObserved:HCMC:q1-001", "urn:ngsi-ld:AirQualityObserved:HCMC:q1-003"],
        "updated": True,
        "pm25_after": 40.0,
        "deleted": True,
        "exists_after": False,
    }
