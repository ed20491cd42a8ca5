"""Factories of the electronic office (documents built straight in the database, for the checks
that must see what the services never write: imported numbers, clashes)."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.identity.tests.factories import UserFactory
from hcmgov.office.models import DocumentState, Origin, OutgoingDocument, Register, WorkRecord


class RegisterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Register

    agency = factory.SubFactory(AgencyFactory)
    direction = "out"
    year = 2026


class OutgoingDocumentFactory(factory.django.DjangoModelFactory):
    """An outgoing document; ``issued`` trait: numbered in a register (as imported from outside)."""

    class Meta:
        model = OutgoingDocument

    agency = factory.SubFactory(AgencyFactory)
    agency_abbreviation = "UBND"
    doc_type = "quyet_dinh"
    summary = factory.Sequence(lambda n: f"Về việc thử nghiệm số {n}")
    drafted_by = factory.SubFactory(UserFactory, official=True)
    created_at = factory.LazyFunction(timezone.now)

    class Params:
        issued = factory.Trait(
            state=DocumentState.ISSUED,
            origin=Origin.IMPORTED,
            register=factory.SubFactory(RegisterFactory, agency=factory.SelfAttribute("..agency")),
            number_symbol=factory.LazyAttribute(lambda o: f"{o.number:02d}/QĐ-UBND"),
            issued_on=dt.date(2026, 3, 2),
        )


class WorkRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkRecord

    agency = factory.SubFactory(AgencyFactory)
    code = factory.Sequence(lambda n: f"HS{n:03d}")
    title = factory.Sequence(lambda n: f"Hồ sơ thử {n}")
    year = 2026
    lead = factory.SubFactory(UserFactory, official=True)
    opened_at = factory.LazyFunction(timezone.now)
