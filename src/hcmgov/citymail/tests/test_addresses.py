"""Addresses from Vietnamese names: given name + initials, no diacritics, unique, RFC 5321."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hcmgov.citymail import addresses

LOWER = "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
LETTERS = LOWER + LOWER.upper()
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Quốc", "Thị Ngọc", "Công", "Xuân"]
GIVEN = ["Đức", "Ánh", "Hương", "Phượng", "Nguyệt", "Tuấn", "Dũng", "Khoa", "Ý", "Ưng", "Đạt", "Yến", "Oanh"]

word = st.text(alphabet=LETTERS, min_size=1, max_size=12)
common_name = st.builds(
    lambda f, m, g: " ".join(x for x in (f, m, g) if x),
    st.sampled_from(FAMILY),
    st.sampled_from(["", *MIDDLE]),
    st.sampled_from(GIVEN),
)
any_name = st.lists(word, min_size=0, max_size=7).map(" ".join)
# names as typed: stray spaces, punctuation, a letter outside Latin script
messy = st.text(alphabet=LETTERS + " .-'’\t0123456789Ωж", max_size=60)


def test_the_convention_on_examples():
    assert addresses.local_part_base("Nguyễn Văn Đức") == "ducnv"
    assert addresses.local_part_base("Trần Thị Ngọc Ánh") == "anhttn"
    assert addresses.local_part_base("  ĐẶNG   Quốc  Ưng ") == "ungdq"
    assert addresses.local_part_base("Lý Ý") == "yl"
    assert addresses.local_part_base("") == addresses.FALLBACK
    assert addresses.local_part_base("---") == addresses.FALLBACK
    assert addresses.local_parts_for(["Nguyễn Văn Đức", "Ngô Văn Đức", "nguyễn văn đức"]) == [
        "ducnv",
        "ducnv2",
        "ducnv3",
    ]
    assert addresses.local_parts_for(["Nguyễn Văn Đức"], taken={"DUCNV", "ducnv2"}) == ["ducnv3"]
    assert addresses.fold("Phượng Hưng Đạo") == "phuong hung dao"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(common_name, any_name, messy), min_size=1, max_size=40))
def test_every_name_gets_a_unique_ascii_rfc5321_local_part(names):
    parts = addresses.local_parts_for(names)
    assert len(parts) == len(names)
    assert len({p.lower() for p in parts}) == len(parts)  # unique, case-insensitively
    for part in parts:
        assert part.isascii()
        assert part == part.lower()
        assert part.isalnum()  # letters and digits only: no dot rule to break
        assert addresses.is_valid_local_part(part)
        assert len(part) <= addresses.MAX_LOCAL


@settings(max_examples=200, deadline=None)
@given(common_name)
def test_the_base_is_the_given_name_then_the_initials(name):
    words = addresses.fold(name).split()
    assert addresses.local_part_base(name) == words[-1] + "".join(w[0] for w in words[:-1])


def test_local_part_validity_follows_rfc5321():
    assert addresses.is_valid_local_part("ducnv")
    assert addresses.is_valid_local_part("vanthu.snv")
    for bad in ("", ".ducnv", "ducnv.", "duc..nv", "đức", "duc nv", "a" * 65, "duc@nv"):
        assert not addresses.is_valid_local_part(bad), bad
    assert addresses.is_valid_domain("tphcm.gov.vn")
    assert not addresses.is_valid_domain("tphcm")
    assert not addresses.is_valid_domain("-x.gov.vn")
