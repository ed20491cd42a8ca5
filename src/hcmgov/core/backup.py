"""Backup and restore of the platform's state: the database and the storage folder, with a
manifest that lets a restore prove it restored the same thing (``hcmgov backup`` / ``hcmgov restore``).

A backup folder holds:

- the database, consistent at one instant: on PostgreSQL ``pg_dump -Fc`` of the configured database
  run on a snapshot exported by a REPEATABLE READ transaction, in which the rows are also counted —
  the counts and the dump see the same instant; on SQLite a copy made with SQLite's online backup
  API (the database stays in use), counted from the copy itself; the open data datastore's own
  SQLite file too when there is one (on PostgreSQL it is a schema of the same database);
- ``files/``: every file under ``MEDIA_ROOT`` (uploads and the documents' blobs when no S3 bucket
  is set), copied after the database, each hashed as it is copied;
- ``manifest.json``: rows per table, SHA-256 and size of every file and of each database file, the
  migration head of each app, the time it was made.

A restore checks the backup against its manifest (the database files' SHA-256), refuses to write
over a database or storage folder that is not empty unless forced, restores both, then counts the
rows of the restored database and hashes the restored files, and compares them with the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from hcmgov.common.errors import DomainError, Message

MANIFEST = "manifest.json"
FILES = "files"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
DATASTORE_COPY = "datastore.sqlite3"
FORMAT = 1
CHUNK = 1024 * 1024
NOT_COVERED = [
    "S3 object storage (HCMGOV_S3_BUCKET): use the bucket's own versioning and replication",
    "secrets and keys kept outside the database (HCMGOV_DATA_KEYS, HCMGOV_INDEX_KEY, HCMGOV_SECRET_KEY, "
    "HCMGOV_VAR_DIR/keys): without them encrypted personal data cannot be read back",
    "the task queue's folder, the mail folder, the warehouse's Parquet files (rebuilt by warehouse.refresh)",
]


def _error(code: str, vi: str, en: str) -> DomainError:
    return DomainError(code, Message(vi, en), 400)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to ``target``, hashing the bytes as they pass."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as data, target.open("wb") as out:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)
    return digest.hexdigest(), size


def _files(root: Path) -> Iterator[Path]:
    """The regular files under ``root``, in a stable order (symbolic links are not followed)."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


def files_hashed(root: Path) -> dict[str, dict[str, Any]]:
    """Every file under ``root`` (a relative POSIX path) → its SHA-256 and size."""
    return {p.relative_to(root).as_posix(): {"sha256": _sha256(p), "size": p.stat().st_size} for p in _files(root)}


# --- counting -----------------------------------------------------------------------------------


def _pg_tables(cursor: Any) -> list[str]:
    cursor.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
        "AND table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%%' "
        "ORDER BY table_schema, table_name"
    )
    return [name if schema == "public" else f"{schema}.{name}" for schema, name in cursor.fetchall()]


def _pg_counts(cursor: Any) -> dict[str, int]:
    counts = {}
    for table in _pg_tables(cursor):
        quoted = ".".join(f'"{part}"' for part in table.split(".", 1))
        cursor.execute(f"SELECT count(*) FROM {quoted}")  # noqa: S608 - names from the catalogue, quoted
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _sqlite_counts(db: sqlite3.Connection, prefix: str = "") -> dict[str, int]:
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {prefix + name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names}  # noqa: S608


def _migrations(rows: list[tuple[str, str]]) -> dict[str, str]:
    """app → the last migration applied (rows in the order they were applied)."""
    head: dict[str, str] = {}
    for app, name in rows:
        head[app] = name
    return dict(sorted(head.items()))


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_args(settings_dict: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The connection arguments of pg_dump/pg_restore for a Django database, the password in the
    environment (never on the command line, where ``ps`` shows it)."""
    args, env = [], dict(os.environ)
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args += [flag, str(settings_dict[key])]
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    options = settings_dict.get("OPTIONS", {})
    if options.get("sslmode"):
        env["PGSSLMODE"] = str(options["sslmode"])
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise _error(
            "backup_tool_missing",
            f"Không tìm thấy {command[0]} (gói postgresql-client) để {what}.",
            f"{command[0]} (package postgresql-client) was not found to {what}.",
        ) from exc
    if done.returncode != 0:
        raise _error(
            "backup_tool_failed",
            f"{command[0]} thất bại ({what}): {done.stderr.strip()}",
            f"{command[0]} failed ({what}): {done.stderr.strip()}",
        )


def _pg_backup(db: Any, target: Path) -> tuple[dict[str, int], dict[str, str]]:
    args, env = _pg_args(db.settings_dict)
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        command = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--file", str(target), *args]
        _run([*command, "--dbname", db.settings_dict["NAME"]], env, "sao lưu cơ sở dữ liệu / back up the database")
        counts = _pg_counts(cursor)
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        migrations = _migrations(cursor.fetchall())
    return counts, migrations


# --- the backup ---------------------------------------------------------------------------------


def _datastore_path() -> Path | None:
    path = Path(getattr(settings, "DATASTORE_SQLITE_PATH", "") or "")
    return path if path.name and path.is_file() else None


def _sqlite_copy(source: sqlite3.Connection, target: Path) -> None:
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # all pages in one step: one consistent instant
    finally:
        copy.close()


def backup_create(*, directory: Path, alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """Back up the database ``alias`` and ``MEDIA_ROOT`` into ``directory`` (new, or empty), and
    write its manifest. Returns the manifest."""
    if directory.exists() and any(directory.iterdir()):
        raise _error(
            "backup_folder_not_empty",
            f"Thư mục sao lưu {directory} không trống: hãy chọn thư mục mới.",
            f"The backup folder {directory} is not empty: choose a new one.",
        )
    directory.mkdir(parents=True, exist_ok=True)
    db: Any = connections[alias]
    created_at = dt.datetime.now(dt.UTC)
    databases: dict[str, dict[str, Any]] = {}
    if db.vendor == "postgresql":
        counts, migrations = _pg_backup(db, directory / PG_DUMP)
        databases["default"] = {"file": PG_DUMP}
    elif db.vendor == "sqlite":
        db.ensure_connection()
        _sqlite_copy(db.connection, directory / SQLITE_COPY)
        copy = sqlite3.connect(directory / SQLITE_COPY)
        try:
            counts = _sqlite_counts(copy)
            migrations = _migrations(copy.execute("SELECT app, name FROM django_migrations ORDER BY id").fetchall())
        finally:
            copy.close()
        databases["default"] = {"file": SQLITE_COPY}
        datastore = _datastore_path()
        if datastore is not None:
            source = sqlite3.connect(datastore)
            try:
                _sqlite_copy(source, directory / DATASTORE_COPY)
            finally:
                source.close()
            copy = sqlite3.connect(directory / DATASTORE_COPY)
            try:
                counts.update(_sqlite_counts(copy, prefix="datastore:"))
            finally:
                copy.close()
            databases["datastore"] = {"file": DATASTORE_COPY}
    else:
        raise _error("backup_engine", f"Không hỗ trợ CSDL {db.vendor}.", f"The {db.vendor} database is not supported.")
    for entry in databases.values():
        entry["sha256"] = _sha256(directory / entry["file"])
        entry["size"] = (directory / entry["file"]).stat().st_size
    root = Path(settings.MEDIA_ROOT)
    files = {}
    for path in _files(root):  # after the database: every file it names is here (blobs are never rewritten)
        name = path.relative_to(root).as_posix()
        sha256, size = _copy_hashed(path, directory / FILES / name)
        files[name] = {"sha256": sha256, "size": size}
    manifest = {
        "format": FORMAT,
        "created_at": created_at.isoformat(),
        "engine": db.vendor,
        "databases": databases,
        "tables": counts,
        "migrations": migrations,
        "media_root": str(root),
        "files": files,
        "not_covered": NOT_COVERED,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


# --- the restore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One table's rows or one file's SHA-256, in the manifest and in the restored copy ("—": absent)."""

    kind: str  # "table" or "file"
    name: str
    expected: str
    found: str

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclass
class RestoreReport:
    tables: int = 0
    rows: int = 0
    files: int = 0
    bytes: int = 0
    compared: list[Comparison] = field(default_factory=list)

    @property
    def differences(self) -> list[Comparison]:
        return [item for item in self.compared if not item.ok]

    @property
    def ok(self) -> bool:
        return not self.differences


def manifest_read(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _error(
            "backup_no_manifest",
            f"Không đọc được {path}: đây không phải thư mục sao lưu ({exc}).",
            f"{path} cannot be read: this is not a backup folder ({exc}).",
        ) from exc
    if manifest.get("format") != FORMAT:
        raise _error("backup_format", "Định dạng sao lưu không được hỗ trợ.", "Unsupported backup format.")
    return manifest


def _check_files_of_backup(directory: Path, manifest: dict[str, Any]) -> None:
    for entry in manifest["databases"].values():
        path = directory / entry["file"]
        found = _sha256(path) if path.is_file() else "(thiếu / missing)"
        if found != entry["sha256"]:
            raise _error(
                "backup_damaged",
                f"Bản sao lưu bị hỏng: {entry['file']} có SHA-256 {found}, bản kê ghi {entry['sha256']}.",
                f"The backup is damaged: {entry['file']} has SHA-256 {found}, the manifest says {entry['sha256']}.",
            )


def _database_in_use(db: Any) -> bool:
    """Whether the configured database holds any table (PostgreSQL: in any schema)."""
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            return bool(_pg_tables(cursor))
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return bool(cursor.fetchone()[0])


def _restored_counts(db: Any) -> dict[str, int]:
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            return _pg_counts(cursor)
    db.ensure_connection()
    counts = _sqlite_counts(db.connection)
    datastore = _datastore_path()
    if datastore is not None:
        copy = sqlite3.connect(datastore)
        try:
            counts.update(_sqlite_counts(copy, prefix="datastore:"))
        finally:
            copy.close()
    return counts


def backup_restore(*, directory: Path, alias: str = DEFAULT_DB_ALIAS, force: bool = False) -> RestoreReport:
    """Restore the backup in ``directory`` into the database ``alias`` and ``MEDIA_ROOT`` (both
    empty, unless ``force``: then they are replaced), and compare what was restored with the
    manifest: rows per table, SHA-256 of every file."""
    manifest = manifest_read(directory)
    db: Any = connections[alias]
    if manifest["engine"] != db.vendor:
        raise _error(
            "backup_engine",
            f"Bản sao lưu của {manifest['engine']} không khôi phục được vào {db.vendor}.",
            f"A backup of {manifest['engine']} cannot be restored into {db.vendor}.",
        )
    _check_files_of_backup(directory, manifest)
    root = Path(settings.MEDIA_ROOT)
    if not force:
        if _database_in_use(db):
            raise _error(
                "restore_not_empty",
                f"Cơ sở dữ liệu {db.settings_dict['NAME']} không trống: khôi phục sẽ ghi đè. Dùng --force nếu "
                "thật sự muốn thay thế.",
                f"The database {db.settings_dict['NAME']} is not empty: restoring would overwrite it. Use --force "
                "to replace it.",
            )
        if next(_files(root), None) is not None:
            raise _error(
                "restore_not_empty",
                f"Thư mục lưu trữ tệp {root} không trống. Dùng --force nếu thật sự muốn thay thế.",
                f"The storage folder {root} is not empty. Use --force to replace it.",
            )
    if db.vendor == "postgresql":
        args, env = _pg_args(db.settings_dict)
        db.close()
        command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *args]
        if force:
            command += ["--clean", "--if-exists"]
        command += ["--dbname", db.settings_dict["NAME"], str(directory / PG_DUMP)]
        _run(command, env, "khôi phục cơ sở dữ liệu / restore the database")
    else:
        db.ensure_connection()
        source = sqlite3.connect(directory / SQLITE_COPY)
        try:
            source.backup(db.connection)  # replaces every page of the configured database
        finally:
            source.close()
        if "datastore" in manifest["databases"]:
            target = Path(settings.DATASTORE_SQLITE_PATH)
            target.parent.mkdir(parents=True, exist_ok=True)
            source, copy = sqlite3.connect(directory / DATASTORE_COPY), sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                source.close()
                copy.close()
    if force and root.is_dir():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    for path in _files(directory / FILES):
        _copy_hashed(path, root / path.relative_to(directory / FILES))
    return restore_check(manifest=manifest, alias=alias)


def restore_check(*, manifest: dict[str, Any], alias: str = DEFAULT_DB_ALIAS) -> RestoreReport:
    """Compare the configured database and ``MEDIA_ROOT`` with ``manifest``: every table's rows and
    every file's SHA-256, on either side."""
    report = RestoreReport()
    counts = _restored_counts(connections[alias])
    for table in sorted(set(manifest["tables"]) | set(counts)):
        expected, found = manifest["tables"].get(table), counts.get(table)
        report.tables += 1
        report.rows += found or 0
        shown = ("—" if expected is None else str(expected), "—" if found is None else str(found))
        report.compared.append(Comparison("table", table, *shown))
    files = files_hashed(Path(settings.MEDIA_ROOT))
    for name in sorted(set(manifest["files"]) | set(files)):
        want, got = manifest["files"].get(name), files.get(name)
        report.files += 1
        report.bytes += got["size"] if got else 0
        report.compared.append(Comparison("file", name, want["sha256"] if want else "—", got["sha256"] if got else "—"))
    return report
