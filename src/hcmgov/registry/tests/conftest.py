"""A national platform (the NDXP simulator, over HTTP) behind the city's gateway (in a thread), the
shared data store registered as an information system with rights to the population and business
registries, and a procedure whose form names the facts it wants prefilled."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings

from hcmgov import simulators
from hcmgov.exchange import services as exchange
from hcmgov.exchange.gateway.app import Gateway
from hcmgov.exchange.gateway.logwriter import LogWriter
from hcmgov.exchange.tests.gateway_support import call, gateway_running
from hcmgov.identity.provider import services as provider
from hcmgov.registry import services

PREFILL_SCHEMA = {
    "type": "object",
    "properties": {
        "ho_ten": {
            "type": "string",
            "title": "Họ tên",
            "x-title-en": "Name",
            "maxLength": 150,
            "x-prefill": "full_name",
        },
        "so_dinh_danh": {
            "type": "string",
            "title": "Số định danh",
            "x-title-en": "Personal ID",
            "pattern": "^[0-9]{12}$",
            "maxLength": 12,
            "x-prefill": "personal_id",
        },
        "ngay_sinh": {
            "type": "string",
            "format": "date",
            "title": "Ngày sinh",
            "x-title-en": "Date of birth",
            "maxLength": 10,
            "x-prefill": "date_of_birth",
        },
        "noi_thuong_tru": {
            "type": "string",
            "title": "Nơi thường trú",
            "x-title-en": "Permanent address",
            "maxLength": 300,
            "x-prefill": "address",
        },
        "dien_thoai": {
            "type": "string",
            "title": "Điện thoại",
            "x-title-en": "Phone",
            "maxLength": 20,
            "x-prefill": "phone",
        },
        "ly_do": {"type": "string", "title": "Lý do", "x-title-en": "Reason", "maxLength": 200},
        "purpose": {  # the test flow branches on it
            "type": "string",
            "enum": ["work", "study"],
            "x-enum-titles": ["Làm việc", "Học tập"],
            "x-enum-titles-en": ["Work", "Study"],
            "title": "Mục đích",
            "x-title-en": "Purpose",
        },
    },
    "required": ["ho_ten", "so_dinh_danh", "ly_do", "purpose"],
}


@pytest.fixture
def citizen(db):
    """A citizen the national population database knows (the factory's first personal ID, with
    serial 000000, is nobody's)."""
    from hcmgov.identity.tests.factories import UserFactory

    return UserFactory(personal_id="079201001234", date_of_birth=None, address="")


@pytest.fixture
def prefill_version(db):
    from hcmgov.catalog.tests.factories import ProcedureVersionFactory, with_test_flow

    return with_test_flow(ProcedureVersionFactory(form_schema=PREFILL_SCHEMA))


@pytest.fixture
def national(agency) -> Iterator[SimpleNamespace]:
    from hcmgov.simulators import ndxp

    services.tokens_forget()
    with simulators.running("ndxp") as base:
        peer = exchange.peer_register(
            code="NDXP",
            name="Nền tảng tích hợp, chia sẻ dữ liệu quốc gia",
            gateway_url=base,
            token_url=base + "/token",
            client_id=ndxp.CLIENT_ID,
            client_secret=ndxp.CLIENT_SECRET,
        )
        vn = exchange.member_register(code="VN", name="Trung ương", name_en="National", kind="national", peer=peer)
        bca = exchange.system_connect(member=vn, code="BCA", name="Bộ Công an", name_en="Ministry of Public Security")
        population = exchange.service_publish(system=bca, code="CSDLQGDC", name="CSDL dân cư", name_en="Population")
        mpi = exchange.system_connect(member=vn, code="BKHDT", name="Bộ KH&ĐT", name_en="MPI")
        business = exchange.service_publish(system=mpi, code="CSDLQGDKDN", name="CSDL DN", name_en="Businesses")
        city = exchange.member_register(code="000.00.00.H29", name="UBND Thành phố", name_en="City People's Committee")
        app = provider.machine_client_register(name="Kho dữ liệu dùng chung", agency_id=agency.pk)
        store = exchange.system_connect(
            member=city, code="kho-du-lieu", name="Kho dữ liệu dùng chung", name_en="Shared data store",
            client_id=app.client_id, rate_per_second=1000, burst=1000,
        )  # fmt: skip
        exchange.right_grant(service=population, consumer=store, methods="GET", path_prefix="/citizens")
        exchange.right_grant(service=business, consumer=store, methods="GET", path_prefix="/enterprises")
        gateway = Gateway(writer=LogWriter(node="test-registry", interval=0.01))
        with gateway_running(gateway) as url, override_settings(EXCHANGE_GATEWAY_URL=url):
            yield SimpleNamespace(base=base, url=url, gateway=gateway, store=store)
    services.tokens_forget()


def sim_mode(base: str, **mode: Any) -> None:
    import json

    status, _, body = call(base + "/_sim/mode", method="POST", body=json.dumps(mode).encode())
    assert status == 200, body


def sim_stats(base: str) -> dict[str, Any]:
    import json

    return json.loads(call(base + "/_sim/stats")[2])
