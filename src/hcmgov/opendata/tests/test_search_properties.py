"""Property tests: whatever ``q``, ``fq`` and ``sort`` a caller sends, ``package_search`` answers
200 or one of CKAN's errors, never a 500; and what the parser reads it reads the same way twice."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcmgov.opendata.ckan import SearchQueryError
from hcmgov.opendata.search import parse
from hcmgov.opendata.tests import factories as f

pytestmark = pytest.mark.django_db

SYNTAX = ['"', "(", ")", "[", "]", "{", "}", ":", "*", "\\", "^", "~", "+", "-", "!", " AND ", " OR ", " NOT ",
          "&&", "||", " TO ", "*:*", "NOW", "/DAY", "-1DAY", " ", "tags:", "name:", "res_format:", "organization:",
          "metadata_modified:", "title:", "id:", "groups:", "license_id:", "text:", "capacity:", "xe", "máy",
          "Đường", "2024-01-01T00:00:00Z", "\u0000", "\ud800", "'", ";", "%", "_"]  # fmt: skip
queries = st.one_of(st.text(max_size=60), st.lists(st.sampled_from(SYNTAX), max_size=14).map("".join))
sorts = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(
    ["name asc", "title_string desc", "metadata_modified desc, name asc", "score desc", "name", ","]))  # fmt: skip
CKAN_ERRORS = {"Search Query Error", "Validation Error"}


@pytest.fixture(scope="module")
def catalogue(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        org = f.organization(name="so-thu-prop", title="Sở thử")
        group = f.group(name="nhom-prop", title="Nhóm")
        made = [f.dataset(org, name=f"prop-{n}", title=f"Đường xe máy {n}", tags=["xe", f"t{n}"],
                          groups=[{"name": group.name}]) for n in range(3)]  # fmt: skip
    yield made
    with django_db_blocker.unblock():
        for ds in made:
            ds.delete()
        org.delete()
        group.delete()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries, fq=queries, sort=sorts, rows=st.one_of(st.none(), st.integers(-2, 2000)))
def test_any_query_is_answered_never_a_500(client, catalogue, q, fq, sort, rows):
    body = {"q": q, "fq": fq, "facet.field": ["organization", "tags", "groups", "res_format", "license_id"]}
    if sort is not None:
        body["sort"] = sort
    if rows is not None:
        body["rows"] = rows
    response = client.post("/api/3/action/package_search", json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400, 409), response.content[:500]
    answer = response.json()
    if response.status_code == 200:
        assert answer["result"]["count"] >= len(answer["result"]["results"])
    else:
        assert answer["error"]["__type"] in CKAN_ERRORS


@settings(max_examples=500, deadline=None)
@given(text=queries)
def test_the_parser_reads_or_refuses_never_crashes(text):
    try:
        first = parse(text)
    except SearchQueryError:
        return
    assert parse(text) == first
