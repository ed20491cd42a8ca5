"""Writes of the documents app: components digitised into their owner's personal data store
(kho quản lý dữ liệu điện tử), confirmed or revoked by officials, and handed out for reuse in a
new dossier.

**The life of a component.** An official of the one-stop-shop desk digitises a paper the applicant
brought, or an upload of an online dossier (:func:`component_digitise`): the content is stored once
(``storage.blob_put``, kept permanently), the component gets its code — ``SH<agency>-<yymmdd>-<nnnn>``,
numbered per agency and day without gaps — and waits, ``pending``, while its text is recognised
(the ``component.digitised`` event queues OCR). An official of the same agency then confirms it
matches the paper (:func:`component_confirm`); from then on the owner may reuse it in any later
dossier with one click instead of a new upload (:func:`component_attachment`), and the dossier
records which component it reused. A component found wrong is revoked (:func:`component_revoke`)
and offered no more; dossiers that reused it keep their copy.

Decree 45/2020/NĐ-CP (Art. 23–25 on the electronic data store of organisations and individuals,
as secondary sources summarise it; the decree's own text was not read here) and Decree
107/2021/NĐ-CP on digitising dossiers and results are the rules this follows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.errors import DomainError, Message, NotFound
from hcmgov.core import selectors as core
from hcmgov.core import services as core_services
from hcmgov.documents import safety, storage
from hcmgov.documents.models import Blob, Component, ComponentKind, ComponentState, Retention
from hcmgov.identity import selectors as identity

DIGITISER_ROLES = {"receiver", "head", "agency_admin"}  # the desk, its head, the agency's administrator


def _refuse(code: str, vi: str, en: str, status: int = 409) -> DomainError:
    return DomainError(code, Message(vi, en), status)


def _check_official(official: Any, agency_id: int | None) -> None:
    if agency_id is None or not identity.user_has_role(user=official, agency_id=agency_id, roles=DIGITISER_ROLES):
        raise _refuse(
            "forbidden",
            "Bạn không số hoá giấy tờ tại cơ quan này.",
            "You do not digitise documents at this agency.",
            403,
        )


def component_code_next(*, prefix: str, agency_id: int, agency_code: str, now: dt.datetime) -> str:
    """The next code of the agency's components of the day: ``SH`` digitised, ``KQ`` results.
    Gap-free per agency and day (core's day sequence); must run inside the creating transaction."""
    day = timezone.localtime(now).date()
    number = core_services.sequence_next(scope=f"component:{agency_id}", day=day)
    return f"{prefix}{agency_code}-{day:%y%m%d}-{number:04d}"[:40]


@audited("component.digitise")
def component_digitise(
    *,
    official: Any,
    agency_id: int,
    owner: Any,
    doc_type: str,
    title: str,
    filename: str,
    data: bytes,
    title_en: str = "",
    dossier_code: str = "",
    valid_until: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Component:
    """Digitise a document for ``owner``'s data store: stored (checked, scanned, deduplicated),
    coded, ``pending`` until an official confirms it; its text is recognised in the background."""
    _check_official(official, agency_id)
    now = now or timezone.now()
    title = title.strip()
    if not title or not doc_type.strip():
        raise _refuse(
            "title_required",
            "Vui lòng nhập loại và tên giấy tờ.",
            "Please give the document's type and title.",
            422,
        )
    blob = storage.blob_put(data=data, filename=filename, retention=Retention.PERMANENT)
    agency = core.agency_list().get(pk=agency_id)
    with transaction.atomic():
        component = Component.objects.create(
            code=component_code_next(prefix="SH", agency_id=agency_id, agency_code=agency.code, now=now),
            owner=owner,
            blob=blob,
            kind=ComponentKind.COMPONENT,
            doc_type=doc_type.strip()[:40],
            title=title[:300],
            title_en=title_en.strip()[:300],
            filename=filename[:255],
            agency_id=agency_id,
            source_dossier_code=dossier_code[:48],
            digitised_by=official,
            valid_until=valid_until,
            created_at=now,
        )
        core_services.event_publish(
            topic="component.digitised", key=component.code, payload={"component_id": component.pk}
        )
    return component


@audited("component.confirm", target="component", fields=("state", "confirmed_at"))
def component_confirm(*, component: Component, official: Any, now: dt.datetime | None = None) -> Component:
    """An official of the digitising agency confirms the digital copy matches the paper. Idempotent."""
    _check_official(official, component.agency_id)
    locked = Component.objects.select_for_update().get(pk=component.pk)
    if locked.state == ComponentState.CONFIRMED:
        locked._audit_skip = True  # type: ignore[attr-defined]
        return locked
    if locked.state == ComponentState.REVOKED:
        raise _refuse("revoked", "Giấy tờ này đã bị thu hồi.", "This document was revoked.")
    locked.state = ComponentState.CONFIRMED
    locked.confirmed_by = official
    locked.confirmed_at = now or timezone.now()
    locked.save(update_fields=["state", "confirmed_by", "confirmed_at", "updated_at"])
    return locked


@audited("component.revoke", target="component", fields=("state",))
def component_revoke(*, component: Component, official: Any) -> Component:
    """Withdraw a component (wrong document, a paper no longer valid): it is offered for reuse no
    more; the dossiers that used it keep their copy."""
    _check_official(official, component.agency_id)
    locked = Component.objects.select_for_update().get(pk=component.pk)
    if locked.kind == ComponentKind.RESULT:
        raise _refuse(
            "result_component",
            "Kết quả giải quyết được thu hồi cùng với kết quả.",
            "A result is revoked with the result itself.",
        )
    locked.state = ComponentState.REVOKED
    locked.save(update_fields=["state", "updated_at"])
    return locked


def attachment_accept(*, data: bytes, filename: str) -> DomainError | None:
    """Why an upload another app attaches to its records (a dossier's file) is refused —
    malformed, encrypted, polyglot, a bomb, active content, malware — or None, in which case its
    bytes are kept as a *draft* blob: the checks and the antivirus run once, and
    :func:`attachment_keep` later finds the bytes stored. A draft that no record keeps is purged
    (``documents.blobs_purge_drafts``). Raises ``ScanUnavailable`` (503) when the configured
    antivirus does not answer: the upload must not be taken unscanned."""
    try:
        storage.blob_put(data=data, filename=filename, retention=Retention.DRAFT)
    except safety.Refused as exc:
        return exc
    return None


def attachment_keep(*, data: bytes, filename: str) -> str:
    """Keep accepted bytes for as long as the dossier they belong to (retention ``dossier``, never
    lowered) and return their SHA-256, the key the record stores. Call it inside the record's
    transaction: rolled back, the blob falls back to a draft and is purged, no file is left behind.

    A draft accepted moments ago is one conditional UPDATE (a concurrent purge of drafts either
    waits for it and finds no draft, or ran first and the put below stores the bytes again); bytes
    kept already (a reused component, the same file in another dossier) one read, without a lock
    on a row other dossiers share; anything else goes through ``blob_put``."""
    sha256 = hashlib.sha256(data).hexdigest()
    if Blob.objects.filter(sha256=sha256, retention=Retention.DRAFT).update(retention=Retention.DOSSIER):
        return sha256
    if Blob.objects.filter(sha256=sha256).exclude(retention=Retention.DRAFT).exists():
        return sha256
    return storage.blob_put(data=data, filename=filename, retention=Retention.DOSSIER).sha256


def attachment_open(*, sha256: str) -> tuple[IO[bytes], str, int]:
    """A file object over the attachment with this SHA-256 (the caller closes it), its type sniffed
    from the content, and its size. Raises ``NotFound`` when there is none."""
    blob = _attachment_blob(sha256)
    return storage.blob_open(blob=blob), blob.content_type, blob.size


def attachment_read(*, sha256: str) -> bytes:
    """The bytes of the attachment with this SHA-256 (``NotFound`` when there is none)."""
    return storage.blob_read(blob=_attachment_blob(sha256))


def _attachment_blob(sha256: str) -> Blob:
    blob = Blob.objects.filter(sha256=sha256).first()
    if blob is None:
        raise NotFound("tệp", "File")
    return blob


def component_attachment(*, code: str, owner_ids: list[int], today: dt.date | None = None) -> tuple[Component, bytes]:
    """The component ``code`` and its content, for reuse in a new dossier by one of ``owner_ids``
    (the applicant, or whom the user acts for): confirmed, not revoked, not expired."""
    component = Component.objects.select_related("blob").filter(code=code, owner_id__in=owner_ids).first()
    if component is None:
        raise _refuse(
            "component_not_found",
            "Không tìm thấy giấy tờ này trong kho dữ liệu của bạn.",
            "This document is not in your data store.",
            404,
        )
    if component.state != ComponentState.CONFIRMED:
        raise _refuse(
            "component_not_confirmed",
            "Giấy tờ này chưa được cơ quan xác nhận nên chưa dùng lại được.",
            "This document is not confirmed by an agency yet, so it cannot be reused.",
            422,
        )
    today = today or timezone.localdate()
    if component.valid_until is not None and component.valid_until < today:
        raise _refuse(
            "component_expired",
            f"Giấy tờ này đã hết hạn ngày {component.valid_until:%d/%m/%Y}.",
            f"This document expired on {component.valid_until:%Y-%m-%d}.",
            422,
        )
    return component, storage.blob_read(blob=component.blob)


# --- the time-stamping authority, for other apps (the exchange seals its message log with it) ---


def time_stamping_authority() -> tuple[str, float]:
    """The URL of the time-stamping authority that stamps signed results (empty: none configured)
    and the seconds to wait for it."""
    from hcmgov.documents.signing import tsa_timeout, tsa_url

    return tsa_url(), tsa_timeout()


def trust_context() -> Any:
    """The pyHanko validation context results are verified with (our trusted roots, the demo CA's
    CRL, no fetching): for other apps that check signatures and time stamps."""
    from hcmgov.documents.verification import validation_context

    return validation_context()


# --- files the platform makes itself ------------------------------------------------------------

PLATFORM_KIND = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
PLATFORM_KEY = re.compile(r"^platform/[a-z0-9][a-z0-9-]{0,39}/[0-9a-f]{2}/[0-9a-f]{64}$")


def platform_file_keep(*, data: bytes, kind: str) -> str:
    """Keep a file another app of the platform made itself (the exchange's message-log archives)
    in the documents' storage, and return its key: ``platform/<kind>/<ab>/<sha256>``.

    Not an upload, so not a :class:`Blob`: the upload checks (``safety.inspect`` takes PDF, JPEG
    and PNG only) and the antivirus do not apply, and neither the data store, the OCR nor the purge
    of drafts ever sees it. Content-addressed like blobs: the same bytes are stored once, a stored
    file is never overwritten, and nothing here deletes one."""
    if not PLATFORM_KIND.match(kind):
        raise ValueError(f"kind must be lower-case letters, digits and '-': {kind!r}")
    sha256 = hashlib.sha256(data).hexdigest()
    key = f"platform/{kind}/{sha256[:2]}/{sha256}"
    storage._ensure_stored(storage.documents_storage(), key, data)  # a whole file there already: kept
    return key


def upload_file_keep(*, data: bytes, filename: str, kind: str) -> str:
    """Keep a file an official uploaded to another app (the electronic office's drafts and
    incoming documents) as :func:`platform_file_keep` does, after the checks every upload passes:
    what its bytes are (``safety.inspect``: a safe PDF, JPEG or PNG that its name announces) and
    the antivirus (clamd, when configured). Refused (``safety.Refused``, ``storage.ScanUnavailable``)
    before anything is stored."""
    safety.inspect(data=data, filename=filename)
    storage._scan(data, filename)
    return platform_file_keep(data=data, kind=kind)


def platform_file_read(*, key: str) -> bytes:
    """The bytes of a file kept by :func:`platform_file_keep` (``NotFound`` when there is none)."""
    store = storage.documents_storage()
    if not PLATFORM_KEY.match(key) or not store.exists(key):
        raise NotFound("tệp", "File")
    with store.open(key, "rb") as handle:
        data: bytes = handle.read()
    return data


def pdf_sign(*, pdf: bytes, certificate: Any, reason: str, location: str, now: dt.datetime | None = None) -> Any:
    """Sign a PDF PAdES with an agency's certificate (``signing.pdf_sign``: B-T when a time-stamping
    authority is set), for other apps that sign in the agency's name (the electronic office)."""
    from hcmgov.documents.signing import pdf_sign as sign

    return sign(pdf=pdf, certificate=certificate, reason=reason, location=location, now=now)
