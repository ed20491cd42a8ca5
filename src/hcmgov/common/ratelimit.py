"""Rate limits: a token bucket per key (an IoT device, a client address on a public form, an API
token), kept in Redis when ``REDIS_URL`` is set so that every node behind the load balancer counts
the same bucket, else in this process (the embedded default, one process).

A bucket holds ``burst`` tokens and refills at ``rate`` per second; each request takes one. While
Redis cannot be reached a node counts on its own and tries Redis again after
``SHARED_RETRY_SECONDS``: a limiter's store being down never refuses a citizen (fail open to a
per-process limit, not to none). Why our own bucket rather than django-ratelimit: decision 0036.

Views use :func:`limited` (pages: a bilingual 429 page with ``Retry-After``) and the API raises
:class:`RateLimited` (a 429 problem document), both through :func:`allow`.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hcmgov.common.errors import DomainError, Message

SHARED_RETRY_SECONDS = 5.0
MAX_LOCAL_KEYS = 50_000  # a process forgets full buckets past this many keys (addresses are many)


class RateLimiter:
    """A token bucket per key in this process: ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.buckets: dict[Hashable, list[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable, n: int = 1, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                if len(self.buckets) >= MAX_LOCAL_KEYS:
                    self._forget_full(now)
                bucket = self.buckets[key] = [self.burst, now]
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if tokens < n:
                bucket[0] = tokens
                return False
            bucket[0] = tokens - n
            return True

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing."""
        refill = self.burst / max(self.rate, 1e-9)
        for key in [k for k, (_, at) in self.buckets.items() if now - at >= refill]:
            del self.buckets[key]
        if len(self.buckets) >= MAX_LOCAL_KEYS:  # a flood of fresh keys: start over rather than grow
            self.buckets.clear()


# One round trip: the key's bucket (tokens, at) in a hash, taken ``n`` at a time, atomically.
_SHARED_TAKE = """
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local rate, burst, now, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens = math.min(burst, (tonumber(b[1]) or burst) + math.max(0, now - (tonumber(b[2]) or now)) * rate)
local ok = 0
if tokens >= n then tokens = tokens - n; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / math.max(rate, 0.001)) + 60)
return ok
"""


class SharedRateLimiter:
    """The same bucket kept in Redis under ``prefix`` + key, shared by every node; this process's
    own :class:`RateLimiter` while Redis is unreachable."""

    def __init__(self, url: str, rate: float, burst: int, *, prefix: str) -> None:
        import redis
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self.rate, self.burst, self.prefix = rate, float(burst), prefix
        self.client: Any = redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.5)
        self.script = self.client.register_script(_SHARED_TAKE)
        self.unreachable = (RedisConnectionError, RedisTimeoutError, OSError)
        self.fallback = RateLimiter(rate, burst)
        self.down_until = 0.0

    def take(self, key: Hashable, n: int = 1, now: float | None = None) -> bool:
        if time.monotonic() < self.down_until:
            return self.fallback.take(key, n)
        try:
            ok = self.script(keys=[f"{self.prefix}{key}"], args=[self.rate, self.burst, time.time(), n])
        except self.unreachable:
            self.down_until = time.monotonic() + SHARED_RETRY_SECONDS
            return self.fallback.take(key, n)
        self.down_until = 0.0
        return bool(ok)


# --- named limits of the platform (settings.RATE_LIMITS: name → (per second, burst)) -----------

_limiters: dict[str, RateLimiter | SharedRateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(name: str) -> RateLimiter | SharedRateLimiter | None:
    """The limiter of a named limit, made once per process; None when the limit is switched off
    (a rate of 0)."""
    found = _limiters.get(name)
    if found is not None:
        return found
    rate, burst = settings.RATE_LIMITS[name]
    if rate <= 0:
        return None
    with _limiters_lock:
        found = _limiters.get(name)
        if found is None:
            url = getattr(settings, "REDIS_URL", "")
            found = (
                SharedRateLimiter(url, rate, int(burst), prefix=f"hcmgov:rate:{name}:")
                if url
                else RateLimiter(rate, int(burst))
            )
            _limiters[name] = found
    return found


def reset() -> None:
    """Forget every limiter (settings changed: tests)."""
    with _limiters_lock:
        _limiters.clear()


def allow(name: str, key: Hashable | Callable[[], Hashable]) -> bool:
    """Take one token from ``key``'s bucket under the named limit; False: refuse the request.
    ``key`` may be a function, called only when the limit is on (a client's address is not worked
    out on the hot public pages of a deployment that switched the limit off)."""
    found = limiter(name)
    if found is None:
        return True
    return found.take(key() if callable(key) else key)


def retry_after(name: str) -> int:
    """Seconds until the bucket holds one token again (what ``Retry-After`` says)."""
    rate, _ = settings.RATE_LIMITS[name]
    return max(1, math.ceil(1.0 / rate)) if rate > 0 else 1


class RateLimited(DomainError):
    """Too many requests under a named limit: 429 with ``Retry-After``."""

    def __init__(self, name: str) -> None:
        super().__init__(
            code="rate_limited",
            message=Message(
                "Quá nhiều yêu cầu trong thời gian ngắn. Vui lòng thử lại sau ít phút.",
                "Too many requests in a short time. Please try again in a few minutes.",
            ),
            status=429,
        )
        self.retry_after = retry_after(name)


def client_address(request: HttpRequest) -> str:
    """The client's address as the login lockout sees it (django-axes, through the proxy)."""
    from axes.helpers import get_client_ip_address

    return str(get_client_ip_address(request) or request.META.get("REMOTE_ADDR") or "")


def decided_key(name: str) -> str:
    """The WSGI environ key under which a fast path (``hcmgov.common.fastpath``) that already took
    this request's token leaves its decision, so that Django's path, answering the same request
    (a 404, a refusal), does not count it twice. No header can set it: clients' headers arrive as
    ``HTTP_*`` keys."""
    return f"hcmgov.ratelimit.{name}"


def _allowed(request: HttpRequest, name: str) -> bool:
    """The client's address may make this request: the decision a fast path already took for it
    (``decided_key``), else a token taken now."""
    decided = request.META.get(decided_key(name))
    if decided is None:
        decided = allow(name, lambda: client_address(request))
    return bool(decided)


def check_address(request: HttpRequest, name: str) -> None:
    """An API route open to anyone: raise :class:`RateLimited` past the named limit of the client's
    address."""
    if not _allowed(request, name):
        raise RateLimited(name)


def limited(name: str, *, methods: tuple[str, ...] = ("GET", "POST")) -> Callable[[Any], Any]:
    """Decorate a public page: each client address may make ``methods`` requests at the named
    limit's rate; beyond it, the bilingual "too many requests" page (429, ``Retry-After``)."""

    def decorate(view: Any) -> Any:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in methods and not _allowed(request, name):
                return too_many(request, name)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def too_many(request: HttpRequest, name: str) -> HttpResponse:
    from django.shortcuts import render

    seconds = retry_after(name)
    response = render(request, "429.html", {"seconds": seconds, "minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response
