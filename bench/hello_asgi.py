"""The web floor's peer: a bare ASGI "hello" application — no framework, no middleware, no database —
answering every HTTP request with ``{"hello": "world"}`` (200, application/json), the same bytes as
the Django "hello" view of bench/hello.py. bench/run.py's ``calibrate()`` serves it with granian
(``--interface asgi``, the same 2 workers) and the same wrk command as the Django one: what an
ASGI server alone does on this machine, the ceiling any web request of the platform stays under.
It answers the lifespan protocol (startup, shutdown) as granian's ASGI interface expects.

    cd bench && ../.venv/bin/granian --interface asgi --workers 2 --no-ws hello_asgi:application
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY = b'{"hello": "world"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":  # websockets: not served (granian runs with --no-ws)
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
