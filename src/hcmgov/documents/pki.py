"""The platform's demo certificate authority (CA thử nghiệm) and the agencies' signing keys.

**Demo only.** In production an agency signs with a certificate from a licensed Vietnamese
certification service provider (Law on Electronic Transactions 20/2023/QH15; Decree 130/2018/NĐ-CP
for the government's specialised CA), on a token or HSM reached through PKCS#11 (source
``pkcs11``), or from a PKCS#12 file (source ``pkcs12``). The demo CA below exists so that a
developer's machine, the tests and the demo can issue results anyone can verify without such a
provider: its root is trusted by this platform's verification only, and its private keys lie
unencrypted or behind a generated passphrase in ``HCMGOV_PKI_DIR`` — never use it for real
documents.

Layout of ``HCMGOV_PKI_DIR`` (created ``0700``; key files ``0600``):

* ``ca.key.pem``, ``ca.cert.pem`` — the root CA (self-signed);
* ``ca.crl`` (DER) and ``ca.crl.pem`` — the CRL the CA signs, rebuilt at each revocation and when
  it is stale (``nextUpdate`` one week ahead);
* ``index.json`` — the CA's own register of revoked serials (like OpenSSL's ``index.txt``); the
  CRL is built from it, so it does not depend on the database;
* ``agencies/<code>-<serial>.p12`` — each agency's key and certificate (and the CA certificate),
  PKCS#12 with AES-256 and PBKDF2;
* ``secrets/HCMGOV_PKI_DEMO_PASSPHRASE`` — the generated passphrase of the demo PKCS#12 files,
  read when the environment variable of that name is not set.

Keys are **ECDSA P-256**: a key is made in well under a millisecond where RSA 3072 takes tens to
hundreds (``hcmgov pki_demo`` issues one per agency, ~400, and the tests make several), signatures
are small, and the curve is accepted by PAdES validators (pyHanko, poppler/NSS, Adobe). RSA keys
from a real provider's PKCS#12 or token are signed with just the same (pyHanko picks the mechanism
from the key).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hcmgov.audit.services import audited
from hcmgov.common.config import config
from hcmgov.common.errors import DomainError, Message
from hcmgov.core import selectors as core
from hcmgov.documents.models import CertificateSource, SigningCertificate

DEMO_SECRET_ENV = "HCMGOV_PKI_DEMO_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
CA_NAME = "HCMGOV Demo Root CA - CA thử nghiệm"
CA_YEARS = 20
CRL_DAYS = 7
REASONS = {flag.value: flag for flag in x509.ReasonFlags}  # RFC 5280 §5.3.1 names: keyCompromise, superseded…
_LOCK = threading.Lock()


def pki_dir() -> Path:
    """The folder of the demo CA and the demo keys (created on first use, owner only)."""
    folder = Path(settings.VAR_DIR) / Path(
        config(
            "HCMGOV_PKI_DIR",
            "pki",
            help="Folder of the demo certificate authority, its CRL and the agencies' demo PKCS#12 keys "
            "(relative: inside HCMGOV_VAR_DIR). Demo only: real agencies sign with a licensed CA's certificate.",
            group="documents",
        )
    )
    return folder


def _demo_secret_declared() -> str:
    return config(
        DEMO_SECRET_ENV,
        "",
        help="Passphrase of the demo PKCS#12 keys. Empty: generated once into HCMGOV_PKI_DIR/secrets (demo only).",
        group="documents",
        secret=True,
    )


_demo_secret_declared()
pki_dir()  # declare the settings at import (`hcmgov configdoc`)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by the owner only, atomically (a reader never sees half a key)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """One writer at a time across processes (two workers issuing or revoking at once)."""
    _private_dir(folder)
    with _LOCK, open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the CA -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authority:
    """The demo CA as loaded: its key, its certificate (pyca and asn1crypto forms) and its folder."""

    folder: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    cert_asn1: asn1_x509.Certificate


_cache: dict[str, Any] = {}


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or timezone.now()).astimezone(dt.UTC)


def ca_ensure(*, now: dt.datetime | None = None) -> Authority:
    """The demo CA, made (key, self-signed certificate, empty CRL) if the folder has none."""
    folder = pki_dir()
    if not (folder / "ca.cert.pem").exists():
        with _folder_lock(folder):
            if not (folder / "ca.cert.pem").exists():
                _ca_create(folder, _now(now))
    return ca_load()


def _ca_create(folder: Path, now: dt.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Thành phố Hồ Chí Minh (demo)"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ]
    )
    start = now - dt.timedelta(days=1)  # clocks of other machines may lag
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(folder / "ca.key.pem", key_pem)
    _write_public(folder / "index.json", b"{}")
    _write_public(folder / "ca.cert.pem", cert.public_bytes(serialization.Encoding.PEM))
    _crl_write(folder, key, cert, {}, now)


def _usage(*, cert_sign: bool = False, signing: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def ca_load() -> Authority:
    """The demo CA of ``HCMGOV_PKI_DIR`` (cached while its files do not change)."""
    folder = pki_dir()
    cert_path = folder / "ca.cert.pem"
    if not cert_path.exists():
        raise DomainError(
            "pki_missing",
            Message("Chưa có CA thử nghiệm: chạy `hcmgov pki_demo`.", "No demo CA yet: run `hcmgov pki_demo`."),
            status=503,
        )
    stamp = (str(folder), cert_path.stat().st_mtime_ns)
    cached = _cache.get("ca")
    if cached is not None and cached[0] == stamp:
        return cached[1]
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key((folder / "ca.key.pem").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    authority = Authority(folder, key, cert, asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
    _cache["ca"] = (stamp, authority)
    return authority


def ca_certificate() -> asn1_x509.Certificate | None:
    """The demo CA's certificate, or ``None`` when there is no demo CA (a trust root of verification)."""
    try:
        return ca_load().cert_asn1
    except DomainError:
        return None


# --- the CRL ------------------------------------------------------------------------------------


def _index(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / "index.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _crl_write(
    folder: Path,
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    index: dict[str, dict[str, str]],
    now: dt.datetime,
) -> x509.CertificateRevocationList:
    number = 1
    if (folder / "ca.crl").exists():
        previous = x509.load_der_x509_crl((folder / "ca.crl").read_bytes())
        number = previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=CRL_DAYS))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    for serial, entry in sorted(index.items()):
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(serial, 16))
            .revocation_date(dt.datetime.fromisoformat(entry["at"]))
            .add_extension(x509.CRLReason(REASONS[entry["reason"]]), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(revoked)
    crl = builder.sign(key, hashes.SHA256())
    _write_public(folder / "ca.crl.pem", crl.public_bytes(serialization.Encoding.PEM))
    _write_public(folder / "ca.crl", crl.public_bytes(serialization.Encoding.DER))
    return crl


def crl_publish(*, now: dt.datetime | None = None) -> bytes:
    """Sign a new CRL from the CA's register of revocations; its DER bytes."""
    authority = ca_load()
    with _folder_lock(authority.folder):
        crl = _crl_write(authority.folder, authority.key, authority.cert, _index(authority.folder), _now(now))
    return crl.public_bytes(serialization.Encoding.DER)


def crl_current(*, now: dt.datetime | None = None) -> asn1_crl.CertificateList | None:
    """The CA's CRL (re-signed first when past its ``nextUpdate``); ``None`` without a demo CA."""
    folder = pki_dir()
    path = folder / "ca.crl"
    if not path.exists():
        return None
    stamp = (str(folder), path.stat().st_mtime_ns)
    cached = _cache.get("crl")
    if cached is None or cached[0] != stamp:
        cached = (stamp, asn1_crl.CertificateList.load(path.read_bytes()))
        _cache["crl"] = cached
    crl: asn1_crl.CertificateList = cached[1]
    if crl["tbs_cert_list"]["next_update"].native <= _now(now):
        crl_publish(now=now)
        return crl_current(now=now)
    return crl


def crl_revoked_serials() -> dict[int, dt.datetime]:
    """Serial → revocation time of every certificate in the CA's current CRL."""
    crl = crl_current()
    if crl is None:
        return {}
    return {
        entry["user_certificate"].native: entry["revocation_date"].native
        for entry in crl["tbs_cert_list"]["revoked_certificates"]
    }


# --- agency certificates ------------------------------------------------------------------------


def _demo_secret(folder: Path) -> str:
    """The demo passphrase: the environment variable, else the generated file (owner only)."""
    value = _demo_secret_declared()
    if value:
        return value
    path = _private_dir(folder / "secrets") / DEMO_SECRET_ENV
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24).encode())
    return path.read_text().strip()


def secret_read(*, name: str) -> str:
    """The secret (PKCS#12 passphrase, PKCS#11 PIN) in the environment variable ``name`` — a name
    stored in a certificate's row, so it is read here and not declared one by one with ``config``;
    for the demo passphrase, the generated file when the variable is not set."""
    value = os.environ.get(name, "")
    if not value and name == DEMO_SECRET_ENV:
        value = _demo_secret(pki_dir())
    if not value:
        raise DomainError(
            "signing_secret_missing",
            Message(
                f"Thiếu mật khẩu khoá ký: biến môi trường {name} chưa được đặt.",
                f"The signing key's secret is missing: environment variable {name} is not set.",
            ),
            status=503,
        )
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "agency"


def _agency(agency_id: int) -> Any:
    agency = core.agency_list().filter(pk=agency_id).first()
    if agency is None:
        raise DomainError("agency_not_found", Message("Không tìm thấy cơ quan.", "Agency not found."), status=404)
    return agency


def certificate_fields(cert: x509.Certificate) -> dict[str, Any]:
    """The columns of a :class:`SigningCertificate` that come from the certificate itself."""
    return {
        "subject": cert.subject.rfc4514_string()[:300],
        "issuer": cert.issuer.rfc4514_string()[:300],
        "serial": format(cert.serial_number, "x"),
        "fingerprint_sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


@audited("documents.certificate_issue_demo")
def certificate_issue_demo(
    *, agency_id: int, now: dt.datetime | None = None, validity: dt.timedelta = dt.timedelta(days=730)
) -> SigningCertificate:
    """Issue an agency a signing certificate from the demo CA (CN the agency's name, O its code;
    digitalSignature + nonRepudiation; two years by default), its key in a PKCS#12 file under
    ``HCMGOV_PKI_DIR/agencies``, and record it. Demo only (see the module docstring)."""
    moment = _now(now)
    authority = ca_ensure(now=moment)
    agency = _agency(agency_id)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency.code[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, agency.name[:64]),  # RFC 5280 ub-common-name: 64
        ]
    )
    start = moment - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signing=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
        .sign(authority.key, hashes.SHA256())
    )
    passphrase = _demo_secret(authority.folder)
    # PBKDF2 rounds: a stolen demo file is not the threat here, issuing 400 of them is the cost
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase.encode())
    )
    p12 = pkcs12.serialize_key_and_certificates(agency.code.encode(), key, cert, [authority.cert], encryption)
    relative = Path("agencies") / f"{_slug(agency.code)}-{cert.serial_number:x}.p12"
    _private_dir(authority.folder / "agencies")
    _write_private(authority.folder / relative, p12)
    return SigningCertificate.objects.create(
        agency_id=agency.pk,
        source=CertificateSource.DEMO,
        key_ref=str(relative),
        secret_env=DEMO_SECRET_ENV,
        active=True,
        **certificate_fields(cert),
    )


@audited("documents.certificate_revoke", target="certificate", fields=("active", "revoked_at"))
def certificate_revoke(
    *, certificate: SigningCertificate, reason: str = "unspecified", now: dt.datetime | None = None
) -> SigningCertificate:
    """Revoke a certificate: no result is signed with it any more and, when the demo CA issued it,
    it is listed (with ``reason``, an RFC 5280 reason such as ``keyCompromise``, ``superseded``,
    ``cessationOfOperation``) in a newly signed CRL. A certificate from another CA must also be
    revoked at that CA; here it is only refused for signing."""
    if reason not in REASONS:
        raise DomainError(
            "revocation_reason",
            Message(
                f"Lý do thu hồi không hợp lệ; dùng một trong: {', '.join(REASONS)}.",
                f"Invalid revocation reason; use one of: {', '.join(REASONS)}.",
            ),
        )
    moment = _now(now)
    with transaction.atomic():
        locked = SigningCertificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.revoked_at is None:
            locked.revoked_at = moment
        locked.active = False
        locked.save(update_fields=["revoked_at", "active"])
    certificate.revoked_at, certificate.active = locked.revoked_at, locked.active
    authority = ca_ensure(now=moment)
    if certificate.issuer == authority.cert.subject.rfc4514_string():
        with _folder_lock(authority.folder):
            index = _index(authority.folder)
            assert locked.revoked_at is not None
            index.setdefault(certificate.serial, {"at": locked.revoked_at.isoformat(), "reason": reason})
            _write_public(authority.folder / "index.json", json.dumps(index, indent=1).encode())
            _crl_write(authority.folder, authority.key, authority.cert, index, moment)
    return certificate


# --- signers ------------------------------------------------------------------------------------

_signers: dict[tuple[int, str, str], Any] = {}


def signer_load(*, certificate: SigningCertificate) -> Any:
    """A pyHanko signer for ``certificate`` (kept for the process: loading a PKCS#12 runs its
    key derivation, opening a PKCS#11 session logs in). Sources ``demo``/``pkcs12``: ``key_ref``
    the PKCS#12 file (relative: inside ``HCMGOV_PKI_DIR``), passphrase from ``secret_env``;
    ``pkcs11``: ``key_ref`` ``module|token label|key label``, PIN from ``secret_env``."""
    cache_key = (certificate.pk, certificate.fingerprint_sha256, certificate.key_ref)
    signer = _signers.get(cache_key)
    if signer is None:
        if certificate.source == CertificateSource.PKCS11:
            signer = _pkcs11_signer(certificate)
        else:
            signer = _pkcs12_signer(certificate)
        _signers[cache_key] = signer
    return signer


def _key_error(certificate: SigningCertificate, detail: str) -> DomainError:
    return DomainError(
        "signing_key_unavailable",
        Message(
            f"Không mở được khoá ký của chứng thư số {certificate.serial}: {detail}",
            f"Cannot open the signing key of certificate {certificate.serial}: {detail}",
        ),
        status=503,
    )


def _extra_certs() -> list[asn1_x509.Certificate]:
    ca = ca_certificate()
    return [ca] if ca is not None else []


def _pkcs12_signer(certificate: SigningCertificate) -> Any:
    from pyhanko.sign import signers

    path = Path(certificate.key_ref)
    if not path.is_absolute():
        path = pki_dir() / path
    if not path.exists():
        raise _key_error(certificate, str(path))
    passphrase = secret_read(name=certificate.secret_env).encode() if certificate.secret_env else None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(path.read_bytes(), _extra_certs(), passphrase=passphrase)
    except ValueError as exc:
        raise _key_error(certificate, str(exc)) from exc
    _check_same_certificate(certificate, signer.signing_cert)
    return signer


def _pkcs11_signer(certificate: SigningCertificate) -> Any:
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11
    except ImportError as exc:  # python-pkcs11 (pyHanko's "pkcs11" extra) is not installed
        raise _key_error(certificate, f"python-pkcs11: {exc}") from exc
    try:
        module, token_label, key_label = certificate.key_ref.split("|")
    except ValueError as exc:
        raise _key_error(certificate, "key_ref: module|token label|key label") from exc
    pin = secret_read(name=certificate.secret_env) if certificate.secret_env else None
    cert = asn1_x509.Certificate.load(
        x509.load_pem_x509_certificate(certificate.certificate_pem.encode()).public_bytes(serialization.Encoding.DER)
    )
    try:
        session = pkcs11.open_pkcs11_session(module, token_criteria=TokenCriteria(label=token_label), user_pin=pin)
    except Exception as exc:  # python-pkcs11 raises many kinds: no token, wrong PIN, no module
        raise _key_error(certificate, f"{type(exc).__name__}: {exc}") from exc
    # the certificate comes from the row (a token may hold the key only); the chain from the demo CA
    # raw mechanisms (CKM_ECDSA, CKM_RSA_PKCS; the hash computed here): every token has them, while
    # the hashing ones (CKM_ECDSA_SHA256…) are missing on many, SoftHSM among them
    return pkcs11.PKCS11Signer(
        session,
        key_label=key_label,
        signing_cert=cert,
        ca_chain=_extra_certs(),
        other_certs_to_pull=None,
        use_raw_mechanism=True,
    )


def _check_same_certificate(certificate: SigningCertificate, cert: asn1_x509.Certificate) -> None:
    if cert.sha256.hex() != certificate.fingerprint_sha256:
        raise _key_error(certificate, "the key file holds another certificate / tệp khoá chứa chứng thư khác")


def signer_forget() -> None:
    """Drop the signers kept by :func:`signer_load` (tests; a key file replaced)."""
    _signers.clear()
