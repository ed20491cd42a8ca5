"""Text helpers for Vietnamese: folding diacritics for search."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics ("Đăng ký khai sinh" → "dang ky khai sinh")."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn").lower()
