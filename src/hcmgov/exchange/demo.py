"""The demo city's data sharing platform (``hcmgov demo``): the city's departments and People's
Committee as members, the portal's public dossier tracking published as a service, the national
platform as a peer (its simulator, which ``make serve`` runs on port 8104, unless
``EXCHANGE_NDXP_URL`` names a real one) with its population and business registry services, and
one consuming system with a machine client and rights, whose credentials are written once to
``var/lgsp-demo-client.txt`` so that the gateway can be tried at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from hcmgov.core import selectors as core
from hcmgov.exchange import services
from hcmgov.exchange.models import InformationSystem, MemberKind
from hcmgov.identity.provider import services as provider

SIM_NDXP_URL = "http://127.0.0.1:8104"


def exchange_demo(*, var_dir: Path) -> dict[str, Any]:
    """Idempotent: members, systems, services and rights are updated in place; the demo client is
    made once."""
    from hcmgov.simulators import ndxp

    city_pc = core.agency_list().filter(kind="city_pc").first() or core.agency_list().first()
    city = services.member_register(
        code=city_pc.code if city_pc else "000.00.00.H29",
        name="UBND Thành phố Hồ Chí Minh",
        name_en="Ho Chi Minh City People's Committee",
        agency_id=city_pc.pk if city_pc else None,
    )
    portal = services.system_connect(
        member=city, code="cong-dvc", name="Cổng dịch vụ công Thành phố", name_en="City public service portal"
    )
    public = settings.PUBLIC_URL.rstrip("/")
    tracking = services.service_publish(
        system=portal,
        code="tra-cuu-ho-so",
        name="Tra cứu tình trạng hồ sơ",
        name_en="Dossier status lookup",
        upstream_url=f"{public}/api/v1/tracking",
        openapi={
            "openapi": "3.1.0",
            "info": {"title": "Tra cứu hồ sơ / Dossier tracking", "version": "1"},
            "paths": {
                "/{code}": {
                    "get": {
                        "summary": "Tình trạng hồ sơ theo mã và mã tra cứu / status by code and secret",
                        "parameters": [
                            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                            {"name": "secret", "in": "query", "required": True, "schema": {"type": "string"}},
                        ],
                        "responses": {"200": {"description": "OK"}, "404": {"description": "Không có / none"}},
                    }
                }
            },
        },
    )
    ndxp_url = (settings.EXCHANGE_NDXP_URL or SIM_NDXP_URL).rstrip("/")
    peer = services.peer_register(
        code="NDXP",
        name="Nền tảng tích hợp, chia sẻ dữ liệu quốc gia (NDXP)",
        gateway_url=ndxp_url,
        token_url=f"{ndxp_url}/token",
        client_id=settings.EXCHANGE_NDXP_CLIENT_ID or ndxp.CLIENT_ID,
        client_secret=settings.EXCHANGE_NDXP_CLIENT_SECRET or ndxp.CLIENT_SECRET,
    )
    vn = services.member_register(
        code="VN", name="Các bộ, ngành trung ương", name_en="National ministries", kind=MemberKind.NATIONAL, peer=peer
    )
    national = []
    for system, system_name, system_en, code, name, name_en in (
        ("BCA", "Bộ Công an", "Ministry of Public Security", "CSDLQGDC", "CSDL quốc gia về dân cư",
         "National population database"),
        ("BKHDT", "Bộ Kế hoạch và Đầu tư", "Ministry of Planning and Investment", "CSDLQGDKDN",
         "CSDL quốc gia về đăng ký doanh nghiệp", "National business registration database"),
    ):  # fmt: skip
        s = services.system_connect(member=vn, code=system, name=system_name, name_en=system_en)
        national.append(services.service_publish(system=s, code=code, name=name, name_en=name_en))
    district = core.agency_list().filter(kind="district_pc").first() or city_pc
    consumer_member = services.member_register(
        code=district.code if district else "000.00.31.H29",
        name=district.name if district else "UBND Quận 1",
        name_en=district.name_en if district else "District 1 People's Committee",
        agency_id=district.pk if district else None,
    )
    existing = InformationSystem.objects.filter(member=consumer_member, code="mot-cua").first()
    created = existing is None or not existing.client_id
    client_id = existing.client_id if existing else ""
    if created and district is not None:
        app = provider.machine_client_register(name="Một cửa điện tử (demo LGSP)", agency_id=district.pk)
        client_id = app.client_id
        var_dir.mkdir(parents=True, exist_ok=True)
        (var_dir / "lgsp-demo-client.txt").write_text(
            f"client_id={app.client_id}\nclient_secret={app.raw_secret}\n"
            f"# token:   curl -u $client_id:$client_secret -d grant_type=client_credentials"
            f" -d scope=hcmgov.exchange {public}/o/token/\n"
            f"# call:    curl -H 'Authorization: Bearer TOKEN' {settings.EXCHANGE_GATEWAY_URL}/x/_meta/allowed\n"
        )
    consumer = services.system_connect(
        member=consumer_member,
        code="mot-cua",
        name="Hệ thống một cửa điện tử",
        name_en="One-stop shop system",
        client_id=client_id,
    )
    for service in (tracking, *national):
        if not service.rights.filter(consumer=consumer, revoked_at__isnull=True).exists():
            services.right_grant(service=service, consumer=consumer, methods="GET", granted_by="demo")
    _shared_store(city=city, agency_id=city_pc.pk if city_pc else None, national=national)
    return {"services": 1 + len(national), "client_written": created}


def _shared_store(*, city: Any, agency_id: int | None, national: list[Any]) -> None:
    """The city's shared data store as an information system of the city, with a machine client
    (its tokens are issued in process: no secret to write down) and the right to read the national
    population and business registries (``HCMGOV_REGISTRY_SYSTEM``)."""
    if agency_id is None:
        return
    existing = InformationSystem.objects.filter(member=city, code="kho-du-lieu").first()
    client_id = existing.client_id if existing and existing.client_id else ""
    if not client_id:
        client_id = provider.machine_client_register(name="Kho dữ liệu dùng chung", agency_id=agency_id).client_id
    store = services.system_connect(
        member=city,
        code="kho-du-lieu",
        name="Kho dữ liệu dùng chung của Thành phố",
        name_en="City shared data store",
        client_id=client_id,
    )
    for service in national:
        if not service.rights.filter(consumer=store, revoked_at__isnull=True).exists():
            services.right_grant(service=service, consumer=store, methods="GET", granted_by="demo")
