# ruff: noqa: F811 - the fixtures imported from signing_fixtures are parameters of the tests
"""The demo's desk scans and certification book (``documents.demo``): made once, from the paper
dossiers and the desk officials there are, and giving indicators 4.2 and 4.3 something to count."""

from __future__ import annotations

import pytest

from hcmgov.documents import demo, selectors
from hcmgov.documents.models import Certification, Component
from hcmgov.documents.tests.signing_fixtures import no_tsa, pki_folder  # noqa: F401 - fixtures
from hcmgov.dossiers.models import Channel, DossierDocument, DossierStep
from hcmgov.dossiers.services import dossier_act
from hcmgov.identity.tests.factories import RoleAssignmentFactory

pytestmark = pytest.mark.django_db


def test_the_demo_scans_paper_dossiers_and_fills_the_book_once(submit, agency, pki_folder, no_tsa):
    assert agency.kind == "commune_pc"
    receiver = RoleAssignmentFactory(agency=agency, role="receiver").user
    made = []
    for key in ("p1", "p2", "p3"):
        dossier, _ = submit(idempotency_key=key, channel=Channel.IN_PERSON)
        step = DossierStep.objects.get(dossier=dossier, state="open")
        dossier_act(dossier=dossier, official=receiver, step_id=step.pk, action="receive")
        DossierDocument.objects.filter(dossier=dossier).delete()
        made.append(dossier.code)
    counts = demo.desk_demo_load(seed=1, months=2, per_month=3)
    assert counts["scans"] >= 1
    assert counts["certifications"] == Certification.objects.count() > 0
    assert {c.source_dossier_code for c in Component.objects.filter(text="demo")} <= set(made)
    facts = selectors.warehouse_components_digitised(codes=made)
    assert sum(facts.values()) == Component.objects.filter(text="demo").count()  # one component each here
    books: dict[tuple[int, int], list[int]] = {}
    for agency_id, year, number in Certification.objects.values_list("agency_id", "year", "number"):
        books.setdefault((agency_id, year), []).append(number)
    assert all(sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in books.values())
    assert Certification.objects.filter(kind="electronic").exclude(signed=None).exists()
    assert demo.desk_demo_load(seed=1, months=2, per_month=3) == {"scans": 0, "certifications": 0}
