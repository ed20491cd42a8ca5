"""The RS256 keys that sign ID tokens.

The active key comes from ``OIDC_RSA_PRIVATE_KEY`` (PEM text, or the path of a PEM file); unset,
the embedded default generates one on first start into ``HCMGOV_VAR_DIR/keys/oidc-rsa.pem`` and
reads it back on every later start, so tokens stay verifiable across restarts. During a rotation
the previous keys (``OIDC_RSA_PRIVATE_KEYS_INACTIVE``) are still published in the JWKS, so ID
tokens they signed verify until they expire; only the active key signs.

No Django import here: the settings module calls this while it is being loaded.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PEM_MARK = "-----BEGIN"
KEY_BITS = 3072  # ≈ 128-bit security (NIST SP 800-57 part 1; ASVS 11.2.3)


def pem_text(value: str) -> str:
    """PEM text from a setting: the PEM itself (newlines may be written ``\\n`` in one-line
    environment files), or the path of a file holding it."""
    value = value.strip()
    if not value:
        return ""
    if value.startswith(PEM_MARK):
        return value.replace("\\n", "\n") + ("" if value.endswith("\n") else "\n")
    return Path(value).read_text()


def signing_key(configured: str, default_file: Path) -> str:
    """The active signing key: configured, else the key kept in ``default_file`` (made once)."""
    if configured.strip():
        return pem_text(configured)
    if not default_file.exists():
        _generate(default_file)
    return default_file.read_text()


def _generate(path: Path) -> None:
    """Write a new RSA key to ``path`` (mode 0600). Several processes may start at once: each
    writes its own temporary file and links it into place; the first link wins and the others
    read the winner's key."""
    from joserfc.jwk import RSAKey

    pem = RSAKey.generate_key(KEY_BITS, private=True).as_pem(private=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()
