"""The gateway's edge over HTTP: nginx with its Lua module and its control plane, between a
department's service and a consuming system — the same behaviour as the Python gateway
(test_gateway.py), with the token checked by its signature, the rights and limits in nginx, and the
message log shipped from nginx's lines onto a hash chain."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from hcmgov.exchange import services
from hcmgov.exchange.edge.config import EdgeSettings, worker_user
from hcmgov.exchange.edge.control import Edge
from hcmgov.exchange.gateway.logwriter import LogWriter
from hcmgov.exchange.logchain import GENESIS, chain_verify, record_hash, stored_fields
from hcmgov.exchange.models import MessageLogRecord
from hcmgov.exchange.tests.gateway_support import Department, call, free_port
from hcmgov.exchange.tests.test_gateway import SERVICE, build
from hcmgov.identity.provider.exchange_tokens import exchange_token_client, exchange_token_issue
from hcmgov.identity.tests.oidc_support import _client_secret_hasher  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.django_db(transaction=True)


def problem_code(body: bytes) -> str:
    """The stable code of a problem document ("" for any other answer, a provider's own included)."""
    try:
        return str(json.loads(body).get("code", ""))
    except ValueError:
        return ""


@dataclass
class World:
    edge: Edge
    department: Department
    token: str
    consumer: Any
    service: Any

    @property
    def url(self) -> str:
        return self.edge.url

    def x(self, rest: str) -> str:
        return f"{self.url}/x/{SERVICE}{rest}"

    def records(self) -> list[MessageLogRecord]:
        deadline = time.monotonic() + 5
        while True:  # nginx writes its lines every 10 ms (the flush below): wait for them
            self.edge.ship()
            records = list(  # the chains of the edge's workers: named after its control plane
                MessageLogRecord.objects.filter(node__startswith=self.edge.writer.node + ":").order_by("at", "seq")
            )
            if records or time.monotonic() > deadline:
                return records
            time.sleep(0.02)


def edge_for(directory: Path, node: str) -> Edge:
    user, group = worker_user()
    edge = EdgeSettings(
        user=user,
        user_group=group,
        port=free_port(),
        workers=1,
        directory=directory,
        python_gateway=f"http://127.0.0.1:{free_port()}",  # nothing there: the tests below stay on the edge
        modules=tuple(settings.EXCHANGE_EDGE_MODULES.split()),
        log_flush_ms=10,
    )
    return Edge(edge, writer=LogWriter(node=node, interval=0.01))


@pytest.fixture
def world(client, agency, tmp_path):
    with Department() as department:
        token, consumer, service = build(client, agency, department.url, timeout_seconds=1.0, max_body_bytes=100_000)
        edge = edge_for(tmp_path / "edge", "edge-test")
        edge.start()
        try:
            yield World(edge, department, token, consumer, service)
        finally:
            edge.stop()


def test_the_gateway_token_is_a_signed_jwt_the_edge_can_check_alone(world):
    assert world.token.count(".") == 2
    assert exchange_token_client(world.token) == world.consumer.client_id
    forged = world.token[:-4] + ("AAAA" if not world.token.endswith("AAAA") else "BBBB")
    assert exchange_token_client(forged) is None


def test_a_call_goes_through_unchanged_with_the_request_id_and_the_end_user(world):
    status, headers, body = call(
        world.x("/records/42?lang=vi&q=a%2Fb"),
        token=world.token,
        headers={"X-Request-Id": "req-123", "X-Hcmgov-End-User": "079123456789"},
    )
    assert status == 200
    assert json.loads(body) == {"id": "42", "ten": "Thửa đất số 42"}
    assert headers["x-request-id"] == "req-123"
    assert headers["x-department"] == "so-tnmt"
    seen = world.department.seen[-1]
    assert seen["path"] == "/records/42?lang=vi&q=a%2Fb"  # byte for byte, the encoded slash too
    assert seen["headers"]["x-request-id"] == "req-123"
    assert seen["headers"]["x-hcmgov-end-user"] == "079123456789"
    assert seen["headers"]["x-hcmgov-client"] == "000.00.31.H29/mot-cua"
    assert "authorization" not in seen["headers"]
    [record] = world.records()
    assert (record.service, record.method, record.status, record.error) == (SERVICE, "GET", 200, "")
    assert (record.consumer, record.end_user, record.request_id) == ("000.00.31.H29/mot-cua", "079123456789", "req-123")
    assert record.client_id == world.consumer.client_id
    assert (record.response_bytes, record.response_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert record.request_sha256 == hashlib.sha256(b"").hexdigest()
    assert (record.seq, record.prev_hash) == (1, GENESIS)
    assert record.hash == record_hash(stored_fields(record), GENESIS)


def test_a_path_that_is_not_utf8_once_decoded_is_still_logged(world):
    status, _, _ = call(world.x("/records/%FF%FE"), token=world.token)
    assert status in (200, 404)
    [record] = world.records()
    assert record.path == f"/x/{SERVICE}/records/\ufffd\ufffd"  # nginx's $uri, decoded; the call is never dropped
    assert record.hash == record_hash(stored_fields(record), GENESIS)


def test_bodies_pass_unchanged_and_both_are_hashed(world):
    sent = bytes(range(256)) * 300
    status, _, body = call(world.x("/echo/upload"), method="POST", token=world.token, body=sent)
    assert status == 200
    echoed = json.loads(body)
    assert (echoed["length"], echoed["sha256"]) == (len(sent), hashlib.sha256(sent).hexdigest())
    status, _, big = call(world.x("/big"), token=world.token)
    assert (status, big) == (200, (bytes(range(256)) * 256) * 40)
    deadline = time.monotonic() + 5
    while len(records := world.records()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    upload, download = records
    assert (upload.request_bytes, upload.request_sha256) == (len(sent), hashlib.sha256(sent).hexdigest())
    assert (upload.response_bytes, upload.response_sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert (download.response_bytes, download.response_sha256) == (len(big), hashlib.sha256(big).hexdigest())
    assert download.prev_hash == upload.hash


@pytest.mark.parametrize(
    ("path", "method", "token", "headers", "status", "code"),
    [
        ("/records/1", "GET", "", {}, 401, "exchange_unauthenticated"),
        ("/records/1", "GET", "forged-token", {}, 401, "exchange_unknown_client"),
        ("/records/1", "GET", "a.b.c", {}, 401, "exchange_unknown_client"),
        ("/records/1", "DELETE", None, {}, 403, "exchange_no_right"),
        ("/secret", "GET", None, {}, 403, "exchange_no_right"),
        ("/records/1", "GET", None, {"X-Request-Id": "bad id with spaces"}, 400, "exchange_bad_header"),
        ("/records/1", "GET", None, {"X-Hcmgov-End-User": "<script>"}, 400, "exchange_bad_header"),
        ("/records/1", "GET", "", {"Authorization": "Basic abc"}, 401, "exchange_unauthenticated"),
    ],
)
def test_each_refusal_has_its_stable_code_and_is_logged(world, path, method, token, headers, status, code):
    token = world.token if token is None else token
    got, answer_headers, body = call(world.x(path), method=method, token=token, headers=headers)
    assert (got, problem_code(body)) == (status, code)
    assert answer_headers["content-type"] == "application/problem+json"
    assert answer_headers["content-language"] == "vi"
    assert json.loads(body)["title"].startswith(("Cần", "Mã", "Hệ thống", "Tiêu đề"))
    assert world.department.seen == []
    [record] = world.records()
    assert (record.status, record.error) == (status, code)
    assert record.response_sha256 == hashlib.sha256(body).hexdigest()
    if status == 401:
        assert answer_headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_or_one_of_another_key_is_refused(world):
    expired = exchange_token_issue(client_id=world.consumer.client_id, scopes=["hcmgov.exchange"], lifetime=-1)
    assert problem_code(call(world.x("/records/1"), token=expired)[2]) == "exchange_unknown_client"
    api_only = exchange_token_issue(client_id=world.consumer.client_id, scopes=["hcmgov.api"], lifetime=60)
    assert problem_code(call(world.x("/records/1"), token=api_only)[2]) == "exchange_unknown_client"
    unknown = exchange_token_issue(client_id="no-such-client", scopes=["hcmgov.exchange"], lifetime=60)
    assert problem_code(call(world.x("/records/1"), token=unknown)[2]) == "exchange_unknown_client"


def test_english_when_asked(world):
    _, headers, body = call(world.x("/records/1"), headers={"Accept-Language": "en"})
    assert json.loads(body)["title"].startswith("An access token")
    assert headers["content-language"] == "en"


def test_a_longer_name_is_not_the_service(world):
    status, _, body = call(f"{world.url}/x/{SERVICE}-khac/records/1", token=world.token)
    assert status == 404 or problem_code(body) == "exchange_unknown_service"


def test_oversized_bodies_are_refused(world):
    status, _, body = call(world.x("/echo"), method="POST", token=world.token, body=b"x" * 100_001)
    assert (status, problem_code(body)) == (413, "exchange_body_too_large")

    def chunks():
        for _ in range(30):
            yield b"y" * 10_000

    status, _, body = call(world.x("/echo"), method="POST", token=world.token, body=chunks())
    assert (status, problem_code(body)) == (413, "exchange_body_too_large")
    assert world.department.seen == []


def test_a_slow_provider_times_out_and_blocks_nobody(world):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow = pool.submit(call, world.x("/slow?s=3"), token=world.token)
        fast = [pool.submit(call, world.x(f"/records/{n}"), token=world.token) for n in range(3)]
        assert [f.result()[0] for f in fast] == [200, 200, 200]
        assert not slow.done()
        status, _, body = slow.result()
    assert (status, problem_code(body)) == (504, "exchange_provider_timeout")


def test_a_provider_that_is_down(client, agency, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    token, _, _ = build(client, agency, dead, retries=1)
    edge = edge_for(tmp_path / "edge", "edge-down")
    edge.start()
    try:
        status, _, body = call(f"{edge.url}/x/{SERVICE}/records/1", token=token)
    finally:
        edge.stop()
    assert (status, problem_code(body)) == (502, "exchange_provider_down")
    [record] = MessageLogRecord.objects.filter(node__startswith="edge-down:")
    assert (record.status, record.error) == (502, "exchange_provider_down")


def test_idempotent_calls_are_retried_others_are_not_and_the_breaker_opens(world):
    world.department.fail_with = 503
    status, _, _ = call(world.x("/records/1"), token=world.token)
    assert status == 503
    assert len(world.department.seen) == 3  # 1 + 2 retries (GET)
    world.department.seen.clear()
    status, _, _ = call(world.x("/echo"), method="POST", token=world.token, body=b"{}")
    assert status == 503
    assert len(world.department.seen) == 1  # POST: never repeated
    for _ in range(10):  # nginx counts failures per server entry (one per attempt): a few calls open it
        world.department.seen.clear()
        code = problem_code(call(world.x("/records/1"), token=world.token)[2])
        if code == "exchange_circuit_open" and not world.department.seen:
            break
    world.department.seen.clear()
    status, _, body = call(world.x("/records/1"), token=world.token)
    assert (status, problem_code(body)) == (503, "exchange_circuit_open")
    assert world.department.seen == []


def test_rate_limit_and_daily_quota(client, agency, tmp_path):
    with Department() as department:
        token, consumer, _ = build(client, agency, department.url)
        consumer.rate_per_second, consumer.burst, consumer.daily_quota = 1, 2, 3
        consumer.save()
        edge = edge_for(tmp_path / "edge", "edge-quota")
        edge.start()
        try:
            url = f"{edge.url}/x/{SERVICE}/records/1"
            answers = [call(url, token=token) for _ in range(3)]
            assert [a[0] for a in answers] == [200, 200, 429]
            assert problem_code(answers[2][2]) == "exchange_rate_limited"
            assert int(answers[2][1]["retry-after"]) >= 1
            time.sleep(1.1)
            assert call(url, token=token)[0] == 200  # the 3rd of the day (the refused one took nothing)
            time.sleep(1.1)
            # the workers count the calls themselves: the 4th is refused at once, before any shipping
            status, headers, body = call(url, token=token)
            assert (status, problem_code(body)) == (429, "exchange_daily_quota")
            assert int(headers["retry-after"]) >= 1
        finally:
            edge.stop()
        # a new edge (the calls shipped meanwhile) starts from the day's count in the message log
        edge = edge_for(tmp_path / "edge2", "edge-quota-2")
        edge.start()
        try:
            time.sleep(1.1)
            status, _, body = call(f"{edge.url}/x/{SERVICE}/records/1", token=token)
            assert (status, problem_code(body)) == (429, "exchange_daily_quota")
        finally:
            edge.stop()


def test_revoked_rights_and_disconnected_systems_take_effect_at_the_next_refresh(world):
    from hcmgov.exchange.models import AccessRight

    for right in AccessRight.objects.filter(path_prefix="/records"):
        services.right_revoke(right=right)
    assert world.edge.refresh()
    deadline = time.monotonic() + 5
    while True:
        status, _, body = call(world.x("/records/1"), token=world.token)
        if status != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (status, problem_code(body)) == (403, "exchange_no_right")


def test_the_log_survives_a_restart_of_the_control_plane_without_a_gap_or_a_double(world, tmp_path):
    for n in range(5):
        assert call(world.x(f"/records/{n}"), token=world.token)[0] == 200
    time.sleep(0.1)
    # the control plane stopped before it saved its place: a new one reads the lines again
    world.edge.ship()
    (world.edge.dir / "access.pos").write_text(json.dumps({"offset": 0, "inode": world.edge._inode}))
    again = Edge(world.edge.settings, writer=LogWriter(node="edge-test-2", interval=0.01))
    again._resume()
    again.writer.start()
    try:
        assert again.ship() == 0  # every line read again was stored already
    finally:
        again.writer.stop()
    assert MessageLogRecord.objects.count() == 5
    assert chain_verify().ok


# --- mutual TLS: a system bound to its client certificate (RFC 8705) ----------------------------------


def _pki(directory: Path) -> dict[str, Path]:
    """A CA, the edge's server certificate and two client certificates of that CA, as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(cn: str, issuer_key: Any, issuer: x509.Name, *, ca: bool = False, san: str = "") -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer if not ca else name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return key, builder.sign(key if ca else issuer_key, hashes.SHA256())

    ca_key, ca = issue("hcmgov test CA", None, name("hcmgov test CA"), ca=True)
    files: dict[str, Path] = {}

    def write(stem: str, key: Any, cert: Any) -> None:
        files[stem] = directory / f"{stem}.pem"
        files[stem].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[stem + "_key"] = directory / f"{stem}.key"
        files[stem + "_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    write("ca", ca_key, ca)
    for stem, cn in (("server", "localhost"), ("client", "mot-cua"), ("other", "khac")):
        key, cert = issue(cn, ca_key, ca.subject, san=cn)
        write(stem, key, cert)
    for path in files.values():
        path.chmod(0o644)  # nginx's master reads them (it starts as root; the test may not)
    return files


def _tls_call(url: str, token: str, ca: Path, cert: Path | None = None, key: Path | None = None) -> tuple[int, bytes]:
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_system_bound_to_its_certificate_needs_it_over_mutual_tls(client, agency, tmp_path):
    pki = _pki(tmp_path / "pki")
    with Department() as department:
        token, consumer, _ = build(client, agency, department.url)
        services.system_connect(
            member=consumer.member,
            code=consumer.code,
            name=consumer.name,
            name_en=consumer.name_en,
            client_id=consumer.client_id,
            rate_per_second=1000,
            burst=1000,
            certificate_pem=pki["client"].read_text(),
        )
        user, group = worker_user()
        edge = Edge(
            EdgeSettings(
                user=user,
                user_group=group,
                port=free_port(),
                workers=1,
                directory=tmp_path / "edge",
                python_gateway=f"http://127.0.0.1:{free_port()}",
                modules=tuple(settings.EXCHANGE_EDGE_MODULES.split()),
                log_flush_ms=10,
                tls_certificate=str(pki["server"]),
                tls_key=str(pki["server_key"]),
                tls_client_ca=str(pki["ca"]),
            ),
            writer=LogWriter(node="edge-tls", interval=0.01),
        )
        edge_url = edge.url
        assert edge_url.startswith("https://")
        try:
            edge.start()
            url = f"{edge_url}/x/{SERVICE}/records/7"
            status, body = _tls_call(url, token, pki["ca"], pki["client"], pki["client_key"])
            assert status == 200, body
            status, body = _tls_call(url, token, pki["ca"])  # the token alone
            assert (status, problem_code(body)) == (401, "exchange_certificate_required")
            status, body = _tls_call(url, token, pki["ca"], pki["other"], pki["other_key"])  # another's certificate
            assert (status, problem_code(body)) == (401, "exchange_certificate_required")
        finally:
            edge.stop()
