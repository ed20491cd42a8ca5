"""Test scans: Vietnamese administrative text rendered at 300 dpi with a DejaVu font and degraded as
a desk scanner degrades paper (a slight rotation, sensor noise, blur, JPEG compression), as a JPEG
or as a one-page image-only PDF; and the character error rate to score a recognition against the
text rendered. Deterministic: the same arguments give the same bytes (noise from a seeded
generator), so a test's error rate does not move between runs. Used by the OCR tests and by
``bench/ocr.py``.
"""

from __future__ import annotations

import io
import random
import textwrap
import unicodedata
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT = f"{FONT_DIR}/DejaVuSerif.ttf"
FONT_BOLD = f"{FONT_DIR}/DejaVuSerif-Bold.ttf"
DPI = 300
A4 = (2480, 3508)  # 210 × 297 mm at 300 dpi

# An extract of a birth certificate (Giấy khai sinh, form of Circular 04/2020/TT-BTP as the test
# reads it; the person is invented): every tone mark (sắc, huyền, hỏi, ngã, nặng) on plain and
# modified vowels (ă â ê ô ơ ư) and đ, capitals included. The first lines are the national motto
# and the title, set in bold capitals as on the paper.
BIRTH_CERTIFICATE_TITLE = [
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Độc lập - Tự do - Hạnh phúc",
    "GIẤY KHAI SINH",
]
BIRTH_CERTIFICATE_BODY = [
    "Họ, chữ đệm, tên: Nguyễn Thị Mỹ Hạnh",
    "Ngày, tháng, năm sinh: 15/08/2024, ghi bằng chữ: ngày mười lăm, tháng tám, năm hai nghìn không trăm hai mươi bốn.",
    "Giới tính: Nữ. Dân tộc: Kinh. Quốc tịch: Việt Nam.",
    "Nơi sinh: Bệnh viện Từ Dũ, phường Cầu Ông Lãnh, Thành phố Hồ Chí Minh.",
    "Quê quán: xã Phước Hưng, tỉnh Đồng Nai. Số định danh cá nhân: 079324001234.",
    "Họ, chữ đệm, tên người mẹ: Trần Thị Thủy, sinh năm 1996, dân tộc Kinh, quốc tịch Việt Nam, "
    "nơi cư trú: số 12 đường Nguyễn Đình Chiểu, phường Xuân Hòa, Thành phố Hồ Chí Minh.",
    "Họ, chữ đệm, tên người cha: Lê Quốc Bảo, sinh năm 1993, dân tộc Kinh, quốc tịch Việt Nam, "
    "nơi cư trú: số 12 đường Nguyễn Đình Chiểu, phường Xuân Hòa, Thành phố Hồ Chí Minh.",
    "Người đi đăng ký khai sinh: Lê Quốc Bảo, giấy tờ tùy thân: căn cước số 079093004567, "
    "quan hệ với người được khai sinh: cha đẻ.",
    "Nơi đăng ký khai sinh: Ủy ban nhân dân phường Bến Thành, Thành phố Hồ Chí Minh. "
    "Ngày, tháng, năm đăng ký: 20/08/2024. Sổ đăng ký khai sinh số 125, quyển 03.",
    "Người ký giấy khai sinh đã kiểm tra, đối chiếu giấy chứng sinh và giấy tờ hộ tịch của cha, mẹ; "
    "mọi sửa chữa, tẩy xóa trên giấy này đều không có giá trị pháp lý.",
]


@dataclass(frozen=True)
class Degradation:
    """How badly a page is scanned: ``angle`` degrees of rotation, ``noise`` the amplitude of the
    uniform sensor noise (grey levels, ±), ``blur`` the Gaussian radius in pixels (at 300 dpi),
    ``quality`` the JPEG quality, ``ink``/``paper`` the grey levels black and white come out as
    (faded ink on greyish paper), ``dpi`` the resolution the scanner was set to."""

    name: str
    angle: float
    noise: int
    blur: float
    quality: int
    ink: int = 0
    paper: int = 255
    dpi: int = DPI


LEVELS = {
    "clean": Degradation("clean", angle=0.0, noise=0, blur=0.0, quality=95),
    "light": Degradation("light", angle=0.5, noise=20, blur=0.6, quality=85),
    "medium": Degradation("medium", angle=1.0, noise=40, blur=1.0, quality=75),
    "heavy": Degradation("heavy", angle=1.5, noise=60, blur=1.4, quality=60, ink=70, paper=200),
    # A cheap scanner left at 150 dpi, faded paper: the worst the desks are expected to send.
    "poor": Degradation("poor", angle=1.5, noise=30, blur=1.4, quality=60, ink=80, paper=190, dpi=150),
}


def reference_text(*, paragraphs: int | None = None) -> str:
    """The text a page carries, line by line as rendered (the title lines, then the wrapped body)."""
    return "\n".join(_lines(paragraphs=paragraphs))


def _lines(*, paragraphs: int | None = None, width: int = 58) -> list[str]:
    body = BIRTH_CERTIFICATE_BODY[:paragraphs] if paragraphs is not None else BIRTH_CERTIFICATE_BODY
    lines = list(BIRTH_CERTIFICATE_TITLE)
    for paragraph in body:
        lines += textwrap.wrap(paragraph, width=width)
    return [unicodedata.normalize("NFC", line) for line in lines]


def render(*, paragraphs: int | None = None, size: tuple[int, int] = A4, points: float = 12) -> Image.Image:
    """The clean page: black text on white, 12-point DejaVu Serif at 300 dpi, 25 mm margins."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    pixels = round(points * DPI / 72)
    regular = ImageFont.truetype(FONT, pixels)
    bold = ImageFont.truetype(FONT_BOLD, pixels)
    margin = round(25 / 25.4 * DPI)
    y = margin
    for number, line in enumerate(_lines(paragraphs=paragraphs)):
        font = bold if number < len(BIRTH_CERTIFICATE_TITLE) else regular
        # The title lines centred, as on the form.
        x = (size[0] - draw.textlength(line, font=font)) / 2 if number < len(BIRTH_CERTIFICATE_TITLE) else margin
        draw.text((x, y), line, font=font, fill=0)
        y += round(pixels * 1.6)
        if number == len(BIRTH_CERTIFICATE_TITLE) - 1:
            y += pixels
    return page


def degrade(page: Image.Image, level: Degradation, *, seed: int = 0) -> Image.Image:
    """``page`` as a scanner returns it (greyscale): rotated, blurred, with noise."""
    rng = random.Random(seed)
    image = page.convert("L")
    if level.angle:
        angle = level.angle if rng.random() < 0.5 else -level.angle
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    if level.ink or level.paper != 255:
        ink, paper = level.ink, level.paper
        image = image.point(lambda v: ink + (paper - ink) * v // 255)
    if level.blur:
        image = image.filter(ImageFilter.GaussianBlur(level.blur))
    if level.dpi != DPI:
        size = (round(image.width * level.dpi / DPI), round(image.height * level.dpi / DPI))
        image = image.resize(size, Image.Resampling.BOX)
    if level.noise:
        # Uniform noise in [-noise, +noise] around 128, added with an offset: (a + n) - 128.
        raw = Image.frombytes("L", image.size, rng.randbytes(image.size[0] * image.size[1]))
        spread = level.noise
        noise = raw.point(lambda v: 128 - spread + (v * (2 * spread + 1)) // 256)
        image = ImageChops.add(image, noise, scale=1.0, offset=-128)
    return image


def jpeg(image: Image.Image, *, quality: int, dpi: int = DPI) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()


def scan_jpeg(*, level: str = "medium", seed: int = 0, paragraphs: int | None = None) -> bytes:
    """A degraded scan of the birth certificate, as a JPEG (300 dpi unless the level says less)."""
    degradation = LEVELS[level]
    image = degrade(render(paragraphs=paragraphs), degradation, seed=seed)
    return jpeg(image, quality=degradation.quality, dpi=degradation.dpi)


def scan_pdf(*, level: str = "medium", seed: int = 0, paragraphs: int | None = None, pages: int = 1) -> bytes:
    """A scanned PDF: each page one JPEG image (kept as it is, DCTDecode, as scanners write them)
    filling an A4 page, and no text layer."""
    import pikepdf

    pdf = pikepdf.new()
    for n in range(pages):
        data = scan_jpeg(level=level, seed=seed + n, paragraphs=paragraphs)
        width, height = Image.open(io.BytesIO(data)).size
        dpi = LEVELS[level].dpi
        image = pikepdf.Stream(pdf, data)
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width, image.Height = width, height
        image.ColorSpace = pikepdf.Name.DeviceGray
        image.BitsPerComponent = 8
        image.Filter = pikepdf.Name.DCTDecode
        w, h = width * 72 / dpi, height * 72 / dpi
        page = pdf.add_blank_page(page_size=(w, h))
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
        page.Contents = pdf.make_stream(f"q {w:.2f} 0 0 {h:.2f} 0 0 cm /Im0 Do Q".encode())
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions of one character each)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _canonical(text: str) -> str:
    # Layout is not what is scored: runs of whitespace (line breaks, Tesseract's blank lines
    # between blocks) count as one space.
    return " ".join(unicodedata.normalize("NFC", text).split())


def cer(*, reference: str, hypothesis: str) -> float:
    """Character error rate: the edit distance between the two texts, over NFC characters with
    whitespace runs as one space, divided by the reference's length."""
    ref, hyp = _canonical(reference), _canonical(hypothesis)
    return levenshtein(ref, hyp) / max(len(ref), 1)
