"""The national database of procedures' simulator over HTTP: its key, the list by agency and
update date (pages), one procedure with its decisions, the seed from the catalogue's definitions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from hcmgov.simulators import running
from hcmgov.simulators.tthc import API_KEY, CATALOG_DIR, seed_records


def get(base: str, path: str, key: str = API_KEY) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, headers={"X-Api-Key": key})  # noqa: S310 - the loopback simulator
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - the loopback simulator
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def base():
    with running("tthc") as url:
        yield url


def test_it_is_seeded_from_the_catalogues_definitions(base):
    codes = sorted(p.stem for p in CATALOG_DIR.glob("*.yaml"))
    status, page = get(base, "/api/procedures?agency=H29&page_size=200")
    assert status == 200
    assert [i["code"] for i in page["items"]] == codes
    assert page["total"] == len(codes)
    status, one = get(base, f"/api/procedures/{codes[0]}?agency=H29")
    assert status == 200
    [decision] = one["publications"]
    assert decision["decision_number"].endswith("/QĐ-UBND")
    assert decision["reference_date"] <= decision["decision_date"] <= decision["national_updated_on"]
    assert one == seed_records()[0]  # stable: the same dates every run


def test_pages_and_updated_since(base):
    _, first = get(base, "/api/procedures?page=1&page_size=2")
    _, second = get(base, "/api/procedures?page=2&page_size=2")
    assert len(first["items"]) == len(second["items"]) == 2
    assert first["items"][-1]["code"] < second["items"][0]["code"]
    dates = sorted(i["updated_on"] for i in get(base, "/api/procedures?page_size=200")[1]["items"])
    middle = dates[len(dates) // 2]
    _, since = get(base, f"/api/procedures?page_size=200&updated_since={middle}")
    assert since["total"] == sum(d >= middle for d in dates)
    assert get(base, "/api/procedures?updated_since=hom-qua")[0] == 400


def test_its_key_an_unknown_code_and_another_agency(base):
    assert get(base, "/api/procedures", key="sai")[0] == 401
    assert get(base, "/api/procedures/9.999999")[0] == 404
    code = seed_records()[0]["code"]
    assert get(base, f"/api/procedures/{code}?agency=H01")[0] == 404
    assert get(base, "/api/procedures?agency=H01")[1]["total"] == 0


def test_each_procedure_publishes_its_steps_and_who_may_apply(base):
    import yaml

    from hcmgov.simulators.tthc import seed_applicants, seed_steps

    records = {r["code"]: r for r in seed_records()}
    for path in sorted(CATALOG_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        status, one = get(base, f"/api/procedures/{spec['code']}?agency=H29")
        assert status == 200
        assert one["steps"] == seed_steps(spec) == records[str(spec["code"])]["steps"]
        assert one["applicants"] == seed_applicants(spec)
        assert one["steps"][-1].endswith(f"{spec['result'].strip()}.")  # the result the definition names
        assert ("trực tuyến" in one["steps"][1]) == (spec["online_level"] in ("full", "partial"))
    # stable, drawn from the code: some records publish no applicants, as in the real database
    empty = [c for c, r in records.items() if not r["applicants"]]
    assert 0 < len(empty) < len(records) / 2
    # a definition's own texts are published as they are
    assert seed_steps({"code": "1.1", "steps": ["A", "B"]}) == ["A", "B"]
    assert seed_applicants({"code": "1.1", "applicants": ["Hộ gia đình"]}) == ["Hộ gia đình"]
