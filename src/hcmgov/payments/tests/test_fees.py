"""Fee lines: channel, quantities, tiers, reductions — pure functions."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from hcmgov.payments.fees import fees_compute, fees_total

DAY = dt.date(2026, 11, 27)
COPIES = {
    "code": "PHI_BANSAO",
    "name": "Phí bản sao",
    "name_en": "Copies",
    "amount": 8000,
    "quantity_fields": ["so_ban_sao"],
}
ONLINE = {"code": "LEPHI_TRUCTUYEN", "name": "Lệ phí trực tuyến", "amount": 7000, "channel": "online"}
DESK = {"code": "LEPHI_TRUCTIEP", "name": "Lệ phí trực tiếp", "amount": 15000, "channel": "in_person"}
JUDICIAL = {
    "code": "PHI",
    "name": "Phí lý lịch tư pháp",
    "amount": 200000,
    "category_field": "doi_tuong_phi",
    "reductions": [
        {"category": "giam_50", "percent": 50, "basis": "TT 244/2016"},
        {"category": "mien", "percent": 100, "basis": "TT 244/2016"},
    ],
}
CERTIFIED = {
    "code": "PHI",
    "name": "Phí chứng thực bản sao",
    "amount": 2000,
    "quantity_fields": ["so_trang", "so_ban"],
    "tiers": [{"from": 1, "amount": 2000}, {"from": 3, "amount": 1000}],
    "cap": 200000,
}


def test_the_channel_picks_its_own_rate():
    online = fees_compute(items=[ONLINE, DESK], channel=2, form_data={}, day=DAY)
    desk = fees_compute(items=[ONLINE, DESK], channel=1, form_data={}, day=DAY)
    post = fees_compute(items=[ONLINE, DESK], channel=3, form_data={}, day=DAY)
    assert [line.code for line in online] == ["LEPHI_TRUCTUYEN"]
    assert [line.code for line in desk] == [line.code for line in post] == ["LEPHI_TRUCTIEP"]


def test_copies_are_charged_only_when_asked_for():
    assert fees_compute(items=[COPIES], channel=2, form_data={}, day=DAY) == []
    assert fees_compute(items=[COPIES], channel=2, form_data={"so_ban_sao": 0}, day=DAY) == []
    (line,) = fees_compute(items=[COPIES], channel=2, form_data={"so_ban_sao": 3}, day=DAY)
    assert (line.quantity, line.amount) == (3, 24000)


def test_a_reduction_by_the_category_declared_in_the_form_is_shown_with_its_basis():
    (student,) = fees_compute(items=[JUDICIAL], channel=2, form_data={"doi_tuong_phi": "giam_50"}, day=DAY)
    (child,) = fees_compute(items=[JUDICIAL], channel=2, form_data={"doi_tuong_phi": "mien"}, day=DAY)
    (other,) = fees_compute(items=[JUDICIAL], channel=2, form_data={"doi_tuong_phi": "thong_thuong"}, day=DAY)
    assert (student.amount, student.reduction_percent, student.basis) == (100000, 50, "TT 244/2016")
    assert (child.amount, child.reduction_percent) == (0, 100)  # exempt: shown at 0
    assert other.amount == 200000


def test_certified_copies_are_priced_by_tier_and_capped():
    # 5 pages: 2 × 2,000 + 3 × 1,000 = 7,000 a copy; 2 copies: 14,000
    (line,) = fees_compute(items=[CERTIFIED], channel=1, form_data={"so_trang": 5, "so_ban": 2}, day=DAY)
    assert line.amount == 14000
    # 500 pages: 4,000 + 498,000 > 200,000: capped per copy
    (big,) = fees_compute(items=[CERTIFIED], channel=1, form_data={"so_trang": 500, "so_ban": 1}, day=DAY)
    assert big.amount == 200000


def test_unknown_amounts_are_listed_but_not_charged():
    unknown = {"code": "LEPHI", "name": "Lệ phí", "amount": None}
    lines = fees_compute(items=[unknown, ONLINE], channel=2, form_data={}, day=DAY)
    assert [line.amount for line in lines] == [None, 7000]
    assert fees_total(lines) == 7000


def test_items_out_of_their_dates_do_not_apply():
    old = dict(ONLINE, valid_to="2025-12-31")
    assert fees_compute(items=[old], channel=2, form_data={}, day=DAY) == []


@given(
    copies=st.one_of(st.none(), st.integers(min_value=-5, max_value=5000), st.booleans(), st.text(max_size=3)),
    category=st.sampled_from(["", "giam_50", "mien", "x", None, 3]),
    channel=st.sampled_from([1, 2, 3]),
)
def test_any_form_gives_a_whole_non_negative_total(copies, category, channel):
    lines = fees_compute(
        items=[COPIES, ONLINE, DESK, JUDICIAL],
        channel=channel,
        form_data={"so_ban_sao": copies, "doi_tuong_phi": category},
        day=DAY,
    )
    total = fees_total(lines)
    assert isinstance(total, int)
    assert 0 <= total <= 8000 * 1000 + 15000 + 200000
