"""A faster reader of PDF hexadecimal strings for pyHanko.

pyHanko (0.38) reads a hex string one byte at a time through a generator: a signature's
``/Contents`` is a hex string of 10–30 KB, read several times per verification, and that loop was
half of the time a verification took (profile in ``bench/signing.py --profile verify``). This reader
finds the closing ``>`` with one ``find`` over a block, strips whitespace and checks the digits
with ``bytes.translate`` and decodes with ``binascii``: the same result, some 50 times faster.

Anything unusual — a ``%`` (pyHanko reads it as the start of a comment), a byte that is neither a
hex digit nor whitespace, a missing ``>`` — goes back to pyHanko's own reader from the same
position, so errors and edge cases stay pyHanko's. ``tests/test_pdfparse.py`` checks the two
readers agree on generated input (value, error and where the stream is left).

Installed by replacing the module-level function pyHanko's ``read_object`` calls; ``install`` is
idempotent and refuses a pyHanko whose reader is not the one this was checked against.
"""

from __future__ import annotations

import binascii
from typing import Any

_BLOCK = 8192
_WHITESPACE = b" \n\r\t\f\x00"  # pyhanko.pdf_utils.misc.PDF_WHITESPACE
_HEX = b"0123456789abcdefABCDEF"
_original: Any = None


def read_hex_string_from_stream(stream: Any) -> Any:
    """pyHanko's ``read_hex_string_from_stream``: ``stream`` is at the opening ``<``."""
    from pyhanko.pdf_utils.generic import pdf_string

    start = stream.tell()
    stream.read(1)
    body = bytearray()
    while True:
        block = stream.read(_BLOCK)
        end = block.find(b">")
        if end >= 0:
            body += block[:end]
            break
        if not block:
            return _fallback(stream, start)
        body += block
    if b"%" in body:
        return _fallback(stream, start)
    digits = bytes(body).translate(None, _WHITESPACE)
    if digits.translate(None, _HEX):
        return _fallback(stream, start)
    stream.seek(start + 1 + len(body) + 1)
    if len(digits) % 2:
        digits += b"0"
    return pdf_string(binascii.unhexlify(digits))


def _fallback(stream: Any, start: int) -> Any:
    stream.seek(start)
    return original()(stream)


def install() -> None:
    """Make pyHanko's object reader use this hex-string reader (once per process)."""
    global _original
    from pyhanko.pdf_utils import generic

    current = generic.read_hex_string_from_stream
    if current is read_hex_string_from_stream:
        return
    if current.__module__ != "pyhanko.pdf_utils.generic" or generic.HEX_DIGITS != _HEX:
        return  # another pyHanko than the one checked: keep its reader
    _original = current
    generic.read_hex_string_from_stream = read_hex_string_from_stream


def original() -> Any:
    """pyHanko's own reader (for the equivalence test)."""
    from pyhanko.pdf_utils import generic

    return _original or generic.read_hex_string_from_stream
