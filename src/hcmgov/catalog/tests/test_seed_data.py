"""Checks the seed data of the administrative-procedure catalogue.

Uses only pyyaml and jsonschema (no Django), so it runs before the models and loaders exist.
The YAML files live in ``../data/procedures/`` relative to this file, one per procedure.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from hcmgov.registry.facts import FACTS

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "procedures"
FILES = sorted(DATA_DIR.glob("*.yaml"))

REQUIRED_KEYS = {
    "code",
    "local_code",
    "code_verified",
    "code_source",
    "name",
    "name_en",
    "field",
    "field_en",
    "level",
    "agency_kind",
    "agency_department",
    "online_level",
    "statutory_days",
    "fees",
    "required_documents",
    "legal_basis",
    "result",
    "result_en",
    "valid_from",
    "form_schema",
    "notes",
}
LEVELS = {"commune", "district", "city"}
AGENCY_KINDS = {"commune_pc", "district_pc", "city_pc", "department", "police"}
DEPARTMENTS = {
    "justice",
    "finance",
    "construction",
    "agriculture_environment",
    "home_affairs",
    "health",
    "education",
    "culture_sports",
    "science_technology",
    "industry_trade",
    "foreign_affairs",
    "ethnic_religious",
}
ONLINE_LEVELS = {"full", "partial"}
DOC_KINDS = {"original", "copy", "certified_copy", "present", "electronic"}
PREFILL_FIELDS = set(FACTS)  # the facts the shared data store can fill (registry.facts)
CODE_RE = re.compile(r"^\d\.\d{6}$")
CUTOFF_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
PID_PATTERN = "^[0-9]{12}$"
# Column sizes of hcmgov.catalog.models.Procedure / ProcedureVersion.
MAX_LEN = {
    "code": 16,
    "local_code": 40,
    "code_source": 400,
    "name": 400,
    "name_en": 400,
    "field": 120,
    "field_en": 120,
    "result": 300,
    "result_en": 300,
}


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path.name}: top level must be a mapping"
    return data


PROCEDURES = {path.stem: _load(path) for path in FILES}
IDS = list(PROCEDURES)


def _validator(code: str) -> Draft202012Validator:
    return Draft202012Validator(PROCEDURES[code]["form_schema"], format_checker=FormatChecker())


# --------------------------------------------------------------------------- the set as a whole


def test_at_least_32_procedures() -> None:
    assert len(FILES) >= 32, f"only {len(FILES)} procedure files in {DATA_DIR}"


def test_codes_unique_and_match_file_names() -> None:
    codes = [p["code"] for p in PROCEDURES.values()]
    assert len(codes) == len(set(codes))
    for stem, proc in PROCEDURES.items():
        assert proc["code"] == stem, f"{stem}.yaml holds code {proc['code']}"


def test_set_spans_levels() -> None:
    levels = {p["level"] for p in PROCEDURES.values()}
    before = {p.get("level_before_2025") for p in PROCEDURES.values()}
    assert {"commune", "city"} <= levels
    assert "district" in before, "no procedure records its former district level"


@pytest.mark.parametrize(
    "code",
    [
        "1.001193",
        "1.000894",
        "1.004873",
        "1.000656",
        "1.004222",
        "1.004194",
        "1.001612",
        "2.000720",
        "1.001266",
        "1.013225",
        "3.000333",
        "2.000815",
        "2.000884",
        "2.001583",
        "2.002043",
        "1.013978",
        "1.013831",
        "1.013855",
        "1.014199",
        "1.014748",
    ],
)
def test_required_procedures_present(code: str) -> None:
    assert code in PROCEDURES


# --------------------------------------------------------------------------- each file


@pytest.mark.parametrize("code", IDS)
def test_keys_and_scalars(code: str) -> None:
    p = PROCEDURES[code]
    missing = REQUIRED_KEYS - p.keys()
    assert not missing, f"{code}: missing keys {sorted(missing)}"
    assert CODE_RE.match(p["code"]), p["code"]
    for key, limit in MAX_LEN.items():
        assert isinstance(p[key], str), f"{code}: {key} is not text"
        assert p[key].strip(), f"{code}: {key} empty"
        assert len(p[key]) <= limit, f"{code}: {key} longer than {limit}"
    assert p["local_code"].startswith(p["code"] + "."), p["local_code"]
    assert p["local_code"].endswith(".H29"), p["local_code"]
    assert isinstance(p["code_verified"], bool)
    if p["code_verified"]:
        assert p["code_source"].startswith("https://"), f"{code}: verified code needs the record's address"
    assert p["level"] in LEVELS
    if "level_before_2025" in p:
        assert p["level_before_2025"] in LEVELS
        assert p["level_before_2025"] != p["level"]
    assert p["agency_kind"] in AGENCY_KINDS
    if p["agency_kind"] == "department":
        assert p["agency_department"] in DEPARTMENTS, f"{code}: department {p['agency_department']!r}"
    else:
        assert p["agency_department"] is None
    assert p["online_level"] in ONLINE_LEVELS
    if p["online_level"] == "full":
        assert "toàn trình" in (p["name"] + p["notes"]), f"{code}: 'full' needs a source saying toàn trình"
    assert isinstance(p["notes"], str)
    assert p["notes"].strip()
    date.fromisoformat(p["valid_from"])
    assert isinstance(p["legal_basis"], list)
    assert p["legal_basis"]
    assert all(isinstance(x, str) and x.strip() for x in p["legal_basis"])


@pytest.mark.parametrize("code", IDS)
def test_time_limits(code: str) -> None:
    p = PROCEDURES[code]
    days = p["statutory_days"]
    assert isinstance(days, int)
    assert not isinstance(days, bool)
    assert 0 <= days <= 90
    if "same_day_cutoff" in p:
        assert days == 0, f"{code}: a cut-off only makes sense for same-day procedures"
        assert CUTOFF_RE.match(p["same_day_cutoff"])
    by_channel = p.get("statutory_days_by_channel")
    if by_channel:
        assert set(by_channel) <= {"online", "post", "in_person"}
        assert days == max(by_channel.values())


@pytest.mark.parametrize("code", IDS)
def test_fees(code: str) -> None:
    fees = PROCEDURES[code]["fees"]
    assert isinstance(fees, list)
    assert fees
    seen = set()
    for f in fees:
        assert {"code", "name", "name_en", "amount", "note"} <= f.keys(), f
        assert f["code"] not in seen
        seen.add(f["code"])
        amount = f["amount"]
        assert amount is None or (isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0), f
        if amount is None:
            assert f["note"].strip(), f"{code}/{f['code']}: an unknown amount must say why"
        for bound in ("valid_from", "valid_to"):
            if bound in f:
                date.fromisoformat(f[bound])
        properties = PROCEDURES[code]["form_schema"]["properties"]
        for name in f.get("quantity_fields") or []:  # the form must ask for the quantity, as an integer
            assert properties.get(name, {}).get("type") == "integer", f"{code}/{f['code']}: {name}"
        if f.get("reductions"):  # categories are values of the form's own field
            assert "enum" in properties.get(f.get("category_field", ""), {}), f"{code}/{f['code']}: category_field"
        for rule in f.get("reductions") or []:
            assert rule["category"] in properties[f["category_field"]]["enum"], rule
            assert isinstance(rule["percent"], int), rule
            assert 0 < rule["percent"] <= 100, rule
            assert rule["basis"].strip(), f"{code}/{f['code']}: a reduction must cite its basis"
    assert PROCEDURES[code].get("fee_stage", "submission") in {"submission", "result"}


@pytest.mark.parametrize("code", IDS)
def test_required_documents(code: str) -> None:
    docs = PROCEDURES[code]["required_documents"]
    assert isinstance(docs, list)
    assert docs
    seen = set()
    for d in docs:
        assert {"code", "name", "name_en", "kind", "count", "required", "template"} <= d.keys(), d
        assert d["code"] not in seen
        seen.add(d["code"])
        assert d["kind"] in DOC_KINDS
        assert isinstance(d["count"], int)
        assert d["count"] >= 1
        assert isinstance(d["required"], bool)
        assert d["template"] is None or isinstance(d["template"], str)


# --------------------------------------------------------------------------- form schemas


def _walk(code: str, schema: dict[str, Any], path: str, depth: int) -> None:
    """Checks the conventions the HTML form renderer relies on, property by property."""
    props = schema.get("properties", {})
    assert props, f"{code}:{path} has no properties"
    for name in schema.get("required", []):
        assert name in props, f"{code}:{path}: required property {name!r} is not defined"
    if "x-order" in schema:
        assert sorted(schema["x-order"]) == sorted(props), f"{code}:{path}: x-order does not match properties"
    for name, prop in props.items():
        where = f"{path}.{name}"
        assert prop.get("title"), f"{code}:{where}: title needed"
        assert prop.get("x-title-en"), f"{code}:{where}: x-title-en needed"
        _check_leaf_or_object(code, prop, where, depth)


def _check_leaf_or_object(code: str, prop: dict[str, Any], where: str, depth: int) -> None:
    kind = prop.get("type")
    if kind == "object":
        assert depth == 0, f"{code}:{where}: objects may nest only one level"
        assert prop.get("additionalProperties") is False, f"{code}:{where}: closed objects only"
        _walk(code, prop, where, depth + 1)
        return
    if kind == "array":
        items = prop["items"]
        assert items.get("type") != "object", f"{code}:{where}: no arrays of objects"
        _check_scalar(code, items, where + "[]")
        return
    _check_scalar(code, prop, where)


def _check_scalar(code: str, prop: dict[str, Any], where: str) -> None:
    assert prop.get("type") in {"string", "integer", "number", "boolean"}, f"{code}:{where}: type {prop.get('type')}"
    if prop["type"] == "string":
        assert isinstance(prop.get("maxLength"), int), f"{code}:{where}: string without maxLength"
    if "enum" in prop:
        n = len(prop["enum"])
        assert len(prop.get("x-enum-titles", [])) == n, f"{code}:{where}: x-enum-titles"
        assert len(prop.get("x-enum-titles-en", [])) == n, f"{code}:{where}: x-enum-titles-en"
    if "x-prefill" in prop:
        assert prop["x-prefill"] in PREFILL_FIELDS, f"{code}:{where}: x-prefill {prop['x-prefill']!r}"
    if prop.get("pattern") == PID_PATTERN:
        assert prop["maxLength"] == 12


@pytest.mark.parametrize("code", IDS)
def test_form_schema_is_valid_2020_12(code: str) -> None:
    schema = PROCEDURES[code]["form_schema"]
    Draft202012Validator.check_schema(schema)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema.get("title")
    assert schema.get("x-title-en")
    assert schema.get("additionalProperties") is False


@pytest.mark.parametrize("code", IDS)
def test_form_schema_conventions(code: str) -> None:
    _walk(code, PROCEDURES[code]["form_schema"], "$", 0)


# --------------------------------------------------------------------------- hand-written samples

REQUESTER = {
    "ho_ten": "Nguyễn Văn An",
    "so_dinh_danh": "079090001234",
    "noi_cu_tru": "12 Lê Lợi, phường Sài Gòn, TP. Hồ Chí Minh",
    "dien_thoai": "0901234567",
    "email": "an.nguyen@example.vn",
}
BIRTH_OK = {
    "kinh_gui": "Ủy ban nhân dân phường Sài Gòn, Thành phố Hồ Chí Minh",
    "nguoi_yeu_cau": {**REQUESTER, "quan_he": "cha"},
    "nguoi_duoc_khai_sinh": {
        "ho_ten": "Nguyễn Minh Khang",
        "ngay_sinh": "2026-03-02",
        "gioi_tinh": "nam",
        "dan_toc": "Kinh",
        "quoc_tich": "Việt Nam",
        "noi_sinh": "Bệnh viện Từ Dũ, Thành phố Hồ Chí Minh",
        "que_quan": "Quảng Ngãi",
    },
    "me": {
        "ho_ten": "Trần Thị Bích",
        "nam_sinh": 1995,
        "dan_toc": "Kinh",
        "quoc_tich": "Việt Nam",
        "noi_cu_tru": "12 Lê Lợi, phường Sài Gòn, TP. Hồ Chí Minh",
        "so_dinh_danh": "079195004321",
    },
    "cha": {
        "ho_ten": "Nguyễn Văn An",
        "nam_sinh": 1990,
        "dan_toc": "Kinh",
        "quoc_tich": "Việt Nam",
        "noi_cu_tru": "12 Lê Lợi, phường Sài Gòn, TP. Hồ Chí Minh",
    },
    "ket_hon_cua_cha_me": {"so": "45", "ngay_dang_ky": "2022-10-10", "noi_dang_ky": "UBND phường Bến Nghé, Quận 1"},
    "so_ban_sao": 2,
    "nhan_ket_qua": "truc_tuyen",
    "cam_doan": True,
}
MARRIAGE_OK = {
    "kinh_gui": "Ủy ban nhân dân phường Bàn Cờ, Thành phố Hồ Chí Minh",
    "ben_nu": {
        "ho_ten": "Lê Thị Hoa",
        "ngay_sinh": "1998-05-20",
        "dan_toc": "Kinh",
        "quoc_tich": "Việt Nam",
        "noi_cu_tru": "5 Cao Thắng, phường Bàn Cờ, TP. Hồ Chí Minh",
        "so_dinh_danh": "079198001111",
        "ket_hon_lan_thu": 1,
    },
    "ben_nam": {
        "ho_ten": "Phạm Quốc Bảo",
        "ngay_sinh": "1996-11-02",
        "dan_toc": "Hoa",
        "quoc_tich": "Việt Nam",
        "noi_cu_tru": "88 Nguyễn Trãi, phường Chợ Lớn, TP. Hồ Chí Minh",
        "so_dinh_danh": "079096002222",
        "ket_hon_lan_thu": 1,
    },
    "nguoi_nop": "ben_nam",
    "dien_thoai": "+84912345678",
    "email": "bao.pham@example.vn",
    "so_ban_sao": 1,
    "cam_doan": True,
}
HKD_OK = {
    "kinh_gui": "Cơ quan đăng ký kinh doanh — UBND phường Chợ Lớn",
    "chu_ho": {
        "ho_ten": "Võ Thị Mai",
        "ngay_sinh": "1985-02-14",
        "gioi_tinh": "nu",
        "dan_toc": "Kinh",
        "quoc_tich": "Việt Nam",
        "so_dinh_danh": "079185003333",
        "noi_cu_tru": "20 Trần Hưng Đạo, phường Chợ Lớn, TP. Hồ Chí Minh",
        "dien_thoai": "0283855123",
        "email": "mai.vo@example.vn",
    },
    "ten_ho_kinh_doanh": "Hộ kinh doanh Cơm tấm Mai",
    "tru_so": {
        "so_nha_duong": "20 Trần Hưng Đạo",
        "xa_phuong": "Phường Chợ Lớn",
        "tinh_thanh": "Thành phố Hồ Chí Minh",
    },
    "nganh_nghe": "5610 — Nhà hàng và các dịch vụ ăn uống phục vụ lưu động (ngành chính)",
    "von_kinh_doanh": 150_000_000,
    "so_lao_dong": 3,
    "thanh_lap_boi": "ca_nhan",
    "ngay_bat_dau_hoat_dong": "2026-04-01",
    "cam_ket": True,
}
SAMPLES = {"1.001193": BIRTH_OK, "1.000894": MARRIAGE_OK, "1.001612": HKD_OK}


def _mutate(sample: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``sample`` with ``path`` ("a.b") set to ``value``, or deleted when value is DELETE."""
    out = copy.deepcopy(sample)
    *parents, leaf = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return out


DELETE = object()
INVALID = [
    ("1.001193", "me", DELETE),  # mother's section is required
    ("1.001193", "nguoi_duoc_khai_sinh.gioi_tinh", "khac"),  # not in the enum
    ("1.001193", "nguoi_duoc_khai_sinh.ngay_sinh", "2026-02-30"),  # not a date
    ("1.001193", "nguoi_yeu_cau.so_dinh_danh", "07909000123"),  # 11 digits
    ("1.001193", "cam_doan", False),  # the declaration must be made
    ("1.001193", "ghi_chu_them", "x"),  # unknown field
    ("1.000894", "ben_nam", DELETE),
    ("1.000894", "ben_nu.ket_hon_lan_thu", 0),
    ("1.000894", "nguoi_nop", "ca_hai"),
    ("1.000894", "dien_thoai", "12345"),
    ("1.000894", "ben_nu.ho_ten", "A" * 101),
    ("1.001612", "von_kinh_doanh", -1),
    ("1.001612", "von_kinh_doanh", "150 triệu"),
    ("1.001612", "nganh_nghe", DELETE),
    ("1.001612", "chu_ho.so_dinh_danh", "07918500333A"),
    ("1.001612", "tru_so.xa_phuong", DELETE),
]


@pytest.mark.parametrize("code", list(SAMPLES))
def test_valid_sample_passes(code: str) -> None:
    errors = sorted(_validator(code).iter_errors(SAMPLES[code]), key=str)
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(("code", "path", "value"), INVALID, ids=[f"{c}:{p}" for c, p, _ in INVALID])
def test_invalid_sample_fails(code: str, path: str, value: Any) -> None:
    bad = _mutate(SAMPLES[code], path, value)
    errors = list(_validator(code).iter_errors(bad))
    assert errors, f"{code}: {path}={value!r} should be rejected"
    # The error must be about the mutated field or the object holding it, not something else.
    where = [".".join(str(x) for x in e.absolute_path) for e in errors]
    assert any(path == w or path.startswith(w + ".") or w == "" for w in where), where
