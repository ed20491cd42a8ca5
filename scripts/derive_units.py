#!/usr/bin/env python3
"""Derive Ho Chi Minh City's administrative units, the 2021->2025 crosswalk and the agency list.

Standalone: standard library plus the ``vietnam-provinces`` package, in a pinned version that
depends on the structure asked for (see ``bash scripts/derive_units.sh``):

    python scripts/derive_units.py --structure 2021 --out src/hcmgov/core/data/units
        (venv with vietnam-provinces==0.4.3)  -> hcmc-2021.json
    python scripts/derive_units.py --structure 2025 --out src/hcmgov/core/data/units
        (venv with vietnam-provinces==2025.10.1) -> hcmc-2025.json, crosswalk-2025.json and
        ../agencies/hcmc-agencies.json (these two read hcmc-2021.json, so run 2021 first)

Outputs are deterministic: sorted keys, units sorted by numeric code, UTF-8, ensure_ascii=False,
indent=1, trailing newline.

Sources
-------
* Unit lists: the vietnam-provinces package (data of the General Statistics Office / National
  Statistics Office, "danh mục hành chính"). 0.4.3 holds HCMC as of Res. 1111/NQ-UBTVQH14
  (312 commune-level units); 2025.10.1 holds the two-tier structure from 1 Jul 2025, but with
  draft codes for 10 HCMC wards, replaced here by the official ones (CODE_CORRECTIONS_2025).
* Crosswalk, 30 Jun 2025 -> 1 Jul 2025: NSO conversion table "Bảng chuyển đổi ĐVHC mới - cũ"
  (danhmuchanhchinh.nso.gov.vn, BangChuyendoiĐVHCmoi_cu_final.xlsx), HCMC rows transcribed in
  scripts/data/crosswalk-2025-source.nso.csv from the CSV copy in github.com/sunshine-tech/
  VietnamProvinces (dev/seed-data/2025-07/BangChuyendoiĐVHCmoi_cu_khong_merge.csv); the text of
  Res. 1685/NQ-UBTVQH15 (16 Jun 2025) gives the clause and the "phần còn lại" (remainder) column.
  vietnam-provinces 2025.x carries no old->new mapping (checked: 2025.8.1 and 2025.10.1 ship only
  nested-/flat-divisions.json of the new structure); 2026.x ships the same NSO table as
  _ward_conversion_2025.py but requires Python >= 3.12, so it was only used to cross-check the
  transcription (273 old units, identical targets).
* Crosswalk, 31 Dec 2024 -> 1 Jan 2025: the 2021 list is NOT the list in force on 30 Jun 2025.
  Res. 1278/NQ-UBTVQH15 (in force 1 Jan 2025) merged 80 wards into 41 (312 -> 273 units).
  scripts/data/crosswalk-2025-source.1278.csv lists those mergers (secondary sources, cited in
  the file). The 2021 -> 2025 crosswalk is the composition of both steps.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import unicodedata
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

PINNED = {"2021": "0.4.3", "2025": "2025.10.1"}
HCMC = 79
HERE = Path(__file__).resolve().parent
NSO_SOURCE = HERE / "data" / "crosswalk-2025-source.nso.csv"
R1278_SOURCE = HERE / "data" / "crosswalk-2025-source.1278.csv"

VALID_2021 = ("2021-01-01", "2025-06-30")
END_1278 = "2024-12-31"  # last day of units abolished by Res. 1278/NQ-UBTVQH15 (in force 1 Jan 2025)
VALID_2025 = ("2025-07-01", None)

# Vietnamese division type -> our type; the first words of a unit's name must agree.
TYPE_BY_DIVISION = {
    "thành phố trung ương": "province",
    "thành phố": "city_under_province",
    "quận": "urban_district",
    "huyện": "rural_district",
    "phường": "ward",
    "xã": "commune",
    "thị trấn": "township",
    "đặc khu": "special_zone",
}
PREFIX_BY_TYPE = {  # (Vietnamese name prefix, English suffix)
    "province": ("Thành phố", "City"),
    "city_under_province": ("Thành phố", "City"),
    "urban_district": ("Quận", "District"),
    "rural_district": ("Huyện", "District"),
    "ward": ("Phường", "Ward"),
    "commune": ("Xã", "Commune"),
    "township": ("Thị trấn", "Township"),
    "special_zone": ("Đặc khu", "Special Zone"),
}


def fail(msg: str) -> NoReturn:
    sys.exit(f"derive_units: {msg}")


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", " ".join(s.split()))


def ascii_fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in s if not unicodedata.combining(c))


def type_from_name(name: str) -> str | None:
    low = name.lower()
    for t in ("thành phố", "thị trấn", "đặc khu", "phường", "quận", "huyện", "xã"):
        if low.startswith(t + " "):
            return t
    return None


def strip_zero_padding(name: str) -> str:
    # GSO lists numbered wards as "Phường 05"; the legal names are "Phường 5".
    return re.sub(r"^(Phường|Quận) 0+(\d)", r"\1 \2", name)


def english_name(name: str, utype: str) -> str:
    prefix, suffix = PREFIX_BY_TYPE[utype]
    if not name.startswith(prefix + " "):
        fail(f"name {name!r} does not start with {prefix!r} for type {utype}")
    rest = ascii_fold(name[len(prefix) + 1 :])
    if rest.isdigit():  # "Phường 5" -> "Ward 5", "Quận 1" -> "District 1"
        return f"{suffix} {rest}"
    return f"{rest} {suffix}"


def match_key(name: str) -> str:
    """Key to compare names across sources: NFC, casefold, no zero padding, old/new tone placement."""
    s = strip_zero_padding(nfc(name)).lower()
    for old, new in (
        ("òa", "oà"),
        ("óa", "oá"),
        ("ỏa", "oả"),
        ("õa", "oã"),
        ("ọa", "oạ"),
        ("òe", "oè"),
        ("óe", "oé"),
        ("ỏe", "oẻ"),
        ("õe", "oẽ"),
        ("ọe", "oẹ"),
        ("ùy", "uỳ"),
        ("úy", "uý"),
        ("ủy", "uỷ"),
        ("ũy", "uỹ"),
        ("ụy", "uỵ"),
    ):
        s = s.replace(old, new)
    return re.sub(r"\bqui\b", "quy", s)  # "Xã Qui Đức" (NSO) = "Xã Quy Đức" (GSO 2021)


def check_package(structure: str) -> str:
    try:
        version = metadata.version("vietnam-provinces")
    except metadata.PackageNotFoundError:
        fail("vietnam-provinces is not installed")
    if version != PINNED[structure]:
        fail(f"--structure {structure} needs vietnam-provinces=={PINNED[structure]}, found {version}")
    return version


def load_package_json() -> list:
    import vietnam_provinces

    path = getattr(vietnam_provinces, "NESTED_DIVISIONS_JSON_PATH", None)
    if path is None:
        path = Path(vietnam_provinces.__file__).parent / "data" / "nested-divisions.json"
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {path}")


def sort_units(units: list[dict]) -> list[dict]:
    return sorted(units, key=lambda u: int(u["code"]))


def unit(code, name, utype, parent, valid, **extra) -> dict[str, Any]:
    d = {
        "code": str(code),
        "name": name,
        "name_en": english_name(name, utype),
        "type": utype,
        "parent": None if parent is None else str(parent),
        "valid_from": valid[0],
        "valid_to": valid[1],
    }
    d.update(extra)
    return d


# --------------------------------------------------------------------------- 2021 structure
def derive_2021(out: Path) -> None:
    version = check_package("2021")
    province = next(p for p in load_package_json() if p["code"] == HCMC)
    # A ward named in the Res. 1278 rows ceased to exist unless it kept (part of) its own territory
    # under its own name (the two Quận 6 boundary transfers).
    abolished_keys = {
        (d, match_key(n))
        for (d, n), rows in read_1278().items()
        if all(match_key(into) != match_key(n) for into, _, _ in rows)
    }
    units = [unit(HCMC, nfc(province["name"]), "province", None, VALID_2021)]
    seen_abolished = set()
    for dist in province["districts"]:
        dtype = TYPE_BY_DIVISION[dist["division_type"]]
        dname = nfc(dist["name"])
        if type_from_name(dname) != dist["division_type"]:
            fail(f"district {dist['code']} name/type disagree")
        units.append(unit(dist["code"], dname, dtype, HCMC, VALID_2021))
        for w in dist["wards"]:
            name = strip_zero_padding(nfc(w["name"]))
            if type_from_name(name) != w["division_type"]:
                fail(f"ward {w['code']} name/type disagree: {name!r} {w['division_type']!r}")
            key = (int(dist["code"]), match_key(name))
            extra = {}
            valid = VALID_2021
            if key in abolished_keys:
                # Correction of DOMAIN.md: abolished on 1 Jan 2025 by Res. 1278/NQ-UBTVQH15.
                valid = (VALID_2021[0], END_1278)
                extra["ended_by"] = "1278/NQ-UBTVQH15"
                seen_abolished.add(key)
            units.append(unit(w["code"], name, TYPE_BY_DIVISION[w["division_type"]], dist["code"], valid, **extra))
    missing = abolished_keys - seen_abolished
    if missing:
        fail(f"Res. 1278 rows name wards absent from the 2021 list: {sorted(missing)}")
    write_json(
        out / "hcmc-2021.json",
        {
            "source": (
                "General Statistics Office administrative-unit list as packaged in vietnam-provinces "
                "0.4.3 (HCMC after Res. 1111/NQ-UBTVQH14, in force 1 Jan 2021). Zero-padded ward "
                "numbers ('Phường 05') are written as in the legal texts ('Phường 5'). valid_to is "
                "2025-06-30 except for the wards abolished by Res. 1278/NQ-UBTVQH15 (in force "
                "1 Jan 2025; see scripts/data/crosswalk-2025-source.1278.csv), which end 2024-12-31 "
                "and carry ended_by. The wards as reconstituted on 1 Jan 2025 are not listed "
                "separately: some reuse a code of this list under another name (26872, Phường 13 of "
                "Gò Vấp here, is Phường 15 from 1 Jan 2025); see crosswalk-2025.json 'via'."
            ),
            "package": f"vietnam-provinces=={version}",
            "structure": "2021",
            "units": sort_units(units),
        },
    )


# --------------------------------------------------------------------------- 2025 structure
# Explicit correction of vietnam-provinces 2025.10.1 (and 2025.8.1): their 2025 codes come from the
# government's DRAFT code list, and for 10 HCMC wards the code differs from the official one that the
# National Statistics Office published (danhmuchanhchinh.nso.gov.vn; also its conversion table, see
# scripts/data/crosswalk-2025-source.nso.csv, and vietnam-provinces >= 2026.1.0, which switched to
# the NSO data but needs Python >= 3.12). package code -> official code; the names agree.
CODE_CORRECTIONS_2025 = {
    26794: 26800,  # Phường Linh Xuân
    26797: 26803,  # Phường Tam Bình
    26812: 26809,  # Phường Hiệp Bình
    26887: 26876,  # Phường An Nhơn
    26899: 26898,  # Phường Thông Tây Hội
    26902: 26890,  # Phường Hạnh Thông
    27010: 27019,  # Phường Tân Sơn Nhì
    27118: 27094,  # Phường An Khánh
    27160: 27154,  # Phường Bàn Cờ
    27385: 27364,  # Phường Bình Phú
}


def derive_2025(out: Path, agencies_out: Path) -> None:
    version = check_package("2025")
    province = next(p for p in load_package_json() if p["code"] == HCMC)
    units = [unit(HCMC, nfc(province["name"]), "province", None, VALID_2025)]
    corrections = []
    nso_new = {(r["new_code"], match_key(r["new_name"])) for r in read_csv(NSO_SOURCE)}
    for w in province["wards"]:
        # nfc(): 2025.8.1 has some names in decomposed (NFD) form, 2025.10.1 two names with a
        # double space ("Phường  An Nhơn", "Phường  Rạch Dừa").
        name = nfc(w["name"])
        code = CODE_CORRECTIONS_2025.get(w["code"], w["code"])
        if code != w["code"]:
            if (str(code), match_key(name)) not in nso_new:
                fail(f"code correction {w['code']} -> {code} not confirmed by the NSO table")
            corrections.append(f"code {w['code']} -> {code} ({name})")
        pkg_type = w["division_type"]
        name_type = type_from_name(name)
        if name_type is None:
            fail(f"cannot read the type of {name!r}")
        if name_type != pkg_type:
            # Explicit correction: the type is the one the unit's legal name states.
            # vietnam-provinces 2025.8.1 types 20 HCMC wards (e.g. 27259 Phường Xóm Chiếu) as "xã";
            # 0.6.0 types every ward "xã". 2025.10.1, the pinned version, has no such case.
            corrections.append(f"type {w['code']}: {pkg_type} -> {name_type}")
        units.append(unit(code, name, TYPE_BY_DIVISION[name_type], HCMC, VALID_2025))
    if corrections:
        print(f"corrections applied ({len(corrections)}):\n  " + "\n  ".join(corrections))
    if len({u["code"] for u in units}) != len(units):
        fail("duplicate codes in the 2025 list after corrections")
    counts: dict[str, int] = defaultdict(int)
    for u in units[1:]:
        counts[u["type"]] += 1
    if dict(counts) != {"ward": 113, "commune": 54, "special_zone": 1}:
        fail(f"unexpected 2025 counts {dict(counts)}")
    write_json(
        out / "hcmc-2025.json",
        {
            "source": (
                "National Statistics Office list of commune-level units in force from 1 Jul 2025 "
                "(Res. 1685/NQ-UBTVQH15 for HCMC; Res. 202/2025/QH15 merged Bình Dương and Bà Rịa - "
                "Vũng Tàu into the city) as packaged in vietnam-provinces 2025.10.1. Types are taken "
                "from the legal name (the script would correct a package type that disagrees; none in "
                "2025.10.1). Corrected: the package's codes for 10 wards, which come from the draft "
                "code list, are replaced by the official NSO codes (26794->26800 Linh Xuân, 26797->26803 "
                "Tam Bình, 26812->26809 Hiệp Bình, 26887->26876 An Nhơn, 26899->26898 Thông Tây Hội, "
                "26902->26890 Hạnh Thông, 27010->27019 Tân Sơn Nhì, 27118->27094 An Khánh, 27160->27154 "
                "Bàn Cờ, 27385->27364 Bình Phú); whitespace in names normalised."
            ),
            "package": f"vietnam-provinces=={version}",
            "structure": "2025",
            "units": sort_units(units),
        },
    )
    units_2021 = json.loads((out / "hcmc-2021.json").read_text(encoding="utf-8"))["units"]
    crosswalk = derive_crosswalk(units_2021, units)
    write_json(out / "crosswalk-2025.json", crosswalk)
    write_json(agencies_out / "hcmc-agencies.json", derive_agencies(units_2021, units))


# --------------------------------------------------------------------------- crosswalk
def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def read_1278() -> dict:
    """(district code, 2021 name) -> list of (name on 1 Jan 2025, share, clause)."""
    out = defaultdict(list)
    for r in read_csv(R1278_SOURCE):
        if r["share"] not in ("whole", "part"):
            fail(f"bad share in {R1278_SOURCE.name}: {r}")
        out[(int(r["old_district"]), r["old_name"])].append((r["into"], r["share"], r["clause"]))
    for key, rows in out.items():
        shares = {s for _, s, _ in rows}
        if (len(rows) == 1) != (shares == {"whole"}):
            fail(f"{R1278_SOURCE.name}: {key} must be one whole row or several part rows")
    return out


def read_nso() -> dict:
    """old code (30 Jun 2025) -> list of rows of the NSO table."""
    out = defaultdict(list)
    for r in read_csv(NSO_SOURCE):
        out[r["old_code"]].append(r)
    return out


def nso_primary(rows: list[dict]) -> tuple[str, str]:
    """Primary successor of an old (30 Jun 2025) unit in the NSO table, with the rule used."""
    if len(rows) == 1:
        return rows[0]["new_code"], "single_successor"
    whole_pop = [r for r in rows if "toàn bộ dân số" in r["note"]]
    if len(whole_pop) == 1:
        return whole_pop[0]["new_code"], "whole_population"
    same_code = [r for r in rows if r["new_code"] == r["old_code"]]
    if len(same_code) == 1:
        return same_code[0]["new_code"], "code_continuity"
    remainder = [r for r in rows if r["remainder"] == "x"]
    if len(remainder) == 1:
        return remainder[0]["new_code"], "remainder"
    fail(f"no primary rule for {rows[0]['old_code']}")


def derive_crosswalk(units_2021: list[dict], units_2025: list[dict]) -> dict:
    nso = read_nso()
    r1278 = read_1278()
    codes_2025 = {u["code"] for u in units_2025}
    communes_2021 = [u for u in units_2021 if u["parent"] not in (None, str(HCMC))]
    # The 273 units in force on 30 Jun 2025: their district and name from the NSO table.
    mid_by_key = {}
    for old_code, rows in nso.items():
        key = (int(rows[0]["old_district"]), match_key(rows[0]["old_name"]))
        if key in mid_by_key:
            fail(f"two 30-Jun-2025 units share district+name {key}")
        mid_by_key[key] = old_code
        for r in rows:
            if r["new_code"] not in codes_2025:
                fail(f"NSO row names new code {r['new_code']} absent from the 2025 list")
            if match_key(r["new_name"]) != match_key(next(u["name"] for u in units_2025 if u["code"] == r["new_code"])):
                fail(f"NSO new name {r['new_name']!r} differs from the package for {r['new_code']}")
    if len(mid_by_key) != 273:
        fail(f"NSO table has {len(mid_by_key)} HCMC units in force on 30 Jun 2025, expected 273")
    r1278_keys = {(d, match_key(n)): rows for (d, n), rows in r1278.items()}

    links, reached_mid = [], set()
    for u in sorted(communes_2021, key=lambda u: int(u["code"])):
        district = int(u["parent"])
        key = (district, match_key(u["name"]))
        # Step 1: 2021 unit -> unit(s) in force 1 Jan - 30 Jun 2025 (Res. 1278).
        if key in r1278_keys:
            step1 = []
            for into, share, _clause in r1278_keys[key]:
                mid = mid_by_key.get((district, match_key(into)))
                if mid is None:
                    fail(f"Res. 1278 target {into!r} (district {district}) not in the NSO table")
                step1.append((mid, share))
        elif key in mid_by_key:
            step1 = [(mid_by_key[key], "whole")]
        else:
            fail(f"2021 unit {u['code']} {u['name']} has no successor on 1 Jan 2025")
        # Step 2: 30 Jun 2025 unit -> 2025 unit(s) (NSO table / Res. 1685).
        targets: dict[str, set[str]] = defaultdict(set)  # new code -> via (30 Jun 2025 codes)
        for mid, _share in step1:
            reached_mid.add(mid)
            for r in nso[mid]:
                targets[r["new_code"]].add(mid)
        # Primary successor.
        if len(targets) == 1:
            primary, basis = next(iter(targets)), "single_successor"
        elif len(step1) == 1:
            primary, basis = nso_primary(nso[step1[0][0]])
        else:
            # Split in 2024 into wards that went to different 2025 units (Bình Thạnh Phường 6,
            # Gò Vấp Phường 13). Rule: the 1 Jan 2025 ward that kept this ward's statistics code,
            # else the lowest code among the candidates (an arbitrary but stable tie-break).
            mids = [m for m, _ in step1]
            if u["code"] in mids:
                primary, basis = nso_primary(nso[u["code"]])[0], "code_continuity_2024"
            else:
                primary, basis = min(targets, key=int), "tiebreak_lowest_code"
        for new_code in sorted(targets, key=int):
            links.append(
                {
                    "old": u["code"],
                    "new": new_code,
                    "share": "whole" if len(targets) == 1 else "part",
                    "primary": new_code == primary,
                    "primary_basis": basis if new_code == primary else None,
                    "via": sorted(targets[new_code], key=int),
                }
            )
    if reached_mid != set(nso):
        fail(f"30-Jun-2025 units not reached from the 2021 list: {sorted(set(nso) - reached_mid)}")
    return {
        "source": (
            "Composition of two official steps. (1) 1 Jan 2025: Res. 1278/NQ-UBTVQH15 merged 80 of "
            "HCMC's wards into 41 (312 -> 273 units); rows in scripts/data/crosswalk-2025-source."
            "1278.csv (secondary sources cited there); 2021 units not named there continue under "
            "their name. (2) 1 Jul 2025: Res. 1685/NQ-UBTVQH15 (16 Jun 2025), old->new links from "
            "the National Statistics Office conversion table 'Bảng chuyển đổi ĐVHC mới - cũ' "
            "(danhmuchanhchinh.nso.gov.vn), HCMC rows in scripts/data/crosswalk-2025-source.nso.csv "
            "as transcribed in github.com/sunshine-tech/VietnamProvinces (dev/seed-data/2025-07/"
            "BangChuyendoiĐVHCmoi_cu_khong_merge.csv); cross-checked against the same table in "
            "vietnam-provinces 2026.9.0 (_ward_conversion_2025.py). 'via' lists the unit(s) in force "
            "on 30 Jun 2025 (NSO 'old' codes) the link passes through. share: 'whole' when the old "
            "unit went entirely into one new unit, else 'part'. primary (exactly one per old unit; "
            "no source gives the size of the parts, so this is a documented convention, see "
            "primary_basis): single_successor; whole_population = the NSO note says that successor "
            "took 'toàn bộ dân số'; code_continuity = the successor that kept the old unit's "
            "statistics code (the NSO gives each new unit the code of one predecessor); remainder "
            "= otherwise, the successor that Res. 1685 gives the 'phần còn lại' (remaining part) "
            "after carving out the other parts; code_continuity_2024 / tiebreak_lowest_code for "
            "the two wards split in 2024 (see README)."
        ),
        "effective": "2025-07-01",
        "links": links,
        "unresolved": [],
    }


# --------------------------------------------------------------------------- agencies
# Agency identifiers (Circular 10/2016/TT-BTTTT, QCVN 102:2016/BTTTT): four groups
# "<level 4: 3>.<level 3: 2>.<level 2: 2>.<level 1: 3>", read right to left; level 1 "H29" is the
# HCMC People's Committee, so the committee itself is 000.00.00.H29.
# Level-2 numbers seen for HCMC agencies in the city's 2014 document-exchange statistics (three-group
# codes "00.NN.H29", pre-Circular); used as hints for generated codes, never as verified codes.
HINTS_2014 = {
    "dept:construction": "17",
    "dept:education": "03",
    "dept:finance": "12",
    "dept:foreign": "08",
    "dept:health": "18",
    "dept:home": "09",
    "dept:industry": "02",
    "dept:justice": "15",
    "dept:science": "06",
    "dept:planning": "05",
    "dept:transport": "04",
    "dept:environment": "13",
    "dept:information": "14",
    760: "41",
    770: "43",
    773: "44",
    774: "45",
    775: "46",
    778: "47",
    776: "48",
    771: "50",
    772: "51",
    761: "52",
    765: "53",
    777: "54",
    768: "55",
    766: "57",
    785: "58",
    787: "59",
    784: "60",
    786: "61",
    783: "62",
    764: "63",
    767: "64",
}
# All level-2 numbers in that 2014 list (including agencies not listed here): generated numbers avoid them.
USED_2014 = {0, 2, 3, 4, 5, 6, 8, 9, 12, 13, 14, 15, 17, 18, 33, 34, 35, 36, 75, 80, 81, 82, 83, 84, 85, 90} | set(
    range(41, 65)
)
CITY_PC_CODE = "000.00.00.H29"
CITY_PC_SOURCE = (
    "Agency suffix of HCMC local procedure codes, e.g. 1.000494.000.00.00.H29 on "
    "dichvucong.hochiminhcity.gov.vn (URL quoted in a public repository); also in DOMAIN.md."
)
START = "2021-01-01"  # start of this data set's coverage, not the founding date
CONSOLIDATION = ("2025-02-28", "2025-03-01")
DEPARTMENTS = [  # key, Vietnamese, English, valid_from, valid_to
    ("dept:justice", "Sở Tư pháp", "Department of Justice", START, None),
    ("dept:finance", "Sở Tài chính", "Department of Finance", START, None),
    ("dept:planning", "Sở Kế hoạch và Đầu tư", "Department of Planning and Investment", START, CONSOLIDATION[0]),
    ("dept:construction", "Sở Xây dựng", "Department of Construction", START, None),
    ("dept:transport", "Sở Giao thông vận tải", "Department of Transport", START, CONSOLIDATION[0]),
    (
        "dept:agriculture",
        "Sở Nông nghiệp và Phát triển nông thôn",
        "Department of Agriculture and Rural Development",
        START,
        CONSOLIDATION[0],
    ),
    (
        "dept:environment",
        "Sở Tài nguyên và Môi trường",
        "Department of Natural Resources and Environment",
        START,
        CONSOLIDATION[0],
    ),
    (
        "dept:agri_env",
        "Sở Nông nghiệp và Môi trường",
        "Department of Agriculture and Environment",
        CONSOLIDATION[1],
        None,
    ),
    ("dept:home", "Sở Nội vụ", "Department of Home Affairs", START, None),
    (
        "dept:labour",
        "Sở Lao động - Thương binh và Xã hội",
        "Department of Labour, Invalids and Social Affairs",
        START,
        CONSOLIDATION[0],
    ),
    ("dept:health", "Sở Y tế", "Department of Health", START, None),
    ("dept:education", "Sở Giáo dục và Đào tạo", "Department of Education and Training", START, None),
    ("dept:culture", "Sở Văn hóa và Thể thao", "Department of Culture and Sports", START, None),
    ("dept:science", "Sở Khoa học và Công nghệ", "Department of Science and Technology", START, None),
    (
        "dept:information",
        "Sở Thông tin và Truyền thông",
        "Department of Information and Communications",
        START,
        CONSOLIDATION[0],
    ),
    ("dept:industry", "Sở Công Thương", "Department of Industry and Trade", START, None),
    ("dept:foreign", "Sở Ngoại vụ", "Department of Foreign Affairs", START, None),
    ("dept:ethnic", "Sở Dân tộc và Tôn giáo", "Department of Ethnic and Religious Affairs", CONSOLIDATION[1], None),
]


# The catalogue's `agency_department` names a department by these keys.
DEPARTMENT_KEYS = {
    "dept:justice": "justice",
    "dept:finance": "finance",
    "dept:planning": "planning_investment",
    "dept:construction": "construction",
    "dept:transport": "transport",
    "dept:agriculture": "agriculture_rural",
    "dept:environment": "natural_resources_environment",
    "dept:agri_env": "agriculture_environment",
    "dept:home": "home_affairs",
    "dept:labour": "labour_social",
    "dept:health": "health",
    "dept:education": "education",
    "dept:culture": "culture_sports",
    "dept:science": "science_technology",
    "dept:information": "information_communications",
    "dept:industry": "industry_trade",
    "dept:foreign": "foreign_affairs",
    "dept:ethnic": "ethnic_religious",
}


def police_names(u: dict) -> tuple[str, str]:
    prefix = PREFIX_BY_TYPE[u["type"]][0]
    rest = u["name"][len(prefix) + 1 :]
    vi = f"Công an {prefix if rest.isdigit() else prefix.lower()} {rest}"
    return vi, f"Police of {u['name_en']}"


def commune_police(u: dict, code: str) -> dict:
    """The commune-level police station: it receives residence and ID-card dossiers."""
    vi, en = police_names(u)
    return {
        "code": code,
        "name": vi,
        "name_en": en,
        "kind": "police",
        "unit": u["code"],
        "level": "commune",
        "valid_from": u["valid_from"],
        "valid_to": u["valid_to"],
        "code_verified": False,
        "code_source": None,
        "code_note": "generated; under the city police (level 2: 29, level 1: G01)",
    }


def pc_names(u: dict) -> tuple[str, str]:
    prefix = PREFIX_BY_TYPE[u["type"]][0]
    rest = u["name"][len(prefix) + 1 :]
    # Vietnamese usage: "Ủy ban nhân dân Phường 5" but "Ủy ban nhân dân phường Bến Nghé".
    vi = f"Ủy ban nhân dân {prefix if rest.isdigit() else prefix.lower()} {rest}"
    return vi, f"People's Committee of {u['name_en']}"


def derive_agencies(units_2021: list[dict], units_2025: list[dict]) -> dict:
    free = (n for n in range(19, 100) if n not in USED_2014 and str(n).zfill(2) not in HINTS_2014.values())
    agencies = [
        {
            "code": CITY_PC_CODE,
            "name": "Ủy ban nhân dân Thành phố Hồ Chí Minh",
            "name_en": "Ho Chi Minh City People's Committee",
            "kind": "city_pc",
            "unit": str(HCMC),
            "level": "city",
            "valid_from": START,
            "valid_to": None,
            "code_verified": True,
            "code_source": CITY_PC_SOURCE,
            "code_note": None,
        }
    ]

    def generated(level2: str, key, level3: str = "00") -> tuple[str, str]:
        hint = HINTS_2014.get(key)
        note = (
            f"generated; level-2 number {hint} as in HCMC's 2014 three-group code 00.{hint}.H29"
            if hint and level3 == "00"
            else "generated"
        )
        return f"000.{level3}.{level2}.H29", note

    for key, vi, en, start, end in DEPARTMENTS:
        level2 = HINTS_2014.get(key) or str(next(free)).zfill(2)
        code, note = generated(level2, key)
        agencies.append(
            {
                "code": code,
                "name": vi,
                "name_en": en,
                "kind": "department",
                "department": DEPARTMENT_KEYS[key],
                "unit": str(HCMC),
                "level": "city",
                "valid_from": start,
                "valid_to": end,
                "code_verified": False,
                "code_source": None,
                "code_note": note,
            }
        )
    agencies.append(
        {
            "code": "000.00.29.G01",
            "name": "Công an Thành phố Hồ Chí Minh",
            "name_en": "Ho Chi Minh City Police",
            "kind": "police",
            "unit": str(HCMC),
            "level": "city",
            "valid_from": START,
            "valid_to": None,
            "code_verified": False,
            "code_source": None,
            "code_note": (
                "generated; the city police is a level-2 unit (29) under the Ministry of Public "
                "Security (level 1 G01), as in HCMC's 2014 three-group code 00.29.G01"
            ),
        }
    )
    district_level2 = {}
    districts = [u for u in units_2021 if u["parent"] == str(HCMC)]
    for d in sorted(districts, key=lambda u: int(u["code"])):
        level2 = HINTS_2014.get(int(d["code"])) or str(next(free)).zfill(2)
        district_level2[d["code"]] = level2
        code, note = generated(level2, int(d["code"]))
        vi, en = pc_names(d)
        agencies.append(
            {
                "code": code,
                "name": vi,
                "name_en": en,
                "kind": "district_pc",
                "unit": d["code"],
                "level": "district",
                "valid_from": d["valid_from"],
                "valid_to": d["valid_to"],
                "code_verified": False,
                "code_source": None,
                "code_note": note,
            }
        )
    by_district = defaultdict(list)
    for u in units_2021:
        if u["parent"] in district_level2:
            by_district[u["parent"]].append(u)
    for dcode, wards in by_district.items():
        for i, u in enumerate(sorted(wards, key=lambda u: int(u["code"])), start=1):
            vi, en = pc_names(u)
            agencies.append(
                {
                    "code": f"000.{i:02d}.{district_level2[dcode]}.H29",
                    "_police": f"{i:03d}.{district_level2[dcode]}.29.G01",
                    "name": vi,
                    "name_en": en,
                    "kind": "commune_pc",
                    "unit": u["code"],
                    "level": "commune",
                    "valid_from": u["valid_from"],
                    "valid_to": u["valid_to"],
                    "code_verified": False,
                    "code_source": None,
                    "code_note": "generated",
                }
            )
    wards_2021 = {u["code"]: u for u in units_2021}
    for a in list(agencies):
        if "_police" in a:
            agencies.append(commune_police(wards_2021[a["unit"]], a.pop("_police")))
    communes = sorted((u for u in units_2025 if u["parent"] == str(HCMC)), key=lambda u: int(u["code"]))
    for n, u in enumerate(communes):
        vi, en = pc_names(u)
        agencies.append(
            {
                "code": f"000.{n % 99 + 1:02d}.{91 + n // 99}.H29",
                "name": vi,
                "name_en": en,
                "kind": "commune_pc",
                "unit": u["code"],
                "level": "commune",
                "valid_from": u["valid_from"],
                "valid_to": u["valid_to"],
                "code_verified": False,
                "code_source": None,
                "code_note": "generated",
            }
        )
        agencies.append(commune_police(u, f"{n + 1:03d}.99.29.G01"))
    codes = [a["code"] for a in agencies]
    if len(codes) != len(set(codes)):
        fail("agency codes are not unique")
    return {
        "source": (
            "Agencies receiving dossiers in HCMC. Codes follow the electronic agency identifier of "
            "Circular 10/2016/TT-BTTTT (QCVN 102:2016/BTTTT): '<level 4>.<level 3>.<level 2>."
            "<level 1>', 3+2+2+3 characters, level 1 H29 = HCMC People's Committee. Only "
            "000.00.00.H29 was seen in a public source (code_verified true, code_source). All other "
            "codes are GENERATED placeholders (code_verified false), deterministic: departments "
            "000.00.NN.H29 and district PCs 000.00.NN.H29 with NN = the level-2 number HCMC used "
            "for that agency in its 2014 three-group codes '00.NN.H29' where one was seen, else the "
            "lowest number from 19 up unused in that 2014 list, taken in file order; city police 000.00.29.G01 "
            "(2014: 00.29.G01, level 1 G01 = Ministry of Public Security); commune police stations "
            "SSS.NN.29.G01 (2021: NN = district number, SSS = rank in district) and SSS.99.29.G01 "
            "(2025: SSS = 1-based rank among the 168 units); 2021 commune PCs "
            "000.SS.NN.H29 with NN = their district's number and SS = rank of the unit's statistics "
            "code within the district; 2025 commune PCs (no district level) 000.SS.BB.H29 with "
            "k = 0-based rank of the statistics code among the 168 units, BB = 91 + k // 99, "
            "SS = k % 99 + 1. Replace with the codes assigned by the city before use in exchanges "
            "with the national portal. Department validity: before/after the consolidation of "
            "1 Mar 2025 (Finance took over Planning and Investment, Construction took over "
            "Transport, Agriculture and Environment replaced Agriculture and Rural Development and "
            "Natural Resources and Environment, Science and Technology took over Information and "
            "Communications, Home Affairs took over most of Labour, Invalids and Social Affairs, "
            "Ethnic and Religious Affairs is new); valid_from 2021-01-01 is the start of this data "
            "set, not a founding date. Commune and district PCs take the validity of their unit."
        ),
        "agencies": sorted(agencies, key=lambda a: a["code"]),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--structure", choices=("2021", "2025"), required=True)
    ap.add_argument("--out", type=Path, required=True, help="units data directory")
    ap.add_argument(
        "--agencies-out", type=Path, default=None, help="agencies data directory (default: <out>/../agencies)"
    )
    args = ap.parse_args(argv)
    if args.structure == "2021":
        derive_2021(args.out)
    else:
        derive_2025(args.out, args.agencies_out or args.out.parent / "agencies")


if __name__ == "__main__":
    main()
