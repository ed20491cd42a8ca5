"""Bodies kept in the message log (for services with ``log_bodies``), encrypted with Fernet
(AES-128-CBC and HMAC-SHA256, from ``cryptography``) under ``EXCHANGE_LOG_KEY``: whoever reads the
database without the key sees neither what was asked nor what was answered."""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.EXCHANGE_LOG_KEYS.split(",") if k.strip()]
    if not keys:
        raise RuntimeError("EXCHANGE_LOG_KEYS is empty: message bodies cannot be kept")
    return MultiFernet([Fernet(k.encode()) for k in keys])


def bodies_kept() -> bool:
    return bool(settings.EXCHANGE_LOG_KEYS.strip())


def bodies_encrypt(*, request: bytes, response: bytes) -> bytes:
    plain = json.dumps(
        {"request": base64.b64encode(request).decode(), "response": base64.b64encode(response).decode()}
    ).encode()
    return _fernet().encrypt(plain)


def bodies_decrypt(*, token: bytes) -> tuple[bytes, bytes]:
    data = json.loads(_fernet().decrypt(bytes(token)))
    return base64.b64decode(data["request"]), base64.b64decode(data["response"])
