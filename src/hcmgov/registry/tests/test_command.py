"""``hcmgov registry``: a city register loaded from JSON lines (bad lines reported, the rest
kept), its status and its change feed."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hcmgov.registry import registries as r
from hcmgov.registry import services

pytestmark = pytest.mark.django_db

PERMIT = {
    "permit_number": "123/GPXD",
    "owner_name": "Phạm Văn Dũng",
    "owner_personal_id": "079080001234",
    "site_address": {"formatted": "45 Nguyễn Trãi, Phường Bến Thành, Thành phố Hồ Chí Minh"},
    "floors": 4,
    "issued_on": "2025-09-12",
    "issued_by": "UBND Phường Bến Thành",
}


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("registry", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_city_register_is_loaded_and_its_bad_lines_reported(tmp_path):
    lines = [
        json.dumps({"key": "123/GPXD", "facts": PERMIT}, ensure_ascii=False),
        json.dumps({"key": "124/GPXD", "facts": {**PERMIT, "permit_number": "124/GPXD", "floors": -1}}),
        "{not json",
        "",
        json.dumps({"key": "125/GPXD", "facts": {**PERMIT, "permit_number": "125/GPXD"}}, ensure_ascii=False),
    ]
    path = tmp_path / "permits.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(CommandError, match="2 dòng lỗi"):
        run("import", r.CONSTRUCTION_PERMIT, str(path))
    held = services.record_of(registry_code=r.CONSTRUCTION_PERMIT, key="123/GPXD")
    assert held.facts == PERMIT
    assert held.source == "import"
    assert held.source_ref == "permits.jsonl:1"
    assert services.record_of(registry_code=r.CONSTRUCTION_PERMIT, key="124/GPXD") is None
    assert services.record_of(registry_code=r.CONSTRUCTION_PERMIT, key="125/GPXD") is not None
    out, _ = run("status")
    assert "construction_permit" in out
    assert "current 2" in out
    feed = [json.loads(line) for line in run("changes", "--registry", r.CONSTRUCTION_PERMIT)[0].splitlines()]
    assert [c["key"] for c in feed] == ["123/GPXD", "125/GPXD"]
    assert run("changes", "--after", str(feed[0]["id"]))[0].count("\n") == 1


def test_importing_again_changes_nothing_and_a_changed_line_makes_a_version(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"key": "123/GPXD", "facts": PERMIT}, ensure_ascii=False), encoding="utf-8")
    assert "changed 1" in run("import", r.CONSTRUCTION_PERMIT, str(path))[0]
    assert "changed 0" in run("import", r.CONSTRUCTION_PERMIT, str(path))[0]
    path.write_text(json.dumps({"key": "123/GPXD", "facts": {**PERMIT, "floors": 5}}, ensure_ascii=False))
    run("import", r.CONSTRUCTION_PERMIT, str(path))
    held = services.record_of(registry_code=r.CONSTRUCTION_PERMIT, key="123/GPXD")
    assert held.version == 2
    assert held.facts["floors"] == 5


def test_only_city_registers_are_imported_and_only_national_ones_looked_up():
    with pytest.raises(CommandError):
        run("import", r.POPULATION, "x.jsonl")
    with pytest.raises(CommandError):
        run("lookup", r.HOUSEHOLD_BUSINESS, "41A8001234")
