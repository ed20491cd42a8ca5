"""Demo data of the desk and the certification book, so that the demo city's dashboard has values
for indicators 4.2 and 4.3 of the service-quality index. Idempotent: a second run adds nothing.

The demo command (``hcmgov demo``) calls it after the dossiers are made, before the warehouse's
refresh.
"""

from __future__ import annotations

import datetime as dt
import random
from io import BytesIO
from typing import Any

from django.db import transaction
from django.utils import timezone

from hcmgov.core import selectors as core
from hcmgov.documents import certification, desk, pki, storage
from hcmgov.documents.models import (
    Certification,
    CertificationKind,
    Component,
    ComponentKind,
    ComponentState,
    Retention,
)
from hcmgov.documents.results import certificate_for
from hcmgov.documents.services import component_code_next
from hcmgov.dossiers import selectors as dossiers_read
from hcmgov.identity import selectors as identity

SCANNED_SHARE = 0.6  # of the paper dossiers, those whose every component the desk scanned
NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Minh Châu", "Phạm Quốc Dũng", "Hoàng Thị Em")
ORIGINALS = ("Bằng tốt nghiệp trung học phổ thông", "Giấy khai sinh", "Giấy chứng nhận quyền sử dụng đất")


def _scan_png() -> bytes:
    """A small grey page standing for every demo scan (stored once: blobs are content-addressed)."""
    from PIL import Image

    out = BytesIO()
    Image.new("L", (120, 170), 235).save(out, format="PNG")
    return out.getvalue()


def desk_demo_load(*, seed: int = 2026, dossiers: int = 400, months: int = 6, per_month: int = 6) -> dict[str, int]:
    """Desk scans of the paper components of recent dossiers received in person or by post (a
    share of them wholly, the others partly or not), and a few months of certifications at the
    agencies of the demo's desk officials (electronic ones signed with a demo certificate)."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    return {"scans": _scans(rng, dossiers), "certifications": _certifications(rng, months, per_month)}


def _scans(rng: random.Random, limit: int) -> int:
    if Component.objects.filter(kind=ComponentKind.COMPONENT, text="demo").exists():
        return 0
    blob = storage.blob_put(data=_scan_png(), filename="ban-quet.png", retention=Retention.PERMANENT)
    made = 0
    for dossier in dossiers_read.received_paper_dossiers(limit=limit):
        wanted = desk.components_of(dossier.procedure_version.required_documents)
        at, agency = dossier.received_at, dossier.agency
        if not wanted or at is None:  # (received: the query's condition)
            continue
        if rng.random() >= SCANNED_SHARE:
            wanted = wanted[: rng.randrange(len(wanted))]  # partly scanned (or not at all)
        with transaction.atomic():
            for doc in wanted:
                Component.objects.create(
                    code=component_code_next(prefix="SH", agency_id=agency.pk, agency_code=agency.code, now=at),
                    owner_id=dossier.applicant_id, blob=blob, kind=ComponentKind.COMPONENT, doc_type=doc["code"][:40],
                    title=(doc.get("name") or doc["code"])[:300], title_en=(doc.get("name_en") or "")[:300],
                    filename="ban-quet.png", state=ComponentState.CONFIRMED, agency_id=dossier.agency_id,
                    source_dossier_code=dossier.code, confirmed_at=at, created_at=at, text="demo",
                )  # fmt: skip
                made += 1
    return made


def _certifications(rng: random.Random, months: int, per_month: int) -> int:
    agencies = _desk_agencies()
    if not agencies or Certification.objects.filter(agency_id__in=[a for a, _ in agencies]).exists():
        return 0
    today = timezone.localdate()
    original = _scan_png()
    made = 0
    earliest = dt.datetime.combine(today.replace(day=1) - dt.timedelta(days=28 * months + 31), dt.time(),
                                   tzinfo=timezone.get_default_timezone())  # fmt: skip
    for agency_id, official in agencies:
        if certificate_for(agency_id=agency_id, now=earliest) is None:  # one in force over the months signed
            pki.certificate_issue_demo(agency_id=agency_id, now=earliest)
        for back in range(months, -1, -1):
            first = (today.replace(day=1) - dt.timedelta(days=28 * back)).replace(day=1)
            moments = sorted(
                dt.datetime.combine(first + dt.timedelta(days=rng.randrange(27)), dt.time(8 + rng.randrange(8)),
                                    tzinfo=timezone.get_default_timezone())
                for _ in range(per_month)
            )  # fmt: skip
            electronic_share = min(0.8, 0.15 + 0.1 * (months - back))  # electronic copies grow month by month
            for now in moments:
                if now > timezone.now():
                    continue
                electronic = rng.random() < electronic_share
                given = certification.CertificationInput(
                    requester_name=rng.choice(NAMES), document_title=rng.choice(ORIGINALS),
                    pages=None if electronic else rng.randrange(1, 5),
                    copies=None if electronic else rng.randrange(1, 4),
                )  # fmt: skip
                certification.certification_record(
                    official=official, agency_id=agency_id,
                    kind=CertificationKind.ELECTRONIC if electronic else CertificationKind.PAPER,
                    given=given, original=original if electronic else b"", filename="ban-chinh.png", now=now,
                )  # fmt: skip
                made += 1
    return made


def _desk_agencies() -> list[tuple[int, Any]]:
    """(agency, one of its certifying officials) for up to three communes' People's Committees
    where an official holds a certifying role (the demo's desk officials)."""
    found: dict[int, Any] = {}
    for official in identity.users_of_kind(kind="official"):
        for agency_id in identity.user_agency_ids(user=official, roles=certification.CERTIFIER_ROLES):
            found.setdefault(agency_id, official)
    communes = set(core.agency_list(kind="commune_pc").filter(pk__in=found).values_list("pk", flat=True))
    return [(pk, found[pk]) for pk in sorted(communes)][:3]
