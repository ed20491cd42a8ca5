"""The fast hex-string reader agrees with pyHanko's own on any input: the value or the error, and
where it leaves the stream."""

from __future__ import annotations

from io import BytesIO

from hypothesis import given, settings
from hypothesis import strategies as st

from hcmgov.documents import pdfparse

_ALPHABET = st.sampled_from(
    [b"0", b"7", b"a", b"F", b"e", b" ", b"\n", b"\r\n", b"\x00", b"%", b">", b"<", b"g", b"\xff", b"1f"]
)


def _read(reader, data: bytes):
    stream = BytesIO(data)
    try:
        value = reader(stream)
    except Exception as exc:  # the two readers must fail the same way
        return ("error", type(exc).__name__, stream.tell())
    return ("ok", type(value).__name__, bytes(value.original_bytes), stream.tell())


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map(b"".join), st.binary(max_size=8))
def test_same_as_pyhanko(body: bytes, tail: bytes) -> None:
    data = b"<" + body + tail
    assert _read(pdfparse.read_hex_string_from_stream, data) == _read(pdfparse.original(), data)


def test_long_signature_contents_cross_blocks() -> None:
    contents = bytes(range(256)) * 80  # 20 KB: the hex spans several read blocks
    hexed = contents.hex().encode()
    data = b"<" + b"\n".join(hexed[i : i + 64] for i in range(0, len(hexed), 64)) + b">\n/Type /Sig"
    stream = BytesIO(data)
    value = pdfparse.read_hex_string_from_stream(stream)
    assert bytes(value.original_bytes) == contents
    assert stream.read() == b"\n/Type /Sig"


def test_install_is_used_by_pyhanko_and_idempotent() -> None:
    from pyhanko.pdf_utils import generic

    pdfparse.install()
    pdfparse.install()
    assert generic.read_hex_string_from_stream is pdfparse.read_hex_string_from_stream
    assert pdfparse.original() is not pdfparse.read_hex_string_from_stream
    value = generic.read_object(BytesIO(b"<48656c6c6f> "), container_ref=None)
    assert bytes(value.original_bytes) == b"Hello"
