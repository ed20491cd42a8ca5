"""Fixtures of the electronic office's tests: agencies at the three levels, each with its officials
(drafter, reviewer, signer, clerk), a demo signing certificate (the documents tests' PKI fixtures),
PDFs to sign, and a subscriber's callback on loopback for the exchange."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from hcmgov.core.models import UnitLevel
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.documents import pki
from hcmgov.documents.tests.signing_fixtures import no_tsa, pki_folder  # noqa: F401 - fixtures
from hcmgov.exchange.tests.subscriber_support import Subscriber
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory


@dataclass
class Staff:
    agency: Any
    drafter: Any
    reviewer: Any
    signer: Any
    clerk: Any


def staff_of(agency: Any) -> Staff:
    people = {}
    for name, role in (("drafter", "specialist"), ("reviewer", "head"), ("signer", "leader"), ("clerk", "clerk")):
        user = UserFactory(official=True)
        RoleAssignmentFactory(user=user, agency=agency, role=role)
        people[name] = user
    return Staff(agency=agency, **people)


@pytest.fixture
def city(db) -> Staff:
    agency = AgencyFactory(code="000.00.01.H29", name="Sở Nội vụ", kind="department", level=UnitLevel.CITY, unit=None)
    return staff_of(agency)


@pytest.fixture
def ward(db) -> Staff:
    return staff_of(AgencyFactory(name="Ủy ban nhân dân Phường Bến Thành", level=UnitLevel.COMMUNE))


@pytest.fixture
def district(db) -> Staff:
    return staff_of(
        AgencyFactory(name="Ủy ban nhân dân Thành phố Thủ Đức", kind="district_pc", level=UnitLevel.DISTRICT)
    )


@pytest.fixture
def certificate(pki_folder, city):  # noqa: F811 - a fixture of the documents tests
    # in force since hours ago: the tests sign and issue "now" as their module's import saw it
    # (test_documents.NOW), which can be minutes before this fixture runs in a long parallel run
    return pki.certificate_issue_demo(agency_id=city.agency.pk, now=timezone.now() - dt.timedelta(hours=6))


@pytest.fixture(scope="session")
def signable_pdf() -> bytes:
    """A real PDF as drafts are (rendered by WeasyPrint, fonts embedded)."""
    from weasyprint import HTML

    return HTML(string="<h1>QUYẾT ĐỊNH</h1><p>Về việc thử nghiệm văn phòng điện tử.</p>").write_pdf()


@pytest.fixture
def subscribers() -> Iterator[list[Subscriber]]:
    made = [Subscriber(path="/van-ban-den", status=202), Subscriber(path="/van-ban-den", status=202)]
    yield made
    for hook in made:
        with contextlib.suppress(OSError):
            hook.stop()
