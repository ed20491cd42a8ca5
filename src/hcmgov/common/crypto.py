"""Encryption of personal data at rest, with keys that rotate, and blind indexes to find it.

**Ciphertext.** ``v1:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>``: the ciphertext
names the key that made it, so a rotation knows what is left on an old key and a reader picks the
one key that opens it (no trying each in turn). The associated data binds the version, the key id
and a *context* (the column: ``identity.user.personal_id``), so a ciphertext copied to another column
does not open there. AES-GCM comes from ``cryptography`` (``AESGCM``); the nonce is 96 random
bits, well inside GCM's limit of 2**32 messages per key before the random-nonce bound matters.

**Keys** (``HCMGOV_DATA_KEYS``): ``id:base64key,id:base64key`` newest first; the first encrypts,
all decrypt. Rotation: add a new key, put it first, keep the old ones, run ``hcmgov keys rotate``
(which re-encrypts every column under the newest key), then drop the old key once ``hcmgov keys
status`` shows nothing left on it (the rollout order: docs/decisions/0017-encryption-at-rest.md).
With the setting empty (development, tests) one key ``dev`` is derived from ``SECRET_KEY`` by HKDF.

**Blind index** (``HCMGOV_INDEX_KEY``): HMAC-SHA256 of a normalised value (stripped) under its
context, for equality lookups and uniqueness on encrypted columns (a personal ID is found by its
index, never by decrypting the table). It tells who holds equal values, nothing more. An encrypted
field names the column that keeps its index (``index="personal_id_index"``); the model's ``save``
calls :func:`blind_indexes_set`, and ``hcmgov keys reindex`` (:func:`reindex`) recomputes them all.
The index key does not rotate with the data keys: changing it means recomputing every index.

**Fields.** :class:`EncryptedTextField` and :class:`EncryptedJSONField` encrypt on every write (so
a record saved after a rotation moves to the newest key) and decrypt on every read; only ``isnull``
can be looked up on them. ``dumpdata`` writes the plain values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.db import connections, models, router, transaction

VERSION = "v1"
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
KEY_TEXT = re.compile(r"^[A-Za-z0-9_\-+/]+=*$")  # base64, URL-safe or standard, padding optional
NONCE = 12


class CryptoError(Exception):
    """A ciphertext that cannot be opened: unknown key, altered bytes, another column's, malformed."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


def derived_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for ``purpose`` derived from ``secret`` by HKDF-SHA256 (development defaults:
    each purpose its own key, none of them the secret itself)."""
    return _derive(secret, purpose.encode())


@lru_cache(maxsize=8)
def _keyring(spec: str, secret: str) -> Keyring:
    if not spec.strip():
        return Keyring("dev", {"dev": _derive(secret, b"hcmgov data key dev")})
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, raw = item.partition(":")
        if not sep or not KEY_ID.match(key_id):
            # The item may be a bare key: name only what precedes a colon, never the key itself.
            shown = repr(key_id) if sep else "an item without 'id:'"
            raise CryptoError(f"HCMGOV_DATA_KEYS: {shown} is not 'id:base64key' with an id of [A-Za-z0-9_-]{{1,16}}")
        raw = raw.strip().rstrip("=")
        try:
            if not KEY_TEXT.match(raw):
                raise ValueError(raw)
            key = base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4))
        except ValueError:  # binascii.Error is a ValueError
            raise CryptoError(f"HCMGOV_DATA_KEYS: key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise CryptoError(f"HCMGOV_DATA_KEYS: key {key_id!r} is {len(key)} bytes, not 32")
        if key_id in keys:
            raise CryptoError(f"HCMGOV_DATA_KEYS: key {key_id!r} given twice")
        keys[key_id] = key
        order.append(key_id)
    if not order:
        raise CryptoError("HCMGOV_DATA_KEYS names no key")
    return Keyring(order[0], keys)


def keyring() -> Keyring:
    """The data keys as the settings give them now (cached per setting value)."""
    return _keyring(settings.HCMGOV_DATA_KEYS, settings.SECRET_KEY)


def key_new() -> str:
    """A fresh key, as ``HCMGOV_DATA_KEYS`` takes it (without the id)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def _aad(key_id: str, context: str) -> bytes:
    return f"{VERSION}\x00{key_id}\x00{context}".encode()


def encrypt(plain: bytes, *, context: str) -> str:
    ring = keyring()
    nonce = os.urandom(NONCE)
    sealed = AESGCM(ring.keys[ring.current]).encrypt(nonce, plain, _aad(ring.current, context))
    return f"{VERSION}:{ring.current}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def key_id_of(token: str) -> str:
    """The id of the key a ciphertext was made with."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != VERSION:
        raise CryptoError("not a ciphertext of this platform")
    return parts[1]


def decrypt(token: str, *, context: str) -> bytes:
    key_id = key_id_of(token)
    key = keyring().keys.get(key_id)
    if key is None:
        raise CryptoError(f"key {key_id!r} is not among HCMGOV_DATA_KEYS")
    body = token.split(":", 2)[2]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return AESGCM(key).decrypt(raw[:NONCE], raw[NONCE:], _aad(key_id, context))
    except Exception as exc:  # InvalidTag, binascii.Error, ValueError: all mean "does not open"
        raise CryptoError(f"ciphertext does not open under key {key_id!r} in {context}") from exc


def encrypt_text(value: str, *, context: str) -> str:
    return encrypt(value.encode(), context=context)


def decrypt_text(token: str, *, context: str) -> str:
    return decrypt(token, context=context).decode()


@lru_cache(maxsize=8)
def _index_key(spec: str, secret: str) -> bytes:
    if spec.strip():
        return spec.strip().encode()
    return _derive(secret, b"hcmgov blind index")


def blind_index(value: str, *, context: str) -> str:
    """HMAC-SHA256 (hex) of ``value`` stripped, under ``context``: equal values, equal indexes."""
    key = _index_key(settings.HCMGOV_INDEX_KEY, settings.SECRET_KEY)
    return hmac.new(key, f"{context}\x00{value.strip()}".encode(), hashlib.sha256).hexdigest()


def mask(value: str | None, *, keep: int = 3) -> str:
    """A value as lists show it: all but the last ``keep`` characters hidden (``*********123``);
    a value no longer than ``keep`` is hidden whole."""
    if not value:
        return ""
    shown = value[len(value) - keep :] if 0 < keep < len(value) else ""
    return "*" * (len(value) - len(shown)) + shown


# --- model fields ----------------------------------------------------------------------------


class _Encrypted(models.TextField):
    """A column kept encrypted: the model sees the plain value, the database the ciphertext.
    Only ``isnull`` can be looked up (an equality on ciphertext would silently match nothing):
    keep a blind index beside it for lookups, named by ``index`` (a field of the same model)."""

    def __init__(self, *args: Any, context: str, index: str | None = None, **kwargs: Any) -> None:
        self.context = context
        self.index = index
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["context"] = self.context
        if self.index:
            kwargs["index"] = self.index
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        if self.unique or getattr(self, "db_index", False):
            errors.append(
                checks.Error(
                    "an encrypted field cannot be unique or indexed (each write has a fresh nonce)",
                    hint="Declare a blind index field beside it (index=...) and make that unique.",
                    obj=self,
                    id="hcmgov.E001",
                )
            )
        if self.index and self.index not in {f.name for f in self.model._meta.get_fields()}:
            errors.append(checks.Error(f"blind index field {self.index!r} does not exist", obj=self, id="hcmgov.E002"))
        return errors

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise CryptoError(f"{self.context} is encrypted: look it up by its blind index, not by {lookup_name}")
        return super().get_lookup(lookup_name)

    def _dump(self, value: Any) -> str:
        raise NotImplementedError

    def _load(self, text: str) -> Any:
        raise NotImplementedError

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt_text(self._dump(value), context=self.context)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return self._load(decrypt_text(value, context=self.context))

    def to_python(self, value: Any) -> Any:
        return value


class EncryptedTextField(_Encrypted):
    def _dump(self, value: Any) -> str:
        return str(value)

    def _load(self, text: str) -> Any:
        return text


class EncryptedJSONField(_Encrypted):
    # what django-stubs reads as the field's Python type (a JSON value, not the stored text)
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def _dump(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    def _load(self, text: str) -> Any:
        return json.loads(text)


def encrypted_columns() -> list[tuple[type[models.Model], _Encrypted]]:
    """Every encrypted column of every installed model, once: on the model whose table holds it
    (not again on a multi-table child, a proxy, or an unmanaged model)."""
    from django.apps import apps

    return [
        (model, f)
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
        for f in model._meta.local_concrete_fields
        if isinstance(f, _Encrypted)
    ]


def blind_indexes_set(instance: models.Model, update_fields: Iterable[str] | None = None) -> list[str] | None:
    """Set every blind index of ``instance`` from its encrypted field (``None`` for an empty
    value); for a ``save(update_fields=...)`` naming an encrypted field, the same list with its
    index added. Models with indexed encrypted fields call it from ``save()``."""
    fields = None if update_fields is None else list(update_fields)
    for f in instance._meta.concrete_fields:
        if isinstance(f, _Encrypted) and f.index:
            value = getattr(instance, f.attname)
            setattr(instance, f.index, blind_index(str(value), context=f.context) if value else None)
            if fields is not None and f.name in fields and f.index not in fields:
                fields.append(f.index)
    return fields


def _quoted(db: str, model: type[models.Model], f: _Encrypted) -> tuple[str, str, str]:
    """The table, primary key and column, quoted for raw SQL (names from the models, never input)."""
    q = connections[db].ops.quote_name
    return q(model._meta.db_table), q(str(model._meta.pk.column)), q(str(f.column))


def _raw_rows(db: str, model: type[models.Model], f: _Encrypted, after: Any, batch: int) -> list[tuple[Any, str]]:
    # The ciphertexts as stored, without the field opening them (status and rotation read key ids).
    table, pk, column = _quoted(db, model, f)
    sql = (
        f"SELECT {pk}, {column} FROM {table} "  # noqa: S608 - quoted model names, values as parameters
        f"WHERE {column} IS NOT NULL{' AND ' + pk + ' > %s' if after is not None else ''} "
        f"ORDER BY {pk} LIMIT {int(batch)}"
    )
    with connections[db].cursor() as cur:
        cur.execute(sql, [after] if after is not None else [])
        return list(cur.fetchall())


def key_usage(model: type[models.Model], f: _Encrypted, *, batch: int = 2000) -> Counter[str]:
    """How many values of the column each key holds (read from the ciphertexts, none opened)."""
    counts: Counter[str] = Counter()
    after = None
    db = router.db_for_read(model)
    while rows := _raw_rows(db, model, f, after, batch):
        for _pk, token in rows:
            try:
                counts[key_id_of(token)] += 1
            except CryptoError:
                counts["?"] += 1
        after = rows[-1][0]
    return counts


def reencrypt(model: type[models.Model], f: _Encrypted, *, batch: int = 500) -> int:
    """Re-encrypt under the newest key every value of the column made with an older one; returns
    how many. Each batch is one transaction, so a run stopped halfway leaves every value readable
    and a rerun carries on; a value changed meanwhile by a save is left as that save wrote it (the
    update matches the old ciphertext). A value that is not a ciphertext of ours stops the run."""
    current = keyring().current
    done = 0
    after = None
    db = router.db_for_write(model)
    table, pk_column, column = _quoted(db, model, f)
    update = f"UPDATE {table} SET {column} = %s WHERE {pk_column} = %s AND {column} = %s"  # noqa: S608 - as above
    where = f"{model._meta.label}.{f.name}"
    while rows := _raw_rows(db, model, f, after, batch):
        after = rows[-1][0]
        stale = []
        for pk, token in rows:
            try:
                if key_id_of(token) != current:
                    stale.append((pk, token))
            except CryptoError as exc:
                raise CryptoError(f"{where} pk={pk}: {exc}") from None
        if not stale:
            continue
        with transaction.atomic(using=db), connections[db].cursor() as cur:
            for pk, token in stale:
                try:
                    plain = decrypt(token, context=f.context)
                except CryptoError as exc:
                    raise CryptoError(f"{where} pk={pk}: {exc}") from None
                cur.execute(update, [encrypt(plain, context=f.context), pk, token])
                done += cur.rowcount
    return done


def reindex(model: type[models.Model], f: _Encrypted, *, batch: int = 500) -> int:
    """Recompute the blind index of every value of the column (after ``HCMGOV_INDEX_KEY``
    changed); returns how many indexes changed. A rerun changes none."""
    if not f.index:
        return 0
    db = router.db_for_write(model)
    changed = 0
    rows = model._base_manager.using(db).order_by("pk")
    for obj in rows.only("pk", f.attname, f.index).iterator(chunk_size=batch):
        value = getattr(obj, f.attname)
        wanted = blind_index(str(value), context=f.context) if value else None
        if getattr(obj, f.index) != wanted:
            changed += model._base_manager.using(db).filter(pk=obj.pk).update(**{f.index: wanted})
    return changed
