"""Rate limits and daily quotas per calling system, and the circuit breaker per service.

Limits are kept in the gateway process by default (each process counts its own calls: behind a load
balancer with N gateway processes a system gets up to N times its rate) and in Redis when
``EXCHANGE_REDIS_URL`` is set, shared by every process and node of the city. While Redis is
unreachable each process counts on its own again (a caller gets up to N times its rate, as without
Redis), rather than refusing or failing every call: docs/operations/degradation.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

VN = dt.timezone(dt.timedelta(hours=7))
log = logging.getLogger(__name__)
REDIS_RETRY_SECONDS = 5.0  # after a failure, Redis is left alone this long (each call would wait for it)


def _today(now: float) -> str:
    return dt.datetime.fromtimestamp(now, VN).strftime("%Y%m%d")


class Limiter(Protocol):
    async def take(self, key: str, *, rate: int, burst: int, daily: int, now: float) -> tuple[bool, float, str]:
        """Whether a call may go now; if not, the seconds to wait and which limit ("rate", "daily")."""
        ...


@dataclass
class _Bucket:
    tokens: float
    at: float
    day: str = ""
    used_today: int = 0


@dataclass
class LocalLimiter:
    """A token bucket per system (``rate`` calls per second, ``burst`` at once) and a daily count
    (the day in Vietnam's time), in this process."""

    buckets: dict[str, _Bucket] = field(default_factory=dict)

    async def take(self, key: str, *, rate: int, burst: int, daily: int, now: float) -> tuple[bool, float, str]:
        b = self.buckets.get(key)
        capacity = float(max(burst, rate, 1))
        if b is None:
            b = self.buckets[key] = _Bucket(capacity, now)
        b.tokens = min(capacity, b.tokens + (now - b.at) * rate)
        b.at = now
        if daily:
            day = _today(now)
            if b.day != day:
                b.day, b.used_today = day, 0
            if b.used_today >= daily:
                tomorrow = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=VN) + dt.timedelta(days=1)
                return False, max(1.0, tomorrow.timestamp() - now), "daily"
        if b.tokens < 1.0:
            return False, (1.0 - b.tokens) / max(rate, 1), "rate"
        b.tokens -= 1.0
        if daily:
            b.used_today += 1
        return True, 0.0, ""


# One round trip: a token bucket in a hash (tokens, at) and the day's count, atomically.
_REDIS_TAKE = """
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local rate, capacity, now, daily = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
if daily > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= daily then return {0, -1} end
end
if tokens < 1 then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
  redis.call('EXPIRE', KEYS[1], 3600)
  return {0, tostring((1 - tokens) / math.max(rate, 1))}
end
redis.call('HSET', KEYS[1], 'tokens', tokens - 1, 'at', now)
redis.call('EXPIRE', KEYS[1], 3600)
if daily > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 172800)
end
return {1, '0'}
"""


class RedisLimiter:
    """The same limits, shared through Redis by every gateway process."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self.client: Any = redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.5)
        self.script = self.client.register_script(_REDIS_TAKE)
        self.unreachable = (RedisConnectionError, RedisTimeoutError, OSError)
        self.fallback = LocalLimiter()  # while Redis is unreachable: this process's own count
        self.down_until = 0.0

    async def take(self, key: str, *, rate: int, burst: int, daily: int, now: float) -> tuple[bool, float, str]:
        if time.monotonic() < self.down_until:
            return await self.fallback.take(key, rate=rate, burst=burst, daily=daily, now=now)
        capacity = max(burst, rate, 1)
        try:
            ok, wait = await self.script(
                keys=[f"hcmgov:x:rate:{key}", f"hcmgov:x:day:{key}:{_today(now)}"], args=[rate, capacity, now, daily]
            )
        except self.unreachable as exc:
            if not self.down_until:
                log.warning("gateway limits: Redis unreachable, counting in this process", extra={"error": str(exc)})
            self.down_until = time.monotonic() + REDIS_RETRY_SECONDS
            return await self.fallback.take(key, rate=rate, burst=burst, daily=daily, now=now)
        self.down_until = 0.0
        if ok:
            return True, 0.0, ""
        if float(wait) < 0:
            tomorrow = dt.datetime.strptime(_today(now), "%Y%m%d").replace(tzinfo=VN) + dt.timedelta(days=1)
            return False, max(1.0, tomorrow.timestamp() - now), "daily"
        return False, float(wait), "rate"


@dataclass
class Breaker:
    """Per service: after ``threshold`` failures in a row (no connection, timeout, 502–504) the
    service is not called for ``cooldown`` seconds; then one trial call decides (half-open)."""

    threshold: int = 5
    cooldown: float = 30.0
    failures: int = 0
    open_until: float = 0.0
    trial: bool = False

    def allow(self, now: float) -> bool:
        if self.failures < self.threshold:
            return True
        if now < self.open_until or self.trial:
            return False
        self.trial = True  # half-open: this call is the trial
        return True

    def record(self, ok: bool, now: float) -> None:
        self.trial = False
        if ok:
            self.failures = 0
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown
