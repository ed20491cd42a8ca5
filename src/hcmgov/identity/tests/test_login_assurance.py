"""A national e-ID login records the assurance level the provider vouched for (``acr``) in the
session, and the transactions of that session carry it (the provider is the simulator, over HTTP)."""

from __future__ import annotations

import pytest
from django.test import Client

from hcmgov.audit.models import AuditEvent
from hcmgov.common import context
from hcmgov.dossiers.tests.test_api import payload  # noqa: F401 - a fixture
from hcmgov.identity.tests.test_eid import LEVEL_1, LEVEL_2, log_in, logged_in, op  # noqa: F401 - op is a fixture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("person", "level"), [(LEVEL_1, 1), (LEVEL_2, 2)])
def test_an_e_id_login_records_the_level_it_vouched_for(op, payload, person, level):  # noqa: F811
    browser = Client()
    assert log_in(browser, person).status_code == 302
    record = browser.session[context.SESSION_AUTH]
    assert (record["method"], record["level"]) == ("eid", level)
    answer = browser.post("/api/v1/dossiers", payload, content_type="application/json")
    assert answer.status_code == 201, answer.content
    event = AuditEvent.objects.get(action="dossier.submit")
    user = logged_in(browser)
    assert (event.actor_id, event.auth_method, event.assurance_level) == (user.pk, "eid", level)
    assert event.session_ref == record["ref"]
