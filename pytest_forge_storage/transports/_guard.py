"""The network guard: nothing for a Forge origin leaves the process by accident (design §2.5).

How it works
------------
While a fake is active, ``socket.getaddrinfo`` is wrapped. Every client resolves a host
through it before it connects: urllib3 (``requests``, and urllib3 used directly),
``socket.create_connection`` (httpcore's sync backend, ``http.client``, ``urllib.request``)
and asyncio's ``loop.getaddrinfo`` (httpx's async backend, aiohttp's default resolver), all
of which look ``socket.getaddrinfo`` up when they call it. A lookup of a Forge origin's host
and port raises :class:`~pytest_forge_storage.BlockedRequestError`, naming the URL when an
in-process door was sending it, and saying what to do. Every other lookup, loopback included,
goes to the real function untouched (one set lookup more).

:class:`BlockedRequestError` is not an ``OSError`` on purpose: no client turns it into its own
connection error, retries it, or lets a ``except ConnectionError:`` fallback swallow it, so a
test that leaks fails where the leak is.

Not covered: resolvers that bypass ``socket.getaddrinfo`` (c-ares through aiodns, uvloop's
own resolver), and asyncio's connections to a literal IP address, which it never resolves:
a base URL such as ``http://127.0.0.1:9999`` is guarded for sync clients only.
"""

from __future__ import annotations

import contextvars
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pytest_forge_storage._errors import BlockedRequestError

if TYPE_CHECKING:
    from . import _Active

#: The URL an in-process door is sending on to the client's own machinery, for messages.
_SENDING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pytest_forge_storage_sending", default=None
)
_SERVICES = {"http": 80, "https": 443}


@contextmanager
def sending(url: str) -> Iterator[None]:
    """Note that ``url`` is being handed on (to a user's mock, or the network)."""
    token = _SENDING.set(url)
    try:
        yield
    finally:
        _SENDING.reset(token)


def install(active: _Active) -> Callable[[], None]:
    """Wrap ``socket.getaddrinfo``; returns the function that restores it."""
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and active.entries:
            name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
            number = _port(port)
            if active.blocks(name, number):
                raise BlockedRequestError(_message(name, number))
        return original(host, port, *args, **kwargs)

    getaddrinfo.__wrapped__ = original  # type: ignore[attr-defined]
    socket.getaddrinfo = getaddrinfo

    def uninstall() -> None:
        if socket.getaddrinfo is getaddrinfo:
            socket.getaddrinfo = original

    return uninstall


def _port(port: Any) -> int | None:
    if isinstance(port, bytes):
        port = port.decode("ascii", "replace")
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        return int(port) if port.isdigit() else _SERVICES.get(port.lower())
    return None


def _message(host: str, port: int | None) -> str:
    url = _SENDING.get()
    where = f"{host}:{port}" if port is not None else host
    what = f"the request to {url}" if url else f"a connection to {where}"
    return (
        f"pytest-forge-storage blocked {what}: {where} is a Forge origin, and while the fake "
        "is active nothing for Forge leaves the process. The fake serves Forge storage (REST "
        "and the storage fields of GraphQL) from requests, httpx and aiohttp; this request is "
        "not one it serves, and none of your mocks answered it. Mock it (responses, respx, "
        "pytest-httpx, aioresponses), call storage through server mode "
        "(forge_storage_server) from other clients, or let such requests through with "
        "@pytest.mark.forge_storage(passthrough=True) or the ini option "
        "forge_storage_passthrough = true."
    )
