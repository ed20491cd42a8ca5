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


def _upsert(model: Any, rows: list[dict[str, Any]], key: tuple[str, ...], existing: dict[Any, Any]) -> dict[Any, Any]:
    """Create the rows not in ``existing`` (keyed by ``key``) and update the others, in bulk."""
    fields = [f for f in rows[0] if f not in key] if rows else []
    create, update = [], []
    for row in rows:
        k = tuple(row[f] for f in key)
        obj = existing.get(k)
        if obj is None:
            create.append(model(**row))
        elif any(getattr(obj, f) != row[f] for f in fields):
            for f in fields:
                setattr(obj, f, row[f])
            update.append(obj)
    model.objects.bulk_create(create, batch_size=500)
    if update:
        model.objects.bulk_update(update, fields, batch_size=500)
    return {tuple(getattr(o, f) for f in key): o for o in [*create, *update]} | existing


@transaction.atomic
def units_load(*, data_dir: Path = DATA / "units") -> dict[str, int]:
    """Load both structures and the 2025 crosswalk (idempotent). Returns unit counts per structure."""
    counts: dict[str, int] = {}
    for key, (name, basis, filename) in STRUCTURES.items():
        units = _read(data_dir / filename)["units"]
        ends = {u.get("valid_to") for u in units}
        structure, _ = Structure.objects.update_or_create(
            key=key,
            defaults={
                "name": name,
                "legal_basis": basis,
                "valid_from": min(_required_date(u["valid_from"]) for u in units),
                "valid_to": _date(max(ends)) if None not in ends else None,
            },
        )
        by_code: dict[Any, Any] = {(u.code,): u for u in AdminUnit.objects.filter(structure=structure)}
        # parents before children: the province, then districts, then communes
        for depth in (_level_of_province, _is_district, _is_commune):
            rows = [
                {
                    "structure": structure,
                    "code": u["code"],
                    "name": u["name"],
                    "name_en": u.get("name_en") or u["name"],
                    "type": u["type"],
                    "level": _level(u["type"]),
                    "parent": by_code[(u["parent"],)] if u["parent"] else None,
                    "valid_from": _required_date(u["valid_from"]),
                    "valid_to": _date(u.get("valid_to")),
                }
                for u in units
                if depth(u)
            ]
            by_code = _upsert(AdminUnit, rows, ("code",), by_code)
        counts[key] = len(units)
    crosswalk = _read(data_dir / "crosswalk-2025.json")
    old = {u.code: u for u in AdminUnit.objects.filter(structure__key="2021")}
    new = {u.code: u for u in AdminUnit.objects.filter(structure__key="2025")}
    effective = _required_date(crosswalk["effective"])
    links = [
        {"old": old[link["old"]], "new": new[link["new"]], "share": link["share"], "primary": bool(link["primary"]),
         "effective": effective}
        for link in crosswalk["links"]
    ]  # fmt: skip
    existing = {(k.old, k.new): k for k in UnitLink.objects.select_related("old", "new")}
    _upsert(UnitLink, links, ("old", "new"), existing)
    return counts


def _level_of_province(u: dict[str, Any]) -> bool:
    return u["parent"] is None


def _is_district(u: dict[str, Any]) -> bool:
    return u["parent"] is not None and u["type"] in DISTRICT_TYPES


def _is_commune(u: dict[str, Any]) -> bool:
    return u["parent"] is not None and u["type"] not in DISTRICT_TYPES


@transaction.atomic
def agencies_load(*, path: Path = DATA / "agencies" / "hcmc-agencies.json") -> int:
    """Load the agencies (idempotent); each is tied to the unit it serves in the structure of its period."""
    doc = _read(path)
    units = {(u.structure.key, u.code): u for u in AdminUnit.objects.select_related("structure")}
    rows = []
    for a in doc["agencies"]:
        valid_from = _required_date(a["valid_from"])
        structure = "2025" if valid_from >= dt.date(2025, 7, 1) else "2021"
        rows.append({
            "code": a["code"], "name": a["name"], "name_en": a.get("name_en") or a["name"], "kind": a["kind"],
            "level": a["level"], "department": a.get("department") or "",
            "unit": units.get((structure, a["unit"])) if a.get("unit") else None,
            "valid_from": valid_from, "valid_to": _date(a.get("valid_to")),
            "code_verified": bool(a.get("code_verified")),
        })  # fmt: skip
    _upsert(Agency, rows, ("code",), {(a.code,): a for a in Agency.objects.select_related("unit")})
    return len(rows)
