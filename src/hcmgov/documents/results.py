"""Results issued electronically (kết quả giải quyết TTHC bản điện tử): when a dossier has its
result, the platform renders the result document (PDF/A), signs it PAdES with the issuing agency's
certificate and an RFC 3161 time-stamp, keeps it permanently, and puts it in the applicant's data
store, where it is reused like any confirmed component. The QR code on it opens the public
verification page (``web:verify_token``).

**Numbering.** A result's number is ``<n>/<year>/KQ-<agency code>``, counted per agency and year
without gaps (core's day sequence, scope ``result:<agency>``, day 1 January): the number is printed
in the document, so it is drawn, the document rendered and signed, and the rows written in one
transaction — a failure gives the number back. The counter's row stays locked while the document
is signed (tens of milliseconds, plus the time-stamping authority's answer, bounded by its
timeout): one agency's results are signed one after another, which a commune's or a department's
volume allows. Two runs for the same dossier (a task queued twice) meet at the counter: the second
finds the first's result once it has the lock, and rolls back, giving its number back.

**Where it runs.** Not in the outbox's delivery: ``dossier.finished`` records a request
(:class:`ResultRequest`) and queues the task ``documents.result_issue``, which retries a silent
time-stamping authority with growing pauses and records the outcome; a sweep every 15 minutes
(``documents.results_sweep``) queues again the requests not issued after an hour — lost, failed,
or refused for want of a certificate once the agency has one.

Decree 45/2020/NĐ-CP (Art. 21) has electronic results carry the legal value of paper ones when
signed by the competent agency; this is how the platform reads it from secondary sources (the
decree's own text was not read here).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from hcmgov.common.errors import DomainError, Message
from hcmgov.core import services as core_services
from hcmgov.documents import signing, storage
from hcmgov.documents.models import (
    Component,
    ComponentKind,
    ComponentState,
    IssueState,
    Result,
    ResultRequest,
    Retention,
    SigningCertificate,
)
from hcmgov.documents.services import component_code_next
from hcmgov.dossiers import selectors as dossiers

log = logging.getLogger(__name__)
LOCATION = "Thành phố Hồ Chí Minh"
# refusals a retry would meet again: a certificate must be issued or renewed first
NOT_RETRIED = {
    "no_certificate",
    "certificate_revoked",
    "certificate_expired",
    "certificate_inactive",
    "certificate_not_yet_valid",
}


def verify_url(token: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}{reverse('web:verify_token', args=[token])}"


def certificate_for(*, agency_id: int, now: dt.datetime | None = None) -> SigningCertificate | None:
    """The agency's certificate in force (active, not revoked, valid now), the longest-lived first."""
    now = now or timezone.now()
    return (
        SigningCertificate.objects.filter(
            agency_id=agency_id, active=True, revoked_at__isnull=True, not_before__lte=now, not_after__gt=now
        )
        .order_by("-not_after")
        .first()
    )


def result_requested(*, dossier_id: int, now: dt.datetime | None = None) -> None:
    """Record that the dossier's result is asked for (idempotent: a repeat changes nothing)."""
    now = now or timezone.now()
    ResultRequest.objects.bulk_create(
        [ResultRequest(dossier_id=dossier_id, requested_at=now, updated_at=now)], ignore_conflicts=True
    )


def result_request_outcome(*, dossier_id: int, state: str, reason: str = "") -> None:
    """What the signing task made of a request."""
    ResultRequest.objects.filter(dossier_id=dossier_id).update(
        state=state, reason=reason[:40], updated_at=timezone.now()
    )


def results_to_retry(*, older_than: dt.datetime, limit: int = 500) -> list[int]:
    """Dossiers whose result was asked for and is not issued — still queued (the task was lost),
    failed, or refused for want of a certificate — untouched since ``older_than``, oldest first;
    refused ones only when their agency now has a certificate in force. Each is marked touched
    now, so that the next sweep takes the others first."""
    rows = list(
        ResultRequest.objects.exclude(state=IssueState.ISSUED)
        .filter(updated_at__lt=older_than)
        .order_by("updated_at")
        .values_list("dossier_id", "state")[:limit]
    )
    refused = [pk for pk, state in rows if state == IssueState.REFUSED]
    agencies = dossiers.dossier_agencies(dossier_ids=refused) if refused else {}
    now = timezone.now()
    signing = set(
        SigningCertificate.objects.filter(
            agency_id__in=set(agencies.values()),
            active=True,
            revoked_at__isnull=True,
            not_before__lte=now,
            not_after__gt=now,
        ).values_list("agency_id", flat=True)
    )
    ids = [pk for pk, state in rows if state != IssueState.REFUSED or agencies.get(pk) in signing]
    ResultRequest.objects.filter(dossier_id__in=[pk for pk, _ in rows]).update(updated_at=now)
    return ids


def _paragraphs(dossier: Any) -> list[str]:
    version = dossier.procedure_version
    return [
        f"Căn cứ hồ sơ số {dossier.code} nộp ngày {timezone.localtime(dossier.submitted_at):%d/%m/%Y} của "
        f"{dossier.applicant_name} đề nghị giải quyết thủ tục «{dossier.procedure.name}»;",
        f"{dossier.agency.name} cấp {version.result[:1].lower()}{version.result[1:]} cho {dossier.applicant_name}.",
        f"Based on dossier {dossier.code}, {dossier.agency.name_en or dossier.agency.name} issues this "
        f"{version.result_en or version.result} to {dossier.applicant_name}.",
    ]


def result_issue(*, dossier_id: int, now: dt.datetime | None = None) -> Result:
    """Issue the dossier's result as a signed PDF in the applicant's data store. Idempotent: a
    dossier that has its result gets it back. Refuses (DomainError) when the agency has no
    certificate in force, or the certificate may not sign."""
    existing = Result.objects.filter(dossier_id=dossier_id).order_by("signed_at").first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    dossier = dossiers.dossier_by_id(dossier_id=dossier_id)
    certificate = certificate_for(agency_id=dossier.agency_id, now=now)
    if certificate is None:
        raise DomainError(
            "no_certificate",
            Message(
                f"{dossier.agency.name} chưa có chứng thư số còn hiệu lực để ký kết quả.",
                f"{dossier.agency.name_en or dossier.agency.name} has no certificate in force to sign results.",
            ),
            409,
        )
    version = dossier.procedure_version
    local = timezone.localtime(now)
    token = secrets.token_hex(16)
    with transaction.atomic():
        n = core_services.sequence_next(scope=f"result:{dossier.agency_id}", day=dt.date(local.year, 1, 1))
        again = Result.objects.filter(dossier_id=dossier_id).order_by("signed_at").first()
        if again is not None:  # issued by a concurrent run, which held the counter while we waited for it
            transaction.set_rollback(True)  # the number goes back
            return again
        number = f"{n}/{local.year}/KQ-{dossier.agency.code}"[:60]
        content = signing.ResultContent(
            title_vi=version.result,
            title_en=version.result_en,
            number=number,
            agency_name=dossier.agency.name,
            applicant_name=dossier.applicant_name,
            dossier_code=dossier.code,
            procedure_name=dossier.procedure.name,
            issued=local.date(),
            paragraphs=tuple(_paragraphs(dossier)),
            verify_url=verify_url(token),
        )
        signed = signing.pdf_sign(
            pdf=signing.result_pdf(content=content),
            certificate=certificate,
            reason=f"Ký kết quả giải quyết hồ sơ {dossier.code} / Result of dossier {dossier.code}",
            location=LOCATION,
            now=now,
        )
        filename = f"{dossier.code}-ket-qua.pdf"
        blob = storage.blob_put(data=signed.data, filename=filename, retention=Retention.PERMANENT, scan=False)
        code = component_code_next(prefix="KQ", agency_id=dossier.agency_id, agency_code=dossier.agency.code, now=now)
        component = Component.objects.create(
            code=code,
            owner_id=dossier.applicant_id,
            blob=blob,
            kind=ComponentKind.RESULT,
            doc_type=f"KQ:{dossier.procedure.code}"[:40],
            title=version.result[:300],
            title_en=version.result_en[:300],
            filename=filename,
            state=ComponentState.CONFIRMED,
            agency_id=dossier.agency_id,
            source_dossier_code=dossier.code,
            confirmed_at=now,
            created_at=now,
        )
        result = Result.objects.create(
            dossier_id=dossier.pk,
            dossier_code=dossier.code,
            component=component,
            number=number,
            title=version.result[:300],
            title_en=version.result_en[:300],
            agency_id=dossier.agency_id,
            certificate=certificate,
            signed_sha256=signed.sha256,
            signed_at=signed.signed_at,
            timestamped_at=signed.timestamped_at,
            verify_token=token,
        )
        core_services.event_publish(
            topic="result.issued",
            key=dossier.code,
            payload={"dossier_id": dossier.pk, "result_id": result.pk, "component": component.code},
        )
    log.info("documents: result issued", extra={"dossier": dossier.code, "number": number})
    return result
