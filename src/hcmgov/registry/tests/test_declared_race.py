"""Two outbox drains keeping the same applicant's declared record at once (two batches holding
dossiers of one person), on PostgreSQL: the second waits for the first and adds its version on
top; neither fails. Found by ``make bench``: a unique violation (both inserted the new record)
or a deadlock failed a batch of 200 events, which the outbox then delivered one at a time."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from hcmgov.registry import declared, services
from hcmgov.registry import registries as decl
from hcmgov.registry.models import Record, RecordVersion

pytestmark = pytest.mark.django_db(transaction=True)


def _dossier(code: str) -> SimpleNamespace:
    person = SimpleNamespace(pk=1, personal_id="079123456789", tax_code="")
    return SimpleNamespace(applicant=person, code=code)


def test_two_drains_keeping_one_new_record_at_once_both_land_one_after_the_other():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: one drain at a time (no row locks)")
    registry = services._registry(decl.DECLARED)
    first_written = threading.Event()
    errors: list[BaseException] = []

    def keep(code: str, phone: str, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                declared._keep_declared([(_dossier(code), {"phone": phone})], registry, timezone.now())
                if hold:  # the record inserted, not yet committed: the other drain comes now
                    first_written.set()
                    time.sleep(0.5)
        except BaseException as exc:  # the test reports it
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=keep, args=("HS-1", "0903000001"), kwargs={"hold": True})
    first.start()
    assert first_written.wait(10)
    second = threading.Thread(target=keep, args=("HS-2", "0903000002"), kwargs={"hold": False})
    second.start()
    first.join()
    second.join()
    assert errors == []
    record = Record.objects.get(registry=registry, key_index=services.key_index("079123456789"))
    assert record.version == 2
    assert record.facts == {"phone": "0903000002"}
    assert record.source_ref == "HS-2"
    versions = RecordVersion.objects.filter(record=record).order_by("version")
    assert [(v.version, v.source_ref) for v in versions] == [(1, "HS-1"), (2, "HS-2")]
