"""The shared cache (Redis, ``REDIS_URL``) as a cache should be: optional for correctness.

Django's Redis backend raises when Redis is unreachable, and every caller of the cache then fails
with it — with ``HCMGOV_TOKEN_CACHE=shared`` that is every API call, a citizen's submission
included (a 500 for a cache miss). Everything the platform keeps in the cache can be computed or
read again (valid bearer tokens, the quality index's tables, open data facet counts), so here an
unreachable Redis is a miss: ``get`` answers the default, ``set``/``delete`` do nothing, and the
caller reads the database as it would on a cold cache.

After a failure Redis is left alone for ``RETRY_SECONDS`` (every call would otherwise wait for the
connection to fail, up to the connect timeout when the host does not answer at all), then tried
again; a warning is logged once per outage, and ``hcmgov_cache_unavailable_total`` counts the
calls answered without Redis. What is lost while Redis is down is only what a cache loses on a
restart; one thing to know: a bearer token revoked during the outage may be accepted for up to
``identity.services.TOKEN_CACHE_SECONDS`` after Redis returns (its cached entry could not be
dropped), as in ``process`` mode.

``incr`` keeps Django's behaviour (nothing uses it; a counter must not pretend).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from prometheus_client import Counter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
UNAVAILABLE = Counter(
    "hcmgov_cache_unavailable_total", "Shared cache calls answered without Redis (unreachable)", ["operation"]
)

RETRY_SECONDS = 5.0
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisCache(DjangoRedisCache):
    """Django's Redis cache, answering as an empty cache while Redis is unreachable."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, operation: str, exc: BaseException) -> None:
        with self._lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + RETRY_SECONDS
        UNAVAILABLE.labels(operation).inc()
        if first:
            log.warning("shared cache unreachable: answering as an empty cache", extra={"error": str(exc)[:200]})

    def _recovered(self) -> None:
        if self._down_until:
            with self._lock:
                self._down_until = 0.0
            log.warning("shared cache reachable again")

    def _call(self, operation: str, fallback: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._available():
            UNAVAILABLE.labels(operation).inc()
            return fallback
        try:
            result = func(*args, **kwargs)
        except UNREACHABLE as exc:
            self._failed(operation, exc)
            return fallback
        self._recovered()
        return result

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return bool(self._call("add", False, super().add, key, value, timeout, version))

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._call("get", default, super().get, key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> None:
        self._call("set", None, super().set, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return bool(self._call("touch", False, super().touch, key, timeout, version))

    def delete(self, key: Any, version: Any = None) -> bool:
        return bool(self._call("delete", False, super().delete, key, version))

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return dict(self._call("get_many", {}, super().get_many, keys, version))

    def has_key(self, key: Any, version: Any = None) -> bool:
        return bool(self._call("has_key", False, super().has_key, key, version))

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return list(self._call("set_many", list(data), super().set_many, data, timeout, version) or [])

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._call("delete_many", None, super().delete_many, keys, version)

    def clear(self) -> None:
        self._call("clear", None, super().clear)
