"""Simulators of the outside systems the platform talks to (SMS gateway, and later eID, payment, post…).

Each simulator is one module of this package that defines ``make_app(**options) -> WSGI app``:
the module's name is the simulator's name (``sms.py`` → ``hcmgov sim sms``), so adding a
simulator is adding one module — nothing to register here (modules named ``_…`` are shared helpers,
not simulators). A simulator speaks the real system's protocol (documented in its module docstring,
with the source), keeps what it received, and offers extra ``/_sim/…`` endpoints for tests to
inspect it and to inject faults.

They use no Django and little beyond the standard library (the e-ID signs its tokens with joserfc),
so they run the same under ``hcmgov sim NAME`` (for a developer or a demo) and inside a test
through :func:`running`::

    with running("sms") as base_url:
        ...  # point the adapter at base_url and talk HTTP to it
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Factory(Protocol):
    def __call__(self, **options: Any) -> WSGIApp: ...


class UnknownSimulator(KeyError):
    """No simulator of that name; ``known`` lists the ones there are."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return (
            f"Không có trình mô phỏng {self.name!r} / unknown simulator {self.name!r}; "
            f"có / known: {', '.join(self.known) or '(none)'}"
        )


_SKIP = {"tests"}


def registry() -> dict[str, Factory]:
    """Every simulator of the package: module name → its ``make_app`` factory (modules imported on call)."""
    found: dict[str, Factory] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _SKIP or info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        factory = getattr(module, "make_app", None)
        if callable(factory):
            found[info.name] = factory
    return dict(sorted(found.items()))


def names() -> list[str]:
    return list(registry())


def make_app(name: str, **options: Any) -> WSGIApp:
    """Build the WSGI app of simulator ``name``; ``options`` go to its factory (credentials, faults…)."""
    factories = registry()
    if name not in factories:
        raise UnknownSimulator(name, list(factories))
    return factories[name](**options)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request (concurrent clients, a slow answer blocks nobody)."""

    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # tests: no access log on stderr
        pass


def _server(app: WSGIApp, host: str, port: int, *, quiet: bool) -> WSGIServer:
    handler = _QuietHandler if quiet else WSGIRequestHandler
    return make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=handler)


def serve(name: str, host: str = "127.0.0.1", port: int = 0, *, ready: Callable[[str], None] | None = None) -> None:
    """Serve simulator ``name`` until interrupted (``port`` 0: a free one). ``ready`` gets the base URL."""
    app = make_app(name)
    with _server(app, host, port, quiet=False) as server:
        base_url = f"http://{host}:{server.server_port}"
        if ready is not None:
            ready(base_url)
        with suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.2)


@contextmanager
def running(name: str, **options: Any) -> Iterator[str]:
    """Start simulator ``name`` on a free loopback port in a background thread; yield its base URL
    (``http://127.0.0.1:PORT``, no trailing slash); stop it on exit."""
    app = make_app(name, **options)
    server = _server(app, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sim-{name}", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
