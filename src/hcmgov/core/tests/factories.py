"""Factories of the core app (also used by ``hcmgov demo``)."""

from __future__ import annotations

import datetime as dt

import factory

from hcmgov.core.models import AdminUnit, Agency, AgencyKind, Structure, UnitLevel, UnitType


class StructureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Structure
        django_get_or_create = ("key",)

    key = "2025"
    name = "TP. Hồ Chí Minh từ 01/7/2025"
    legal_basis = "Nghị quyết 1685/NQ-UBTVQH15"
    valid_from = dt.date(2025, 7, 1)
    valid_to = None


class AdminUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdminUnit

    structure = factory.SubFactory(StructureFactory)
    code = factory.Sequence(lambda n: f"9{n:04d}")
    name = factory.Sequence(lambda n: f"Phường Thử {n}")
    name_en = factory.Sequence(lambda n: f"Test Ward {n}")
    type = UnitType.WARD
    level = UnitLevel.COMMUNE
    valid_from = factory.SelfAttribute("structure.valid_from")
    valid_to = factory.SelfAttribute("structure.valid_to")


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    code = factory.Sequence(lambda n: f"{n:03d}.99.99.H29")
    name = factory.LazyAttribute(lambda o: f"Ủy ban nhân dân {o.unit.name}" if o.unit else "Cơ quan thử")
    name_en = factory.LazyAttribute(lambda o: f"People's Committee of {o.unit.name_en}" if o.unit else "Test agency")
    kind = AgencyKind.COMMUNE_PC
    level = UnitLevel.COMMUNE
    unit = factory.SubFactory(AdminUnitFactory)
    valid_from = dt.date(2021, 1, 1)
    valid_to = None
