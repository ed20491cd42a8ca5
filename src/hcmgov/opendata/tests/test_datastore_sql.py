"""``datastore_search_sql``: one read-only SELECT over datastore tables, nothing else; and, for any
SQL or filters at all, a CKAN error at worst (never a 500) and no row changed."""

# SQL built by hand is what these tests send on purpose (S608); the fixtures are imported by name
# from test_datastore_fixtures and received as arguments of the same names (F811).
# ruff: noqa: S608, F811

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcmgov.opendata.datastore_db import store
from hcmgov.opendata.tests.test_datastore_fixtures import (  # noqa: F401 - fixtures, used by name
    _datastore_file,
    air,
    anon,
    ckan,
    dataset,
    editor,
    org,
)

pytestmark = pytest.mark.django_db


def sql(anon, text):
    return anon.post("datastore_search_sql", {"sql": text}, token="")


def test_select_over_a_table(anon, air):
    status, body = sql(
        anon, f'SELECT quan, count(*) AS n, max(aqi) AS top FROM "{air}" GROUP BY quan ORDER BY n DESC, quan'
    )
    assert status == 200, body
    result = body["result"]
    assert result["records"][0] == {"quan": "Quận 1", "n": 2, "top": 151}
    assert [fl["id"] for fl in result["fields"]] == ["quan", "n", "top"]
    assert result["sql"].startswith("SELECT quan")
    status, body = sql(anon, f"SELECT tram, vuot_nguong, chi_tiet FROM \"{air}\" WHERE lower(tram) LIKE '%kao%'")
    assert status == 200, body
    assert body["result"]["records"] == [{"tram": "Đa Kao", "vuot_nguong": True, "chi_tiet": {"no2": 31}}]
    status, body = sql(anon, f'WITH q AS (SELECT * FROM "{air}" WHERE aqi > 90) SELECT count(*) AS n FROM q')
    assert (status, body["result"]["records"]) == (200, [{"n": 2}])


def test_rows_are_capped(anon, air, settings):
    settings.DATASTORE_ROWS_MAX = 2
    status, body = sql(anon, f'SELECT * FROM "{air}"')
    assert status == 200
    assert len(body["result"]["records"]) == 2
    assert body["result"]["records_truncated"] is True


@pytest.mark.parametrize(
    "text",
    [
        'DELETE FROM "{air}"',
        'WITH gone AS (DELETE FROM "{air}" RETURNING *) SELECT * FROM gone',
        "SELECT * FROM \"{air}\" WHERE tram = 'a\x00b'",
        'UPDATE "{air}" SET aqi = 0',
        'INSERT INTO "{air}" (aqi) VALUES (1)',
        'DROP TABLE "{air}"',
        'SELECT * FROM "{air}"; DELETE FROM "{air}"',
        'SELECT * INTO copy FROM "{air}"',
        'SELECT * FROM "{air}" FOR UPDATE',
        "SELECT * FROM pg_catalog.pg_tables",
        "SELECT * FROM pg_user",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM opendata_dataset",
        'SELECT * FROM public."{air}"',
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_sleep(10)",
        'SELECT pg_sleep(10), * FROM "{air}"',
        "SELECT set_config('statement_timeout', '0', false)",
        "SELECT current_setting('data_directory') FROM \"{air}\"",
        "SELECT 'pg_class'::regclass::oid FROM \"{air}\"",
        "SELECT * FROM \"{air}\", dblink('host=x', 'select 1')",
        "SELECT * FROM generate_series(1, 1000000000)",
        "SELECT load_extension('x') FROM \"{air}\"",
        'SELECT $1 FROM "{air}"',
        "COPY (SELECT 1) TO '/tmp/x'",
        "SET statement_timeout = 0",
        "SELECT 1",
        "",
        "SELEC * FROM",
        'SELECT nosuchcolumn FROM "{air}"',
    ],
)
def test_what_is_refused(anon, air, text):
    before = store().count(air)
    status, body = sql(anon, text.format(air=air))
    assert status in (409, 404), body
    assert body["error"]["__type"] in ("Validation Error", "Not Found Error")
    assert store().count(air) == before


def test_a_slow_query_is_cancelled(anon, air, settings):
    settings.DATASTORE_STATEMENT_TIMEOUT_MS = 50
    slow = "SELECT count(*) AS n FROM " + ", ".join(f'"{air}" t{n}' for n in range(14))
    status, body = sql(anon, slow)
    assert (status, body["error"]["query"]) == (409, ["Truy vấn chạy quá lâu / Query took too long"])
    assert sql(anon, f'SELECT count(*) AS n FROM "{air}"')[1]["result"]["records"] == [{"n": 4}]


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SQL_WORDS = st.sampled_from([
    "SELECT", "*", "FROM", "WHERE", "DELETE", "UPDATE", "INSERT", "INTO", "DROP", "TABLE", ";", "(", ")", ",", "'",
    '"', "--", "/*", "*/", "pg_sleep(1)", "pg_read_file('x')", "count(*)", "aqi", "quan", "1", "=", "OR", "AND",
    "UNION", "SELECT 1", "sqlite_master", "pg_class", "LIMIT", "ORDER BY", "$1", "%s", "%", "\\", "::regclass",
    "WITH", "AS", "x", "VALUES", "SET", "ATTACH", "PRAGMA", "COPY", "TO", "RETURNING", "LATERAL", "json", "NULL",
])  # fmt: skip


@PROPERTY
@given(data=st.data())
def test_any_sql_is_a_ckan_answer_and_writes_nothing(anon, air, data):
    table = f'"{air}"'
    tokens = data.draw(st.lists(st.one_of(SQL_WORDS, st.just(table), st.text(max_size=12)), max_size=14))
    text = data.draw(st.sampled_from([" ".join(tokens), f"SELECT * FROM {table} WHERE " + " ".join(tokens)]))
    before = store().count(air)
    status, body = sql(anon, text)
    assert status in (200, 400, 403, 404, 409), body
    assert body["success"] is (status == 200)
    assert store().count(air) == before


FILTER_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=6,
)


@PROPERTY
@given(
    filters=st.dictionaries(
        st.sampled_from(["ngay", "quan", "tram", "pm25", "aqi", "vuot_nguong", "do_luc", "chi_tiet", "_id", "khong"])
        | st.text(max_size=8),
        FILTER_VALUES,
        max_size=4,
    ),
    q=st.none()
    | st.text(max_size=20)
    | st.dictionaries(st.sampled_from(["quan", "tram", "x"]), st.text(max_size=8), max_size=2),
    sort=st.none() | st.text(max_size=20) | st.sampled_from(["aqi desc", "ngay, tram desc", '"quan"']),
    limit=st.none() | st.integers(-5, 100000) | st.text(max_size=4),
)
def test_any_filters_are_a_ckan_answer_and_write_nothing(anon, air, filters, q, sort, limit):
    body_: dict = {"resource_id": air, "filters": filters}
    for key, value in (("q", q), ("sort", sort), ("limit", limit)):
        if value is not None:
            body_[key] = value
    before = store().count(air)
    status, body = anon.post("datastore_search", body_, token="")
    assert status in (200, 409), body
    assert body["success"] is (status == 200)
    status, body = anon.get("datastore_search", resource_id=air, filters=json.dumps(filters))
    assert status in (200, 409), body
    assert store().count(air) == before
