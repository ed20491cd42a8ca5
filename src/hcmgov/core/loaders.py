"""Load the shipped data files of administrative units, the crosswalk and agencies into the
database (idempotent: re-running updates in place). The files are derived from the
``vietnam-provinces`` package by ``scripts/derive_units.py``; see ``data/units/README.md``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.db import transaction

from hcmgov.core.models import (
    COMMUNE_TYPES,
    DISTRICT_TYPES,
    AdminUnit,
    Agency,
    Structure,
    UnitLevel,
    UnitLink,
)

DATA = Path(__file__).resolve().parent / "data"
STRUCTURES = {
    "2021": ("TP. Hồ Chí Minh 2021–2025 (ba cấp)", "Nghị quyết 1111/NQ-UBTVQH14", "hcmc-2021.json"),
    "2025": ("TP. Hồ Chí Minh từ 01/7/2025 (hai cấp)", "Nghị quyết 1685/NQ-UBTVQH15", "hcmc-2025.json"),
}


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _required_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _level(unit_type: str) -> str:
    if unit_type in DISTRICT_TYPES:
        return UnitLevel.DISTRICT
    if unit_type in COMMUNE_TYPES:
        return UnitLevel.COMMUNE
    return UnitLevel.CITY


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@transaction.atomic
def units_load(*, data_dir: Path = DATA / "units") -> dict[str, int]:
    """Load both structures and the 2025 crosswalk. Returns unit counts per structure."""
    counts: dict[str, int] = {}
    for key, (name, basis, filename) in STRUCTURES.items():
        doc = _read(data_dir / filename)
        units = doc["units"]
        valid_from = min(_required_date(u["valid_from"]) for u in units)
        ends = {u.get("valid_to") for u in units}
        structure, _ = Structure.objects.update_or_create(
            key=key,
            defaults={
                "name": name,
                "legal_basis": basis,
                "valid_from": valid_from,
                "valid_to": _date(max(ends)) if None not in ends else None,
            },
        )
        by_code: dict[str, AdminUnit] = {}
        # parents before children: the province, then districts, then communes
        for u in sorted(units, key=lambda u: (u["parent"] is not None, u["type"] not in DISTRICT_TYPES, u["code"])):
            unit, _ = AdminUnit.objects.update_or_create(
                structure=structure,
                code=u["code"],
                defaults={
                    "name": u["name"],
                    "name_en": u.get("name_en") or u["name"],
                    "type": u["type"],
                    "level": _level(u["type"]),
                    "parent": by_code.get(u["parent"]) if u["parent"] else None,
                    "valid_from": _required_date(u["valid_from"]),
                    "valid_to": _date(u.get("valid_to")),
                },
            )
            by_code[unit.code] = unit
        counts[key] = len(by_code)
    crosswalk = _read(data_dir / "crosswalk-2025.json")
    old = {u.code: u for u in AdminUnit.objects.filter(structure__key="2021")}
    new = {u.code: u for u in AdminUnit.objects.filter(structure__key="2025")}
    effective = _required_date(crosswalk["effective"])
    for link in crosswalk["links"]:
        UnitLink.objects.update_or_create(
            old=old[link["old"]],
            new=new[link["new"]],
            defaults={"share": link["share"], "primary": bool(link["primary"]), "effective": effective},
        )
    return counts


@transaction.atomic
def agencies_load(*, path: Path = DATA / "agencies" / "hcmc-agencies.json") -> int:
    """Load the agencies; each is tied to the unit it serves in the structure of its period."""
    doc = _read(path)
    units = {(u.structure.key, u.code): u for u in AdminUnit.objects.select_related("structure")}
    count = 0
    for a in doc["agencies"]:
        valid_from = _required_date(a["valid_from"])
        structure = "2025" if valid_from >= dt.date(2025, 7, 1) else "2021"
        unit = units.get((structure, a["unit"])) if a.get("unit") else None
        Agency.objects.update_or_create(
            code=a["code"],
            defaults={
                "name": a["name"],
                "name_en": a.get("name_en") or a["name"],
                "kind": a["kind"],
                "level": a["level"],
                "department": a.get("department") or "",
                "unit": unit,
                "valid_from": valid_from,
                "valid_to": _date(a.get("valid_to")),
                "code_verified": bool(a.get("code_verified")),
            },
        )
        count += 1
    return count
