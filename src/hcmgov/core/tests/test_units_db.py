"""The two structures in the database, the crosswalk, and statistics read through it."""

from __future__ import annotations

import datetime as dt

import pytest

from hcmgov.core import selectors
from hcmgov.core.models import AdminUnit, UnitLink

pytestmark = pytest.mark.django_db


def test_both_structures_load_with_their_counts(city):
    assert AdminUnit.objects.filter(structure__key="2021", level="district").count() == 22
    assert AdminUnit.objects.filter(structure__key="2021", level="commune").count() == 312
    assert AdminUnit.objects.filter(structure__key="2025", level="commune").count() == 168
    assert selectors.structure_at(day=dt.date(2024, 5, 1)).key == "2021"
    assert selectors.structure_at(day=dt.date(2025, 7, 1)).key == "2025"
    # every old commune-level unit has exactly one primary successor
    old = AdminUnit.objects.filter(structure__key="2021", level="commune")
    assert UnitLink.objects.filter(old__in=old, primary=True).count() == 312


def test_loading_twice_changes_nothing(city):
    from hcmgov.core.loaders import agencies_load, units_load

    before = (AdminUnit.objects.count(), UnitLink.objects.count())
    units_load()
    agencies_load()
    assert (AdminUnit.objects.count(), UnitLink.objects.count()) == before


def test_ben_nghe_went_into_saigon_ward(city):
    ben_nghe = AdminUnit.objects.get(structure__key="2021", name="Phường Bến Nghé")
    successor = selectors.unit_in_force(unit=ben_nghe, day=dt.date(2025, 8, 1))
    assert successor.name == "Phường Sài Gòn"
    assert successor.structure.key == "2025"
    assert selectors.unit_in_force(unit=ben_nghe, day=dt.date(2024, 8, 1)) == ben_nghe


def test_a_2024_dossier_of_a_merged_ward_counts_under_the_new_ward(city, citizen, pdf_bytes):
    """Acceptance: received in 2024 by a ward that merged in 2025, counted under the new ward."""
    from hcmgov.catalog.selectors import procedure_get, procedure_version_in_force
    from hcmgov.common import jsonform
    from hcmgov.dossiers import selectors as dossiers
    from hcmgov.dossiers.files import Attachment
    from hcmgov.dossiers.services import dossier_submit

    ben_nghe_pc = selectors.agency_list(kind="commune_pc").get(unit__name="Phường Bến Nghé")
    saigon_pc = selectors.agency_list(kind="commune_pc", day=dt.date(2025, 8, 1)).get(unit__name="Phường Sài Gòn")
    procedure = procedure_get(code="1.004873")  # marital-status certificate, commune level
    import random

    def form(day):
        schema = procedure_version_in_force(procedure=procedure, day=day).form_schema
        data = jsonform.sample_valid(schema, random.Random(1))
        assert data is not None, "no valid sample"
        return data

    version = procedure_version_in_force(procedure=procedure, day=dt.date(2024, 3, 4))
    docs = [
        Attachment(d["code"], f"{d['code']}.pdf", pdf_bytes)
        for d in version.required_documents
        if d.get("required", True) and d.get("kind") != "present"
    ]
    old, _ = dossier_submit(
        applicant=citizen, procedure_code=procedure.code, agency_code=ben_nghe_pc.code,
        form_data=form(dt.date(2024, 3, 4)), attachments=docs,
        now=dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))),
    )  # fmt: skip
    dossier_submit(
        applicant=citizen, procedure_code=procedure.code, agency_code=saigon_pc.code,
        form_data=form(dt.date(2025, 9, 4)), attachments=docs,
        now=dt.datetime(2025, 9, 4, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))),
    )  # fmt: skip
    assert old.unit.name == "Phường Bến Nghé"  # the dossier keeps the unit that received it
    assert old.code.startswith(ben_nghe_pc.code + "-240304-")
    by_2025 = dossiers.dossier_counts_by_unit(structure="2025")
    assert by_2025[saigon_pc.unit.code] == 2
    by_2021 = dossiers.dossier_counts_by_unit(structure="2021")
    assert by_2021[ben_nghe_pc.unit.code] == 1
