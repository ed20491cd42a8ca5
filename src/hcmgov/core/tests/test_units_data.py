"""Checks of the shipped administrative-unit, crosswalk and agency data (stdlib + pytest only).

The files are produced by scripts/derive_units.py (run: bash scripts/derive_units.sh).
"""

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
UNITS = DATA / "units"
AGENCIES = DATA / "agencies" / "hcmc-agencies.json"

UNIT_TYPES = {
    "province",
    "city_under_province",
    "urban_district",
    "rural_district",
    "ward",
    "commune",
    "township",
    "special_zone",
}
DISTRICT_TYPES = {"city_under_province", "urban_district", "rural_district"}
COMMUNE_TYPES = {"ward", "commune", "township", "special_zone"}
AGENCY_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def s2021() -> dict:
    return load(UNITS / "hcmc-2021.json")


@pytest.fixture(scope="module")
def s2025() -> dict:
    return load(UNITS / "hcmc-2025.json")


@pytest.fixture(scope="module")
def crosswalk() -> dict:
    return load(UNITS / "crosswalk-2025.json")


@pytest.fixture(scope="module")
def agencies() -> dict:
    return load(AGENCIES)


def communes(doc: dict) -> list:
    return [u for u in doc["units"] if u["type"] in COMMUNE_TYPES]


# --------------------------------------------------------------------------- unit files
@pytest.mark.parametrize(
    ("name", "structure", "package"),
    [
        ("hcmc-2021.json", "2021", "vietnam-provinces==0.4.3"),
        ("hcmc-2025.json", "2025", "vietnam-provinces==2025.10.1"),
    ],
)
def test_header(name, structure, package):
    doc = load(UNITS / name)
    assert doc["structure"] == structure
    assert doc["package"] == package
    assert doc["source"]


@pytest.mark.parametrize("name", ["hcmc-2021.json", "hcmc-2025.json"])
def test_units_well_formed(name):
    units = load(UNITS / name)["units"]
    codes = [u["code"] for u in units]
    assert len(codes) == len(set(codes)), "codes must be unique"
    by_code = {u["code"]: u for u in units}
    for u in units:
        assert set(u) >= {"code", "name", "name_en", "type", "parent", "valid_from", "valid_to"}
        assert u["code"].isdigit()
        assert u["type"] in UNIT_TYPES
        assert u["name_en"]
        assert u["name_en"].isascii()
        assert DATE.match(u["valid_from"])
        if u["valid_to"] is not None:
            assert DATE.match(u["valid_to"])
            assert u["valid_to"] >= u["valid_from"]
        if u["type"] == "province":
            assert u["parent"] is None
            assert u["code"] == "79"
        else:
            assert u["parent"] in by_code, f"parent of {u['code']} missing"
    assert codes == sorted(codes, key=int), "stable order: by numeric code"


def test_2021_counts(s2021):
    types = Counter(u["type"] for u in s2021["units"])
    assert types["province"] == 1
    assert sum(types[t] for t in DISTRICT_TYPES) == 22
    assert types["city_under_province"] == 1
    assert types["urban_district"] == 16
    assert types["rural_district"] == 5
    assert len(communes(s2021)) == 312
    assert (types["ward"], types["commune"], types["township"]) == (249, 58, 5)
    thu_duc = next(u for u in s2021["units"] if u["code"] == "769")
    assert thu_duc["type"] == "city_under_province"
    assert sum(1 for u in s2021["units"] if u["parent"] == "769") == 34


def test_2021_parents_and_validity(s2021):
    by_code = {u["code"]: u for u in s2021["units"]}
    for u in communes(s2021):
        assert by_code[u["parent"]]["type"] in DISTRICT_TYPES
        assert u["valid_from"] == "2021-01-01"
    ended = [u for u in communes(s2021) if u["valid_to"] != "2025-06-30"]
    # Res. 1278/NQ-UBTVQH15 (in force 1 Jan 2025) abolished 42 of the 312 (80 wards -> 41).
    assert len(ended) == 42
    for u in ended:
        assert u["valid_to"] == "2024-12-31"
        assert u["ended_by"] == "1278/NQ-UBTVQH15"
    assert next(u for u in s2021["units"] if u["code"] == "26740")["name"] == "Phường Bến Nghé"
    assert next(u for u in s2021["units"] if u["code"] == "26740")["name_en"] == "Ben Nghe Ward"


def test_2025_counts(s2025):
    units = s2025["units"]
    assert len(units) == 169
    province = [u for u in units if u["type"] == "province"]
    assert len(province) == 1
    assert province[0]["code"] == "79"
    types = Counter(u["type"] for u in communes(s2025))
    assert (types["ward"], types["commune"], types["special_zone"]) == (113, 54, 1)
    for u in communes(s2025):
        assert u["parent"] == "79"
        assert (u["valid_from"], u["valid_to"]) == ("2025-07-01", None)
    con_dao = next(u for u in units if u["type"] == "special_zone")
    assert con_dao["name"] == "Đặc khu Côn Đảo"
    # the type always agrees with the legal name (0.6.0 / 2025.8.1 typed wards as "xã")
    for u in communes(s2025):
        prefix = {"ward": "Phường ", "commune": "Xã ", "special_zone": "Đặc khu "}[u["type"]]
        assert u["name"].startswith(prefix), u


def test_2025_official_codes(s2025):
    # vietnam-provinces 2025.10.1 carries draft codes for 10 wards; the script corrects them.
    names = {u["code"]: u["name"] for u in s2025["units"]}
    assert names["26800"] == "Phường Linh Xuân"
    assert names["27094"] == "Phường An Khánh"
    assert "26794" not in names
    assert "27118" not in names


# --------------------------------------------------------------------------- crosswalk
def test_crosswalk_covers_2021(s2021, crosswalk):
    old_units = {u["code"] for u in communes(s2021)}
    linked = {link["old"] for link in crosswalk["links"]}
    unresolved = {item["old"] for item in crosswalk.get("unresolved", [])}
    assert old_units == linked | unresolved
    assert not linked & unresolved
    for item in crosswalk.get("unresolved", []):
        assert item.get("reason")


def test_crosswalk_codes_exist(s2021, s2025, crosswalk):
    old_units = {u["code"] for u in communes(s2021)}
    new_units = {u["code"] for u in communes(s2025)}
    assert crosswalk["effective"] == "2025-07-01"
    assert crosswalk["source"]
    for link in crosswalk["links"]:
        assert link["old"] in old_units, link
        assert link["new"] in new_units, link
        assert link["share"] in ("whole", "part")
        assert isinstance(link["primary"], bool)


def test_crosswalk_one_primary_per_old(crosswalk):
    by_old = defaultdict(list)
    for link in crosswalk["links"]:
        by_old[link["old"]].append(link)
    for old, links in by_old.items():
        assert sum(link["primary"] for link in links) == 1, old
        assert len({link["new"] for link in links}) == len(links), f"duplicate link for {old}"
        shares = {link["share"] for link in links}
        assert shares == ({"whole"} if len(links) == 1 else {"part"}), old


def test_crosswalk_known_links(crosswalk):
    links = {(link["old"], link["new"]): link for link in crosswalk["links"]}
    assert links[("26740", "26740")]["share"] == "whole"  # Bến Nghé -> Sài Gòn
    assert {n for o, n in links if o == "26737"} == {"26737", "26740"}  # Đa Kao split
    assert links[("27145", "27142")]["share"] == "whole"  # Phường 10 (Q3, gone 2025) -> Nhiêu Lộc


# --------------------------------------------------------------------------- agencies
def test_agency_codes_unique_and_well_formed(agencies):
    codes = [a["code"] for a in agencies["agencies"]]
    assert len(codes) == len(set(codes))
    for code in codes:
        assert AGENCY_CODE.match(code), code
        dossier = f"{code}-250701-0001"
        assert re.match(r"^[0-9A-Z.]+-\d{6}-\d{4}$", dossier)


def test_agencies_fields(agencies, s2021, s2025):
    units = {u["code"] for u in s2021["units"]} | {u["code"] for u in s2025["units"]}
    kinds: Counter[str] = Counter()
    for a in agencies["agencies"]:
        kinds[a["kind"]] += 1
        assert a["kind"] in {"city_pc", "department", "district_pc", "commune_pc", "police"}
        assert a["level"] in {"city", "district", "commune"}
        assert a["unit"] in units
        assert a["name"]
        assert a["name_en"].isascii()
        assert DATE.match(a["valid_from"])
        assert a["valid_to"] is None or a["valid_to"] >= a["valid_from"]
        assert isinstance(a["code_verified"], bool)
        if a["code_verified"]:
            assert a["code_source"]
        if a["kind"] == "department":
            assert a["department"], a["name"]  # the catalogue names departments by this key
    assert kinds["city_pc"] == 1
    assert kinds["police"] == 1 + 312 + 168  # the city police and each commune-level station
    assert kinds["district_pc"] == 22
    assert kinds["commune_pc"] == 312 + 168
    city = next(a for a in agencies["agencies"] if a["kind"] == "city_pc")
    assert city["code"] == "000.00.00.H29"
    assert city["code_verified"]


def test_every_unit_has_its_pc(agencies, s2021, s2025):
    pcs = Counter(
        (a["unit"], a["valid_from"]) for a in agencies["agencies"] if a["kind"] in ("district_pc", "commune_pc")
    )
    for doc in (s2021, s2025):
        for u in doc["units"]:
            if u["type"] != "province":
                assert pcs[(u["code"], u["valid_from"])] == 1, u["code"]


def test_departments_both_periods(agencies):
    depts = [a for a in agencies["agencies"] if a["kind"] == "department"]
    before = {a["name_en"] for a in depts if a["valid_from"] < "2025-03-01"}
    after = {a["name_en"] for a in depts if a["valid_to"] is None or a["valid_to"] >= "2025-03-01"}
    assert "Department of Planning and Investment" in before - after
    assert {
        "Department of Finance",
        "Department of Agriculture and Environment",
        "Department of Ethnic and Religious Affairs",
        "Department of Justice",
    } <= after
