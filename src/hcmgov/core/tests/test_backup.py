"""``hcmgov backup`` and ``hcmgov restore``: a backup of the database and the storage folder is
restored, by the command an operator runs (another process, another database and folder), and the
restored copy is proven equal to the manifest — rows per table, SHA-256 of every file; a damaged
backup or a restored copy that differs is refused or reported with exit code 1.

On SQLite the test database is this process's; on PostgreSQL the restore goes into a second
database made for the test (``<name>_restore``)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from hcmgov.audit.services import audit_record
from hcmgov.common import context
from hcmgov.core import backup

pytestmark = pytest.mark.django_db(transaction=True)  # the dump is read by another connection


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """Files in the storage folder: nested, named in Vietnamese, one empty."""
    root = Path(settings.MEDIA_ROOT)
    (root / "blobs" / "ab").mkdir(parents=True)
    (root / "blobs" / "ab" / "abcdef").write_bytes(os.urandom(3000))
    (root / "tải lên").mkdir()
    (root / "tải lên" / "tờ khai.pdf").write_bytes(b"%PDF-1.4 to khai")
    (root / "empty.txt").write_bytes(b"")
    settings.DATASTORE_SQLITE_PATH = tmp_path / "no-datastore.sqlite3"
    return root


@pytest.fixture
def data() -> None:
    with context.acting_as(context.Actor.system()):
        for i in range(5):
            audit_record(action="test.backup", obj=None, object_type="t", object_id=str(i))


@pytest.fixture
def target(tmp_path) -> Iterator[dict[str, str]]:
    """The environment of the restoring process: its own var folder (SQLite database and media),
    and on PostgreSQL its own, new, empty database."""
    env = {**os.environ, "HCMGOV_VAR_DIR": str(tmp_path / "restored"), "HCMGOV_MEDIA_ROOT": "media"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if connection.vendor != "postgresql":
        env["DATABASE_URL"] = ""
        yield env
        return
    import psycopg

    params = connection.settings_dict
    name = f"{settings.DATABASES['default']['NAME'].removeprefix('test_')}_restore"
    admin = {"host": params["HOST"], "port": params["PORT"] or 5432, "user": params["USER"], "dbname": "postgres"}
    if params.get("PASSWORD"):
        admin["password"] = params["PASSWORD"]
    with psycopg.connect(**admin, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}"')
        pg.execute(f'CREATE DATABASE "{name}"')
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    env["DATABASE_URL"] = f"postgres://{params['USER']}{password}@{admin['host']}:{admin['port']}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(**admin, autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def hcmgov(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = str(Path(sys.executable).parent / "hcmgov")  # the virtualenv's entry point
    return subprocess.run(  # noqa: S603
        [command, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_a_backup_restores_elsewhere_and_proves_it_matches(media, data, tmp_path, target):
    folder = tmp_path / "backup"
    out = io.StringIO()
    call_command("backup", str(folder), stdout=out)
    assert "Đã sao lưu vào / backed up to" in out.getvalue()
    manifest = json.loads((folder / backup.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["engine"] == connection.vendor
    assert manifest["tables"]["audit_auditevent"] >= 5
    assert manifest["migrations"]["audit"] == "0005_seq_required"
    pdf = manifest["files"]["tải lên/tờ khai.pdf"]
    assert pdf == {"sha256": hashlib.sha256(b"%PDF-1.4 to khai").hexdigest(), "size": 16}
    assert set(manifest["files"]) == {"blobs/ab/abcdef", "tải lên/tờ khai.pdf", "empty.txt"}
    [database] = manifest["databases"].values()
    assert database["sha256"] == hashlib.sha256((folder / database["file"]).read_bytes()).hexdigest()

    restored = hcmgov(target, "restore", str(folder))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "Bản khôi phục khớp bản kê / the restored copy matches the manifest." in restored.stdout
    root = tmp_path / "restored" / "media"
    assert (root / "tải lên" / "tờ khai.pdf").read_bytes() == b"%PDF-1.4 to khai"
    check = hcmgov(target, "audit", "verify")  # the restored audit trail is still a whole chain
    assert check.returncode == 0, check.stdout + check.stderr
    assert "audit chain intact" in check.stdout

    again = hcmgov(target, "restore", str(folder))  # over what was just restored
    assert again.returncode == 1
    assert "không trống" in again.stderr
    assert "is not empty" in again.stderr
    assert again.stderr.index("không trống") < again.stderr.index("is not empty")  # Vietnamese first

    # the restored copy drifts (a file changed, rows gone): the check names each difference
    (root / "empty.txt").write_bytes(b"changed")
    drift = hcmgov(
        target,
        "shell",
        "-c",
        "from hcmgov.audit.models import AuditEvent; AuditEvent.objects.filter(seq__gt=2).delete()",
    )
    assert drift.returncode == 0, drift.stderr
    checked = hcmgov(target, "restore", "--check-only", str(folder))
    assert checked.returncode == 1
    differences = [line for line in checked.stdout.splitlines() if line.startswith("✗")]
    assert differences == [
        f"✗ bảng / table audit_auditevent: {manifest['tables']['audit_auditevent']} → 2",
        f"✗ tệp / file  empty.txt: {hashlib.sha256(b'').hexdigest()} → {hashlib.sha256(b'changed').hexdigest()}",
    ]
    assert "2 khác biệt / the restored copy does not match the manifest: 2 difference(s)" in checked.stderr

    forced = hcmgov(target, "restore", "--force", str(folder))  # replaces both, and matches again
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "khớp bản kê" in forced.stdout


def test_a_damaged_backup_is_refused_before_anything_is_written(media, data, tmp_path, target):
    folder = tmp_path / "backup"
    call_command("backup", str(folder), stdout=io.StringIO())
    [database] = json.loads((folder / backup.MANIFEST).read_text())["databases"].values()
    with (folder / database["file"]).open("ab") as dump:
        dump.write(b"\x00")
    refused = hcmgov(target, "restore", str(folder))
    assert refused.returncode == 1
    assert "Bản sao lưu bị hỏng" in refused.stderr
    assert "The backup is damaged" in refused.stderr
    assert not (tmp_path / "restored" / "media").exists()


def test_a_backup_goes_only_into_a_new_folder(media, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(CommandError) as refused:
        call_command("backup", str(tmp_path / "used"), stdout=io.StringIO())
    assert str(refused.value).startswith("Thư mục sao lưu")
    with pytest.raises(CommandError) as missing:
        call_command("restore", str(tmp_path / "nothing"), stdout=io.StringIO())
    assert "không phải thư mục sao lưu" in str(missing.value)
