"""The in-process doors: ``requests``, ``httpx`` (sync and async) and the network guard.

While a fake is active, each client's one well-known seam is wrapped (see each module):

* :mod:`._requests` — ``requests.Session.get_adapter``;
* :mod:`._httpx` — ``httpx.Client._transport_for_url`` and ``httpx.AsyncClient``'s;
* :mod:`._aiohttp` — ``aiohttp.ClientSession._request``, when aiohttp is installed (its
  docstring says how it stays on top of aioresponses whatever the order);
* :mod:`._urllib` — ``urllib.request.OpenerDirector.open``, for Forge's JWKS only;
* :mod:`._guard` — ``socket.getaddrinfo``, for Forge origins only.

A request to a Forge origin (the router's :meth:`~pytest_forge_storage.router.Origins.claims`
decides) is offered to the active fakes first, newest first; an answer is served, a
transport fault raised where the client's own retry machinery sees it, and ``None`` sends
the request on, untouched, to whatever the client would have used: the user's own mock,
or the network, where the guard refuses it unless the fake allows passthrough. Other URLs
never meet the fake.

The clients are imported when the first fake starts, never when this package is imported:
importing the plugin stays cheap. Patches are installed once for all active fakes and
removed when the last one stops.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from pytest_forge_storage._http import HttpRequest, HttpResponse, RouterResult

if TYPE_CHECKING:
    from pytest_forge_storage.router import Origins

__all__ = ["Handler", "Interception", "active", "response_headers"]

Handler = Callable[[HttpRequest], RouterResult]


def response_headers(response: HttpResponse) -> dict[str, str]:
    """The response's headers, plus ``Content-Type: application/json`` for a body without a type."""
    headers = dict(response.headers)
    if response.body and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return headers


class Interception:
    """Serve Forge requests made in this process from ``handler`` while started.

    ``origins`` says which URLs are Forge's; ``passthrough`` lets the Forge-origin requests
    that ``handler`` does not serve (and no user mock answers) reach the network.
    ``start()`` and ``stop()`` are idempotent; also a context manager.
    """

    def __init__(self, handler: Handler, origins: Origins, *, passthrough: bool = False) -> None:
        self.handler = handler
        self.origins = origins
        self.passthrough = passthrough

    @property
    def active(self) -> bool:
        return self in _ACTIVE.entries

    def start(self) -> None:
        _ACTIVE.add(self)

    def stop(self) -> None:
        _ACTIVE.remove(self)

    def __enter__(self) -> Interception:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _Active:
    """The started interceptions, oldest first, and the patches they share."""

    def __init__(self) -> None:
        self.entries: tuple[Interception, ...] = ()
        self._lock = threading.Lock()
        self._uninstall: list[Callable[[], None]] = []

    def add(self, interception: Interception) -> None:
        with self._lock:
            if interception in self.entries:
                return
            if not self.entries:
                self._install()
            self.entries = (*self.entries, interception)

    def remove(self, interception: Interception) -> None:
        with self._lock:
            if interception not in self.entries:
                return
            self.entries = tuple(e for e in self.entries if e is not interception)
            if not self.entries:
                while self._uninstall:
                    self._uninstall.pop()()

    def _install(self) -> None:
        from . import _guard, _httpx, _requests, _urllib

        try:
            for module in (_guard, _requests, _httpx, _urllib):
                self._uninstall.append(module.install(self))
            if importlib.util.find_spec("aiohttp") is not None:
                from ._aiohttp import AiohttpInterceptor

                interceptor = AiohttpInterceptor(self.claims, self.serve)
                interceptor.start()
                self._uninstall.append(interceptor.stop)
        except BaseException:
            while self._uninstall:
                self._uninstall.pop()()
            raise

    # -- what the doors ask --------------------------------------------------------------
    def claims(self, url: str) -> bool:
        """Whether ``url`` is on the Forge origin of an active fake."""
        for entry in self.entries:  # noqa: SIM110 - a loop, not any(generator): every request asks
            if entry.origins.claims(url):
                return True
        return False

    def serve(self, request: HttpRequest) -> RouterResult:
        """The newest active fake's answer that claims and serves ``request``, or ``None``."""
        for entry in reversed(self.entries):
            if entry.origins.claims(request.url):
                result = entry.handler(request)
                if result is not None:
                    return result
        return None

    def serve_jwks(self, request: HttpRequest) -> RouterResult:
        """The answer to a request for Forge's JWKS (the one thing urllib is served)."""
        for entry in reversed(self.entries):
            route = entry.origins.route(request.url)
            if route is not None and route.protocol == "jwks":
                return entry.handler(request)
        return None

    def blocks(self, host: str, port: int | None) -> bool:
        """Whether a connection to ``host``:``port`` must not leave the process."""
        return any(
            not entry.passthrough and entry.origins.claims_address(host, port)
            for entry in self.entries
        )


_ACTIVE = _Active()


def active() -> _Active:
    """The process's active interceptions (what the doors consult)."""
    return _ACTIVE
