"""Interception of ``httpx.Client`` and ``httpx.AsyncClient`` through the public API of ``respx``.

How it works
------------
``start()`` starts a ``respx.MockRouter(using="httpx", assert_all_called=False)`` with a single
catch-all route whose side effect does the routing:

* a URL under no base URL — returns the request, which is respx's pass-through;
* otherwise it calls the handler: an ``HttpResponse`` becomes an ``httpx.Response``; a
  ``TransportFault`` raises ``httpx.ConnectError`` or ``httpx.ReadTimeout`` with the request
  attached; ``None`` passes the request through.

respx calls a side effect synchronously for both clients (awaiting only what it returns), so one
synchronous side effect serves ``Client`` and ``AsyncClient``; the body has been read by then.

Why ``using="httpx"``
---------------------
respx has two mockers, each with its own list of started routers. Users' routers use the default,
``httpcore``, which patches httpcore's connection pools. ``httpx`` patches
``Client._transport_for_url`` and so sits *above* it: a request meets our router first and, when
passed through, goes on to the client's own transport and down to httpcore, where the user's
routers (if any) decide. Hence, whatever the order of starting and stopping:

* a Forge storage URL is ours, served before any ``httpcore`` router sees it (even one with a route
  for that very URL);
* any other URL, including other ``api.atlassian.com`` URLs, reaches the user's routers when one is
  started and behaves exactly as they say (their routes, ``assert_all_mocked``, ``base_url``,
  pass-through), or the client's own transport and the network when none is;
* the two mockers patch different things, so stopping either in any order leaves the other
  working, and respx keeps the ``httpx`` patch while any router on it is started.

Sharing the ``httpcore`` mocker would make order matter: respx asks routers in start order, moves
on only on ``AllMockedAssertionError`` and stops at a pass-through, so our router could not both
let a later user router answer and let the network answer when there is none.

Limitations: a user router started with ``using="httpx"`` shares our mocker. Started after ours,
it never sees other URLs (ours passes them through first); started before ours with
``assert_all_mocked=False``, it answers Forge URLs itself. A transport given to the client
(``transport=``, ``mounts=``) still serves every other URL, but not Forge storage URLs. As with
respx itself, a streamed request body is read into memory before it is sent on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import httpx
import respx

from pytest_forge_storage._http import HttpRequest, TransportFault
from pytest_forge_storage.transports import Handler, base_url_pattern, response_headers

__all__ = ["HttpxInterceptor"]

_ERRORS: dict[str, type[httpx.TransportError]] = {
    "connection": httpx.ConnectError,
    "timeout": httpx.ReadTimeout,
}


class HttpxInterceptor:
    """Serve ``httpx`` requests (sync and async) to any of ``base_urls`` from ``handler``."""

    #: Started interceptors, oldest first. respx asks its routers oldest first and stops at
    #: the first answer, and every router of ours answers; so whichever is asked serves from
    #: the newest interceptor that takes the request, as with ``requests`` (nested fakes).
    _started: ClassVar[list[HttpxInterceptor]] = []

    def __init__(self, handler: Handler, base_urls: Sequence[str]) -> None:
        self._handler = handler
        self._pattern = base_url_pattern(base_urls)
        self._router: respx.MockRouter | None = None

    @property
    def active(self) -> bool:
        return self._router is not None

    def start(self) -> None:
        if self._router is not None:
            return
        router = respx.MockRouter(assert_all_called=False, using="httpx")
        router.route().mock(side_effect=self._side_effect)
        router.start()
        self._router = router
        HttpxInterceptor._started.append(self)

    def stop(self) -> None:
        router, self._router = self._router, None
        if router is not None:
            HttpxInterceptor._started.remove(self)
            router.stop(quiet=True)

    def _side_effect(self, request: httpx.Request) -> httpx.Response | httpx.Request:
        router = self._router
        if router is not None:
            # respx records every call, which nobody reads back from our router: keep only the
            # latest (a few KB per call otherwise, for the whole test).
            router.reset()
        for interceptor in reversed(list(HttpxInterceptor._started)):
            response = interceptor._answer(request)
            if response is not None:
                return response
        return request  # respx: pass through to the client's own transport

    def _answer(self, request: httpx.Request) -> httpx.Response | None:
        """This interceptor's answer, or ``None`` when the request is not its to serve."""
        url = str(request.url)
        if self._pattern.match(url) is None:
            return None
        result = self._handler(
            HttpRequest(
                request.method,
                url,
                dict(request.headers.items()),  # httpx lower-cases the names
                request.content,
            )
        )
        if result is None:
            return None
        if isinstance(result, TransportFault):
            raise _ERRORS[result.error](result.message, request=request)
        return httpx.Response(
            result.status, headers=response_headers(result), content=result.body, request=request
        )
