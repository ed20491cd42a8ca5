"""City mailbox addresses from Vietnamese names: the local part, without diacritics.

**Convention** (docs/citymail/README.md): the given name (the last word of a Vietnamese name)
followed by the initials of the family and middle names, all lower-case ASCII — Nguyễn Văn Đức →
``ducnv``, Trần Thị Ngọc Ánh → ``anhttn`` — the form used widely for personal mailboxes in
Vietnamese state agencies. A clash takes the lowest free number from 2 (``ducnv2``). The
diacritics are dropped by Unicode decomposition (NFD, combining marks removed), and ``đ``/``Đ``,
which does not decompose, becomes ``d``.

Every local part produced is a ``Dot-string`` of RFC 5321 § 4.1.2 made of letters and digits only
(no dots, so none of the dot rules can be broken), at most :data:`MAX_LOCAL` characters (§ 4.5.3.1.1:
64 octets; we keep to 40, so that a suffix and the domain leave the whole address well under 254).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

MAX_LOCAL = 40
FALLBACK = "canbo"  # "official": for a name with no letter left after folding
_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def fold(text: str) -> str:
    """``text`` without Vietnamese diacritics, lower-case: "Nguyễn Văn Đức" → "nguyen van duc"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).lower()


def name_words(full_name: str) -> list[str]:
    """The ASCII words of a name (letters and digits only; punctuation, spaces and any letter
    outside Latin script dropped)."""
    return [w for w in (re.sub(r"[^a-z0-9]", "", part) for part in fold(full_name).split()) if w]


def local_part_base(full_name: str) -> str:
    """The local part before disambiguation: given name + initials of the other words."""
    words = name_words(full_name)
    if not words:
        return FALLBACK
    given, others = words[-1], words[:-1]
    base = given + "".join(w[0] for w in others)
    return base[:MAX_LOCAL]


def local_part_free(full_name: str, taken: Callable[[str], bool]) -> str:
    """The first local part for ``full_name`` that ``taken`` (case-insensitive) says is free:
    the base, then the base followed by 2, 3, …"""
    base = local_part_base(full_name)
    if not taken(base):
        return base
    n = 2
    while True:
        suffix = str(n)
        candidate = base[: MAX_LOCAL - len(suffix)] + suffix
        if not taken(candidate):
            return candidate
        n += 1


def local_parts_for(names: Iterable[str], *, taken: set[str] | None = None) -> list[str]:
    """Local parts for ``names`` in order, unique among themselves and ``taken`` (lower-case)."""
    used = {t.lower() for t in (taken or set())}
    out = []
    for name in names:
        part = local_part_free(name, lambda c: c.lower() in used)
        used.add(part.lower())
        out.append(part)
    return out


def is_valid_local_part(local: str) -> bool:
    """Whether ``local`` is an RFC 5321 ``Dot-string`` (§ 4.1.2) of ASCII within 64 octets."""
    return 0 < len(local) <= 64 and local.isascii() and bool(_ATEXT.match(local))


def is_valid_domain(domain: str) -> bool:
    """A DNS host name of letters, digits and hyphens (RFC 5321 § 4.1.2 ``Domain``), lower-case."""
    labels = domain.split(".")
    return len(labels) >= 2 and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels)
