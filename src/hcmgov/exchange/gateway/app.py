"""The gateway as a raw ASGI application: authenticate the calling system (an OAuth2 access token of
the city's OpenID provider, client credentials, scope ``hcmgov.exchange``), check its right on the
service and its limits, pass the call to the provider unchanged — bodies streamed both ways, the
end user's identity and a request id in headers — and record it in the message log.

Nothing on a call's path reads the database: the registry is a snapshot refreshed every few
seconds, tokens are checked once per process and kept (as the API keeps them), and the message log
is written in batches by a thread (``logwriter``). Refusals carry a stable code (``exchange.*``) in
an RFC 9457 problem document, in Vietnamese unless the caller asks for English, and are logged
like calls.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from django.conf import settings
from django.db import connections
from yarl import URL

from hcmgov.common import metrics
from hcmgov.exchange import selectors
from hcmgov.exchange.gateway.limits import Breaker, Limiter, LocalLimiter, RedisLimiter
from hcmgov.exchange.gateway.logwriter import LogWriter
from hcmgov.exchange.selectors import Consumer, ServiceEntry, Snapshot

log = logging.getLogger("hcmgov.exchange.gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/x/"
# Not passed on (RFC 9110 §7.6.1 hop-by-hop fields; the caller's own credentials for the gateway;
# Host, which names the provider)
HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"authorization",
        b"x-hcmgov-client",
        b"x-hcmgov-client-certificate",
        b"x-forwarded-for",
    }
)
# the provider's request id (an echo of ours, or its own) gives way to the gateway's, sent once
RESPONSE_DROP = HOP | {b"x-request-id"}
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
END_USER = re.compile(r"^[\w.@:+-]{1,200}$")
CODE = selectors.CODE_PATTERN
REPLAYABLE_BODY = 64 * 1024  # idempotent calls with a body up to this size are kept for a retry
WHOLE_ANSWER = 64 * 1024  # answers up to this size (with a length) are read whole, then sent at once
KEPT_BODY = 1024 * 1024  # bodies kept in the log (services with log_bodies) up to this size each
TOKEN_CACHE_SECONDS = 30.0
TOKEN_CACHE_MAX = 10_000

MESSAGES: dict[str, tuple[int, str, str]] = {
    "exchange_not_found": (404, "Không có địa chỉ này trên nền tảng.", "No such address on the platform."),
    "exchange_unknown_service": (
        404,
        "Dịch vụ không tồn tại hoặc đã ngừng cung cấp.",
        "No such service, or it is no longer offered.",
    ),
    "exchange_unauthenticated": (
        401,
        "Cần mã truy cập (Bearer) của hệ thống gọi dịch vụ.",
        "An access token (Bearer) of the calling system is required.",
    ),
    "exchange_unknown_client": (
        401,
        "Mã truy cập không hợp lệ, đã hết hạn, hoặc hệ thống gọi chưa được đăng ký trên nền tảng.",
        "The access token is not valid or has expired, or the calling system is not registered.",
    ),
    "exchange_certificate_required": (
        401,
        "Hệ thống gọi phải xuất trình chứng thư số TLS đã đăng ký (xác thực hai chiều, mTLS).",
        "The calling system must present its registered TLS client certificate (mutual TLS).",
    ),
    "exchange_no_right": (
        403,
        "Hệ thống gọi chưa được cấp quyền sử dụng dịch vụ này (phương thức, đường dẫn).",
        "The calling system has no right to this service (method, path).",
    ),
    "exchange_rate_limited": (
        429,
        "Vượt quá số lần gọi mỗi giây được phép, vui lòng thử lại sau.",
        "Over the calls per second allowed: try again later.",
    ),
    "exchange_daily_quota": (
        429,
        "Đã dùng hết hạn mức số lần gọi trong ngày.",
        "The day's quota of calls is used up.",
    ),
    "exchange_body_too_large": (
        413,
        "Dữ liệu gửi lên vượt quá dung lượng dịch vụ cho phép.",
        "The body is larger than the service accepts.",
    ),
    "exchange_bad_header": (400, "Tiêu đề yêu cầu không hợp lệ.", "A request header is not valid."),
    "exchange_circuit_open": (
        503,
        "Hệ thống cung cấp dịch vụ đang gặp sự cố, tạm ngừng chuyển yêu cầu; vui lòng thử lại sau.",
        "The provider is failing: calls are paused for a while; try again later.",
    ),
    "exchange_provider_down": (
        502,
        "Không kết nối được hệ thống cung cấp dịch vụ.",
        "The provider could not be reached.",
    ),
    "exchange_provider_timeout": (
        504,
        "Hệ thống cung cấp dịch vụ không trả lời kịp thời hạn.",
        "The provider did not answer in time.",
    ),
    "exchange_log_unavailable": (
        503,
        "Nhật ký giao dịch tạm thời không ghi được; yêu cầu chưa được chuyển đi, vui lòng thử lại sau.",
        "The message log cannot be written for now; the call was not passed on. Try again later.",
    ),
}


class Refusal(Exception):
    def __init__(self, code: str, *, detail: str = "", headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.headers = headers or []


class BodyTooLarge(Exception):
    pass


@dataclass
class Call:
    """What the message log records of one call."""

    started: float
    at: Any
    request_id: str
    method: str
    path: str
    client_id: str = ""
    consumer: str = ""
    service: str = ""
    end_user: str = ""
    status: int = 0
    error: str = ""
    request_bytes: int = 0
    response_bytes: int = 0
    request_sha256: str = hashlib.sha256(b"").hexdigest()
    response_sha256: str = hashlib.sha256(b"").hexdigest()
    bodies: tuple[bytes, bytes] | None = None


def problem(code: str, *, english: bool, instance: str, request_id: str, detail: str = "") -> tuple[int, bytes]:
    status, vi, en = MESSAGES[code]
    text = en if english else vi
    body = {
        "type": f"https://dichvucong.hochiminhcity.gov.vn/problems/{code}",
        "title": text,
        "status": status,
        "detail": detail or text,
        "code": code,
        "instance": instance,
        "request_id": request_id,
    }
    return status, json.dumps(body, ensure_ascii=False).encode()


class Gateway:
    """One per process. ``snapshot_loader`` and ``token_checker`` are the registry's and the
    identity provider's reads (in a thread); tests may run the app in-process with a fresh one."""

    def __init__(self, *, writer: LogWriter | None = None, limiter: Limiter | None = None) -> None:
        self.snapshot = Snapshot()
        self.writer = writer or LogWriter(interval=settings.EXCHANGE_LOG_INTERVAL)
        self.limiter: Limiter = limiter or (
            RedisLimiter(settings.EXCHANGE_REDIS_URL) if settings.EXCHANGE_REDIS_URL else LocalLimiter()
        )
        self.breakers: dict[int, Breaker] = {}
        self.tokens: dict[str, tuple[float, str]] = {}  # sha256(token) → (valid until, client_id)
        self.peer_tokens: dict[str, tuple[float, str]] = {}
        self.peer_locks: dict[str, asyncio.Lock] = {}
        self.session: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._counters: dict[tuple[str, int, str], Any] = {}
        self.timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._histograms: dict[str, Any] = {}
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------

    async def startup(self) -> None:
        if self._started:
            return
        self._started = True
        self.writer.start()
        await self.refresh()
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=256, keepalive_timeout=30, ttl_dns_cache=60)
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            # no cookie jar: a provider's Set-Cookie goes back to its caller, and is never kept and
            # sent on with the next call, which may be another system's
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # the providers are reached directly, whatever proxy the host sets
        )
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def shutdown(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        if self.session is not None:
            await self.session.close()
        await asyncio.to_thread(self.writer.stop)
        self._started = False

    async def refresh(self) -> None:
        self.snapshot = await asyncio.to_thread(_load_snapshot)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.EXCHANGE_REGISTRY_REFRESH)
            try:
                await self.refresh()
            except Exception:  # keep routing by the last snapshot while the database is away
                log.exception("exchange registry refresh failed")

    # --- ASGI -------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        if not self._started:
            await self.startup()
        await self.handle(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope["headers"]
        english = _wants_english(headers)
        path: str = scope["path"]
        if path == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}', b"application/json", [])
            return
        if path == "/metrics":
            authorization = next((v for k, v in headers if k == b"authorization"), b"").decode("latin-1")
            if not metrics.scrape_allowed(authorization):
                await _answer(send, 401, b"", b"text/plain", [(b"www-authenticate", b'Bearer realm="metrics"')])
                return
            body, content_type = metrics.exposition()
            await _answer(send, 200, body, content_type.encode(), [])
            return
        call = Call(time.perf_counter(), dt.datetime.now(dt.UTC), "", scope["method"], path[:2000])
        try:
            call.request_id = _request_id(headers)
            await self._route(scope, receive, send, headers, call)
        except Refusal as refusal:
            call.error = refusal.code
            status, body = problem(
                refusal.code, english=english, instance=path, request_id=call.request_id, detail=refusal.detail
            )
            call.status = status
            call.response_bytes = len(body)
            call.response_sha256 = hashlib.sha256(body).hexdigest()
            extra = [(b"x-request-id", call.request_id.encode()), *refusal.headers]
            if status == 401:
                extra.append((b"www-authenticate", b'Bearer realm="hcmgov-exchange"'))
            await _answer(send, status, body, b"application/problem+json", extra, english=english)
        self._record(call)

    async def _route(self, scope: Scope, receive: Receive, send: Send, headers: list[Any], call: Call) -> None:
        path = call.path
        if not path.startswith(PREFIX):
            raise Refusal("exchange_not_found")
        parts = path[len(PREFIX) :].split("/", 3)
        if parts[0] == "_meta":
            consumer = await self._authenticate(headers, call)
            await self._meta(parts[1:], scope, send, consumer, call)
            return
        if len(parts) < 3 or not all(CODE.match(p) for p in parts[:3]):
            raise Refusal("exchange_not_found")
        service_path = "/".join(parts[:3])
        call.service = service_path
        consumer = await self._authenticate(headers, call)
        service = self.snapshot.services.get(service_path)
        if service is None:
            raise Refusal("exchange_unknown_service")
        rest = "/" + parts[3] if len(parts) == 4 else "/"
        if not self.snapshot.allowed(consumer, service, call.method, rest):
            raise Refusal("exchange_no_right")
        ok, wait, which = await self.limiter.take(
            consumer.client_id, rate=consumer.rate, burst=consumer.burst, daily=consumer.daily_quota, now=time.time()
        )
        if not ok:
            raise Refusal(
                "exchange_daily_quota" if which == "daily" else "exchange_rate_limited",
                headers=[(b"retry-after", str(max(1, round(wait + 0.5))).encode())],
            )
        if self.writer.overloaded():
            raise Refusal("exchange_log_unavailable")
        await self._proxy(scope, receive, send, headers, call, consumer, service)

    # --- who calls ---------------------------------------------------------------------------------

    async def _authenticate(self, headers: list[Any], call: Call) -> Consumer:
        raw = ""
        for name, value in headers:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise Refusal("exchange_unauthenticated")
                raw = token.strip()
            elif name == b"x-hcmgov-end-user":
                user = value.decode("utf-8", "replace")
                if not END_USER.match(user):
                    raise Refusal("exchange_bad_header", detail="X-Hcmgov-End-User")
                call.end_user = user
        if not raw:
            raise Refusal("exchange_unauthenticated")
        key = hashlib.sha256(raw.encode()).hexdigest()
        now = time.time()
        kept = self.tokens.get(key)
        if kept is None or kept[0] <= now:
            client_id, until = await asyncio.to_thread(_check_token, raw)
            if client_id is None:
                self.tokens.pop(key, None)
                raise Refusal("exchange_unknown_client")
            if len(self.tokens) >= TOKEN_CACHE_MAX:
                self.tokens.clear()
            kept = self.tokens[key] = (min(now + TOKEN_CACHE_SECONDS, float(until)), client_id)
        consumer = self.snapshot.consumers.get(kept[1])
        if consumer is None:
            raise Refusal("exchange_unknown_client")
        call.client_id, call.consumer = consumer.client_id, consumer.name
        if consumer.certificate_sha256 and _presented_certificate(headers) != consumer.certificate_sha256:
            raise Refusal("exchange_certificate_required")
        return consumer

    # --- metadata ------------------------------------------------------------------------------------

    async def _meta(self, parts: list[str], scope: Scope, send: Send, consumer: Consumer, call: Call) -> None:
        what = parts[0] if parts else ""
        query = dict(pair.split("=", 1) for pair in scope.get("query_string", b"").decode().split("&") if "=" in pair)
        if what == "services" and len(parts) == 1:
            data: Any = await asyncio.to_thread(_read, selectors.services_offered, member=query.get("member", ""))
        elif what == "allowed" and len(parts) == 1:
            data = await asyncio.to_thread(_read, selectors.services_allowed, consumer_id=consumer.id)
        elif what == "openapi" and len(parts) > 1:
            target = "/".join(parts[1:]).split("/")
            if len(target) != 3 or not all(CODE.match(p) for p in target):
                raise Refusal("exchange_not_found")
            data = await asyncio.to_thread(_read, selectors.service_openapi, path="/".join(target))
            if data is None:
                raise Refusal("exchange_unknown_service")
        else:
            raise Refusal("exchange_not_found")
        body = json.dumps(data, ensure_ascii=False).encode()
        call.status, call.service = 200, f"_meta/{what}"
        call.response_bytes, call.response_sha256 = len(body), hashlib.sha256(body).hexdigest()
        await _answer(send, 200, body, b"application/json", [(b"x-request-id", call.request_id.encode())])

    # --- the call ------------------------------------------------------------------------------------

    async def _proxy(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: list[Any],
        call: Call,
        consumer: Consumer,
        service: ServiceEntry,
    ) -> None:
        length = -1
        forward: list[tuple[str, str]] = []
        forwarded_for = ""
        for name, value in headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise Refusal("exchange_bad_header", detail="Content-Length") from None
                if length < 0:
                    raise Refusal("exchange_bad_header", detail="Content-Length")
            if name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1") + ", "
            if name not in HOP:
                forward.append((name.decode("latin-1"), value.decode("latin-1")))
        if length > service.max_body:
            raise Refusal("exchange_body_too_large")
        client = scope.get("client")
        forward += [
            ("X-Request-Id", call.request_id),
            ("X-Hcmgov-Client", consumer.name),
            ("X-Forwarded-For", forwarded_for + (client[0] if client else "")),
        ]
        if service.peer is not None:
            forward.append(("Authorization", "Bearer " + await self._peer_token(service)))
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        prefix_len = len(PREFIX) + len(service.path)
        rest = raw_path[prefix_len:].decode("latin-1") or ""
        query = scope.get("query_string", b"").decode("latin-1")
        url = URL(service.upstream + rest + ("?" + query if query else ""), encoded=True)

        breaker = self.breakers.setdefault(service.id, Breaker())
        if not breaker.allow(time.monotonic()):
            raise Refusal("exchange_circuit_open")
        keep = service.log_bodies
        request_hash = hashlib.sha256()
        kept_request = bytearray()
        counted = [0]
        too_large = [False]

        # The body: read whole when small and the call idempotent (so it can be sent again), else
        # streamed to the provider as it arrives, counted and hashed on the way.
        has_body = length > 0 or (length < 0 and call.method not in {"GET", "HEAD", "OPTIONS", "DELETE"})
        replay: bytes | None = b"" if not has_body else None
        if has_body and call.method in IDEMPOTENT and 0 <= length <= REPLAYABLE_BODY:
            replay = await _read_all(receive, service.max_body)
            request_hash.update(replay)
            counted[0] = len(replay)
            if keep:
                kept_request += replay[:KEPT_BODY]

        async def stream() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                chunk = message.get("body", b"")
                if chunk:
                    counted[0] += len(chunk)
                    if counted[0] > service.max_body:
                        too_large[0] = True  # aiohttp may wrap the exception: the flag says why
                        raise BodyTooLarge
                    request_hash.update(chunk)
                    if keep and len(kept_request) < KEPT_BODY:
                        kept_request.extend(chunk[: KEPT_BODY - len(kept_request)])
                    yield chunk
                if not message.get("more_body", False):
                    return

        assert self.session is not None
        timeout = self.timeouts.get(service.timeout)
        if timeout is None:
            timeout = self.timeouts[service.timeout] = aiohttp.ClientTimeout(
                total=None, sock_connect=min(5.0, service.timeout), sock_read=service.timeout
            )
        attempts = 1 + (service.retries if call.method in IDEMPOTENT and replay is not None else 0)
        response = None
        error = ""
        for attempt in range(attempts):
            try:
                response = await self.session.request(
                    call.method,
                    url,
                    headers=forward,
                    data=replay if replay is not None else stream(),
                    timeout=timeout,
                    allow_redirects=False,
                )
            except BodyTooLarge:
                breaker.record(True, time.monotonic())  # the caller's fault, not the provider's
                raise Refusal("exchange_body_too_large") from None
            except (TimeoutError, aiohttp.ServerTimeoutError):
                error = "exchange_provider_timeout"
            except (aiohttp.ClientError, OSError):
                if too_large[0]:
                    breaker.record(True, time.monotonic())
                    raise Refusal("exchange_body_too_large") from None
                error = "exchange_provider_down"
            else:
                if response.status in (502, 503, 504) and attempt + 1 < attempts:
                    response.release()
                    response, error = None, ""
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                error = ""
                break
            if attempt + 1 < attempts and error == "exchange_provider_down":
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            break
        call.request_bytes = counted[0]
        call.request_sha256 = request_hash.hexdigest()
        if response is None:
            breaker.record(False, time.monotonic())
            raise Refusal(error or "exchange_provider_down")
        breaker.record(response.status not in (502, 503, 504), time.monotonic())
        await self._relay(send, response, call, keep, bytes(kept_request))

    async def _relay(
        self, send: Send, response: aiohttp.ClientResponse, call: Call, keep: bool, kept_request: bytes
    ) -> None:
        out = [(k.lower(), v) for k, v in response.raw_headers if k.lower() not in RESPONSE_DROP]
        out.append((b"x-request-id", call.request_id.encode()))
        call.status = response.status
        response_hash = hashlib.sha256()
        kept_response = bytearray()
        size = 0
        length = response.content_length
        if length is not None and length <= WHOLE_ANSWER:  # small: read whole, then one send
            try:
                body = await response.read()
            except (TimeoutError, aiohttp.ServerTimeoutError):
                raise Refusal("exchange_provider_timeout") from None
            except (aiohttp.ClientError, OSError):
                raise Refusal("exchange_provider_down") from None
            finally:
                response.release()
            call.response_bytes, call.response_sha256 = len(body), hashlib.sha256(body).hexdigest()
            if keep:
                call.bodies = (kept_request, body[:KEPT_BODY])
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            await send({"type": "http.response.body", "body": body})
            return
        try:
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            async for chunk in response.content.iter_any():
                size += len(chunk)
                response_hash.update(chunk)
                if keep and len(kept_response) < KEPT_BODY:
                    kept_response.extend(chunk[: KEPT_BODY - len(kept_response)])
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (TimeoutError, aiohttp.ServerTimeoutError):
            call.error = "exchange_provider_timeout"  # the answer had begun: it is cut short
        except (aiohttp.ClientError, OSError):
            call.error = "exchange_provider_down"
        finally:
            response.release()
            call.response_bytes = size
            call.response_sha256 = response_hash.hexdigest()
            if keep:
                call.bodies = (kept_request, bytes(kept_response))

    async def _peer_token(self, service: ServiceEntry) -> str:
        """The city's access token on a peer platform (NDXP), by client credentials, kept until a
        minute before it expires; one request at a time per peer."""
        peer = service.peer
        assert peer is not None
        assert self.session is not None
        kept = self.peer_tokens.get(peer.code)
        if kept and kept[0] > time.time():
            return kept[1]
        lock = self.peer_locks.setdefault(peer.code, asyncio.Lock())
        async with lock:
            kept = self.peer_tokens.get(peer.code)
            if kept and kept[0] > time.time():
                return kept[1]
            data = {"grant_type": "client_credentials", **({"scope": peer.scope} if peer.scope else {})}
            try:
                async with self.session.post(
                    peer.token_url,
                    data=data,
                    headers={"Authorization": _basic(peer.client_id, peer.client_secret)},
                    timeout=aiohttp.ClientTimeout(total=min(10.0, service.timeout)),
                ) as answer:
                    if answer.status != 200:
                        raise Refusal("exchange_provider_down", detail=f"peer token: HTTP {answer.status}")
                    token = await answer.json(content_type=None)
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                raise Refusal("exchange_provider_down", detail=f"peer {peer.code}: no token") from None
            access = str(token.get("access_token") or "")
            if not access:
                raise Refusal("exchange_provider_down", detail=f"peer {peer.code}: no token")
            expires = time.time() + max(30.0, float(token.get("expires_in") or 300) - 60)
            self.peer_tokens[peer.code] = (expires, access)
            return access

    # --- the log -------------------------------------------------------------------------------------

    def _record(self, call: Call) -> None:
        seconds = time.perf_counter() - call.started
        entry = {
            "at": call.at,
            "request_id": call.request_id,
            "client_id": call.client_id,
            "consumer": call.consumer,
            "service": call.service,
            "method": call.method[:10],
            "path": call.path,
            "end_user": call.end_user,
            "status": call.status,
            "error": call.error,
            "duration_ms": round(seconds * 1000, 3),
            "request_bytes": call.request_bytes,
            "response_bytes": call.response_bytes,
            "request_sha256": call.request_sha256,
            "response_sha256": call.response_sha256,
        }
        if call.bodies is not None and _bodies_kept():
            entry["_bodies"] = call.bodies
        self.writer.append(entry)
        label = call.service if call.service in self.snapshot.services else "-"
        key = (label, call.status, call.error)
        counter = self._counters.get(key)
        if counter is None:  # the labelled children, looked up once per process
            counter = self._counters[key] = metrics.EXCHANGE_CALLS.labels(label, str(call.status), call.error)
        counter.inc()
        histogram = self._histograms.get(label)
        if histogram is None:
            histogram = self._histograms[label] = metrics.EXCHANGE_LATENCY.labels(label)
        histogram.observe(seconds)


# --- helpers ---------------------------------------------------------------------------------------


def _read(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """A read of the database off the event loop, in a worker thread, on a connection closed
    afterwards: these reads are rare (a snapshot every few seconds, a token once per process, a
    metadata call), and a connection held by an idle thread would be one PostgreSQL keeps open for
    nothing."""
    try:
        return fn(**kwargs)
    finally:
        connections.close_all()  # this thread's connections only (they are per thread)


def _load_snapshot() -> Snapshot:
    return _read(selectors.registry_snapshot, now=time.time())


def _check_token(raw: str) -> tuple[str | None, float | str]:
    from hcmgov.identity.provider.services import oauth_client_token

    return _read(oauth_client_token, raw=raw)


def _bodies_kept() -> bool:
    from hcmgov.exchange.bodies import bodies_kept

    return bodies_kept()


_ids = itertools.count(1)
_ID_PREFIX = uuid.uuid4().hex[:12]


def _basic(user: str, password: str) -> str:
    """HTTP Basic credentials (RFC 7617), the OAuth2 client's form of RFC 6749 §2.3.1."""
    from urllib.parse import quote

    pair = f"{quote(user, safe='')}:{quote(password, safe='')}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _request_id(headers: list[Any]) -> str:
    """The caller's X-Request-Id, else a new one: this process's random prefix and a counter
    (unique without asking the system for randomness on every call)."""
    for name, value in headers:
        if name == b"x-request-id":
            rid = value.decode("latin-1")
            if not REQUEST_ID.match(rid):
                raise Refusal("exchange_bad_header", detail="X-Request-Id")
            return rid
    return f"{_ID_PREFIX}{next(_ids):x}"


def _presented_certificate(headers: list[Any]) -> str:
    """The SHA-256 of the TLS client certificate the edge verified for this call (its header), when
    this process is configured to trust the edge's headers; else "" — a system bound to a
    certificate is then refused here, as this process cannot see the caller's TLS."""
    if not settings.EXCHANGE_TRUST_EDGE_HEADERS:
        return ""
    for name, value in headers:
        if name == b"x-hcmgov-client-certificate":
            return value.decode("latin-1").strip().lower()
    return ""


def _wants_english(headers: list[Any]) -> bool:
    for name, value in headers:
        if name == b"accept-language":
            return value.strip().lower().startswith(b"en")
    return False


async def _read_all(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > limit:
            raise Refusal("exchange_body_too_large")
        if not message.get("more_body", False):
            return bytes(body)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]],
    *,
    english: bool | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    if english is not None:
        headers.append((b"content-language", b"en" if english else b"vi"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
