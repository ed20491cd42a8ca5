"""The gateway over HTTP: a department's system publishes a service, another system consumes it
through ``/x/...`` with a client-credentials token of the city's OpenID provider; rights, limits,
the provider's failures and the message log behave as the issue says."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pytest

from hcmgov.common.aio import run_sync
from hcmgov.exchange import services
from hcmgov.exchange.gateway.app import Gateway
from hcmgov.exchange.gateway.logwriter import LogWriter
from hcmgov.exchange.logchain import GENESIS, record_hash, stored_fields
from hcmgov.exchange.models import MessageLogRecord
from hcmgov.exchange.tests.gateway_support import Department, call, free_port, gateway_running
from hcmgov.identity.provider import services as provider
from hcmgov.identity.tests.oidc_support import _client_secret_hasher, basic  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.django_db(transaction=True)

SERVICE = "000.00.12.H29/dat-dai/thua-dat"


@dataclass
class World:
    gateway: Gateway
    url: str
    department: Department
    token: str
    consumer: Any
    service: Any

    def x(self, rest: str) -> str:
        return f"{self.url}/x/{SERVICE}{rest}"

    def records(self) -> list[MessageLogRecord]:
        assert self.gateway.writer.flush()
        return list(MessageLogRecord.objects.order_by("seq"))


def token_for(client, app, scope="hcmgov.exchange") -> str:
    response = client.post("/o/token/", {"grant_type": "client_credentials", "scope": scope}, **basic(app))
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def build(client, agency, upstream: str, **service_options: Any) -> tuple[str, Any, Any]:
    app = provider.machine_client_register(name="Hệ thống một cửa quận 1", agency_id=agency.pk)
    provider_member = services.member_register(
        code="000.00.12.H29", name="Sở Tài nguyên và Môi trường", name_en="DONRE"
    )
    consumer_member = services.member_register(code="000.00.31.H29", name="UBND Quận 1", name_en="District 1")
    land = services.system_connect(member=provider_member, code="dat-dai", name="CSDL đất đai", name_en="Land DB")
    consumer = services.system_connect(
        member=consumer_member,
        code="mot-cua",
        name="Một cửa điện tử",
        name_en="One-stop",
        client_id=app.client_id,
        rate_per_second=1000,
        burst=1000,
    )
    service = services.service_publish(
        system=land,
        code="thua-dat",
        name="Tra cứu thửa đất",
        name_en="Land parcels",
        upstream_url=upstream,
        openapi={"openapi": "3.1.0", "info": {"title": "Thửa đất", "version": "1"}, "paths": {}},
        **service_options,
    )
    services.right_grant(service=service, consumer=consumer, methods="GET", path_prefix="/records")
    services.right_grant(service=service, consumer=consumer, path_prefix="/echo")
    services.right_grant(service=service, consumer=consumer, methods="GET", path_prefix="/slow")
    services.right_grant(service=service, consumer=consumer, methods="GET", path_prefix="/big")
    return token_for(client, app), consumer, service


@pytest.fixture
def world(client, agency):
    with Department() as department:
        token, consumer, service = build(client, agency, department.url, timeout_seconds=1.0, max_body_bytes=100_000)
        gateway = Gateway(writer=LogWriter(node="test-node", interval=0.01))
        with gateway_running(gateway) as url:
            yield World(gateway, url, department, token, consumer, service)


def problem_code(body: bytes) -> str:
    return json.loads(body)["code"]


def test_a_call_goes_through_unchanged_with_the_request_id_and_the_end_user(world):
    status, headers, body = call(
        world.x("/records/42?lang=vi"),
        token=world.token,
        headers={"X-Request-Id": "req-123", "X-Hcmgov-End-User": "079123456789"},
    )
    assert status == 200
    assert json.loads(body) == {"id": "42", "ten": "Thửa đất số 42"}
    assert headers["x-request-id"] == "req-123"
    assert headers["x-department"] == "so-tnmt"  # the provider's headers come back
    seen = world.department.seen[-1]
    assert seen["path"] == "/records/42?lang=vi"
    assert seen["headers"]["x-request-id"] == "req-123"
    assert seen["headers"]["x-hcmgov-end-user"] == "079123456789"
    assert seen["headers"]["x-hcmgov-client"] == "000.00.31.H29/mot-cua"
    assert "authorization" not in seen["headers"]  # the caller's token stays at the gateway
    [record] = world.records()
    assert (record.service, record.method, record.status, record.error) == (SERVICE, "GET", 200, "")
    assert (record.consumer, record.end_user, record.request_id) == ("000.00.31.H29/mot-cua", "079123456789", "req-123")
    assert record.response_sha256 == hashlib.sha256(body).hexdigest()
    assert record.request_sha256 == hashlib.sha256(b"").hexdigest()
    assert (record.seq, record.prev_hash) == (1, GENESIS)
    assert record.hash == record_hash(stored_fields(record), GENESIS)


def test_bodies_stream_both_ways_unchanged(world):
    sent = bytes(range(256)) * 300  # 76,800 bytes: above what is kept for a retry, under the limit
    status, _, body = call(world.x("/echo/upload"), method="POST", token=world.token, body=sent)
    assert status == 200
    echoed = json.loads(body)
    assert (echoed["length"], echoed["sha256"]) == (len(sent), hashlib.sha256(sent).hexdigest())
    status, _, big = call(world.x("/big"), token=world.token)
    assert status == 200
    assert big == (bytes(range(256)) * 256) * 40
    upload, download = world.records()
    assert (upload.request_bytes, upload.request_sha256) == (len(sent), hashlib.sha256(sent).hexdigest())
    assert (download.response_bytes, download.response_sha256) == (len(big), hashlib.sha256(big).hexdigest())
    assert download.prev_hash == upload.hash


@pytest.mark.parametrize(
    ("path", "method", "token", "headers", "status", "code"),
    [
        ("/records/1", "GET", "", {}, 401, "exchange_unauthenticated"),
        ("/records/1", "GET", "forged-token", {}, 401, "exchange_unknown_client"),
        ("/records/1", "DELETE", None, {}, 403, "exchange_no_right"),  # GET only on /records
        ("/secret", "GET", None, {}, 403, "exchange_no_right"),  # no path granted
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
    assert json.loads(body)["title"].startswith(("Cần", "Mã", "Hệ thống", "Tiêu đề"))  # Vietnamese first
    assert world.department.seen == []  # nothing reached the provider
    [record] = world.records()
    assert (record.status, record.error) == (status, code)


def test_english_when_asked(world):
    _, headers, body = call(world.x("/records/1"), headers={"Accept-Language": "en"})
    assert json.loads(body)["title"].startswith("An access token")
    assert headers["content-language"] == "en"


def test_unknown_service_and_address(world):
    assert problem_code(call(f"{world.url}/x/000.00.12.H29/dat-dai/khong-co/1", token=world.token)[2]) == (
        "exchange_unknown_service"
    )
    assert problem_code(call(f"{world.url}/khac", token=world.token)[2]) == "exchange_not_found"


def test_oversized_bodies_are_refused_whole_or_streamed(world):
    status, _, body = call(world.x("/echo"), method="POST", token=world.token, body=b"x" * 100_001)
    assert (status, problem_code(body)) == (413, "exchange_body_too_large")
    assert world.department.seen == []  # refused on Content-Length, before anything was sent

    def chunks():
        for _ in range(30):
            yield b"y" * 10_000

    status, _, body = call(world.x("/echo"), method="POST", token=world.token, body=chunks())  # chunked: no length
    assert (status, problem_code(body)) == (413, "exchange_body_too_large")


def test_a_slow_provider_times_out_and_blocks_nobody(world):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow = pool.submit(call, world.x("/slow?s=3"), token=world.token)
        fast = [pool.submit(call, world.x(f"/records/{n}"), token=world.token) for n in range(3)]
        assert [f.result()[0] for f in fast] == [200, 200, 200]  # answered while the slow one waits
        assert not slow.done()
        status, _, body = slow.result()
    assert (status, problem_code(body)) == (504, "exchange_provider_timeout")


def test_a_provider_that_is_down(client, agency):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    token, _, _ = build(client, agency, dead, retries=1)
    gateway = Gateway(writer=LogWriter(node="test-down", interval=0.01))
    with gateway_running(gateway) as url:
        status, _, body = call(f"{url}/x/{SERVICE}/records/1", token=token)
    assert (status, problem_code(body)) == (502, "exchange_provider_down")


def test_idempotent_calls_are_retried_others_are_not_and_the_breaker_opens(world):
    world.department.fail_with = 503
    status, _, _ = call(world.x("/records/1"), token=world.token)
    assert status == 503  # the provider's own answer, after the retries
    assert len(world.department.seen) == 3  # 1 + 2 retries (GET)
    world.department.seen.clear()
    status, _, _ = call(world.x("/echo"), method="POST", token=world.token, body=b"{}")
    assert status == 503
    assert len(world.department.seen) == 1  # POST: never repeated
    for _ in range(3):
        call(world.x("/records/1"), token=world.token)
    world.department.seen.clear()
    status, _, body = call(world.x("/records/1"), token=world.token)
    assert (status, problem_code(body)) == (503, "exchange_circuit_open")
    assert world.department.seen == []  # not called while open


def test_rate_limit_and_daily_quota(client, agency):
    with Department() as department:
        token, consumer, _ = build(client, agency, department.url)
        consumer.rate_per_second, consumer.burst, consumer.daily_quota = 1, 2, 3
        consumer.save()
        gateway = Gateway(writer=LogWriter(node="test-quota", interval=0.01))
        with gateway_running(gateway) as url:
            answers = [call(f"{url}/x/{SERVICE}/records/1", token=token) for _ in range(3)]
            assert [a[0] for a in answers] == [200, 200, 429]
            assert problem_code(answers[2][2]) == "exchange_rate_limited"
            assert int(answers[2][1]["retry-after"]) >= 1
            import time

            time.sleep(1.1)
            assert call(f"{url}/x/{SERVICE}/records/1", token=token)[0] == 200  # the 3rd of the day
            time.sleep(1.1)
            status, _, body = call(f"{url}/x/{SERVICE}/records/1", token=token)
            assert (status, problem_code(body)) == (429, "exchange_daily_quota")


def test_revoked_rights_and_disconnected_systems_take_effect_at_the_next_refresh(world):

    from hcmgov.exchange.models import AccessRight

    for right in AccessRight.objects.filter(path_prefix="/records"):
        services.right_revoke(right=right)
    run_sync(world.gateway.refresh())
    status, _, body = call(world.x("/records/1"), token=world.token)
    assert (status, problem_code(body)) == (403, "exchange_no_right")


def test_metadata_lists_services_what_the_caller_may_use_and_the_openapi_document(world):
    status, _, body = call(f"{world.url}/x/_meta/services", token=world.token)
    assert status == 200
    assert [s["id"] for s in json.loads(body)] == [SERVICE]
    allowed = json.loads(call(f"{world.url}/x/_meta/allowed", token=world.token)[2])
    assert allowed[0]["id"] == SERVICE
    assert {(r["methods"], r["path_prefix"]) for r in allowed[0]["rights"]} >= {("GET", "/records"), ("*", "/echo")}
    status, _, body = call(f"{world.url}/x/_meta/openapi/{SERVICE}", token=world.token)
    assert (status, json.loads(body)["openapi"]) == (200, "3.1.0")
    assert call(f"{world.url}/x/_meta/services")[0] == 401


def test_a_person_token_or_an_api_token_is_not_a_gateway_client(client, world, agency):
    app = provider.machine_client_register(name="Khác", agency_id=agency.pk)
    api_only = token_for(client, app, scope="hcmgov.api")
    status, _, body = call(world.x("/records/1"), token=api_only)
    assert (status, problem_code(body)) == (401, "exchange_unknown_client")


def test_the_log_writer_keeps_what_it_could_not_write_and_leaves_no_gap(monkeypatch):
    """The database refuses a batch: the records stay queued, in order, and are written in the
    same places of the chain once it answers again."""
    from hcmgov.exchange.gateway import logwriter as module
    from hcmgov.exchange.logchain import chain_verify

    writer = LogWriter(node="test-retry", interval=0.01)
    real = module.fast_insert_many
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("database away")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "fast_insert_many", flaky)
    entry = {
        "at": __import__("django.utils.timezone", fromlist=["now"]).now(),
        "request_id": "r",
        "client_id": "c",
        "consumer": "m/s",
        "service": SERVICE,
        "method": "GET",
        "path": "/x/a",
        "end_user": "",
        "status": 200,
        "error": "",
        "duration_ms": 1.5,
        "request_bytes": 0,
        "response_bytes": 2,
        "request_sha256": hashlib.sha256(b"").hexdigest(),
        "response_sha256": hashlib.sha256(b"{}").hexdigest(),
    }
    writer.start()
    for n in range(5):
        writer.append({**entry, "request_id": f"r{n}"})
    assert writer.flush(timeout=30)
    writer.stop()
    assert writer.failures == 2
    records = list(MessageLogRecord.objects.filter(node="test-retry").order_by("seq"))
    assert [(r.seq, r.request_id) for r in records] == [(n + 1, f"r{n}") for n in range(5)]
    assert chain_verify(node="test-retry").ok


def test_altering_one_logged_call_is_found_by_the_verify_command(world):
    from django.core.management import CommandError, call_command

    for n in range(4):
        assert call(world.x(f"/records/{n}"), token=world.token)[0] == 200
    records = world.records()
    assert len(records) == 4
    call_command("exchange", "verify")  # intact: no error
    MessageLogRecord.objects.filter(pk=records[2].pk).update(path="/x/khac")  # someone edits the log
    with pytest.raises(CommandError) as refused:
        call_command("exchange", "verify", stdout=(out := __import__("io").StringIO()))
    assert refused.value.returncode == 1
    assert f"{records[2].node} #3" in out.getvalue()  # the altered record, named


def test_national_services_are_reached_through_the_peer_with_the_citys_own_token(client, agency):
    """The national platform (NDXP) as a peer: a city system calls the population database through
    the city's gateway, which calls the national one with the city's account there."""
    from hcmgov import simulators
    from hcmgov.simulators import ndxp

    app = provider.machine_client_register(name="Cổng dịch vụ công", agency_id=agency.pk)
    token = token_for(client, app)
    with simulators.running("ndxp") as base:
        peer = services.peer_register(
            code="NDXP",
            name="Nền tảng tích hợp, chia sẻ dữ liệu quốc gia",
            gateway_url=base,
            token_url=base + "/token",
            client_id=ndxp.CLIENT_ID,
            client_secret=ndxp.CLIENT_SECRET,
        )
        vn = services.member_register(
            code="VN", name="Các cơ quan trung ương", name_en="National", kind="national", peer=peer
        )
        bca = services.system_connect(member=vn, code="BCA", name="Bộ Công an", name_en="Ministry of Public Security")
        population = services.service_publish(
            system=bca, code="CSDLQGDC", name="CSDL quốc gia về dân cư", name_en="National population database"
        )
        city = services.member_register(code="000.00.00.H29", name="UBND Thành phố", name_en="City People's Committee")
        portal = services.system_connect(
            member=city, code="cong-dvc", name="Cổng dịch vụ công", name_en="Portal", client_id=app.client_id
        )
        services.right_grant(service=population, consumer=portal, methods="GET", path_prefix="/citizens")
        person = "079090000001"
        with gateway_running(Gateway(writer=LogWriter(node="test-peer", interval=0.01))) as url:
            status, headers, body = call(
                f"{url}/x/VN/BCA/CSDLQGDC/citizens/{person}", token=token, headers={"X-Request-Id": "ndxp-1"}
            )
            again = call(f"{url}/x/VN/BCA/CSDLQGDC/citizens/{person}", token=token)
        stats = json.loads(call(base + "/_sim/stats")[2])
    assert status == 200, body
    assert person in body.decode()  # the national database's answer, unchanged
    assert again[0] == 200
    assert headers["x-request-id"] == "ndxp-1"
    assert stats["tokens_issued"] == 1  # one token for both calls, kept by the gateway
    assert next(r["request_id"] for r in stats["recent"] if "citizens" in r["path"]) == "ndxp-1"


def test_the_operations_page_shows_calls_errors_and_latency_per_service(world, client):
    from hcmgov.identity.tests.factories import UserFactory

    for n in range(3):
        call(world.x(f"/records/{n}"), token=world.token)
    call(world.x("/secret"), token=world.token)  # refused: an error of the service
    world.records()
    admin = UserFactory(admin=True)
    client.force_login(admin)
    page = client.get("/admin/exchange/service/operations/", {"hours": "2"})
    assert page.status_code == 200
    row = next(r for r in page.context["rows"] if r["service"] == SERVICE)
    assert (row["calls"], row["errors"]) == (4, 1)
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert page.context["connected"] == 2
    assert "Vận hành / Operations" in client.get("/admin/exchange/service/").content.decode()
    client.force_login(UserFactory())
    assert client.get("/admin/exchange/service/operations/").status_code in (302, 403)


def test_a_providers_cookie_goes_to_its_caller_and_is_never_sent_on(world):
    status, headers, _ = call(world.x("/echo/set-cookie"), method="POST", token=world.token, body=b"{}")
    assert status == 200
    assert headers["set-cookie"].startswith("sid=secret-of-the-first-caller")
    call(world.x("/echo/next"), method="POST", token=world.token, body=b"{}")
    assert "cookie" not in world.department.seen[-1]["headers"]


def test_bodies_are_kept_encrypted_when_the_service_asks_and_a_key_is_set(client, agency, settings):
    from cryptography.fernet import Fernet

    from hcmgov.exchange.bodies import _fernet, bodies_decrypt

    settings.EXCHANGE_LOG_KEYS = Fernet.generate_key().decode()
    _fernet.cache_clear()
    try:
        with Department() as department:
            token, _, _ = build(client, agency, department.url, log_bodies=True)
            gateway = Gateway(writer=LogWriter(node="test-bodies", interval=0.01))
            with gateway_running(gateway) as url:
                sent = "Họ tên: Nguyễn Văn An".encode()
                status, _, answer = call(f"{url}/x/{SERVICE}/echo/ho-so", method="POST", token=token, body=sent)
            assert status == 200
            assert gateway.writer.flush()
        record = MessageLogRecord.objects.get(node="test-bodies")
        assert sent not in bytes(record.bodies)  # not readable without the key
        assert bodies_decrypt(token=record.bodies) == (sent, answer)
        assert record.hash == record_hash(stored_fields(record), record.prev_hash)
    finally:
        _fernet.cache_clear()


def test_a_system_bound_to_a_certificate_is_refused_here_unless_the_edge_vouches_for_it(client, agency, settings):
    """The Python gateway cannot see the caller's TLS: a bound system passes only with the edge's
    header, and only where the setting says the edge is the one way in."""
    with Department() as department:
        token, consumer, _ = build(client, agency, department.url)
        consumer.certificate_sha256 = "ab" * 32
        consumer.save()
        gateway = Gateway(writer=LogWriter(node="test-bound", interval=0.01))
        with gateway_running(gateway) as url:
            vouched = {"X-Hcmgov-Client-Certificate": "ab" * 32}
            status, _, body = call(f"{url}/x/{SERVICE}/records/1", token=token, headers=vouched)
            assert (status, problem_code(body)) == (401, "exchange_certificate_required")
            settings.EXCHANGE_TRUST_EDGE_HEADERS = True
            assert call(f"{url}/x/{SERVICE}/records/1", token=token, headers=vouched)[0] == 200
            status, _, body = call(f"{url}/x/{SERVICE}/records/1", token=token)
            assert (status, problem_code(body)) == (401, "exchange_certificate_required")
            assert "x-hcmgov-client-certificate" not in department.seen[-1]["headers"]
