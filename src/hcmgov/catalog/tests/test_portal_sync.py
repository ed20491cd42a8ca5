"""A procedure brought in line with the national catalogue (``procedure_national_apply``, called by
the National Public Service Portal's catalogue sync): the national name, a shorter processing time
as a new version from the day; a longer time and the fees left to the city; audited once, and
nothing written when nothing differs."""

from __future__ import annotations

import datetime as dt

import pytest

from hcmgov.audit.models import AuditEvent
from hcmgov.catalog import selectors, services

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 2)


def test_the_national_name_and_a_shorter_time_are_applied(version):
    procedure = version.procedure
    city_name = procedure.name

    applied = services.procedure_national_apply(
        procedure=procedure, name=" Tên quốc gia ", processing_days=1, today=TODAY
    )

    assert applied == {"name": [city_name, "Tên quốc gia"], "processing_days": [3, 1]}
    procedure.refresh_from_db()
    assert (procedure.name, procedure.statutory_days) == ("Tên quốc gia", 1)
    assert procedure.search_text.startswith("ten quoc gia")
    assert selectors.procedure_version_in_force(procedure=procedure, day=TODAY - dt.timedelta(days=1)) == version
    newest = selectors.procedure_version_in_force(procedure=procedure, day=TODAY)
    assert (newest.version, newest.statutory_days, newest.valid_from) == (2, 1, TODAY)
    assert (newest.fees, newest.form_schema) == (version.fees, version.form_schema)
    event = AuditEvent.objects.get(action="catalog.procedure_national_apply")
    assert event.before["statutory_days"] == 3
    assert event.after["statutory_days"] == 1


def test_a_longer_time_or_the_same_values_change_nothing(version):
    procedure = version.procedure
    assert services.procedure_national_apply(procedure=procedure, name=procedure.name, processing_days=30) == {}
    assert services.procedure_national_apply(procedure=procedure, name="", processing_days=None) == {}
    assert procedure.versions.count() == 1
    assert not AuditEvent.objects.filter(action="catalog.procedure_national_apply").exists()
