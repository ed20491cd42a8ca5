from __future__ import annotations

from django.conf import settings
from django.db import models

from hcmgov.common.crypto import EncryptedJSONField

# Bound into every ciphertext of ``ApplicationDraft.form_data`` (common.crypto): never changes.
FORM_DATA_CONTEXT = "drafts.applicationdraft.form_data"


class ApplicationDraft(models.Model):
    """An application form saved unfinished, to be resumed later: what the applicant typed, the
    agency chosen, and the documents of their data store chosen for reuse. One per person and
    procedure (saving again replaces it); removed when the dossier is submitted or the person
    discards it. Uploaded files are not kept: a browser cannot be given a file back, so the form
    asks for them again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    procedure = models.ForeignKey("catalog.Procedure", on_delete=models.CASCADE, related_name="+")
    agency_code = models.CharField(max_length=32, blank=True)
    # personal data as in Dossier.form_data (names, ID numbers, addresses): encrypted at rest
    form_data = EncryptedJSONField(context=FORM_DATA_CONTEXT, editable=False)
    reuse = models.JSONField(default=dict, blank=True)  # required document code → component code
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "procedure"], name="draft_one_per_procedure")]
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return f"draft {self.pk} ({self.procedure_id})"
