"""Writes of application drafts: save (create or replace) and discard."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from hcmgov.catalog import selectors as catalog
from hcmgov.drafts.models import ApplicationDraft

MAX_REUSE = 50  # required documents of one procedure: a bound on what a posted form can store


# Not audited: a draft is the applicant's own unfinished text, no act of the administration; what
# they finally submit is (dossier.submit).
def draft_save(
    *, user: Any, procedure_code: str, agency_code: str, form_data: dict[str, Any], reuse: dict[str, str]
) -> ApplicationDraft:
    """Keep an unfinished application form for the applicant to resume: nothing is validated (a
    draft may be incomplete or wrong; the submission checks it). Saving again replaces the draft."""
    procedure = catalog.procedure_get(code=procedure_code)  # NotFound for a code of no procedure
    kept = {str(k)[:40]: str(v or "")[:64] for k, v in list(reuse.items())[:MAX_REUSE]}
    draft, _ = ApplicationDraft.objects.update_or_create(
        user=user,
        procedure=procedure,
        defaults={"agency_code": agency_code[:32], "form_data": form_data, "reuse": kept},
    )
    return draft


def draft_discard(*, user: Any, procedure_code: str) -> bool:
    """Remove the applicant's draft for this procedure (after submission, or on request); True if
    there was one. Removing nothing is not an error: the form may be sent twice."""
    deleted, _ = ApplicationDraft.objects.filter(user=user, procedure__code=procedure_code).delete()
    return bool(deleted)


def drafts_purge(*, now: dt.datetime | None = None) -> int:
    """Remove the drafts left untouched for ``HCMGOV_DRAFT_KEEP_DAYS`` (personal data kept no longer
    than its purpose needs: Decree 13/2023/NĐ-CP Art. 3); the form tells the applicant how long a
    draft waits. Returns how many were removed. Run daily by the worker (``drafts.purge``)."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.DRAFT_KEEP_DAYS)
    deleted, _ = ApplicationDraft.objects.filter(updated_at__lt=cutoff).delete()
    return deleted
