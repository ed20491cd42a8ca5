"""Calling coroutine-only library APIs (pyHanko's signing and validation) from synchronous code."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion and return its result. ``asyncio.run`` refuses to start
    when the calling thread already runs an event loop (an ASGI server's thread, a test process
    that drives a browser through Playwright's sync API): then it runs on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run_sync") as pool:
        return pool.submit(asyncio.run, coroutine).result()
