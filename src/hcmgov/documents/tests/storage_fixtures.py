"""Fixtures of the storage, safety and clamd tests: a real clamd with a signature database made for
the test, and an S3-compatible server (moto) over HTTP. The test modules import them by name (kept
out of the app's conftest.py, which other documents tests own)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hcmgov.documents.tests import crafted

CLAMD = "/usr/sbin/clamd"
STREAM_MAX_LENGTH = 1024 * 1024  # clamd's StreamMaxLength in the test: a 1 MiB upload is over it


@dataclass(frozen=True)
class Clamd:
    """A clamd the test started: its addresses, and the file its hash signature names."""

    tcp_url: str
    unix_url: str
    flagged: bytes  # content whose MD5 is in the database (.hdb): found as Hcmgov.Test.Hash


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def clamd_server() -> Iterator[Clamd]:
    """clamd in the foreground on a free TCP port and a UNIX socket in a temporary folder, loading
    only the test's signatures: EICAR and a marker string as body signatures (.ndb), a generated
    PNG by its MD5 (.hdb). No downloaded database is used."""
    if not os.path.exists(CLAMD):
        pytest.skip(f"{CLAMD} is not installed (Debian package clamav-daemon)")
    folder = Path(tempfile.mkdtemp(prefix="hcm_store_clamd_", dir="/tmp"))
    database = folder / "db"
    database.mkdir()
    flagged = crafted.png((37, 23))
    (database / "hcmgov-test.ndb").write_text(
        f"Hcmgov.Test.EICAR:0:*:{crafted.EICAR.hex()}\nHcmgov.Test.Marker:0:*:{crafted.TEST_MARKER.hex()}\n"
    )
    (database / "hcmgov-test.hdb").write_text(f"{hashlib.md5(flagged).hexdigest()}:{len(flagged)}:Hcmgov.Test.Hash\n")  # noqa: S324 - ClamAV's .hdb format is MD5
    port = _free_port()
    sock_path = folder / "clamd.sock"
    conf = folder / "clamd.conf"
    conf.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"DatabaseDirectory {database}",
                f"LocalSocket {sock_path}",
                "TCPAddr 127.0.0.1",
                f"TCPSocket {port}",
                f"StreamMaxLength {STREAM_MAX_LENGTH}",
                f"TemporaryDirectory {folder}",
                f"LogFile {folder / 'clamd.log'}",
                f"PidFile {folder / 'clamd.pid'}",
                "SelfCheck 3600",
                "",
            ]
        )
    )
    process = subprocess.Popen(  # noqa: S603 - a fixed program with our own config
        [CLAMD, "--config-file", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                log = (folder / "clamd.log").read_text() if (folder / "clamd.log").exists() else ""
                pytest.fail(f"clamd exited with {process.returncode}: {stderr}\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"zPING\0")
                    if conn.recv(16).startswith(b"PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("clamd did not answer PING within 60 s")
            time.sleep(0.1)
        yield Clamd(tcp_url=f"tcp://127.0.0.1:{port}", unix_url=f"unix://{sock_path}", flagged=flagged)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def clamd_url(clamd_server: Clamd, monkeypatch: pytest.MonkeyPatch) -> str:
    """Uploads scanned by the test's clamd (over TCP)."""
    monkeypatch.setenv("HCMGOV_CLAMD_URL", clamd_server.tcp_url)
    return clamd_server.tcp_url


@pytest.fixture(autouse=True)
def _no_clamd_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the environment says, a test scans only when it asks for a clamd."""
    monkeypatch.setenv("HCMGOV_CLAMD_URL", "")


@pytest.fixture
def blobs_dir(settings) -> Path:
    """The folder the default documents storage writes to (MEDIA_ROOT is a tmp folder in tests)."""
    return Path(settings.MEDIA_ROOT) / "blobs"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port, over HTTP; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(s3_server: str, settings) -> str:
    """The documents storage pointed at a fresh bucket of the moto server; the bucket's name."""
    import uuid

    import boto3

    bucket = f"hcmgov-test-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3", endpoint_url=s3_server, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "default_acl": None,
                "file_overwrite": True,
            },
        },
    }
    return bucket
