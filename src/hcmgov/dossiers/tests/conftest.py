from __future__ import annotations

from typing import Any

import pytest

from hcmgov.catalog.tests.factories import ProcedureVersionFactory
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.dossiers.files import Attachment
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

VALID_FORM = {
    "full_name": "Nguyễn Văn An",
    "personal_id": "079123456789",
    "purpose": "work",
    "mother": {"full_name": "Trần Thị Bình"},
}


@pytest.fixture
def version(db):
    return ProcedureVersionFactory()


@pytest.fixture
def agency(db):
    return AgencyFactory()


@pytest.fixture
def citizen(db):
    return UserFactory()


@pytest.fixture
def receiver(agency):
    return RoleAssignmentFactory(agency=agency).user


@pytest.fixture
def submit(version, agency, citizen, pdf_bytes):
    from hcmgov.dossiers.services import dossier_submit

    def _submit(**overrides: Any):
        kwargs: dict[str, Any] = {
            "applicant": citizen,
            "procedure_code": version.procedure.code,
            "agency_code": agency.code,
            "form_data": dict(VALID_FORM),
            "attachments": [Attachment("TOKHAI", "to-khai.pdf", pdf_bytes)],
        }
        kwargs.update(overrides)
        return dossier_submit(**kwargs)

    return _submit
