"""The back office's search by applicant name: words typed with or without diacritics match whole
words of the name, on SQLite and on PostgreSQL (full-text index over the folded name)."""

from __future__ import annotations

import pytest

from hcmgov.common.pagination import CappedPaginator
from hcmgov.dossiers import selectors
from hcmgov.identity.tests.factories import RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db

NAMES = ["Nguyễn Văn An", "Trần Thị Loan", "Lê Anh Đức", "Nguyễn Thị Ánh"]


@pytest.fixture
def dossiers(submit):
    made = {}
    for i, name in enumerate(NAMES):
        dossier, _ = submit(applicant=UserFactory(full_name=name), idempotency_key=f"k{i}")
        made[name] = dossier
    return made


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("an", {"Nguyễn Văn An"}),  # the word An — not Anh, Ánh nor Loan
        ("Ánh", {"Nguyễn Thị Ánh", "Lê Anh Đức"}),  # diacritics typed are ignored too
        ("nguyen an", {"Nguyễn Văn An"}),
        ("nguyen", {"Nguyễn Văn An", "Nguyễn Thị Ánh"}),
        ("ngu", set()),  # a word's beginning is not the word
        ("NGUYỄN VĂN AN", {"Nguyễn Văn An"}),
        ("duc", {"Lê Anh Đức"}),
        ("đức", {"Lê Anh Đức"}),
        ("oan", set()),  # the middle of a word finds nothing
        ("an & | ! :*", {"Nguyễn Văn An"}),  # query syntax is not ours to pass on
        ("!!!", set()),
    ],
)
def test_search_by_applicant_name(dossiers, agency, typed, expected):
    head = RoleAssignmentFactory(agency=agency, role="head").user
    found = selectors.dossier_search(user=head, applicant=typed)
    assert {d.applicant_name for d in found} == expected


def test_capped_paginator_stops_counting(dossiers, agency, monkeypatch):
    from hcmgov.common import pagination

    head = RoleAssignmentFactory(agency=agency, role="head").user
    monkeypatch.setattr(pagination, "COUNT_CAP", 3)
    paginator = CappedPaginator(selectors.dossier_search(user=head), 2)
    assert paginator.count == 3
    assert paginator.capped  # 4 dossiers: "3+"
    assert len(paginator.page(2).object_list) == 1  # pages up to the cap
    monkeypatch.setattr(pagination, "COUNT_CAP", 4)
    exactly = CappedPaginator(selectors.dossier_search(user=head), 2)
    assert exactly.count == 4
    assert not exactly.capped  # exactly the cap is not "more"


def test_search_by_code_prefix(dossiers, agency):
    head = RoleAssignmentFactory(agency=agency, role="head").user
    one = dossiers["Trần Thị Loan"]

    def found(prefix):
        return {d.code for d in selectors.dossier_search(user=head, code=prefix)}

    every = {d.code for d in dossiers.values()}
    assert found(one.code.lower()) == {one.code}  # typed in any case
    assert found(agency.code[:6]) == every  # the beginning of the agency's code: all of its dossiers
    assert found(agency.code) == every
    assert found(agency.code + "-") == every
    assert found(one.code[: len(agency.code) + 7]) == every  # the agency and the day: all submitted today
    assert found(one.code[:-1] + "9") == set()
    assert found("999.99.99.H99") == set()  # another agency's code
