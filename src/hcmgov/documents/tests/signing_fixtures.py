"""Fixtures of the PKI, signing, verification tests: one demo CA and one TSA simulator (over HTTP)
for the whole session — keys are made once — and a signing certificate per test (ECDSA:
milliseconds). The test modules import them by name (the app's conftest.py is shared with others)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hcmgov import simulators
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.documents import pki
from hcmgov.documents.signing import ResultContent

__all__ = ["agency", "certificate", "content", "no_tsa", "nss_db", "pki_folder", "tsa", "unsigned_pdf"]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pki_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``HCMGOV_PKI_DIR`` for the session, with the demo CA made once."""
    folder = tmp_path_factory.mktemp("pki")
    saved = {"HCMGOV_PKI_DIR": os.environ.get("HCMGOV_PKI_DIR")}
    os.environ["HCMGOV_PKI_DIR"] = str(folder)
    pki.ca_ensure()
    yield folder
    _restore(saved)
    pki.signer_forget()


@pytest.fixture(scope="session")
def tsa(pki_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The TSA simulator over HTTP for the session: its URL in ``HCMGOV_TSA_URL``, its root
    trusted through ``HCMGOV_TRUSTED_ROOTS``."""
    folder = tmp_path_factory.mktemp("tsa")
    with simulators.running("tsa") as url:
        ca = folder / "tsa-root.pem"
        ca.write_bytes(_OPENER.open(url + "/_sim/ca.pem").read())
        saved = {k: os.environ.get(k) for k in ("HCMGOV_TSA_URL", "HCMGOV_TRUSTED_ROOTS")}
        os.environ["HCMGOV_TSA_URL"] = url
        os.environ["HCMGOV_TRUSTED_ROOTS"] = str(ca)
        yield {"url": url, "ca": str(ca)}
        _restore(saved)


@pytest.fixture
def no_tsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCMGOV_TSA_URL", "")


@pytest.fixture
def agency(db):
    return AgencyFactory(code="999.00.31.H29", name="Ủy ban nhân dân Phường Bến Thành")


@pytest.fixture
def certificate(pki_folder: Path, agency):
    return pki.certificate_issue_demo(agency_id=agency.pk)


@pytest.fixture(scope="session")
def content() -> ResultContent:
    return ResultContent(
        title_vi="Giấy chứng nhận đăng ký hộ kinh doanh",
        title_en="Household business registration certificate",
        number="41M8012345",
        agency_name="Ủy ban nhân dân Phường Bến Thành",
        applicant_name="Nguyễn Thị Ánh Tuyết",
        dossier_code="000.00.31.H29-250701-0001",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        issued=dt.date(2025, 7, 1),
        paragraphs=(
            "Chứng nhận hộ kinh doanh Phở Bà Tư, địa chỉ 12 Lê Lợi, phường Bến Thành, đã đăng ký kinh doanh.",
            "Ngành, nghề kinh doanh: dịch vụ ăn uống (phở, bún, cơm). Vốn kinh doanh: 50.000.000 đồng.",
        ),
        verify_url="http://127.0.0.1:8000/kiem-tra/abcdef0123456789",
    )


@pytest.fixture(scope="session")
def unsigned_pdf(content: ResultContent) -> bytes:
    from hcmgov.documents.signing import result_pdf

    return result_pdf(content=content)


@pytest.fixture(scope="session")
def nss_db(pki_folder: Path, tsa: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database trusting the demo CA and the TSA's root, for poppler's ``pdfsig -nssdir``."""
    if not (shutil.which("certutil") and shutil.which("pdfsig")):
        pytest.skip("pdfsig (poppler-utils) and certutil (libnss3-tools) are needed")
    folder = tmp_path_factory.mktemp("nss")
    db = f"sql:{folder}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True, capture_output=True)  # noqa: S603, S607 - fixed tools
    for nick, path in (("hcmgov-demo-ca", pki_folder / "ca.cert.pem"), ("hcmgov-tsa-root", Path(tsa["ca"]))):
        subprocess.run(  # noqa: S603 - a fixed tool and our own files
            ["certutil", "-A", "-n", nick, "-t", "CT,C,C", "-d", db, "-i", str(path)],  # noqa: S607 - libnss3-tools
            check=True,
            capture_output=True,
        )
    return db


def pdfsig(db: str, data: bytes, path: Path) -> str:
    """Run poppler's ``pdfsig`` on ``data``; its report."""
    path.write_bytes(data)
    # no -no-ocsp: with it poppler 22.12 reports "Unknown issue with Certificate" for a trusted
    # chain; our certificates name no OCSP responder (no AIA), so nothing is fetched anyway
    run = subprocess.run(  # noqa: S603 - a fixed tool and our own files
        ["pdfsig", "-nssdir", db, str(path)],  # noqa: S607 - poppler-utils from the system's PATH
        capture_output=True,
        text=True,
        timeout=60,
    )
    return run.stdout + run.stderr
