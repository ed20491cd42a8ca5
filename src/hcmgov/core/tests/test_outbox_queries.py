"""The queries of the outbox's delivery of dossiers' status events are pinned per batch, not per
event (issue 8: status sync keeps up with 200 changes/s): every handler of the hot topics
(notifications, the portal's record, the declared facts, payment orders, channels) reads and
writes for a whole claimed batch at once, so a batch of many dossiers costs the queries of a batch
of few. Each dossier has its own applicant, as in life (the declared facts are per applicant)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hcmgov.core import services
from hcmgov.core.models import OutboxEvent
from hcmgov.dossiers.services import dossier_receive
from hcmgov.exchange import events
from hcmgov.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def free(version, settings):
    """A free procedure (a fee makes one payment order per dossier: rows of their own, out of
    scope here), the portal connector on (its record makes no call: sending is another task)."""
    version.fees = []
    version.save(update_fields=["fees"])
    settings.HCMGOV_PORTAL_URL = "http://portal.invalid"


def delivery_queries(count: int, submit, receiver) -> list[str]:
    """Submit and receive ``count`` dossiers of as many applicants; the SQL of delivering their
    events (one claimed batch)."""
    made = [submit(applicant=UserFactory())[0] for _ in range(count)]
    for dossier in made:
        dossier_receive(dossier=dossier, official=receiver)
    pending = OutboxEvent.objects.filter(delivered_at__isnull=True).count()
    assert pending >= 2 * count
    events.channels_forget()  # each round reads the channels once, as a worker does now and then
    with CaptureQueriesContext(connection) as ctx:
        assert services.outbox_deliver(batch=1000) == pending
    return [q["sql"] for q in ctx.captured_queries]


def test_the_queries_of_a_batch_do_not_grow_with_the_number_of_dossiers(free, submit, receiver):
    delivery_queries(1, submit, receiver)  # first-time work (registries synced…) out of the way
    few = delivery_queries(2, submit, receiver)
    many = delivery_queries(8, submit, receiver)
    assert len(many) == len(few), "\n".join(many)
    # pinned: the claim, the savepoint and the batch's UPDATE; per handler a read or two and a write
    assert len(few) == 24, "\n".join(few)
