"""Factories of procedures (tests); the demo loads the real catalogue from data/procedures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import factory

from hcmgov.catalog.models import Procedure, ProcedureVersion

SIMPLE_SCHEMA = {
    "type": "object",
    "properties": {
        "full_name": {
            "type": "string",
            "title": "Họ, chữ đệm, tên",
            "x-title-en": "Full name",
            "maxLength": 100,
            "x-prefill": "full_name",
        },
        "personal_id": {
            "type": "string",
            "title": "Số định danh cá nhân",
            "x-title-en": "Personal ID number",
            "pattern": "^[0-9]{12}$",
            "maxLength": 12,
        },
        "date_of_birth": {
            "type": "string",
            "format": "date",
            "title": "Ngày sinh",
            "x-title-en": "Date of birth",
            "maxLength": 10,
        },
        "copies": {
            "type": "integer",
            "title": "Số bản sao",
            "x-title-en": "Number of copies",
            "minimum": 0,
            "maximum": 10,
        },
        "purpose": {
            "type": "string",
            "enum": ["work", "study"],
            "x-enum-titles": ["Làm việc", "Học tập"],
            "x-enum-titles-en": ["Work", "Study"],
            "title": "Mục đích",
            "x-title-en": "Purpose",
        },
        "mother": {
            "type": "object",
            "title": "Thông tin người mẹ",
            "x-title-en": "Mother",
            "properties": {
                "full_name": {"type": "string", "title": "Họ tên mẹ", "x-title-en": "Mother's name", "maxLength": 100}
            },
            "required": ["full_name"],
        },
    },
    "required": ["full_name", "personal_id", "purpose", "mother"],
}


class ProcedureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Procedure

    code = factory.Sequence(lambda n: f"9.{n:06d}")
    name = factory.Sequence(lambda n: f"Thủ tục thử {n}")
    name_en = factory.Sequence(lambda n: f"Test procedure {n}")
    field = "Hộ tịch"
    field_en = "Civil status"
    level = "commune"
    agency_kind = "commune_pc"
    online_level = "full"
    statutory_days = 3
    search_text = factory.LazyAttribute(lambda o: f"thu tuc thu {o.code}")


class ProcedureVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcedureVersion

    procedure = factory.SubFactory(ProcedureFactory)
    version = 1
    valid_from = dt.date(2021, 1, 1)
    statutory_days = factory.SelfAttribute("procedure.statutory_days")
    fees = [{"code": "LEPHI", "name": "Lệ phí", "name_en": "Fee", "amount": 8000}]
    required_documents = [
        {
            "code": "TOKHAI",
            "name": "Tờ khai",
            "name_en": "Declaration",
            "kind": "original",
            "count": 1,
            "required": True,
        },
        {"code": "KHAC", "name": "Giấy tờ khác", "name_en": "Other", "kind": "copy", "count": 1, "required": False},
    ]
    legal_basis = ["Nghị định thử"]
    result = "Giấy chứng nhận"
    result_en = "Certificate"
    form_schema = SIMPLE_SCHEMA


TEST_FLOW = Path(__file__).resolve().parent / "flows" / "test.bpmn"


def with_test_flow(version: ProcedureVersion) -> ProcedureVersion:
    """Give the version's procedure the test flow (receipt, review, a police check when the
    purpose is study, approval, signature, return: 3 working days). The police check needs a police
    agency on the platform: one is made when the database has none (a flushed test database)."""
    from hcmgov.catalog.services import flow_upload
    from hcmgov.core.models import Agency, AgencyKind
    from hcmgov.core.tests.factories import AgencyFactory

    if not Agency.objects.filter(kind=AgencyKind.POLICE).exists():
        AgencyFactory(kind=AgencyKind.POLICE, name="Công an xã thử", name_en="Test commune police")
    flow_upload(procedure=version.procedure, content=TEST_FLOW.read_bytes(), filename=TEST_FLOW.name)
    return version
