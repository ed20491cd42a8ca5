"""Migration 0013 moves the files dossiers kept in the default storage into blobs."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from hcmgov.documents import services as store

BEFORE = [("dossiers", "0012_dossierdocument_component_code"), ("documents", "0003_blob_retention_index")]
AFTER = [("dossiers", "0013_dossierdocument_blob")]


def migrate_to_leaves() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_files_become_blobs_and_stay_readable(submit, pdf_bytes):
    dossier, _ = submit()
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        Document = old.get_model("dossiers", "DossierDocument")
        name = default_storage.save("dossiers/2025/07/old/TOKHAI.pdf", ContentFile(pdf_bytes + b"\n% old"))
        missing = "dossiers/2025/07/old/gone.pdf"
        Document.objects.filter(dossier_id=dossier.pk).update(file=name, sha256="0" * 64)  # a wrong digest, corrected
        Document.objects.create(
            dossier_id=dossier.pk, requirement="X", file=missing, filename="gone.pdf", content_type="application/pdf",
            size=1, sha256="1" * 64,
        )  # fmt: skip
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        executor.loader.build_graph()
        moved, gone = dossier.documents.order_by("pk")
        assert moved.sha256 == hashlib.sha256(pdf_bytes + b"\n% old").hexdigest()
        assert store.attachment_read(sha256=moved.sha256) == pdf_bytes + b"\n% old"
        assert gone.sha256 == "1" * 64  # reported, row kept
        assert default_storage.exists(name)  # the operator removes the old files after the commit
    finally:  # the later migrations (form data encrypted) back, for the tests that follow
        migrate_to_leaves()
