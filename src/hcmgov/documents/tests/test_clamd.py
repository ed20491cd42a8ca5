"""The clamd client against a real clamd the test starts with its own signatures, and what
blob_put does with its verdicts."""

from __future__ import annotations

import socket

import pytest

from hcmgov.documents.adapters import clamd
from hcmgov.documents.models import Blob, ScanState
from hcmgov.documents.safety import Refused
from hcmgov.documents.storage import ScanUnavailable, blob_put
from hcmgov.documents.tests import crafted
from hcmgov.documents.tests import storage_fixtures as fixtures
from hcmgov.documents.tests.storage_fixtures import STREAM_MAX_LENGTH

# The fixtures these tests use (kept out of the app's conftest.py, which the app's other tests own).
_no_clamd_by_default = fixtures._no_clamd_by_default
blobs_dir = fixtures.blobs_dir
clamd_server = fixtures.clamd_server
clamd_url = fixtures.clamd_url


def _settings(url: str) -> clamd.ClamdConfig:
    return clamd.ClamdConfig(url=url, timeout=10.0)


@pytest.fixture(params=["tcp", "unix"])
def address(request, clamd_server) -> str:
    return clamd_server.tcp_url if request.param == "tcp" else clamd_server.unix_url


def test_clean_content_is_ok(address):
    assert clamd.scan_bytes(crafted.pdf(), settings=_settings(address)) == clamd.ScanResult(clean=True)


def test_eicar_and_the_test_signatures_are_found(address, clamd_server):
    scan = lambda data: clamd.scan_bytes(data, settings=_settings(address))  # noqa: E731
    assert scan(crafted.EICAR) == clamd.ScanResult(clean=False, signature="Hcmgov.Test.EICAR.UNOFFICIAL")
    assert scan(b"%PDF-1.4\n% " + crafted.TEST_MARKER + b"\n").signature == "Hcmgov.Test.Marker.UNOFFICIAL"
    assert scan(clamd_server.flagged).signature == "Hcmgov.Test.Hash.UNOFFICIAL"


def test_content_in_many_chunks_is_scanned_whole(address):
    """The marker straddles the 64 KiB chunk boundary of INSTREAM."""
    data = b"\0" * (clamd.CHUNK - 10) + crafted.TEST_MARKER + b"\0" * 100
    assert not clamd.scan_bytes(data, settings=_settings(address)).clean


def test_ping_and_version(clamd_server):
    assert clamd.ping(settings=_settings(clamd_server.unix_url))
    assert clamd.version(settings=_settings(clamd_server.tcp_url)).startswith("ClamAV ")


def test_content_over_streammaxlength_is_a_limit_error(address):
    with pytest.raises(clamd.ClamdLimitExceeded) as caught:
        clamd.scan_bytes(b"\0" * (STREAM_MAX_LENGTH + 200_000), settings=_settings(address))
    assert not caught.value.retryable
    assert "size limit" in caught.value.detail


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "url",
    ["tcp://127.0.0.1:{closed}", "unix:///tmp/hcm_store_no_such_clamd.sock", "http://wrong", ""],
)
def test_clamd_down_is_a_retryable_error_in_both_languages(url):
    url = url.format(closed=_closed_port())  # a port chosen at run time: the test's id stays fixed (xdist)
    with pytest.raises(clamd.ClamdUnavailable) as caught:
        clamd.scan_bytes(b"data", settings=_settings(url))
    error = caught.value
    assert error.retryable
    assert error.message.vi.startswith("Không")
    assert error.message.en
    assert not clamd.ping(settings=_settings(url))


def test_a_silent_clamd_times_out():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(clamd.ClamdUnavailable):
            clamd.scan_bytes(b"data", settings=clamd.ClamdConfig(url=url, timeout=0.3))


# --- blob_put and the scanner ---------------------------------------------------------------------


@pytest.mark.django_db
def test_clean_upload_is_stored_as_scanned_clean(clamd_url):
    blob = blob_put(data=crafted.pdf(), filename="a.pdf")
    assert (blob.scan_state, blob.scan_note) == (ScanState.CLEAN, "clamd: OK")


@pytest.mark.django_db
def test_without_clamd_url_uploads_are_stored_unscanned():
    blob = blob_put(data=crafted.pdf(), filename="a.pdf")
    assert blob.scan_state == ScanState.UNSCANNED
    assert "HCMGOV_CLAMD_URL" in blob.scan_note


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["hash", "body"])
def test_infected_upload_is_refused_and_nothing_stored(clamd_url, clamd_server, blobs_dir, kind):
    if kind == "hash":
        data, filename, signature = clamd_server.flagged, "anh.png", "Hcmgov.Test.Hash"
    else:
        data, filename, signature = crafted.pdf(text=crafted.TEST_MARKER.decode(), compress=False), "a.pdf", "Marker"
    with pytest.raises(Refused) as caught:
        blob_put(data=data, filename=filename)
    refused = caught.value
    assert refused.code == "infected"
    assert signature in refused.message.vi
    assert "mã độc" in refused.message.vi
    assert signature in refused.message.en
    assert "malware" in refused.message.en
    assert not Blob.objects.exists()
    assert not blobs_dir.exists() or not any(p.is_file() for p in blobs_dir.rglob("*"))


@pytest.mark.django_db
def test_clamd_down_refuses_the_upload_for_now_and_stores_nothing(monkeypatch, blobs_dir):
    monkeypatch.setenv("HCMGOV_CLAMD_URL", f"tcp://127.0.0.1:{_closed_port()}")
    with pytest.raises(ScanUnavailable) as caught:
        blob_put(data=crafted.pdf(), filename="a.pdf")
    error = caught.value
    assert (error.code, error.status) == ("scan_unavailable", 503)
    assert "thử lại" in error.message.vi
    assert "try again" in error.message.en
    assert isinstance(error.error, clamd.ClamdUnavailable)
    assert not Blob.objects.exists()
    assert not blobs_dir.exists()


@pytest.mark.django_db
def test_an_upload_over_clamds_limit_is_refused(clamd_url):
    data = crafted.jpeg((1600, 1600), quality=95, noise=80)
    assert STREAM_MAX_LENGTH < len(data) < 10 * 1024 * 1024
    with pytest.raises(Refused) as caught:
        blob_put(data=data, filename="anh.jpg")
    assert (caught.value.code, caught.value.status) == ("too_large_to_scan", 413)
    assert not Blob.objects.exists()


@pytest.mark.django_db
def test_a_blob_stored_unscanned_is_scanned_when_put_again_with_clamd(monkeypatch, clamd_server):
    data = crafted.pdf()
    first = blob_put(data=data, filename="a.pdf")
    assert first.scan_state == ScanState.UNSCANNED
    monkeypatch.setenv("HCMGOV_CLAMD_URL", clamd_server.unix_url)
    again = blob_put(data=data, filename="a.pdf")
    assert again.pk == first.pk
    assert again.scan_state == ScanState.CLEAN


@pytest.mark.django_db
def test_scan_false_skips_the_scanner(monkeypatch):
    monkeypatch.setenv("HCMGOV_CLAMD_URL", f"tcp://127.0.0.1:{_closed_port()}")  # down: not asked
    blob = blob_put(data=crafted.pdf(), filename="ket-qua.pdf", scan=False)
    assert blob.scan_state == ScanState.UNSCANNED
