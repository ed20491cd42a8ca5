"""Two clerks issuing at the same moment take consecutive numbers: the register's row lock
serialises them (PostgreSQL; SQLite writes one transaction at a time anyway)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from hcmgov.office import services
from hcmgov.office.tests.test_documents import NOW, approved

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: PostgreSQL")
def test_two_clerks_issuing_at_once_take_consecutive_numbers(city, certificate, no_tsa, signable_pdf):
    signed = []
    for _ in range(4):
        document = approved(city, signable_pdf)
        services.document_sign(document=document, signer=city.signer, version=document.versions.get(), now=NOW)
        signed.append(document)
    start = threading.Barrier(len(signed))
    numbers: list[int] = []
    errors: list[BaseException] = []

    def issue(document) -> None:
        try:
            start.wait()
            numbers.append(services.document_issue(document=document, clerk=city.clerk, now=NOW).number)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(d,)) for d in signed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(numbers) == [1, 2, 3, 4]
