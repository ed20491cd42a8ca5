"""The RFC 3161 time-stamping simulator, over HTTP: pyHanko's client and ``openssl ts -verify``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from asn1crypto import core, tsp
from cryptography import x509
from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

from hcmgov import simulators
from hcmgov.common.aio import run_sync

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def tsa_url():
    with simulators.running("tsa") as url:
        yield url


def _post(url: str, body: bytes, content_type: str = "application/timestamp-query") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")  # noqa: S310 - the simulator's http URL
    try:
        with _OPENER.open(request) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_pyhanko_gets_a_token_for_its_digest(tsa_url):
    digest = hashlib.sha256(b"ket qua").digest()
    token = run_sync(HTTPTimeStamper(tsa_url).async_timestamp(digest, "sha256"))
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    signer_cert = token["content"]["certificates"][0].chosen
    tsa_certs = [
        c.chosen
        for c in token["content"]["certificates"]
        if c.chosen.subject.native["common_name"] == "HCMGOV Demo TSA"
    ]
    assert tsa_certs
    assert signer_cert is not None
    eku = x509.load_der_x509_certificate(tsa_certs[0].dump()).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
@pytest.mark.parametrize("cert_req", [True, False])
def test_openssl_verifies_the_reply(tsa_url, tmp_path: Path, cert_req: bool):
    data = tmp_path / "data.txt"
    data.write_text("Giấy chứng nhận / certificate")
    query = tmp_path / "q.tsq"
    args = ["openssl", "ts", "-query", "-data", str(data), "-sha256", "-out", str(query)]
    subprocess.run([*args, "-cert"] if cert_req else args, check=True, capture_output=True)  # noqa: S603 - openssl
    status, content_type, body = _post(tsa_url, query.read_bytes())
    assert (status, content_type) == (200, "application/timestamp-reply")
    reply = tmp_path / "r.tsr"
    reply.write_bytes(body)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_OPENER.open(tsa_url + "/_sim/ca.pem").read())
    verify = ["openssl", "ts", "-verify", "-data", str(data), "-in", str(reply), "-CAfile", str(ca)]
    if not cert_req:  # RFC 3161 §2.4.1: no certificate in the token unless asked for; give it apart
        tsa_pem = tmp_path / "tsa.pem"
        tsa_pem.write_bytes(_OPENER.open(tsa_url + "/_sim/tsa.pem").read())
        verify += ["-untrusted", str(tsa_pem)]
    run = subprocess.run(verify, capture_output=True, text=True)  # noqa: S603 - openssl, our own files
    assert "Verification: OK" in run.stdout, run.stdout + run.stderr


class _Rejection(core.Sequence):  # asn1crypto's TimeStampResp insists on a token, RFC 3161 does not
    _fields = [("status", tsp.PKIStatusInfo)]


def _status(body: bytes) -> tuple[str, set[str]]:
    status = _Rejection.load(body)["status"]
    return status["status"].native, set(status["fail_info"].native or ())


def test_garbage_is_rejected_as_bad_data_format(tsa_url):
    status, content_type, body = _post(tsa_url, b"not DER")
    assert status == 200
    assert content_type == "application/timestamp-reply"
    assert _status(body) == ("rejection", {"bad_data_format"})


def test_a_wrong_digest_length_is_bad_alg_and_a_foreign_policy_is_refused(tsa_url):
    imprint = tsp.MessageImprint({"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"short"})
    assert _status(_post(tsa_url, tsp.TimeStampReq({"version": 1, "message_imprint": imprint}).dump())[2]) == (
        "rejection",
        {"bad_alg"},
    )
    good = tsp.MessageImprint({"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\x01" * 32})
    request = tsp.TimeStampReq({"version": 1, "message_imprint": good, "req_policy": "1.2.3.4"})
    assert _status(_post(tsa_url, request.dump())[2]) == ("rejection", {"unaccepted_policy"})


def test_other_content_types_and_methods_are_refused(tsa_url):
    assert _post(tsa_url, b"x", "application/octet-stream")[0] == 415
    request = urllib.request.Request(tsa_url, method="PUT", data=b"")  # noqa: S310 - the simulator's http URL
    with pytest.raises(urllib.error.HTTPError) as refused:
        _OPENER.open(request)
    assert refused.value.code == 405


def test_a_fault_makes_the_next_request_fail(tsa_url):
    request = urllib.request.Request(  # noqa: S310 - the simulator's http URL
        tsa_url + "/_sim/faults",
        data=json.dumps({"fault": "reject"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    _OPENER.open(request).read()
    with pytest.raises(Exception, match=r"(?i)rejection|system|timestamp"):
        run_sync(HTTPTimeStamper(tsa_url).async_timestamp(hashlib.sha256(b"x").digest(), "sha256"))
    counts = json.loads(_OPENER.open(tsa_url + "/_sim/requests").read())
    assert counts["rejected"] >= 1
    assert counts["granted"] >= 0


def test_keys_kept_in_a_state_dir_survive_a_restart(tmp_path: Path):
    with simulators.running("tsa", state_dir=tmp_path) as first:
        ca1 = _OPENER.open(first + "/_sim/ca.pem").read()
    with simulators.running("tsa", state_dir=tmp_path) as second:
        assert _OPENER.open(second + "/_sim/ca.pem").read() == ca1
    assert oct((tmp_path / "tsa.key.pem").stat().st_mode & 0o777) == "0o600"
