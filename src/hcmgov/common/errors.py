"""Domain errors carry a stable code and a message in Vietnamese and English, so every caller —
page or API — can answer in the user's language (RFC 9457 problem details on the API)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    vi: str
    en: str

    def in_language(self, language: str | None) -> str:
        return self.en if (language or "vi").startswith("en") else self.vi


@dataclass(frozen=True)
class FieldError:
    """A problem with one input: ``field`` is a dotted path (``mother.full_name``) or a document code."""

    field: str
    code: str
    message: Message


@dataclass
class DomainError(Exception):
    """A refusal the user can act on. ``status`` is the HTTP status the API answers with."""

    code: str
    message: Message
    status: int = 400
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message.en}"


class NotFound(DomainError):
    def __init__(self, what_vi: str, what_en: str) -> None:
        super().__init__(
            code="not_found",
            message=Message(f"Không tìm thấy {what_vi}.", f"{what_en} not found."),
            status=404,
        )


class OutsideSystemError(Exception):
    """A request an outside system (SMS gateway, postal carrier, …) did not fulfil, with a message
    in both languages, the system's own code and detail. ``retryable``: the same request may
    succeed later (subclasses set it)."""

    retryable = False

    def __init__(self, message: Message, *, code: str = "", detail: str = "") -> None:
        super().__init__(message.en)
        self.message = message
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        text = f"{self.message.vi} / {self.message.en}"
        if self.code:
            text += f" (mã / code {self.code})"
        if self.detail:
            text += f": {self.detail}"
        return text
