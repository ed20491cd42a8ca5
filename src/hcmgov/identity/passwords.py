"""Password rules of OWASP ASVS 5.0 level 2 (chapter V6.2), as Django password validators.

Length is what makes a password strong; composition rules ("a digit, a capital, a symbol") make
people pick predictable ones, so ASVS forbids them (6.2.5). What we check: a minimum length (8
for everyone, 6.2.1; 12 for officials and administrators, whose accounts reach every citizen's
dossiers), a maximum of at least 64 (6.2.9; ours is 128), a list of breached and common passwords
(6.2.4; Django's CommonPasswordValidator) and context words (6.2.11). Messages are bilingual.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError

SECOND_FACTOR_KINDS = {"official", "admin"}


def _bilingual(vi: str, en: str) -> str:
    return f"{vi} / {en}"


def _is_back_office(user: Any) -> bool:
    return user is not None and (getattr(user, "kind", "") in SECOND_FACTOR_KINDS or getattr(user, "is_staff", False))


class LengthValidator:
    """At least ``minimum`` characters; ``official_minimum`` for officials and administrators."""

    def __init__(self, minimum: int = 8, official_minimum: int = 12) -> None:
        self.minimum = minimum
        self.official_minimum = official_minimum

    def required(self, user: Any = None) -> int:
        return self.official_minimum if _is_back_office(user) else self.minimum

    def validate(self, password: str, user: Any = None) -> None:
        required = self.required(user)
        if len(password) < required:
            raise ValidationError(
                _bilingual(
                    f"Mật khẩu phải có ít nhất {required} ký tự.",
                    f"The password must have at least {required} characters.",
                ),
                code="password_too_short",
                params={"min_length": required},
            )

    def get_help_text(self) -> str:
        return _bilingual(
            f"Ít nhất {self.minimum} ký tự ({self.official_minimum} với cán bộ); nên dùng một cụm từ dễ nhớ.",
            f"At least {self.minimum} characters ({self.official_minimum} for officials); a passphrase works well.",
        )


class MaximumLengthValidator:
    """At most ``maximum`` characters: ASVS asks that at least 64 be allowed; a bound keeps the cost
    of hashing a submitted password (PBKDF2 over the whole string) small."""

    def __init__(self, maximum: int = 128) -> None:
        if maximum < 64:
            raise ValueError("ASVS 6.2.9: passwords of at least 64 characters must be allowed")
        self.maximum = maximum

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.maximum:
            raise ValidationError(
                _bilingual(
                    f"Mật khẩu dài tối đa {self.maximum} ký tự.",
                    f"The password may have at most {self.maximum} characters.",
                ),
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _bilingual(f"Tối đa {self.maximum} ký tự.", f"At most {self.maximum} characters.")


# Words anyone guessing a password for this platform tries first (ASVS 6.2.11: a documented list).
CONTEXT_WORDS = (
    "hcmgov",
    "tphcm",
    "hochiminh",
    "saigon",
    "dichvucong",
    "motcua",
    "ubnd",
    "matkhau",
    "password",
)


def _fold(text: str) -> str:
    """Lower case, without diacritics or anything but letters and digits: "Hồ Chí Minh" → "hochiminh"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).lower()


class ContextWordsValidator:
    """Refuse a password that is little more than the platform's or the city's name."""

    def __init__(self, words: tuple[str, ...] = CONTEXT_WORDS) -> None:
        self.words = words

    def validate(self, password: str, user: Any = None) -> None:
        folded = _fold(password)
        for word in self.words:
            rest = folded.replace(word, "")
            if word in folded and len(rest) < 6:  # the word with a few characters around it
                raise ValidationError(
                    _bilingual(
                        "Mật khẩu quá dễ đoán: đừng dựa vào tên của cổng dịch vụ công hoặc thành phố.",
                        "The password is too easy to guess: do not build it on the portal's or the city's name.",
                    ),
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return _bilingual(
            "Không dựa vào tên cổng dịch vụ công hoặc tên thành phố.",
            "Not built on the portal's or the city's name.",
        )
