"""Upload safety: what is accepted, and each refusal with a file crafted to trip it."""

from __future__ import annotations

import base64
import io
import zlib

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hcmgov.documents import safety
from hcmgov.documents.safety import Inspection, Limits, Refused, inspect
from hcmgov.documents.tests import crafted

PDF = crafted.pdf()
JPEG = crafted.jpeg((320, 240))
PNG = crafted.png()
LIMITS = Limits(
    max_bytes=10 * 1024 * 1024,
    max_pages=100,
    max_pixels=50_000_000,
    max_inflate_ratio=100,
    max_inflated_bytes=1024 * 1024 * 1024,
)


def refusal(data: bytes, filename: str, limits: Limits | None = LIMITS) -> Refused:
    with pytest.raises(Refused) as caught:
        inspect(data=data, filename=filename, limits=limits)
    refused = caught.value
    assert refused.message.vi
    assert refused.message.en
    assert refused.message.vi != refused.message.en
    return refused


# --- accepted -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (PDF, "giay-khai-sinh.pdf", Inspection("application/pdf", 1)),
        (crafted.pdf(3), "Ho so.PDF", Inspection("application/pdf", 3)),
        (crafted.scanned_pdf(), "scan.pdf", Inspection("application/pdf", 1)),
        (JPEG, "anh.jpg", Inspection("image/jpeg", 1, 320, 240)),
        (JPEG, "anh.jpeg", Inspection("image/jpeg", 1, 320, 240)),
        (PNG, "anh.png", Inspection("image/png", 1, 400, 300)),
        (crafted.pdf_with_image(2480, 3508), "a4-300dpi.pdf", Inspection("application/pdf", 1)),
        (
            crafted.pdf_with_stream(zlib.compress(bytes(2 << 20)), ["/FlateDecode"]),
            "a.pdf",
            Inspection("application/pdf", 1),
        ),
        (
            crafted.pdf_with_stream(base64.a85encode(b"BT ET"), ["/ASCII85Decode"]),
            "a.pdf",
            Inspection("application/pdf", 1),
        ),
    ],
)
def test_ordinary_files_are_accepted_and_described(data, filename, expected):
    assert inspect(data=data, filename=filename, limits=LIMITS) == expected


def test_a_camera_trailer_after_the_jpeg_end_is_kept():
    """Phones write their own data after EOI (Samsung's SEFT trailer, a motion photo's MP4)."""
    trailer = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4 + b"SEFT"
    assert inspect(data=JPEG + trailer, filename="a.jpg", limits=LIMITS).content_type == "image/jpeg"


def test_the_accepted_types_are_the_dossier_attachments_ones():
    from hcmgov.dossiers.files import ACCEPTED

    assert {ext: {kind} for ext, kind in safety.EXTENSIONS.items()} == ACCEPTED


def test_limits_come_from_the_environment(monkeypatch, settings):
    monkeypatch.setenv("HCMGOV_UPLOAD_MAX_PAGES", "2")
    settings.UPLOAD_MAX_BYTES = 5000
    limits = Limits.from_config()
    assert (limits.max_pages, limits.max_bytes) == (2, 5000)
    assert refusal(crafted.pdf(3), "a.pdf", limits=None).code == "too_many_pages"


# --- refused: type and size -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "a.pdf", "empty"),
        (crafted.zip_archive(), "ho-so.zip", "unsupported_type"),
        (crafted.zip_archive(), "ho-so.pdf", "unsupported_type"),
        (b"GIF89a\x01\x00\x01\x00", "a.gif", "unsupported_type"),
        (b"hello", "a.txt", "unsupported_type"),
        (PDF, "a", "unsupported_type"),
        (PNG, "a.pdf", "content_mismatch"),
        (PDF, "a.jpg", "content_mismatch"),
        (JPEG, "a.png", "content_mismatch"),
    ],
)
def test_a_type_not_accepted_or_not_announced_is_refused(data, filename, code):
    assert refusal(data, filename).code == code


def test_a_file_over_the_size_limit_is_refused_with_413():
    refused = refusal(PDF, "a.pdf", limits=Limits(**{**LIMITS.__dict__, "max_bytes": len(PDF) - 1}))
    assert (refused.code, refused.status) == ("too_large", 413)
    assert "MB" in refused.message.vi


def test_a_pdf_over_the_page_limit_is_refused():
    refused = refusal(crafted.pdf(4), "a.pdf", limits=Limits(**{**LIMITS.__dict__, "max_pages": 3}))
    assert refused.code == "too_many_pages"
    assert "4 trang" in refused.message.vi
    assert "4 pages" in refused.message.en


# --- refused: PDF structure -----------------------------------------------------------------------


@pytest.mark.parametrize("user_password", ["mat-khau", ""])
def test_an_encrypted_pdf_is_refused(user_password):
    """With a password to open it, or only an owner password (opens, but encrypted all the same)."""
    assert refusal(crafted.encrypted_pdf(user_password=user_password), "a.pdf").code == "encrypted_pdf"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(PDF[: len(PDF) // 2], id="truncated"),
        pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n", id="garbage"),
        pytest.param(crafted.damaged_pdf(), id="xref-rebuilt-by-qpdf"),
        pytest.param(crafted.pdf(0), id="no-pages"),
    ],
)
def test_a_malformed_pdf_is_refused(data):
    assert refusal(data, "a.pdf").code == "malformed_pdf"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (crafted.pdf_with_javascript(), "active_content"),
        (crafted.pdf_with_javascript_name_tree(), "active_content"),
        (crafted.pdf_with_launch_action(), "active_content"),
        (crafted.pdf_with_embedded_zip(), "embedded_file"),
    ],
)
def test_a_pdf_with_scripts_actions_or_embedded_files_is_refused(data, code):
    assert b"/JavaScript" not in data  # hidden in object streams
    assert b"/Launch" not in data
    assert refusal(data, "a.pdf").code == code


# --- refused: polyglots ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        pytest.param(JPEG + crafted.zip_archive(), "a.jpg", id="jpeg+zip"),
        pytest.param(PNG + crafted.zip_archive(), "a.png", id="png+zip"),
        pytest.param(PNG + PDF, "a.png", id="png+pdf"),
        pytest.param(JPEG + PDF, "a.jpg", id="jpeg+pdf"),
        pytest.param(PDF + crafted.zip_archive(), "a.pdf", id="pdf+zip"),
        pytest.param(PDF + b"<html><script>alert(1)</script></html>", "a.pdf", id="pdf+html"),
        pytest.param(PDF + bytes(range(256)) * 8, "a.pdf", id="pdf+2kb-after-eof"),
        pytest.param(b"GIF89a" + b"\0" * 64 + PDF, "a.pdf", id="pdf-header-not-at-start"),
        pytest.param(JPEG[:2] + b"\xff\xfe\x00\x0a%PDF-1.7" + JPEG[2:], "a.jpg", id="pdf-header-in-jpeg-comment"),
    ],
)
def test_a_file_that_is_also_another_type_is_refused(data, filename):
    assert refusal(data, filename).code == "polyglot"


# --- refused: bombs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        pytest.param(crafted.png_declaring(100_000, 100_000), "a.png", id="png-100000x100000"),
        pytest.param(crafted.jpeg_declaring(60_000, 60_000), "a.jpg", id="jpeg-60000x60000"),
        pytest.param(crafted.pdf_with_image(100_000, 100_000), "a.pdf", id="pdf-image-xobject"),
    ],
)
def test_an_image_with_too_many_pixels_is_refused_from_its_header(data, filename):
    assert len(data) < 10_000
    refused = refusal(data, filename)
    assert refused.code == "image_bomb"
    assert "100000×100000" in refused.message.en or "60000×60000" in refused.message.en


@pytest.fixture(scope="module")
def zeros_80mib() -> bytes:
    return crafted.deflated_zeros(80 << 20)


def test_a_pdf_stream_inflating_past_the_budget_is_refused(zeros_80mib):
    data = crafted.pdf_with_stream(zeros_80mib, ["/FlateDecode"])
    assert len(data) < 1024 * 1024  # 80 MiB of zeros: more than 64 MiB and 100 times the file
    assert refusal(data, "a.pdf").code == "archive_bomb"


def test_nested_flate_is_refused_without_inflating_it_all(zeros_80mib):
    """Two Flate layers: 80 MiB inside ~1 KB... the check stops at the budget (64 MiB here)."""
    import time

    data = crafted.pdf_with_stream(zlib.compress(zeros_80mib, 9), ["/FlateDecode", "/FlateDecode"])
    assert len(data) < 64 * 1024
    started = time.perf_counter()
    assert refusal(data, "a.pdf").code == "archive_bomb"
    assert time.perf_counter() - started < 5


def test_the_inflate_budget_is_a_setting():
    data = crafted.pdf_with_stream(zlib.compress(bytes(2 << 20)), ["/FlateDecode"])
    tight = Limits(**{**LIMITS.__dict__, "max_inflated_bytes": 1 << 20})
    assert refusal(data, "a.pdf", limits=tight).code == "archive_bomb"


def test_run_length_and_lzw_are_counted_at_their_worst_ratio():
    """Not decoded: 100 KB of LZW could inflate to ~300 MB, over the 64 MiB budget of a small file."""
    assert refusal(crafted.pdf_with_stream(b"\x80" * 100_000, ["/LZWDecode"]), "a.pdf").code == "archive_bomb"
    assert inspect(data=crafted.pdf_with_stream(b"\x80" * 1000, ["/LZWDecode"]), filename="a.pdf", limits=LIMITS)


# --- never anything but a refusal -----------------------------------------------------------------

SAMPLES = {"a.pdf": PDF, "b.pdf": crafted.pdf_with_image(64, 64), "a.jpg": JPEG, "a.png": PNG}


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    mutated = bytearray(data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated[:cut] if cut else mutated)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8),
    cut=st.none() | st.integers(min_value=1, max_value=4000),
    tail=st.binary(max_size=64),
)
def test_mutated_files_are_accepted_or_refused_never_crash(name, edits, cut, tail):
    data = _mutate(SAMPLES[name], edits, cut) + tail
    try:
        result = inspect(data=data, filename=name, limits=LIMITS)
    except Refused as refused:
        code = refused.code
    else:
        code = result.content_type
    assert code in safety.MESSAGES or code in safety.EXTENSIONS.values()


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from([b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b""]),
    body=st.binary(max_size=2048),
    filename=st.sampled_from(["a.pdf", "a.png", "a.jpg", "a.zip", "a"]),
)
def test_random_bytes_are_refused_never_crash(prefix, body, filename):
    with pytest.raises(Refused):
        inspect(data=prefix + body, filename=filename, limits=LIMITS)


def test_pikepdf_opens_what_is_accepted():
    """What passes is what a reader sees: qpdf opens it without a warning."""
    with pikepdf.open(io.BytesIO(PDF)) as document:
        assert len(document.pages) == 1
        assert not document.get_warnings()
