"""A dossier's files become blobs of the documents app (content-addressed, stored once).

Each existing file is copied from the default storage into the blob storage under its SHA-256 and
gets a blob row (retention ``dossier``, not scanned: it was checked when it was uploaded), unless
that blob exists already. The old files are left where they were: the operator removes
``MEDIA_ROOT/dossiers/`` once the migration has committed (a file deleted inside a transaction that
rolls back would be lost). A file that is missing is reported and its row kept. Reversed, the
column comes back empty: the bytes stay in the blob storage.
"""

import hashlib
import logging

from django.core.files.storage import default_storage
from django.db import migrations, models

log = logging.getLogger(__name__)


def files_to_blobs(apps, schema_editor):
    from hcmgov.documents.storage import blob_name, documents_storage
    from django.core.files.base import ContentFile

    DossierDocument = apps.get_model("dossiers", "DossierDocument")
    Blob = apps.get_model("documents", "Blob")
    blobs = documents_storage()
    for document in DossierDocument.objects.exclude(file="").iterator(chunk_size=500):
        try:
            with default_storage.open(document.file.name, "rb") as handle:
                data = handle.read()
        except OSError:
            log.warning("dossier file missing, row kept: %s (%s)", document.file.name, document.pk)
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 != document.sha256:
            log.warning("dossier file %s: stored SHA-256 differed, corrected", document.pk)
            DossierDocument.objects.filter(pk=document.pk).update(sha256=sha256)
        if Blob.objects.filter(sha256=sha256).exists():
            continue
        name = blob_name(sha256)
        if not (blobs.exists(name) and blobs.size(name) == len(data)):
            blobs.save(name, ContentFile(data))
        Blob.objects.create(
            sha256=sha256,
            size=len(data),
            content_type=document.content_type,
            pages=None,
            name=name,
            retention="dossier",
            scan_state="unscanned",
            scan_note="moved from the dossier's files (checked at upload)",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0012_dossierdocument_component_code"),
        ("documents", "0003_blob_retention_index"),
    ]

    operations = [
        # a default, so that the removal can be reversed on a table with rows (the files stay blobs)
        migrations.AlterField(
            model_name="dossierdocument",
            name="file",
            field=models.FileField(upload_to="dossiers/%Y/%m/", blank=True, default=""),
        ),
        migrations.RunPython(files_to_blobs, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="dossierdocument", name="file"),
        migrations.AlterField(
            model_name="dossierdocument",
            name="sha256",
            field=models.CharField(help_text="The content's SHA-256: the blob holding the bytes.", max_length=64),
        ),
    ]
