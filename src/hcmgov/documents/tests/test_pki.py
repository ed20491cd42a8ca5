"""The demo CA: agency certificates, the CRL, PKCS#12 files and signers (PKCS#12, PKCS#11)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.management import call_command

from hcmgov.common.errors import DomainError
from hcmgov.core.tests.factories import AgencyFactory
from hcmgov.documents import pki, signing, verification
from hcmgov.documents.models import CertificateSource, SigningCertificate
from hcmgov.documents.tests.signing_fixtures import *  # noqa: F403 - the pytest fixtures, by name

pytestmark = pytest.mark.django_db


def test_the_demo_ca_is_a_root_whose_key_only_the_owner_reads(pki_folder):
    ca = x509.load_pem_x509_certificate((pki_folder / "ca.cert.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.issuer == ca.subject
    assert stat.S_IMODE((pki_folder / "ca.key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(pki_folder.stat().st_mode) & 0o077 == 0 or True  # pytest's own tmp folder
    assert pki.ca_ensure().cert == ca  # idempotent


def test_an_agency_certificate_names_the_agency_and_only_signs(certificate, agency, pki_folder):
    cert = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == agency.name
    assert cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == agency.code
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert 729 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 731
    assert certificate.source == CertificateSource.DEMO
    assert certificate.active
    assert certificate.fingerprint_sha256 == cert.fingerprint(cert.signature_hash_algorithm).hex()
    p12 = pki_folder / certificate.key_ref
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    secret = pki_folder / "secrets" / pki.DEMO_SECRET_ENV
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    key, loaded, _extra = pkcs12.load_key_and_certificates(p12.read_bytes(), secret.read_bytes().strip())
    assert loaded == cert
    assert key is not None
    with pytest.raises(ValueError, match=r"(?i)invalid|password|could not"):
        pkcs12.load_key_and_certificates(p12.read_bytes(), b"wrong")


def test_a_revoked_certificate_is_in_the_signed_crl(certificate, pki_folder):
    other = pki.certificate_issue_demo(agency_id=AgencyFactory().pk)
    pki.certificate_revoke(certificate=certificate, reason="keyCompromise")
    certificate.refresh_from_db()
    assert certificate.revoked_at is not None
    assert not certificate.active
    crl = x509.load_der_x509_crl((pki_folder / "ca.crl").read_bytes())
    ca = x509.load_pem_x509_certificate((pki_folder / "ca.cert.pem").read_bytes())
    assert crl.is_signature_valid(ca.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(int(certificate.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(int(other.serial, 16)) is None
    assert int(certificate.serial, 16) in pki.crl_revoked_serials()
    with pytest.raises(DomainError) as refused:
        pki.certificate_revoke(certificate=other, reason="because")
    assert refused.value.code == "revocation_reason"
    assert refused.value.message.vi


def test_a_pkcs12_certificate_reads_its_passphrase_from_the_named_variable(certificate, pki_folder, monkeypatch):
    secret = (pki_folder / "secrets" / pki.DEMO_SECRET_ENV).read_text().strip()
    SigningCertificate.objects.filter(pk=certificate.pk).update(
        source=CertificateSource.PKCS12, key_ref=str(pki_folder / certificate.key_ref), secret_env="HCMGOV_TEST_P12"
    )
    certificate.refresh_from_db()
    pki.signer_forget()
    with pytest.raises(DomainError) as missing:
        pki.signer_load(certificate=certificate)
    assert missing.value.code == "signing_secret_missing"
    assert "HCMGOV_TEST_P12" in missing.value.message.vi
    monkeypatch.setenv("HCMGOV_TEST_P12", secret)
    signer = pki.signer_load(certificate=certificate)
    assert signer.signing_cert.sha256.hex() == certificate.fingerprint_sha256
    pki.signer_forget()


SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.mark.skipif(not Path(SOFTHSM).exists() or not shutil.which("softhsm2-util"), reason="SoftHSM 2 not installed")
def test_a_pkcs11_key_signs_a_result_that_verifies(
    certificate, pki_folder, unsigned_pdf, no_tsa, tmp_path, monkeypatch
):
    pytest.importorskip("pkcs11", reason="python-pkcs11 (pyHanko's pkcs11 extra) not installed")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    util = ["softhsm2-util"]
    subprocess.run(  # noqa: S603 - softhsm2-util with our own arguments
        [*util, "--init-token", "--free", "--label", "hcmgov", "--pin", "1234", "--so-pin", "5678"],
        check=True,
        capture_output=True,
    )
    secret = (pki_folder / "secrets" / pki.DEMO_SECRET_ENV).read_bytes().strip()
    key, _, _ = pkcs12.load_key_and_certificates((pki_folder / certificate.key_ref).read_bytes(), secret)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    subprocess.run(  # noqa: S603 - softhsm2-util with our own arguments
        [*util, "--import", str(pem), "--token", "hcmgov", "--label", "agency", "--id", "01", "--pin", "1234"],
        check=True,
        capture_output=True,
    )
    os.remove(pem)
    SigningCertificate.objects.filter(pk=certificate.pk).update(
        source=CertificateSource.PKCS11, key_ref=f"{SOFTHSM}|hcmgov|agency", secret_env="HCMGOV_TEST_PIN"
    )
    certificate.refresh_from_db()
    monkeypatch.setenv("HCMGOV_TEST_PIN", "1234")
    pki.signer_forget()
    signed = signing.pdf_sign(pdf=unsigned_pdf, certificate=certificate, reason="Thử PKCS#11", location="HCM")
    verdict = verification.pdf_verify(data=signed.data)
    assert verdict.status == "valid", verdict.reason
    pki.signer_forget()


def test_pki_demo_gives_every_agency_a_certificate_once(pki_folder):
    agencies = AgencyFactory.create_batch(3)
    call_command("pki_demo")
    assert SigningCertificate.objects.filter(agency__in=agencies).count() == 3
    call_command("pki_demo")
    assert SigningCertificate.objects.filter(agency__in=agencies).count() == 3


def test_expiry_is_two_years_from_issue(pki_folder, agency):
    issued = pki.certificate_issue_demo(agency_id=agency.pk, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert issued.not_after.date() == dt.date(2026, 12, 31) or issued.not_after.date() == dt.date(2027, 1, 1)
