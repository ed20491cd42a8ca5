"""Never ask twice: national lookups through the city's gateway, prefill with sources under the
applicant's consent, declared facts kept and checked, a national database that fails blocking no
one, and personal data kept encrypted."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from hcmgov.audit.models import AuditEvent
from hcmgov.common import crypto
from hcmgov.common.errors import DomainError
from hcmgov.core.services import outbox_deliver
from hcmgov.dossiers.files import Attachment
from hcmgov.dossiers.services import dossier_submit
from hcmgov.identity import services as identity
from hcmgov.registry import registries as r
from hcmgov.registry import selectors, services
from hcmgov.registry.models import CheckState, FactCheck, Record, RecordState, RecordVersion
from hcmgov.registry.tests.conftest import sim_mode, sim_stats
from hcmgov.simulators import _ndxp_data

pytestmark = pytest.mark.django_db(transaction=True)


def consent(user, categories=("identity", "address", "contact", "business")):
    return identity.consent_grant(
        subject=user, purpose="prefill", recipient=services.RECIPIENT, data_categories=list(categories)
    )


def field_value(html: str, name: str) -> str | None:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html) or re.search(
        rf'<textarea[^>]* name="{re.escape(name)}"[^>]*>([^<]*)</textarea>', html
    )
    return match[1] if match else None


# --- the store itself ----------------------------------------------------------------------------


def test_records_are_versioned_with_their_source_and_feed_the_change_feed(db):
    facts = {"registration_number": "41A8001234", "name": "Tiệm bánh Hạnh", "owner_personal_id": "079201001234",
             "registered_on": "2024-03-01"}  # fmt: skip
    first = services.record_put(registry_code=r.HOUSEHOLD_BUSINESS, key="41A8001234", facts=facts, source="desk:Q1")
    same = services.record_put(registry_code=r.HOUSEHOLD_BUSINESS, key="41A8001234", facts=facts, source="desk:Q1")
    moved = services.record_put(
        registry_code=r.HOUSEHOLD_BUSINESS, key="41A8001234", facts={**facts, "name": "Tiệm bánh Hạnh Phúc"},
        source="dossier", source_ref="000.00.31.H29-261127-0001",
    )  # fmt: skip
    assert (first.changed, same.changed, moved.changed) == (sorted(facts), [], ["name"])
    assert moved.record.version == 2
    assert moved.record.source_ref == "000.00.31.H29-261127-0001"
    feed = selectors.changes(registry=r.HOUSEHOLD_BUSINESS)
    assert [(c["version"], c["changed"], c["source"]) for c in feed] == [
        (1, sorted(facts), "desk:Q1"),
        (2, ["name"], "dossier"),
    ]
    assert feed[1]["facts"]["name"] == "Tiệm bánh Hạnh Phúc"
    assert feed[1]["key"] == "41A8001234"
    assert selectors.changes(after=feed[0]["id"]) == feed[1:]


def test_facts_that_break_the_schema_are_refused_whole(db):
    with pytest.raises(DomainError) as refused:
        services.record_put(
            registry_code=r.POPULATION, key="079201001234", facts={"personal_id": "079201001234", "full_name": ""},
            source="test",
        )  # fmt: skip
    assert refused.value.code == "registry_record_invalid"
    assert {e.field for e in refused.value.errors} >= {"", "full_name"}  # date_of_birth missing; the name empty
    assert "Dữ liệu không đúng" in refused.value.message.vi
    assert not Record.objects.exists()
    assert not RecordVersion.objects.exists()


def test_keys_and_facts_are_encrypted_at_rest_and_found_by_blind_index(db):
    pid = "079201001234"
    services.record_put(
        registry_code=r.POPULATION, key=pid, source="test",
        facts={"personal_id": pid, "full_name": "Lê Thị Thu", "date_of_birth": "2001-05-02"},
    )  # fmt: skip
    with connection.cursor() as cur:
        cur.execute("SELECT key, key_index, facts FROM registry_record")
        key, index, facts = cur.fetchone()
        cur.execute("SELECT facts FROM registry_recordversion")
        (version_facts,) = cur.fetchone()
    for raw in (key, facts, version_facts):
        assert pid not in raw
        assert "Thu" not in raw
        assert crypto.key_id_of(raw) == crypto.keyring().current
    assert index == crypto.blind_index(pid, context=services.KEY_CONTEXT)
    assert services.record_of(registry_code=r.POPULATION, key=pid).facts["full_name"] == "Lê Thị Thu"


# --- national lookups through the gateway ----------------------------------------------------------


def test_a_lookup_goes_through_the_citys_gateway_and_keeps_the_record_with_its_provenance(national):
    pid = "079201001234"
    found = services.registry_lookup(registry_code=r.POPULATION, key=pid)
    expected = _ndxp_data.citizen(pid)
    assert found.state == "current"
    assert found.record.facts == expected
    assert found.record.source == "VN/BCA/CSDLQGDC/citizens"
    assert found.record.source_ref.startswith("registry-")
    stats = sim_stats(national.base)
    assert any(f"/citizens/{pid}" in c["path"] and c["request_id"] == found.record.source_ref for c in stats["recent"])
    assert national.gateway.writer.flush()
    from hcmgov.exchange.models import MessageLogRecord

    logged = MessageLogRecord.objects.get(request_id=found.record.source_ref)
    assert (logged.consumer, logged.status) == ("000.00.00.H29/kho-du-lieu", 200)  # the gateway logged it
    unknown = services.registry_lookup(registry_code=r.POPULATION, key="079201000000")  # serial 000000: nobody
    assert unknown.state == "not_found"
    assert unknown.record.state == RecordState.NOT_FOUND
    tax = "0312345679" if _ndxp_data.tax_code_check("0312345679") else _ndxp_data.tax_code_complete("031234567")
    business = services.registry_lookup(registry_code=r.BUSINESS, key=tax)
    assert business.state == "current"
    assert business.record.facts["tax_code"] == tax


def test_a_source_that_is_down_leaves_the_lookup_pending_and_the_worker_finishes_it(national):
    pid = "079201001235"
    sim_mode(national.base, mode="down")
    failed = services.registry_lookup(registry_code=r.POPULATION, key=pid)
    assert failed.state == "pending"
    assert failed.retry_at is not None
    assert "HTTP 502 exchange_provider_down" in failed.error
    record = Record.objects.get()
    assert (record.state, record.lookup_attempts, record.version) == (RecordState.PENDING, 1, 0)
    assert services.lookups_retry() == {"current": 0, "not_found": 0, "pending": 0}  # not due yet
    sim_mode(national.base, mode="ok")
    assert services.lookups_retry(now=failed.retry_at) == {"current": 1, "not_found": 0, "pending": 0}
    record.refresh_from_db()
    assert (record.state, record.version, record.next_lookup_at) == (RecordState.CURRENT, 1, None)


def test_malformed_data_from_a_source_changes_nothing_and_is_tried_again(national):
    from hcmgov.registry.models import Registry

    # the population registry pointed at a service of the right shape that answers the wrong data
    # (the business registry's record for a tax code): nothing kept, the lookup pending
    tax = _ndxp_data.tax_code_complete("031234567")
    Registry.objects.filter(code=r.POPULATION).update(service="VN/BKHDT/CSDLQGDKDN/enterprises")
    outcome = services.registry_lookup(registry_code=r.POPULATION, key=tax)
    assert outcome.state == "pending"
    assert outcome.error.startswith("malformed answer")
    record = Record.objects.get()
    assert (record.version, record.facts, record.state) == (0, None, RecordState.PENDING)
    assert record.next_lookup_at is not None


# --- prefill, consent and audit -----------------------------------------------------------------


def test_without_consent_only_the_account_fills_the_form(national, client, citizen, prefill_version):
    client.force_login(citizen)
    html = client.get(f"/thu-tuc/{prefill_version.procedure.code}/nop-ho-so/").content.decode()
    assert field_value(html, "ho_ten") == citizen.full_name  # the account's own
    assert field_value(html, "noi_thuong_tru") in (None, "")
    assert 'id="prefill-consent"' in html
    assert sim_stats(national.base)["by_service"] == {}  # no national lookup without consent
    assert not AuditEvent.objects.filter(action="registry.read").exists()


def test_with_consent_the_form_is_filled_from_the_registry_with_its_source_and_the_read_audited(
    national, client, citizen, prefill_version
):
    consent(citizen)
    client.force_login(citizen)
    response = client.get(f"/thu-tuc/{prefill_version.procedure.code}/nop-ho-so/")
    html = response.content.decode()
    person = _ndxp_data.citizen(citizen.personal_id)
    assert response.status_code == 200
    assert field_value(html, "ho_ten") == person["full_name"]  # the national record, not the account's name
    assert field_value(html, "ngay_sinh") == person["date_of_birth"]
    assert field_value(html, "noi_thuong_tru") == person["permanent_address"]["formatted"]
    assert field_value(html, "dien_thoai") == citizen.phone  # the registry has none: the account's
    assert html.count("Cơ sở dữ liệu quốc gia về dân cư") >= 3
    assert "Đã xác thực" in html
    assert 'id="prefill-consent"' not in html
    assert 'id="prefill-pending"' not in html
    [read] = AuditEvent.objects.filter(action="registry.read")
    assert read.after["purpose"] == "prefill"
    assert read.after["context"] == prefill_version.procedure.code
    assert set(read.after["facts"]) == {"full_name", "personal_id", "date_of_birth", "address"}
    assert read.actor_id == citizen.pk
    # the second form reads the store: no second national call
    client.get(f"/thu-tuc/{prefill_version.procedure.code}/nop-ho-so/")
    assert sum(sim_stats(national.base)["by_service"].values()) == 1


def test_consent_covers_categories(national, citizen, prefill_version):
    consent(citizen, categories=("identity",))
    found = services.applicant_prefill(user=citizen, facts=["full_name", "address"])
    assert found.provenance["full_name"].verified
    assert "address" not in found.values or found.provenance["address"].source == services.ACCOUNT


def test_a_national_database_that_times_out_does_not_block_the_form(
    national, client, citizen, prefill_version, settings
):
    settings.HCMGOV_REGISTRY_PREFILL_TIMEOUT = 0.5
    consent(citizen)
    sim_mode(national.base, mode="slow", delay=5)
    client.force_login(citizen)
    html = client.get(f"/thu-tuc/{prefill_version.procedure.code}/nop-ho-so/").content.decode()
    # the form came back before the national answer (no wall clock: the lookup gave up at its own
    # timeout, so the record is still pending, where a form that waited would hold the facts)
    assert 'id="prefill-pending"' in html
    assert field_value(html, "ho_ten") == citizen.full_name  # manual entry, from the account: unverified
    assert "Đã xác thực" not in html
    record = Record.objects.get(registry__code=r.POPULATION)
    assert record.state == RecordState.PENDING
    assert record.next_lookup_at is not None


# --- the second application ----------------------------------------------------------------------


def _apply(citizen, version, agency, pdf_bytes, form):
    dossier, _ = dossier_submit(
        applicant=citizen,
        procedure_code=version.procedure.code,
        agency_code=agency.code,
        form_data=form,
        attachments=[Attachment("TOKHAI", "to-khai.pdf", pdf_bytes)],
    )
    while outbox_deliver():
        pass
    return dossier


def test_the_second_application_never_asks_again_for_what_the_first_supplied(
    national, client, citizen, prefill_version, agency, pdf_bytes
):
    citizen.phone = ""
    citizen.save()
    consent(citizen)
    person = _ndxp_data.citizen(citizen.personal_id)
    first = _apply(
        citizen, prefill_version, agency, pdf_bytes,
        {"ho_ten": person["full_name"], "so_dinh_danh": citizen.personal_id, "ngay_sinh": person["date_of_birth"],
         "noi_thuong_tru": "12 Lý Tự Trọng, Phường Bến Nghé, Thành phố Hồ Chí Minh", "dien_thoai": "0903123456",
         "ly_do": "Xin việc", "purpose": "work"},
    )  # fmt: skip
    checks = {c.fact: c for c in FactCheck.objects.filter(dossier_id=first.pk)}
    # the store had no record when the dossier came: checked once the lookup it queued lands
    assert {c.state for c in checks.values()} == {CheckState.UNVERIFIED}
    services.lookups_retry()
    checks = {c.fact: c for c in FactCheck.objects.filter(dossier_id=first.pk)}
    assert checks["full_name"].state == checks["date_of_birth"].state == checks["personal_id"].state == "verified"
    assert checks["address"].state == CheckState.DIFFERS  # flagged, never overwritten
    assert checks["address"].values == {
        "declared": "12 Lý Tự Trọng, Phường Bến Nghé, Thành phố Hồ Chí Minh",
        "registry": person["permanent_address"]["formatted"],
    }
    held = services.record_of(registry_code=r.POPULATION, key=citizen.personal_id)
    assert held.facts == person
    assert held.version == 1
    declared = services.record_of(registry_code=r.DECLARED, key=citizen.personal_id)
    assert declared.facts["phone"] == "0903123456"
    assert declared.source_ref == first.code

    client.force_login(citizen)
    html = client.get(f"/thu-tuc/{prefill_version.procedure.code}/nop-ho-so/").content.decode()
    for name in ("ho_ten", "so_dinh_danh", "ngay_sinh", "noi_thuong_tru", "dien_thoai"):
        assert field_value(html, name), f"{name} asked again"
    assert field_value(html, "dien_thoai") == "0903123456"
    assert "Bạn đã khai ở hồ sơ trước" in html
    assert field_value(html, "ly_do") in (None, "")  # the reason is this dossier's own: asked each time


def test_officials_see_which_facts_were_verified(national, client, citizen, prefill_version, agency, pdf_bytes):
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    consent(citizen)
    services.registry_lookup(registry_code=r.POPULATION, key=citizen.personal_id)
    person = _ndxp_data.citizen(citizen.personal_id)
    dossier = _apply(
        citizen, prefill_version, agency, pdf_bytes,
        {"ho_ten": person["full_name"], "so_dinh_danh": citizen.personal_id, "ngay_sinh": "1999-01-01",
         "ly_do": "Xin việc", "purpose": "work"},
    )  # fmt: skip
    official = RoleAssignmentFactory(agency=agency).user
    client.force_login(official)
    html = client.get(f"/office/ho-so/{dossier.code}/").content.decode()
    section = html[html.index('id="fact-checks"') :]
    assert "Khớp" in section
    assert "Khác" in section
    assert person["date_of_birth"] in section
    [read] = AuditEvent.objects.filter(action="registry.read", object_type="registry.factcheck")
    assert read.after == {"purpose": "processing", "facts": ["date_of_birth"], "context": dossier.code}
    assert read.actor_id == official.pk
    assert selectors.checks_open_count() == 1
    check = FactCheck.objects.get(fact="date_of_birth")
    services.fact_check_resolve(check_id=check.pk, official=official, resolution="Đã gọi công dân: khai nhầm")
    assert selectors.checks_open_count() == 0


def test_an_e_id_login_fetches_the_population_record_ahead_of_the_first_form(national, citizen):
    from hcmgov.core.services import event_publish

    assert services.login_prefetch(user_id=citizen.pk) is None  # no consent: nothing fetched
    assert not Record.objects.exists()
    consent(citizen)
    event_publish(topic="identity.eid_login", key=str(citizen.pk), payload={"user_id": citizen.pk})
    while outbox_deliver():
        pass
    held = services.record_of(registry_code=r.POPULATION, key=citizen.personal_id)
    assert held is not None
    assert held.facts == _ndxp_data.citizen(citizen.personal_id)
    assert services.login_prefetch(user_id=citizen.pk) is None  # held and fresh: not fetched again
    assert sum(sim_stats(national.base)["by_service"].values()) == 1
