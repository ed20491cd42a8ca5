"""Content-addressed storage of files (blobs) through Django's storage API.

A blob's bytes are stored once, under a name made of their SHA-256 (``ab/cd/abcd…``), in the
storage alias ``documents`` (a folder, or S3-compatible object storage: settings ``STORAGES``).
:func:`blob_put` checks the bytes (:mod:`hcmgov.documents.safety`, then the antivirus), writes the
file, then the row: a row never points at a file that is not there, and two puts of the same bytes
at the same moment end with one file and one row (the unique SHA-256 decides; the loser reads the
winner's row). A second put of the same bytes returns the same blob, its retention raised to the
higher of the two, never lowered.

Draft uploads (retention ``draft``) not made part of a dossier are removed by
:func:`blobs_purge_drafts` (task ``documents.blobs_purge_drafts``). A put that reuses a draft
blob counts as a new upload: it moves the draft's ``created_at`` forward, so the purge does not
take a file the user has just sent again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import tempfile
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.functional import cached_property

from hcmgov.common.errors import DomainError, Message
from hcmgov.documents import safety
from hcmgov.documents.adapters import clamd
from hcmgov.documents.models import Blob, Component, Retention, ScanState

log = logging.getLogger(__name__)

ALIAS = "documents"
RANK = {Retention.DRAFT: 0, Retention.DOSSIER: 1, Retention.PERMANENT: 2}
PUT_ATTEMPTS = 5


class ScanUnavailable(DomainError):
    """The antivirus could not scan the file (clamd down, timed out): nothing was stored; the same
    upload may succeed later."""

    def __init__(self, error: clamd.ClamdError) -> None:
        super().__init__(
            code="scan_unavailable",
            message=Message(
                "Chưa kiểm tra được mã độc cho tệp vì dịch vụ quét đang gián đoạn; tệp chưa được lưu. "
                "Vui lòng thử lại sau ít phút.",
                "The file could not be checked for malware because the scanner is unavailable; it was not "
                "stored. Please try again in a few minutes.",
            ),
            status=503,
        )
        self.error = error


class BlobFileSystemStorage(FileSystemStorage):
    """A folder of blobs, ``MEDIA_ROOT/blobs`` by default (followed when tests change MEDIA_ROOT).
    A file is written to a temporary name and linked into place, so it appears whole or not at all,
    and an existing file is never overwritten (its name is its content's hash: same bytes)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("base_url", None)
        super().__init__(**kwargs)

    @cached_property
    def base_location(self) -> str:
        return self._value_or_setting(getattr(self, "_location", None), os.path.join(settings.MEDIA_ROOT, "blobs"))

    def _save(self, name: str, content: Any) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temporary, self.file_permissions_mode)
            with contextlib.suppress(FileExistsError):  # another put of the same bytes got there first
                os.link(temporary, full_path)
        finally:
            os.unlink(temporary)
        return name

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # the name is the content: never an alternative one


def documents_storage() -> Storage:
    """The storage of blobs (alias ``documents``)."""
    return storages[ALIAS]


def blob_name(sha256: str) -> str:
    """The name of content in the storage: ``ab/cd/abcd…`` (two levels keep folders small)."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def blob_put(
    *,
    data: bytes,
    filename: str,
    retention: str = Retention.DOSSIER,
    scan: bool = True,
    limits: safety.Limits | None = None,
) -> Blob:
    """Store ``data`` once and return its blob. Raises :class:`~hcmgov.documents.safety.Refused`
    when the bytes are refused (by :func:`~hcmgov.documents.safety.inspect`, or ``infected`` by the
    antivirus) and :class:`ScanUnavailable` when the antivirus cannot be reached; in both cases
    nothing is stored. ``scan=False`` skips the antivirus (content the city made itself)."""
    retention = Retention(retention)
    inspection = safety.inspect(data=data, filename=filename, limits=limits)
    sha256 = hashlib.sha256(data).hexdigest()
    name = blob_name(sha256)
    storage = documents_storage()
    verdict: tuple[str, str] | None = None
    for _ in range(PUT_ATTEMPTS):
        blob = Blob.objects.filter(sha256=sha256).first()
        if scan and (blob is None or blob.scan_state != ScanState.CLEAN) and verdict is None:
            verdict = _scan(data, filename)
        if blob is not None:
            reused = _reuse(blob, retention, verdict)
            if reused is None:
                continue  # purged meanwhile: store it again
            _ensure_stored(storage, name, data)
            return reused
        _ensure_stored(storage, name, data)  # the file first: a row never points at nothing
        state, note = verdict or _unscanned(scan)
        try:
            with transaction.atomic():
                blob = Blob.objects.create(
                    sha256=sha256,
                    size=len(data),
                    content_type=inspection.content_type,
                    pages=inspection.pages,
                    name=name,
                    retention=retention,
                    scan_state=state,
                    scan_note=note[:200],
                )
        except IntegrityError:
            continue  # a concurrent put of the same bytes made the row: reuse it
        # A purge that held the old row's lock while we wrote may have removed the file since.
        _ensure_stored(storage, name, data)
        return blob
    raise RuntimeError(f"blob {sha256} could not be stored after {PUT_ATTEMPTS} attempts")


def _scan(data: bytes, filename: str) -> tuple[str, str] | None:
    """(scan_state, scan_note) after clamd's verdict, or None when no antivirus is configured."""
    settings_ = clamd.clamd_config()
    if not settings_.enabled:
        return None
    name = os.path.basename(filename) or filename
    try:
        result = clamd.scan_bytes(data, settings=settings_)
    except clamd.ClamdLimitExceeded:
        raise safety.Refused(
            "too_large_to_scan",
            Message(
                f"Tệp «{name}» lớn hơn giới hạn của dịch vụ quét mã độc.",
                f"File “{name}” is larger than the malware scanner accepts.",
            ),
            status=413,
        ) from None
    except clamd.ClamdError as exc:
        log.error("documents: clamd unavailable, upload not stored", extra={"error": str(exc)})
        raise ScanUnavailable(exc) from exc
    if not result.clean:
        log.warning("documents: infected upload refused", extra={"signature": result.signature, "upload": name})
        raise safety.Refused(
            "infected",
            Message(
                f"Tệp «{name}» chứa mã độc ({result.signature}) và không được nhận.",
                f"File “{name}” contains malware ({result.signature}) and was not accepted.",
            ),
        )
    return ScanState.CLEAN, "clamd: OK"


def _unscanned(scan: bool) -> tuple[str, str]:
    if scan:
        return ScanState.UNSCANNED, "no antivirus configured (HCMGOV_CLAMD_URL empty)"
    return ScanState.UNSCANNED, "not scanned: content made by the platform"


def _reuse(blob: Blob, retention: Retention, verdict: tuple[str, str] | None) -> Blob | None:
    """Raise ``blob``'s retention to ``retention`` (never lower it), refresh a draft's age, record a
    new scan; None when the row is gone (purged since it was read). Every change is a conditional
    UPDATE on the retention read, so a concurrent raise or purge is never undone."""
    changes: dict[str, Any] = {}
    if RANK[Retention(blob.retention)] < RANK[retention]:
        changes["retention"] = retention
    elif blob.retention == Retention.DRAFT:
        changes["created_at"] = timezone.now()  # a draft sent again is a new draft
    if verdict is not None and blob.scan_state != ScanState.CLEAN:
        changes["scan_state"], changes["scan_note"] = verdict
    if not changes:
        return blob  # a dossier or permanent blob: never purged
    if not Blob.objects.filter(pk=blob.pk, retention=blob.retention).update(**changes):
        return _reread(blob.sha256, retention, verdict)
    blob.refresh_from_db()
    return blob


def _reread(sha256: str, retention: Retention, verdict: tuple[str, str] | None) -> Blob | None:
    """The row changed under us: read it again, and raise it again if still needed."""
    blob = Blob.objects.filter(sha256=sha256).first()
    if blob is None:
        return None
    if RANK[Retention(blob.retention)] < RANK[retention]:
        return _reuse(blob, retention, verdict)
    return blob


def blob_retain(*, blob: Blob, retention: str) -> Blob:
    """Raise ``blob``'s retention to ``retention`` (never lower it), without the bytes: a draft
    upload becomes part of a submitted dossier. Raises ``Blob.DoesNotExist`` if it was purged."""
    wanted = Retention(retention)
    blob = Blob.objects.get(pk=blob.pk)
    while RANK[Retention(blob.retention)] < RANK[wanted]:
        Blob.objects.filter(pk=blob.pk, retention=blob.retention).update(retention=wanted)
        blob = Blob.objects.get(pk=blob.pk)
    return blob


def _ensure_stored(storage: Storage, name: str, data: bytes) -> None:
    """Write ``data`` under ``name`` unless a whole file is already there."""
    if storage.exists(name):
        if storage.size(name) == len(data):
            return
        log.warning("documents: a partial blob file replaced", extra={"blob": name})
        storage.delete(name)
    saved = storage.save(name, ContentFile(data))
    if saved != name:  # a storage that renames on conflict: ours is there now
        storage.delete(saved)


def blob_read(*, blob: Blob) -> bytes:
    """The bytes of ``blob``."""
    with documents_storage().open(blob.name, "rb") as handle:
        return handle.read()


def blob_open(*, blob: Blob) -> IO[bytes]:
    """A file object over ``blob``'s bytes for streaming (``FileResponse(blob_open(blob=b))``); the
    caller closes it."""
    return documents_storage().open(blob.name, "rb")


def blobs_purge_drafts(*, older_than: dt.timedelta, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Remove draft blobs created more than ``older_than`` ago that no component uses; returns how
    many. Each one is locked, its file deleted, then its row, in one transaction: a put of the
    same bytes meanwhile waits for the row, finds it gone, and stores the file again."""
    cutoff = (now or timezone.now()) - older_than
    candidates = (
        Blob.objects.filter(retention=Retention.DRAFT, created_at__lt=cutoff)
        .filter(~Exists(Component.objects.filter(blob=OuterRef("pk"))))
        .order_by("pk")
    )
    storage = documents_storage()
    purged = 0
    for pk in list(candidates.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            # Checked again under the lock: a put may have raised its retention or made it young.
            blob = candidates.select_for_update().filter(pk=pk).first()
            if blob is None:
                continue
            storage.delete(blob.name)  # a failure rolls the row back: tried again next time
            blob.delete()
        purged += 1
    if purged:
        log.info("documents: draft blobs purged", extra={"count": purged})
    return purged
