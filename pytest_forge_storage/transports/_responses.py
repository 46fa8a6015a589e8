"""Interception of ``requests`` through the public API of ``responses``.

How it works
------------
``start()`` starts a ``responses.RequestsMock`` of our own, which patches ``HTTPAdapter.send``. Its
``real_adapter_send`` is whatever ``HTTPAdapter.send`` is at that moment (the real one, or a user's
``responses`` mock started earlier), and its passthru prefix ``""`` sends there everything it does
not serve. It holds one callback route per HTTP method on one anchored regex covering all base
URLs, with a request matcher that calls the handler:

* an ``HttpResponse``: the route matches and its callback serves the answer;
* a ``TransportFault``: the route matches and its callback raises ``requests.ConnectionError`` or
  ``requests.exceptions.ReadTimeout``, with the request attached;
* ``None``: the route does not match, so ``responses`` passes the request through untouched.

Deciding in the matcher, not the callback, is what makes ``None`` a true pass-through.

Coexistence with the user's own ``responses`` mocks
---------------------------------------------------
``responses`` stacks by patching ``HTTPAdapter.send`` over whatever is there. A mock refuses a
request it has no route for, unless a passthru prefix sends it to the ``real_adapter_send`` fixed
when *that mock was constructed* (by default the send of import time, never ours). Hence:

* **A user mock started before ours** (of any kind): ours is on top and serves Forge; every other
  request goes on to the user's mock and behaves as it says.
* **The default mock started after ours** (``@responses.activate``, ``responses.start()``,
  ``with responses.mock:``): our routes are also added to ``responses.mock`` while we run, so Forge
  is served there too and every other request behaves as the user's mock says. Side effects of
  living in the default registry: Forge calls appear in ``responses.calls``;
  ``responses.activate(registry=...)`` raises ``AttributeError`` (responses will not replace a
  non-empty registry); ``responses.reset()``, which ends every ``@responses.activate`` function and
  ``with responses.mock:`` block, removes the routes, so a *second* activation of the default mock
  in the same test refuses Forge calls. The routes never count as unfired for
  ``assert_all_requests_are_fired``. ``default_mock=False`` turns this registration off.
* **Any other ``responses.RequestsMock()`` started after ours** is out of reach of public APIs and
  refuses Forge calls ("Connection refused by Responses"). Workarounds: ``add_routes_to(rsps)``,
  or start that mock before ours.
* **Stopping out of order.** ``unittest.mock`` restores what it replaced, so ``stop()`` restores
  the previous ``HTTPAdapter.send`` only while ours is on top. Under a user mock, our layer turns
  into a pure pass-through and stays, so the user's mock keeps working; the next ``start()`` or
  ``stop()`` that finds it on top again removes it. A user mock started *before* ours and stopped
  *while ours runs* restores the send it found and so unpatches ours: Forge calls are no longer
  intercepted from then on, and nothing public can prevent it.
* A user route in the default mock for a Forge *storage* URL makes two routes match: the handler
  has seen the request by then, and ``responses`` drops one of the two routes.
* With the default mock started before ours, a request under a base URL that the handler declines
  is offered to the handler twice (by our mock, then by our routes in the default mock).

A request body that is a file or an iterator is read into bytes (``responses`` reads files
itself); an iterator is replaced by those bytes, so that a pass-through sends the same body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import requests
import responses
from requests.adapters import HTTPAdapter

from pytest_forge_storage._http import HttpRequest, TransportFault
from pytest_forge_storage.transports import Handler, base_url_pattern, response_headers

if TYPE_CHECKING:
    from requests import PreparedRequest

__all__ = ["RequestsInterceptor"]

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Where the matcher leaves the handler's answer for the callback (responses calls both in turn).
_RESULT_ATTR = "_pytest_forge_storage_result"
_ERRORS: dict[str, type[requests.RequestException]] = {
    "connection": requests.ConnectionError,
    "timeout": requests.exceptions.ReadTimeout,
}


class _ForgeRoute(responses.CallbackResponse):
    """A callback route that ``assert_all_requests_are_fired`` never reports as unfired."""

    @property
    def call_count(self) -> int:
        return len(self.calls) or 1


class RequestsInterceptor:
    """Serve requests made with ``requests`` to any of ``base_urls`` from ``handler``."""

    #: Stopped mocks whose patch could not be undone yet, as another layer sat on top of it.
    _shadowed: ClassVar[list[tuple[responses.RequestsMock, object]]] = []

    def __init__(
        self, handler: Handler, base_urls: Sequence[str], *, default_mock: bool = True
    ) -> None:
        self._handler = handler
        self._pattern = base_url_pattern(base_urls)
        self._default_mock = default_mock
        self._mock: responses.RequestsMock | None = None
        self._installed: object = None  # our send, as patched onto HTTPAdapter
        self._route_for = {
            method: _ForgeRoute(
                method, self._pattern, self._serve, content_type=None, match=(self._match,)
            )
            for method in _METHODS
        }
        self._routes = list(self._route_for.values())

    @property
    def active(self) -> bool:
        return self._mock is not None

    def start(self) -> None:
        if self._mock is not None:
            return
        self._sweep()
        mock = responses.RequestsMock(
            assert_all_requests_are_fired=False,
            passthru_prefixes=("",),
            real_adapter_send=HTTPAdapter.send,
        )
        for route in self._routes:
            mock.add(route)
        mock.start()
        self._mock, self._installed = mock, HTTPAdapter.send
        if self._default_mock:
            self.add_routes_to(responses.mock)

    def stop(self) -> None:
        mock, self._mock = self._mock, None
        if mock is None:
            return
        if self._default_mock:
            self.remove_routes_from(responses.mock)
        RequestsInterceptor._shadowed.append((mock, self._installed))
        self._sweep()

    def add_routes_to(self, mock: responses.RequestsMock) -> None:
        """Serve Forge storage requests in a user's ``mock`` too (one started after ours).

        The routes serve only while this interceptor is started.
        """
        registered = mock.registered()
        for route in self._routes:
            if not any(r is route for r in registered):  # responses would add a deep copy
                mock.add(route)

    def remove_routes_from(self, mock: responses.RequestsMock) -> None:
        for route in self._routes:
            # ``remove`` drops every route with the same method and URL pattern (another
            # interceptor's, in a nested interception): put those back.
            others = [r for r in mock.registered() if r == route and r is not route]
            mock.remove(route)
            for other in others:
                mock.add(other)

    @classmethod
    def _sweep(cls) -> None:
        # Undo, top first, every stopped patch that is on top of HTTPAdapter.send again.
        found = True
        while found:
            found = False
            for entry in cls._shadowed:
                if HTTPAdapter.send is entry[1]:
                    cls._shadowed.remove(entry)
                    entry[0].stop(allow_assert=False)
                    found = True
                    break

    def _match(self, request: PreparedRequest) -> tuple[bool, str]:
        if self._mock is None:  # stopped, but still patched under a user mock: pass through
            return False, "pytest-forge-storage is stopped"
        result = self._handler(
            HttpRequest(
                request.method or "GET",
                request.url or "",
                {
                    name: value if isinstance(value, str) else value.decode("latin-1")
                    for name, value in request.headers.lower_items()
                },
                _body_bytes(request),
            )
        )
        if result is None:
            return False, "not a Forge storage request"
        setattr(request, _RESULT_ATTR, result)
        return True, ""

    def _serve(self, request: PreparedRequest) -> Any:
        # responses records every call it serves, which nobody reads back from our routes: keep
        # only the latest (a KB per call otherwise, for the whole test).
        if self._mock is not None:
            self._mock.calls.reset()
        self._route_for[request.method or "GET"].calls.reset()
        result = getattr(request, _RESULT_ATTR)
        if isinstance(result, TransportFault):
            return _ERRORS[result.error](result.message, request=request)
        return result.status, response_headers(result), result.body


def _body_bytes(request: PreparedRequest) -> bytes:
    body: Any = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")  # what urllib3 sends
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    data = _read(body)
    request.body = data  # a streamed upload is consumed: keep it sendable for a pass-through
    return data


def _read(body: Any) -> bytes:
    if hasattr(body, "read"):
        chunk = body.read()
        return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
    chunks: Iterable[Any] = body
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in chunks)
