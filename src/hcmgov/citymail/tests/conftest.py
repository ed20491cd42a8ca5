"""Agencies at the three levels, and their officials (names as Vietnamese officials' are written)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from hcmgov.core.models import AgencyKind, UnitLevel
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory


def official(name: str, agency: Any, role: str = "specialist", **kwargs: Any) -> Any:
    user = UserFactory(official=True, full_name=name, **kwargs)
    RoleAssignmentFactory(user=user, agency=agency, role=role)
    return user


@dataclass
class Town:
    department: Any
    district: Any
    ward: Any


@pytest.fixture
def town(db) -> Town:
    return Town(
        department=AgencyFactory(level=UnitLevel.CITY, kind=AgencyKind.DEPARTMENT, unit=None, name="Sở Thử nghiệm"),
        district=AgencyFactory(level=UnitLevel.DISTRICT, kind=AgencyKind.DISTRICT_PC),
        ward=AgencyFactory(level=UnitLevel.COMMUNE, kind=AgencyKind.COMMUNE_PC),
    )
