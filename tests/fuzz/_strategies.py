"""Hypothesis strategies shared by the fuzz tests: any JSON, any text a form or query string can
carry (NUL, lone surrogates, right-to-left marks, control characters, very long), and the checks
every surface shares."""

from __future__ import annotations

from hypothesis import strategies as st

# characters that have broken parsers elsewhere: NUL and other controls, a lone surrogate (not
# encodable as UTF-8), right-to-left and zero-width marks, a BOM, Vietnamese with combining marks
NASTY = [
    "\x00", "\x01", "\x1b", "\x7f", "\ud800", "\udfff", "\u202e", "\u200f", "\u200b", "\ufeff",
    "\u0301", "Đ", "ữ", "ế", "%", "%00", "'", '"', "\\", ";", "--", "<script>", "&", "=", "?", "#",
    "\n", "\r\n", "\t", " ", "𝕏", "\U0010ffff",
]  # fmt: skip

nasty_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(NASTY) | st.text(max_size=4), max_size=12).map("".join),
    st.integers(1, 20_000).map(lambda n: "Ạ" * n),  # very long
)

# text a real HTTP request can carry in a query string or form (Django reads it as UTF-8; a lone
# surrogate cannot be sent, so it is replaced as a browser would)
wire_text = nasty_text.map(lambda s: s.encode("utf-8", "replace").decode("utf-8"))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,  # JSON escapes a lone surrogate (\ud800): a body may carry one
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(wire_text, inner, max_size=4),
    max_leaves=12,
)

# JSON nested deeper than Python's parser recurses (RecursionError, not ValueError), a number with
# more digits than int() converts (ValueError since Python 3.11), not UTF-8, a BOM
hostile_json = st.sampled_from(
    [b"[" * 100_000, b'{"a":' * 100_000, b"1" * 5_000, b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"a": NaN}']
)
