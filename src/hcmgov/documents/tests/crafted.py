"""Files built for the tests: ordinary ones, and hostile ones each made to trip one check of
:mod:`hcmgov.documents.safety`."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

import pikepdf
from PIL import Image, ImageDraw

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# A harmless string the test's own signature database calls malware (hcmgov.documents.tests.conftest).
TEST_MARKER = b"HCMGOV-TEST-MALWARE-MARKER-6f1d0c2e"


def pdf(pages: int = 1, *, text: str = "Giay khai sinh", extra: bytes = b"", compress: bool = True) -> bytes:
    """A PDF with a line of text on each page (Helvetica), written by pikepdf."""
    document = pikepdf.new()
    font = document.make_indirect(
        pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    )
    for number in range(pages):
        document.add_blank_page(page_size=(595, 842))
        page = document.pages[-1]
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        content = f"BT /F1 14 Tf 72 770 Td ({text} {number + 1}) Tj ET".encode() + extra
        page.Contents = document.make_stream(content)
    out = io.BytesIO()
    document.save(out, compress_streams=compress)
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A one-page scan as offices send them: an A4 page at 150 dpi, JPEG inside a PDF (Pillow)."""
    image = _page_image((1240, 1754))
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=150, quality=80)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (1600, 1200), *, quality: int = 85, noise: int = 12) -> bytes:
    """A photo-like JPEG (text on a page with sensor-like noise); the default is about 300 KB."""
    image = _page_image(size, noise=noise).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png(size: tuple[int, int] = (400, 300)) -> bytes:
    out = io.BytesIO()
    _page_image(size).save(out, format="PNG")
    return out.getvalue()


def _page_image(size: tuple[int, int], *, noise: int = 0) -> Image.Image:
    image = Image.new("L", size, 235)
    draw = ImageDraw.Draw(image)
    for row in range(40, size[1] - 40, 36):
        draw.text((60, row), "CONG HOA XA HOI CHU NGHIA VIET NAM - Doc lap - Tu do - Hanh phuc", fill=20)
    if noise:
        rng = random.Random(7)
        grain = Image.frombytes("L", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1])))
        image = Image.blend(image, grain, noise / 255)
    return image


def zip_archive(members: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (members or {"payload.js": b"app.alert('hi')"}).items():
            archive.writestr(name, data)
    return out.getvalue()


def encrypted_pdf(*, user_password: str = "mat-khau") -> bytes:  # noqa: S107 - a test file's password
    document = pikepdf.open(io.BytesIO(pdf()))
    out = io.BytesIO()
    document.save(out, encryption=pikepdf.Encryption(owner="chu-so-huu", user=user_password, R=6))
    return out.getvalue()


def _edit(build: object, *, streams_as_built: bool = False) -> bytes:
    """A one-page PDF changed by ``build(document)``, saved with object streams (so what it adds is
    compressed inside them, where a byte search would not find it). ``streams_as_built``: the
    streams are written as given (qpdf would otherwise decode and recompress them)."""
    document = pikepdf.open(io.BytesIO(pdf()))
    build(document)  # type: ignore[operator]
    out = io.BytesIO()
    if streams_as_built:
        document.save(
            out,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            compress_streams=False,
        )
    else:
        document.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def pdf_with_javascript() -> bytes:
    def build(document: pikepdf.Pdf) -> None:
        action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"))
        document.Root.OpenAction = document.make_indirect(action)

    return _edit(build)


def pdf_with_javascript_name_tree() -> bytes:
    def build(document: pikepdf.Pdf) -> None:
        action = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("this.print()"))
        document.Root.Names = pikepdf.Dictionary(
            JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), action]))
        )

    return _edit(build)


def pdf_with_launch_action() -> bytes:
    def build(document: pikepdf.Pdf) -> None:
        link = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Link,
            Rect=[0, 0, 100, 100],
            A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe")),
        )
        document.pages[0].Annots = pikepdf.Array([link])

    return _edit(build)


def pdf_with_embedded_zip() -> bytes:
    def build(document: pikepdf.Pdf) -> None:
        document.attachments["tai-lieu.zip"] = pikepdf.AttachedFileSpec(document, zip_archive())

    return _edit(build)


def pdf_with_image(width: int, height: int) -> bytes:
    """A PDF whose image XObject declares ``width`` × ``height`` pixels (its data is 1 byte)."""

    def build(document: pikepdf.Pdf) -> None:
        image = document.make_stream(
            zlib.compress(b"\0"),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=width,
            Height=height,
            ColorSpace=pikepdf.Name.DeviceGray,
            BitsPerComponent=8,
            Filter=pikepdf.Name.FlateDecode,
        )
        document.pages[0].Resources.XObject = pikepdf.Dictionary(Im0=image)

    return _edit(build)


def deflated_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(1)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.compress(bytes(size & ((1 << 20) - 1))) + compressor.flush()


def pdf_with_stream(raw: bytes, filters: list[str]) -> bytes:
    """A PDF with one more stream, ``raw`` as stored, under ``filters`` (not decoded by pikepdf)."""

    def build(document: pikepdf.Pdf) -> None:
        stream = document.make_stream(raw, Filter=pikepdf.Array([pikepdf.Name(f) for f in filters]))
        document.Root.HcmgovPayload = stream

    return _edit(build, streams_as_built=True)


def damaged_pdf() -> bytes:
    """A PDF whose cross-reference offsets are wrong: qpdf opens it by rebuilding the table."""
    data = pdf()
    start = data.rindex(b"startxref") + len(b"startxref")
    end = data.index(b"%%EOF", start)
    return data[:start] + b"\n123\n" + data[end:]


def png_declaring(width: int, height: int) -> bytes:
    """A valid PNG (CRCs right) whose header declares ``width`` × ``height`` pixels; its one IDAT
    holds a few bytes, so it is tiny on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is rewritten to ``width`` × ``height``."""
    data = bytearray(jpeg((16, 16), noise=0))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
