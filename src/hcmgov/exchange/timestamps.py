"""RFC 3161 time stamps over the message log's chain heads (``exchange.logchain``): asked of the
time-stamping authority with pyHanko's HTTP client, and checked with asn1crypto, pyHanko's CMS
integrity check and cryptography — without network, so that ``hcmgov exchange verify`` can check
any seal offline.

Sources: RFC 3161 §2.4.2 (the token: a CMS SignedData over a TSTInfo, its messageImprint the hash
of the stamped data), §2.3 (the TSA's certificate: extended key usage ``id-kp-timeStamping``
only); RFC 5652 §5.4 (the signed attributes carry the content's digest, the signature covers them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from hcmgov.common.aio import run_sync
from hcmgov.common.errors import Message

log = logging.getLogger(__name__)


class TokenInvalid(Exception):
    """A time-stamp token that does not prove what it should; ``message`` says why."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message


def stamp(*, data: list[bytes], url: str, timeout: float) -> list[bytes]:
    """An RFC 3161 token (DER) over each of ``data`` (imprint: its SHA-256) from the TSA at ``url``,
    one request after the other. Raises what pyHanko raises (``TimestampRequestError`` on a
    refusal or a connection failure)."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    async def run() -> list[bytes]:
        stamper = HTTPTimeStamper(url, timeout=timeout)
        tokens = []
        for item in data:
            token = await stamper.async_timestamp(hashlib.sha256(item).digest(), "sha256")
            tokens.append(token.dump())
        return tokens

    return run_sync(run())


def token_check(*, token: bytes, data: bytes) -> dt.datetime:
    """Check an RFC 3161 TimeStampToken (DER) over ``data``: a CMS SignedData holding a TSTInfo
    whose messageImprint is the SHA-256 of ``data``, signed (digest of the TSTInfo, signed
    attributes, signature) by the certificate the token carries, a certificate for time-stamping.
    Returns the token's ``genTime``; raises :class:`TokenInvalid`. The certificate must chain to a
    root the platform trusts (``HCMGOV_TRUSTED_ROOTS``, the demo CA)."""
    from asn1crypto import cms, core, tsp
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.validation.generic_cms import (
        extract_certs_for_validation,
        extract_signer_info,
        validate_sig_integrity,
    )

    def bad(vi: str, en: str) -> TokenInvalid:
        return TokenInvalid(Message(vi, en))

    try:
        info = cms.ContentInfo.load(bytes(token))
        if info["content_type"].native != "signed_data":
            raise bad("không phải CMS SignedData", "not a CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        content = encap["content"]
        tst = content.parsed if isinstance(content, core.ParsableOctetString) else None
        if encap["content_type"].native != "tst_info" or not isinstance(tst, tsp.TSTInfo):
            raise bad("không chứa TSTInfo", "it holds no TSTInfo")
        imprint = tst["message_imprint"]
        expected = hashlib.sha256(data).digest()
        if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != expected:
            raise bad("dấu thời gian cấp cho dữ liệu khác (messageImprint)", "it stamps other data (messageImprint)")
        gen_time: dt.datetime = tst["gen_time"].native
        signer_info = extract_signer_info(signed)
        certificate = extract_certs_for_validation(signed).signer_cert
        digest = hashes.Hash(get_pyca_cryptography_hash(signer_info["digest_algorithm"]["algorithm"].native))
        digest.update(bytes(content))
        intact, valid = validate_sig_integrity(signer_info, certificate, "tst_info", digest.finalize())
        extensions = x509.load_der_x509_certificate(certificate.dump()).extensions
        stamping = any(
            isinstance(ext.value, x509.ExtendedKeyUsage) and ExtendedKeyUsageOID.TIME_STAMPING in ext.value
            for ext in extensions
        )
    except TokenInvalid:
        raise
    except Exception as exc:  # asn1crypto's and pyHanko's errors on a malformed or foreign token
        raise bad(f"không đọc hoặc kiểm tra được ({exc})", f"it cannot be read or checked ({exc})") from exc
    if not intact:
        raise bad("TSTInfo đã bị sửa sau khi ký", "its TSTInfo was changed after it was signed")
    if not valid:
        raise bad("chữ ký không đúng", "its signature does not verify")
    if not stamping:
        raise bad("chứng thư ký không dùng để cấp dấu thời gian", "its certificate is not a time-stamping one")
    if not _trusted(signed, data):
        raise bad(
            "chứng thư của đơn vị cấp dấu thời gian không thuộc chuỗi tin cậy (HCMGOV_TRUSTED_ROOTS)",
            "the time-stamping authority's certificate does not chain to a trusted root (HCMGOV_TRUSTED_ROOTS)",
        )
    return gen_time


def _trusted(signed: Any, data: bytes) -> bool:
    """Whether the token's signer chains to a root the platform trusts (pyHanko's validation of a
    time-stamp token, with the documents module's validation context): without it anyone with a
    key of their own could stamp a rewritten log."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus

    from hcmgov.documents.services import trust_context

    try:
        kwargs = run_sync(
            validate_tst_signed_data(signed, trust_context(), lambda algorithm: hashlib.new(algorithm, data).digest())
        )
        return bool(TimestampSignatureStatus(**kwargs).trusted)
    except Exception:  # pyHanko's validation errors: not trusted
        log.warning("message log seal: the time stamp's certificate could not be validated", exc_info=True)
        return False
