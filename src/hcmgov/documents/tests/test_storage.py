"""Content-addressed storage: one file and one row per content, retention only raised, draft purge,
concurrent puts (PostgreSQL), and the same through S3 (moto's server over HTTP)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.storage import storages
from django.db import connection, connections
from django.utils import timezone

from hcmgov.documents import storage
from hcmgov.documents.models import Blob, Component, Retention
from hcmgov.documents.safety import Refused
from hcmgov.documents.storage import blob_name, blob_open, blob_put, blob_read, blob_retain, blobs_purge_drafts
from hcmgov.documents.tests import crafted
from hcmgov.documents.tests import storage_fixtures as fixtures

# The fixtures these tests use (kept out of the app's conftest.py, which the app's other tests own).
_no_clamd_by_default = fixtures._no_clamd_by_default
blobs_dir = fixtures.blobs_dir
s3_server = fixtures.s3_server
s3_storage = fixtures.s3_storage

PDF = crafted.pdf()
SHA = hashlib.sha256(PDF).hexdigest()


@pytest.mark.django_db
def test_put_stores_the_bytes_once_under_their_hash(blobs_dir):
    blob = blob_put(data=PDF, filename="giay-khai-sinh.pdf", retention=Retention.DRAFT)
    assert blob.sha256 == SHA
    assert blob.name == f"{SHA[:2]}/{SHA[2:4]}/{SHA}" == blob_name(SHA)
    assert (blob.size, blob.content_type, blob.pages, blob.retention) == (len(PDF), "application/pdf", 1, "draft")
    assert (blobs_dir / blob.name).read_bytes() == PDF
    assert blob_read(blob=blob) == PDF
    with blob_open(blob=blob) as handle:
        assert handle.read(5) == b"%PDF-"
        assert handle.read() == PDF[5:]
    assert [p.name for p in blobs_dir.rglob("*") if p.is_file()] == [SHA]  # no temporary left


@pytest.mark.django_db
def test_the_same_bytes_put_again_are_the_same_blob(blobs_dir):
    first = blob_put(data=PDF, filename="a.pdf")
    second = blob_put(data=PDF, filename="ten-khac.pdf")
    assert second.pk == first.pk
    assert Blob.objects.count() == 1
    assert len([p for p in blobs_dir.rglob("*") if p.is_file()]) == 1
    other = blob_put(data=crafted.png(), filename="a.png")
    assert other.pk != first.pk
    assert (other.content_type, other.pages) == ("image/png", 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "then", "kept"),
    [
        (Retention.DRAFT, Retention.DOSSIER, Retention.DOSSIER),
        (Retention.DRAFT, Retention.PERMANENT, Retention.PERMANENT),
        (Retention.DOSSIER, Retention.PERMANENT, Retention.PERMANENT),
        (Retention.PERMANENT, Retention.DRAFT, Retention.PERMANENT),
        (Retention.PERMANENT, Retention.DOSSIER, Retention.PERMANENT),
        (Retention.DOSSIER, Retention.DRAFT, Retention.DOSSIER),
    ],
)
def test_retention_is_raised_never_lowered(first, then, kept):
    blob_put(data=PDF, filename="a.pdf", retention=first)
    assert blob_put(data=PDF, filename="a.pdf", retention=then).retention == kept
    assert Blob.objects.get().retention == kept


@pytest.mark.django_db
def test_refused_content_stores_nothing(blobs_dir):
    with pytest.raises(Refused):
        blob_put(data=crafted.pdf_with_javascript(), filename="a.pdf")
    assert not Blob.objects.exists()
    assert not blobs_dir.exists()


@pytest.mark.django_db
def test_a_file_lost_from_the_storage_is_written_again_on_the_next_put(blobs_dir):
    blob = blob_put(data=PDF, filename="a.pdf")
    (blobs_dir / blob.name).unlink()
    assert blob_put(data=PDF, filename="a.pdf").pk == blob.pk
    assert (blobs_dir / blob.name).read_bytes() == PDF


@pytest.mark.django_db
def test_a_partial_file_left_by_a_crash_is_replaced(blobs_dir):
    path = blobs_dir / blob_name(SHA)
    path.parent.mkdir(parents=True)
    path.write_bytes(PDF[:100])  # a put that died half-way, before its row
    blob = blob_put(data=PDF, filename="a.pdf")
    assert blob_read(blob=blob) == PDF


@pytest.mark.django_db
def test_retain_raises_a_draft_without_its_bytes():
    draft = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    assert blob_retain(blob=draft, retention=Retention.DOSSIER).retention == Retention.DOSSIER
    assert blob_retain(blob=draft, retention=Retention.DRAFT).retention == Retention.DOSSIER  # stale object: re-read
    Blob.objects.all().delete()
    with pytest.raises(Blob.DoesNotExist):
        blob_retain(blob=draft, retention=Retention.PERMANENT)


# --- draft purge ----------------------------------------------------------------------------------


def _age(blob: Blob, hours: int) -> None:
    Blob.objects.filter(pk=blob.pk).update(created_at=timezone.now() - dt.timedelta(hours=hours))


@pytest.mark.django_db
def test_old_drafts_are_purged_file_and_row(blobs_dir, citizen):
    old = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    young = blob_put(data=crafted.pdf(2), filename="b.pdf", retention=Retention.DRAFT)
    kept = blob_put(data=crafted.png(), filename="c.png", retention=Retention.DOSSIER)
    used = blob_put(data=crafted.pdf(3), filename="d.pdf", retention=Retention.DRAFT)
    Component.objects.create(
        code="TEST-1",
        owner=citizen,
        blob=used,
        doc_type="GIAYTOTUYTHAN",
        title="CCCD",
        filename="d.pdf",
        created_at=timezone.now(),
    )
    for blob in (old, kept, used):
        _age(blob, 100)
    assert blobs_purge_drafts(older_than=dt.timedelta(hours=72)) == 1
    assert set(Blob.objects.values_list("pk", flat=True)) == {young.pk, kept.pk, used.pk}
    assert not (blobs_dir / old.name).exists()
    assert all((blobs_dir / b.name).exists() for b in (young, kept, used))
    assert blobs_purge_drafts(older_than=dt.timedelta(hours=72)) == 0


@pytest.mark.django_db
def test_a_draft_sent_again_is_young_again():
    blob = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    _age(blob, 100)
    blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    assert blobs_purge_drafts(older_than=dt.timedelta(hours=72)) == 0


@pytest.mark.django_db
def test_a_put_after_a_purge_stores_the_content_again(blobs_dir):
    blob = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    _age(blob, 100)
    assert blobs_purge_drafts(older_than=dt.timedelta(hours=1)) == 1
    again = blob_put(data=PDF, filename="a.pdf")
    assert again.pk != blob.pk
    assert blob_read(blob=again) == PDF


@pytest.mark.django_db
def test_a_put_that_finds_its_row_purged_meanwhile_stores_again(monkeypatch, blobs_dir):
    """The purge takes the row between the put's read and its update: the put starts over."""
    blob = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    _age(blob, 100)
    reuse = storage._reuse

    def purge_first(*args, **kwargs):
        monkeypatch.setattr(storage, "_reuse", reuse)
        blobs_purge_drafts(older_than=dt.timedelta(hours=1))
        return reuse(*args, **kwargs)

    monkeypatch.setattr(storage, "_reuse", purge_first)
    again = blob_put(data=PDF, filename="a.pdf", retention=Retention.DOSSIER)
    assert Blob.objects.get().pk == again.pk != blob.pk
    assert again.retention == Retention.DOSSIER
    assert (blobs_dir / again.name).read_bytes() == PDF


@pytest.mark.django_db
def test_the_purge_task_uses_the_retention_setting(monkeypatch):
    from hcmgov.documents import tasks

    blob = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    _age(blob, 5)
    monkeypatch.setenv("HCMGOV_DRAFT_RETENTION_HOURS", "6")
    assert tasks.blobs_purge_drafts() == 0
    monkeypatch.setenv("HCMGOV_DRAFT_RETENTION_HOURS", "4")
    assert tasks.blobs_purge_drafts() == 1


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------

WORKERS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_puts_of_the_same_bytes_make_one_blob(blobs_dir):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's test database cannot be shared between threads' connections")
    start = threading.Barrier(WORKERS)
    retentions = [Retention.DRAFT, Retention.DOSSIER, Retention.PERMANENT, Retention.DRAFT] * 2

    def put(index: int) -> int:
        try:
            start.wait(timeout=30)
            return blob_put(data=PDF, filename=f"{index}.pdf", retention=retentions[index]).pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        pks = list(pool.map(put, range(WORKERS)))
    assert len(set(pks)) == 1
    blob = Blob.objects.get()
    assert blob.retention == Retention.PERMANENT
    assert [p.name for p in blobs_dir.rglob("*") if p.is_file()] == [SHA]
    assert blob_read(blob=blob) == PDF


# --- S3 ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_s3_storage_over_http(s3_storage, s3_server):
    import boto3

    backend = storages["documents"]
    assert type(backend).__name__ == "S3Storage"
    blob = blob_put(data=PDF, filename="a.pdf", retention=Retention.DRAFT)
    assert blob_put(data=PDF, filename="b.pdf").pk == blob.pk
    client = boto3.client(
        "s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    listed = client.list_objects_v2(Bucket=s3_storage)["Contents"]
    assert [item["Key"] for item in listed] == [blob.name]
    assert client.get_object(Bucket=s3_storage, Key=blob.name)["Body"].read() == PDF
    assert blob_read(blob=blob) == PDF
    with blob_open(blob=blob) as handle:
        assert handle.read() == PDF
    Blob.objects.filter(pk=blob.pk).update(retention=Retention.DRAFT)
    _age(blob, 100)
    assert blobs_purge_drafts(older_than=dt.timedelta(hours=1)) == 1
    assert "Contents" not in client.list_objects_v2(Bucket=s3_storage)


def test_settings_choose_s3_when_a_bucket_is_set():
    code = "import hcmgov.settings as s, json; print(json.dumps(s.STORAGES['documents']))"
    env = {
        **os.environ,
        "HCMGOV_S3_BUCKET": "hcmgov-docs",
        "HCMGOV_S3_ENDPOINT_URL": "https://minio.example",
        "HCMGOV_S3_ACCESS_KEY": "ak",
        "HCMGOV_S3_SECRET_KEY": "sk",
        "HCMGOV_S3_REGION": "vn-south-1",
    }
    out = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert '"storages.backends.s3.S3Storage"' in out
    assert '"bucket_name": "hcmgov-docs"' in out
    assert '"endpoint_url": "https://minio.example"' in out
    assert '"secret_key": "sk"' in out
    assert '"region_name": "vn-south-1"' in out
    env.pop("HCMGOV_S3_BUCKET")
    out = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "BlobFileSystemStorage" in out
