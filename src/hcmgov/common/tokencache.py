"""Bearer tokens found valid, kept a short while so an API client's every call does not read the
database again (the lookup was an eighth of a submission).

Where the answer is kept is a setting (``HCMGOV_TOKEN_CACHE``):

- ``process`` (the embedded default): a dictionary in each process. A token revoked, or an account
  deactivated, is refused within ``seconds`` in every process.
- ``shared`` (city scale): the shared cache (Redis, ``REDIS_URL``), one entry per token for all
  nodes; revoking a token or deactivating an account drops the entry (``drop``), so it is refused
  at once on every node; a node that restarts finds the entries still there.
- ``off``: every call reads the database.

Only valid answers are kept: a token not found is never kept, so a new token works at once. The
value kept is a plain tuple (the account's row), never a model instance shared by requests.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches

MAX_PER_PROCESS = 10_000  # distinct tokens a process keeps; the oldest go first


class TokenCache:
    """Valid tokens of one kind (``name``: the shared cache's key prefix), by their digest."""

    def __init__(self, name: str, *, clock: Any = time.monotonic) -> None:
        self.name = name
        self.clock = clock  # a callable: seconds, monotonic (tests move it)
        self._kept: dict[str, tuple[float, Any]] = {}  # digest → (valid until, value): ``process`` mode
        self._lock = threading.Lock()

    @staticmethod
    def mode() -> str:
        return str(getattr(settings, "TOKEN_CACHE", "process"))

    def _key(self, digest: str) -> str:
        return f"hcmgov:token:{self.name}:{digest}"

    def get(self, digest: str) -> Any | None:
        mode = self.mode()
        if mode == "process":
            kept = self._kept.get(digest)
            return kept[1] if kept is not None and kept[0] > self.clock() else None
        if mode == "shared":
            return caches["default"].get(self._key(digest))
        return None

    def put(self, digest: str, value: Any, seconds: float) -> None:
        if seconds <= 0:
            return
        mode = self.mode()
        if mode == "process":
            with self._lock:
                self._kept.pop(digest, None)
                while len(self._kept) >= MAX_PER_PROCESS:
                    del self._kept[next(iter(self._kept))]
                self._kept[digest] = (self.clock() + seconds, value)
        elif mode == "shared":
            caches["default"].set(self._key(digest), value, timeout=seconds)

    def drop(self, digest: str) -> None:
        """Forget one token everywhere this mode can reach (all nodes when shared)."""
        with self._lock:
            self._kept.pop(digest, None)
        if self.mode() == "shared":
            caches["default"].delete(self._key(digest))

    def clear(self) -> None:
        """Forget what this process keeps (tests; the shared entries expire on their own)."""
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)
