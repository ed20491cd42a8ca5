"""Checks on attached files: the content must be what the name says, and not too large."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

from hcmgov.common.errors import FieldError, Message

# Accepted kinds of attachment, by extension, and the MIME types their content may show.
ACCEPTED: dict[str, set[str]] = {
    ".pdf": {"application/pdf"},
    ".jpg": {"image/jpeg"},
    ".jpeg": {"image/jpeg"},
    ".png": {"image/png"},
}
CONTENT_TYPE = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@dataclass(frozen=True)
class Attachment:
    """A file the applicant attached for one required document (``requirement`` is its code)."""

    requirement: str
    filename: str
    data: bytes
    unread_size: int | None = None  # an upload too large to read: its size, and no data
    component_code: str = ""  # reused from the applicant's data store (documents app), not uploaded

    @property
    def size(self) -> int:
        return self.unread_size if self.unread_size is not None else len(self.data)

    @property
    def extension(self) -> str:
        return PurePath(self.filename).suffix.lower()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# The file signatures of the accepted kinds. Three fixed prefixes are checked directly: a general
# sniffing library (puremagic) scanned hundreds of signatures and cost ~0.5 ms a file on the
# submission path (see docs/decisions/0005).
def detected_types(data: bytes) -> set[str]:
    found = set()
    if b"%PDF-" in data[:1024]:  # ISO 32000: the header may follow up to 1 KB of other bytes
        found.add("application/pdf")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        found.add("image/png")
    if data.startswith(b"\xff\xd8\xff"):
        found.add("image/jpeg")
    return found


def check_attachment(att: Attachment) -> FieldError | None:
    """The first problem with an attachment, or None."""
    name = att.filename
    limit_mb = settings.UPLOAD_MAX_BYTES / (1024 * 1024)
    if att.size == 0:
        return FieldError(att.requirement, "empty", Message(f"Tệp «{name}» rỗng.", f"File “{name}” is empty."))
    if att.size > settings.UPLOAD_MAX_BYTES:
        return FieldError(
            att.requirement,
            "too_large",
            Message(f"Tệp «{name}» lớn hơn {limit_mb:g} MB.", f"File “{name}” is larger than {limit_mb:g} MB."),
        )
    expected = ACCEPTED.get(att.extension)
    if expected is None:
        return FieldError(
            att.requirement,
            "type_not_accepted",
            Message(f"Tệp «{name}» không phải PDF, JPG hoặc PNG.", f"File “{name}” is not a PDF, JPG or PNG."),
        )
    if not (detected_types(att.data) & expected):
        return FieldError(
            att.requirement,
            "content_mismatch",
            Message(
                f"Nội dung tệp «{name}» không đúng với loại tệp {att.extension}.",
                f"The content of “{name}” is not a {att.extension} file.",
            ),
        )
    return None
