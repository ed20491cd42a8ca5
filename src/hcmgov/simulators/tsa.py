"""Simulator of a time-stamping authority (TSA, dịch vụ cấp dấu thời gian), RFC 3161 over HTTP.

Sources:

* RFC 3161 "Internet X.509 PKI Time-Stamp Protocol (TSP)" — https://www.rfc-editor.org/rfc/rfc3161:
  ``TimeStampReq`` (§2.4.1: version 1, ``messageImprint`` = hash algorithm + hash of the data,
  optional ``reqPolicy``, ``nonce``, ``certReq``), ``TimeStampResp`` (§2.4.2: ``PKIStatusInfo`` and,
  when granted, a ``TimeStampToken`` — CMS ``SignedData`` over a ``TSTInfo`` with ``genTime``, the
  same imprint and nonce, a serial number and the TSA's policy), the TSA certificate's
  ``extendedKeyUsage`` of only ``id-kp-timeStamping``, marked critical (§2.3), and HTTP as transport
  (§3.4: ``POST`` a DER ``TimeStampReq`` with ``Content-Type: application/timestamp-query``, answer
  a DER ``TimeStampResp`` with ``Content-Type: application/timestamp-reply``);
* RFC 5816 (ESSCertIDv2 in time-stamp tokens) — the token here carries ESSCertID (SHA-1, RFC 2634),
  which RFC 3161 clients, OpenSSL and pyHanko all accept;
* ``openssl ts`` (OpenSSL's manual, ``openssl-ts(1)``) — the reference client used in the tests.

**Time-stamping.** ``POST /`` (also ``/tsa``) with a DER ``TimeStampReq``. A granted reply holds a
token signed (RSA 2048, SHA-256 or the imprint's algorithm) by the TSA certificate, policy
``1.3.6.1.4.1.4146.2.2`` (pyHanko's test TSA policy), a random serial, ``genTime`` now (UTC) or the
factory's ``fixed_time``; the certificate is included when ``certReq`` is true (§2.4.1). A body that
is not a ``TimeStampReq`` is answered, as §2.4.2 asks, with status ``rejection`` and failInfo
``badDataFormat``; an imprint hashed with something other than SHA-1/SHA-2 (or of the wrong length)
with ``badAlg``; a ``reqPolicy`` other than ours with ``unacceptedPolicy``. Another content type is
refused with HTTP 415, another method with 405.

**Keys.** The TSA has its own small CA (``HCMGOV Demo TSA Root``, RSA 2048) and TSA certificate
(``HCMGOV Demo TSA``; keyUsage digitalSignature + nonRepudiation, extendedKeyUsage timeStamping
critical), made at start — or read from ``state_dir`` (factory option, else
``$HCMGOV_SIM_TSA_DIR``) where they are written the first time, so that tokens stay verifiable
across restarts of ``hcmgov sim tsa``. Verifiers must trust that root: ``GET /_sim/ca.pem``.
RSA, not ECDSA: pyHanko's dummy time-stamper, which builds the token here, signs with RSA only.

**Test endpoints** (not RFC 3161): ``GET /`` a page describing the TSA; ``GET /_sim/ca.pem`` and
``GET /_sim/tsa.pem`` the certificates (PEM); ``GET /_sim/requests`` ``{"granted": N, "rejected": N}``;
``POST /_sim/faults`` ``{"fault": "reject"|"garbage"|"slow", "times": N, "delay": s}`` —
the next N requests are rejected (status ``rejection``, failInfo ``systemFailure``), answered with
bytes that are no ``TimeStampResp``, or answered after ``delay`` seconds; ``DELETE /_sim/faults``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from asn1crypto import core, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hcmgov.simulators import StartResponse, WSGIApp
from hcmgov.simulators._http import Request, json_answer, page, text_answer

STATE_DIR_ENV = "HCMGOV_SIM_TSA_DIR"
POLICY = "1.3.6.1.4.1.4146.2.2"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
DIGEST_SIZES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
MAX_QUERY = 16 * 1024


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HCMGOV simulators"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_keys() -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    """A new CA certificate, TSA certificate and TSA key (the CA's key is thrown away)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("HCMGOV Demo TSA Root")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("HCMGOV Demo TSA"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, cert, key


def _load_or_make(state_dir: Path | None) -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    files = ("ca.pem", "tsa.pem", "tsa.key.pem")
    if state_dir is not None and all((state_dir / f).exists() for f in files):
        ca = x509.load_pem_x509_certificate((state_dir / "ca.pem").read_bytes())
        cert = x509.load_pem_x509_certificate((state_dir / "tsa.pem").read_bytes())
        key = serialization.load_pem_private_key((state_dir / "tsa.key.pem").read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return ca, cert, key
    ca, cert, key = make_keys()
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (state_dir / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (state_dir / "tsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(state_dir / "tsa.key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
    return ca, cert, key


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class _Rejection(core.Sequence):
    """A ``TimeStampResp`` without a token (asn1crypto's class requires one; RFC 3161 does not)."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(fail_info: str, text: str) -> bytes:
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({fail_info})}
    )
    return _Rejection({"status": status}).dump()


def _stamper_class() -> type:
    """pyHanko's dummy time-stamper, signing with a key loaded once: its own reloads the key from
    DER for every token, and loading an RSA key (with cryptography's key check) takes ~100 ms."""
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    class Stamper(DummyTimeStamper):
        def __init__(self, key: rsa.RSAPrivateKey, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.pyca_key = key

        def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt: dt.datetime) -> tuple[bytes, Any]:
            signed_attrs = self._signed_attrs(tst_info_data, md_algorithm, dt)
            signature = self.pyca_key.sign(
                signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
            )
            return signature, signed_attrs

        def _signed_attrs(self, tst_info_data: bytes, md_algorithm: str, when: dt.datetime) -> Any:
            from asn1crypto import cms
            from pyhanko.sign import general

            digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
            digest.update(tst_info_data)
            return cms.CMSAttributes(
                [
                    general.simple_cms_attribute("content_type", "tst_info"),
                    general.simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(when)})),
                    general.simple_cms_attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                    general.simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )

    return Stamper


class Authority:
    """The TSA: its keys, the token builder (pyHanko's dummy time-stamper), counters and faults."""

    def __init__(
        self,
        *,
        state_dir: str | Path | None = None,
        keys: tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey] | None = None,
        fixed_time: dt.datetime | None = None,
    ) -> None:
        folder = state_dir or os.environ.get(STATE_DIR_ENV) or None
        self.ca, self.cert, key = keys or _load_or_make(Path(folder) if folder else None)
        self.stamper = _stamper_class()(
            key,
            tsa_cert=_asn1(self.cert),
            tsa_key=asn1_keys.PrivateKeyInfo.load(
                key.private_bytes(
                    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            ),
            certs_to_embed=[_asn1(self.ca)],
            fixed_dt=fixed_time,
        )
        self.lock = threading.Lock()
        self.counts = {"granted": 0, "rejected": 0}
        self.faults: list[dict[str, Any]] = []

    def pem(self, which: str) -> str:
        cert = self.ca if which == "ca" else self.cert
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def _fault(self) -> dict[str, Any] | None:
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault["times"] -= 1
            if fault["times"] <= 0:
                self.faults.pop(0)
            return fault

    def _count(self, outcome: str) -> None:
        with self.lock:
            self.counts[outcome] += 1

    def answer(self, body: bytes) -> bytes:
        """The DER ``TimeStampResp`` to a DER ``TimeStampReq``."""
        fault = self._fault()
        if fault is not None:
            if fault["fault"] == "slow":
                time.sleep(float(fault.get("delay", 2.0)))
            elif fault["fault"] == "garbage":
                return b"\x30\x03\x02\x01"  # truncated DER
            else:
                self._count("rejected")
                return _rejection("system_failure", "simulated failure / lỗi giả lập")
        try:
            request = tsp.TimeStampReq.load(body)
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            policy = request["req_policy"].native
            cert_req = bool(request["cert_req"].native)
            request["nonce"].native  # noqa: B018 - parse every field now, not while signing
        except (ValueError, TypeError, KeyError):
            self._count("rejected")
            return _rejection("bad_data_format", "not a TimeStampReq / không phải TimeStampReq")
        if algorithm not in DIGEST_SIZES or len(digest) != DIGEST_SIZES[algorithm]:
            self._count("rejected")
            return _rejection("bad_alg", f"unsupported imprint {algorithm} / thuật toán không hỗ trợ")
        if policy is not None and policy != POLICY:
            self._count("rejected")
            return _rejection("unaccepted_policy", f"policy {POLICY} only / chỉ chính sách {POLICY}")
        response = self.stamper.request_tsa_response(request)
        if not cert_req:  # RFC 3161 §2.4.1: the certificate only when asked for
            signed = response["time_stamp_token"]["content"]
            signed["certificates"] = None
        self._count("granted")
        return response.dump()


def make_app(
    *,
    state_dir: str | Path | None = None,
    keys: tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey] | None = None,
    fixed_time: dt.datetime | None = None,
) -> WSGIApp:
    """The TSA as a WSGI app. ``keys`` (CA certificate, TSA certificate, TSA key) or ``state_dir``
    give it fixed keys; otherwise new ones are made. ``fixed_time``: every ``genTime``."""
    tsa = Authority(state_dir=state_dir, keys=keys, fixed_time=fixed_time)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "") or "/"
        if path in ("/", "/tsa") and method == "POST":
            if environ.get("CONTENT_TYPE", "").split(";")[0].strip() != QUERY_TYPE:
                return text_answer(
                    start_response, "415 Unsupported Media Type", f"expected {QUERY_TYPE}\n", "text/plain"
                )
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            body = environ["wsgi.input"].read(length) if 0 < length <= MAX_QUERY else b""
            data = tsa.answer(body)
            start_response("200 OK", [("Content-Type", REPLY_TYPE), ("Content-Length", str(len(data)))])
            return [data]
        if path in ("/", "/tsa") and method != "GET":
            start_response("405 Method Not Allowed", [("Allow", "GET, POST"), ("Content-Length", "0")])
            return [b""]
        if path == "/":
            body = (
                "<p>Dịch vụ cấp dấu thời gian giả lập (RFC 3161) / simulated time-stamping authority.</p>"
                f"<p>POST {QUERY_TYPE} → {REPLY_TYPE}. "
                '<a href="/_sim/ca.pem">CA</a> · <a href="/_sim/tsa.pem">TSA</a></p>'
                f"<pre>{html.escape(tsa.pem('tsa'))}</pre>"
            )
            return page(start_response, "200 OK", "TSA (mô phỏng / simulator)", body)
        if path in ("/_sim/ca.pem", "/_sim/tsa.pem"):
            which = "ca" if path == "/_sim/ca.pem" else "tsa"
            return text_answer(start_response, "200 OK", tsa.pem(which), "application/x-pem-file")
        if path == "/_sim/requests":
            with tsa.lock:
                return json_answer(start_response, "200 OK", dict(tsa.counts))
        if path == "/_sim/faults":
            request = Request.read(environ)
            with tsa.lock:
                if method == "POST":
                    fault = request.json()
                    if fault.get("fault") not in ("reject", "garbage", "slow"):
                        return json_answer(start_response, "400 Bad Request", {"error": "fault: reject|garbage|slow"})
                    tsa.faults.append({**fault, "times": int(fault.get("times", 1))})
                elif method == "DELETE":
                    tsa.faults.clear()
                return json_answer(start_response, "200 OK", {"faults": list(tsa.faults)})
        return json_answer(start_response, "404 Not Found", {"error": "not found"})

    app.tsa = tsa  # type: ignore[attr-defined]  # tests reach the keys
    return app
