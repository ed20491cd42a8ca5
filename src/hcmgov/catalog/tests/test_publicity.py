"""The publicity rules (``catalog.publicity``): the deadlines in working days across a holiday,
the parts a version holds; the publication records synced over HTTP from the national database's
simulator (idempotent); desk postings; the demo's records."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from hcmgov.audit.models import AuditEvent
from hcmgov.catalog import publicity, selectors, services
from hcmgov.catalog.adapters import tthc
from hcmgov.catalog.models import DeskPosting, Publication
from hcmgov.catalog.tests.factories import ProcedureVersionFactory
from hcmgov.simulators import running
from hcmgov.simulators.tthc import API_KEY

pytestmark = pytest.mark.django_db

# 2025: Wed 30 Apr – Sun 4 May off (Reunification Day, Labour Day, the swap of Fri 2 May). From Mon
# 28 Apr, 5 working days: Tue 29 Apr (1), Mon 5 May (2), Tue 6 (3), Wed 7 (4), Thu 8 May (5).
REFERENCE = dt.date(2025, 4, 28)
DEADLINE = dt.date(2025, 5, 8)


def test_the_publication_deadline_counts_working_days_across_the_holiday():
    assert publicity.publication_deadline(REFERENCE) == DEADLINE
    assert publicity.published_on_time(decision_date=DEADLINE, reference_date=REFERENCE) is True
    assert publicity.published_on_time(decision_date=DEADLINE + dt.timedelta(days=1), reference_date=REFERENCE) is False
    assert publicity.published_on_time(decision_date=DEADLINE, reference_date=None) is None


def test_the_national_database_deadline_counts_from_the_decision(settings):
    assert publicity.updated_on_time(decision_date=REFERENCE, national_updated_on=DEADLINE) is True
    assert publicity.updated_on_time(decision_date=REFERENCE, national_updated_on=dt.date(2025, 5, 9)) is False
    assert publicity.updated_on_time(decision_date=REFERENCE, national_updated_on=None) is None
    settings.CATALOG_NATIONAL_DB_WORKING_DAYS = 6  # a setting, should the reading of the decree change
    assert publicity.updated_on_time(decision_date=REFERENCE, national_updated_on=dt.date(2025, 5, 9)) is True


PARTS = {
    "name": "Đăng ký kết hôn", "online_level": "partial", "statutory_days": 0,
    "fees": [{"name": "Lệ phí", "amount": 0}], "required_documents": [{"name": "Tờ khai"}],
    "legal_basis": ["Luật Hộ tịch 2014"], "result": "Giấy chứng nhận kết hôn",
    "form_schema": {"properties": {"a": {}}}, "steps": ["Nộp hồ sơ", "Nhận kết quả"], "applicants": ["Công dân"],
}  # fmt: skip


def test_a_version_holds_a_part_when_it_is_not_empty():
    assert all(publicity.parts_held(**PARTS).values())
    assert set(publicity.parts_held(**PARTS)) == set(publicity.PARTS)
    held = publicity.parts_held(**{**PARTS, "steps": [" "], "applicants": [], "legal_basis": []})
    assert [k for k, ok in held.items() if not ok] == ["steps", "legal_basis", "applicants"]
    # no fee line is the published fact "no fee"; a line without its amount is not published
    assert publicity.parts_held(**{**PARTS, "fees": []})["fees"]
    assert not publicity.parts_held(**{**PARTS, "fees": [{"name": "Phí"}]})["fees"]
    # the declaration: the online form, or a document's prescribed template
    no_form = {**PARTS, "form_schema": {"properties": {}}}
    assert not publicity.parts_held(**no_form)["forms"]
    assert publicity.parts_held(**{**no_form, "required_documents": [{"name": "Tờ khai", "template": "Mẫu 01"}]})[
        "forms"
    ]


def sim_post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the loopback simulator
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - the loopback simulator
        return json.loads(answer.read())


def record(code: str, **changes) -> dict:
    publication = {
        "id": f"H29-{code}-1", "decision_number": "1234/QĐ-UBND", "decision_date": "2025-05-08",
        "signed_by": "Chủ tịch UBND Thành phố", "reference_number": "163/QĐ-BTP", "reference_date": "2025-04-28",
        "national_updated_on": "2025-05-12", **changes,
    }  # fmt: skip
    return {"code": code, "name": "Thủ tục thử", "publications": [publication]}


@pytest.fixture
def tthc_sim():
    with running("tthc", directory=_empty_dir()) as base:
        yield base, tthc.Config(base_url=base, api_key=API_KEY, agency="H29", timeout=5)


def _empty_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent / "flows"  # no procedure definitions there: an empty seed


def test_the_sync_keeps_the_national_records_and_a_second_run_changes_nothing(tthc_sim):
    base, cfg = tthc_sim
    version = ProcedureVersionFactory(valid_from=dt.date(2021, 1, 1))
    code = version.procedure.code
    sim_post(base, "/_sim/procedures", {"upsert": [record(code), record("9.999999")]})

    counts = services.publications_sync(cfg=cfg)

    assert counts == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "unknown": 1,
        "procedures": 1,
        "texts_updated": 0,
        "texts_unchanged": 0,
    }  # fmt: skip  (the record carries no texts: none applied)
    kept = Publication.objects.get(procedure=version.procedure)
    assert (kept.decision_number, kept.decision_date, kept.reference_date, kept.national_updated_on) == (
        "1234/QĐ-UBND", dt.date(2025, 5, 8), dt.date(2025, 4, 28), dt.date(2025, 5, 12)
    )  # fmt: skip
    assert (kept.version, kept.reference_number, kept.national_id) == (version, "163/QĐ-BTP", f"H29-{code}-1")
    events = AuditEvent.objects.filter(action="catalog.publication_sync").count()
    synced_at = kept.synced_at

    again = services.publications_sync(cfg=cfg)

    assert again == {
        "created": 0, "updated": 0, "unchanged": 1, "unknown": 1, "procedures": 1, "texts_updated": 0,
        "texts_unchanged": 0,
    }  # fmt: skip
    kept.refresh_from_db()
    assert kept.synced_at == synced_at
    assert AuditEvent.objects.filter(action="catalog.publication_sync").count() == events

    sim_post(base, "/_sim/procedures", {"upsert": [record(code, national_updated_on="2025-05-09")]})
    assert services.publications_sync(cfg=cfg)["updated"] == 1
    kept.refresh_from_db()
    assert kept.national_updated_on == dt.date(2025, 5, 9)
    [facts] = [f for f in selectors.procedure_publicity_facts() if f.code == code]
    assert [(p.published_on_time, p.updated_on_time) for p in facts.publications] == [(True, True)]


def test_the_sync_reads_every_page_and_only_what_was_updated_since(tthc_sim):
    base, cfg = tthc_sim
    versions = [ProcedureVersionFactory() for _ in range(3)]
    rows = [record(v.procedure.code, national_updated_on=f"2025-06-0{n + 1}") for n, v in enumerate(versions)]
    sim_post(base, "/_sim/procedures", {"upsert": rows})
    assert services.publications_sync(cfg=cfg, updated_since=dt.date(2025, 6, 2))["created"] == 2
    original = tthc.PAGE_SIZE
    tthc.PAGE_SIZE = 1  # one procedure a page: three pages
    try:
        assert services.publications_sync(cfg=cfg) == {
            "created": 1, "updated": 0, "unchanged": 2, "unknown": 0, "procedures": 3, "texts_updated": 0,
            "texts_unchanged": 0,
        }  # fmt: skip
    finally:
        tthc.PAGE_SIZE = original


def test_the_sync_keeps_the_steps_and_applicants_on_the_version_in_force_once_audited(tthc_sim):
    base, cfg = tthc_sim
    old = ProcedureVersionFactory(valid_from=dt.date(2021, 1, 1), valid_to=dt.date(2024, 12, 31), steps=[])
    current = ProcedureVersionFactory(procedure=old.procedure, version=2, valid_from=dt.date(2025, 1, 1), steps=[])
    code = old.procedure.code
    texts = {"steps": [" Bước 1: Nộp hồ sơ ", "", "Bước 2: Nhận kết quả"], "applicants": ["Công dân Việt Nam"]}
    sim_post(base, "/_sim/procedures", {"upsert": [{**record(code), **texts}]})
    audited = AuditEvent.objects.filter(action="catalog.procedure_texts_sync")

    counts = services.publications_sync(cfg=cfg)

    assert (counts["texts_updated"], counts["texts_unchanged"]) == (1, 0)
    current.refresh_from_db()
    old.refresh_from_db()
    assert current.steps == ["Bước 1: Nộp hồ sơ", "Bước 2: Nhận kết quả"]  # trimmed, the blank line dropped
    assert current.applicants == ["Công dân Việt Nam"]
    assert old.steps == []  # a past version keeps what it published then
    [event] = audited
    assert event.before["steps"] == "[]"
    assert "Nộp hồ sơ" in event.after["steps"]

    again = services.publications_sync(cfg=cfg)  # idempotent: nothing written, nothing audited

    assert (again["texts_updated"], again["texts_unchanged"]) == (0, 1)
    assert audited.count() == 1
    # the database stops publishing who may apply: kept empty, and 1.3 counts the part missing
    sim_post(base, "/_sim/procedures", {"upsert": [{**record(code), **texts, "applicants": []}]})
    assert services.publications_sync(cfg=cfg)["texts_updated"] == 1
    current.refresh_from_db()
    assert current.applicants == []
    [facts] = [f for f in selectors.procedure_publicity_facts() if f.code == code]
    assert facts.version_on(dt.date(2025, 6, 1)).missing == ("applicants",)


def test_a_definition_silent_on_the_texts_keeps_the_national_ones():
    version = ProcedureVersionFactory(steps=["Bước 1"], applicants=["Cá nhân"])
    spec = {
        "code": version.procedure.code, "name": version.procedure.name, "name_en": "x", "field": "f",
        "field_en": "f", "level": "commune", "agency_kind": "commune_pc", "online_level": "partial",
        "statutory_days": version.statutory_days, "fees": version.fees,
        "required_documents": version.required_documents,
        "legal_basis": version.legal_basis, "result": version.result, "result_en": version.result_en,
        "form_schema": version.form_schema, "notes": version.notes, "same_day_cutoff": None,
        "fee_stage": version.fee_stage,
    }  # fmt: skip
    assert services.procedure_upsert(spec=spec)[1] is False  # no new version: the texts are kept
    _, made = services.procedure_upsert(spec={**spec, "steps": ["Bước 1", "Bước 2"]})
    assert made  # a definition that says them changes them, as any part


def test_a_malformed_text_is_an_error(tthc_sim):
    base, cfg = tthc_sim
    version = ProcedureVersionFactory()
    sim_post(base, "/_sim/procedures", {"upsert": [{**record(version.procedure.code), "steps": "Bước 1"}]})
    with pytest.raises(tthc.TthcError):
        services.publications_sync(cfg=cfg)


def test_an_unusable_answer_is_an_error(tthc_sim):
    base, cfg = tthc_sim
    with pytest.raises(tthc.TthcError) as wrong_key:
        list(tthc.procedure_codes(tthc.Config(base_url=base, api_key="sai", agency="H29")))
    assert wrong_key.value.status == 401
    for mode in ("down", "garbage"):
        sim_post(base, "/_sim/mode", {"mode": mode})
        with pytest.raises(tthc.TthcError):
            services.publications_sync(cfg=cfg)
    sim_post(base, "/_sim/mode", {"mode": "ok"})
    with pytest.raises(tthc.TthcError) as unknown:
        tthc.procedure_publications(cfg, code="9.000000")
    assert unknown.value.status == 404


def test_a_desk_posting_is_recorded_once_and_needs_a_version():
    version = ProcedureVersionFactory(valid_from=dt.date(2025, 1, 1))
    first = services.desk_posting_record(procedure=version.procedure, posted_on=dt.date(2025, 2, 3))
    again = services.desk_posting_record(procedure=version.procedure, posted_on=dt.date(2025, 2, 3))
    assert first == again
    assert first.version == version
    assert DeskPosting.objects.count() == 1
    with pytest.raises(services.DomainError):
        services.desk_posting_record(procedure=version.procedure, posted_on=dt.date(2024, 12, 31))


def test_the_command_syncs_from_the_simulator(tthc_sim, capsys):
    from django.core.management import call_command

    base, _ = tthc_sim
    version = ProcedureVersionFactory()
    sim_post(base, "/_sim/procedures", {"upsert": [record(version.procedure.code)]})
    call_command("tthc", "sync", "--url", base, "--api-key", API_KEY)
    call_command("tthc", "sync", "--url", base, "--api-key", API_KEY)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["created"] for line in lines] == [1, 0]
    assert lines[1]["unchanged"] == 1


def test_the_demo_records_are_the_simulators_and_loading_twice_changes_nothing():
    from hcmgov.catalog.demo import publicity_demo_load
    from hcmgov.simulators.tthc import seed_records

    loaded = services.procedures_load()
    first = publicity_demo_load()
    assert first["created"] == loaded == len(seed_records())
    assert first["postings"] == loaded
    assert first["texts_updated"] == loaded  # the simulator's steps and applicants, on each version in force
    second = publicity_demo_load()
    assert (second["created"], second["updated"], second["unchanged"], second["texts_updated"]) == (0, 0, loaded, 0)
    assert Publication.objects.count() == DeskPosting.objects.count() == loaded
