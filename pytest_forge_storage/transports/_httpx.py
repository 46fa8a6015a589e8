"""The ``httpx`` door: ``Client._transport_for_url`` and ``AsyncClient``'s, wrapped while a
fake is active.

How it works
------------
httpx picks the transport of every request with ``client._transport_for_url(url)`` (the seam
respx's ``using="httpx"`` mocker patches too), after auth, event hooks and redirects have done
their part and before the transport sends anything. The wrapper returns the transport httpx
would have used, except for a URL on a Forge origin, where it returns a transport around it
that offers the request to the fake first. Mocks for httpx work below that seam (respx's
default mocker patches httpcore's pools, pytest-httpx patches ``HTTPTransport.handle_request``,
``MockTransport`` is a transport): whatever their start order, the fake serves Forge storage
first and hands on, unchanged, everything else, so their call lists hold only their traffic.

Transport faults run httpcore's own retry rule: a ``connection`` fault is retried as many
times as the client's ``HTTPTransport(retries=...)`` allows, after httpcore's backoff
(0 s, then 0.5 s, 1 s, ...), one recorded call per attempt, then raises ``httpx.ConnectError``;
a ``timeout`` is ``httpx.ReadTimeout`` at once (httpcore never retries reads).

respx's ``using="httpx"`` mocker patches this very seam, so a router on it started after the
fake would wrap the wrapper and see Forge requests first. While a fake is active, the
function that mocker patches in therefore puts the fake's door around respx's transport for
a Forge URL (:func:`_seal_respx`): the fake serves storage, and what it declines (another
Atlassian API on the same origin) reaches the user's routes as before. respx is sealed this
way when it was imported before the fake started, as a test module that uses it is
(importing it here would cost every first fake 40 ms).
"""

from __future__ import annotations

import functools
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from pytest_forge_storage._http import HttpRequest, HttpResponse, TransportFault

from . import _guard, response_headers

if TYPE_CHECKING:
    from . import _Active

#: httpcore's ``RETRIES_BACKOFF_FACTOR`` (httpcore 0.16 to 1.x).
BACKOFF_FACTOR = 0.5


def install(active: _Active) -> Callable[[], None]:
    """Wrap both clients' ``_transport_for_url``; returns the function that restores them."""
    restore: list[Callable[[], None]] = []
    for client, door in ((httpx.Client, _ForgeTransport), (httpx.AsyncClient, _AsyncTransport)):
        restore.append(_wrap(client, door, active))
    restore.append(_seal_respx(active))

    def uninstall() -> None:
        for undo in restore:
            undo()

    return uninstall


def _wrap(client: type[Any], door: type[Any], active: _Active) -> Callable[[], None]:
    original = client._transport_for_url

    @functools.wraps(original)
    def transport_for_url(self: Any, url: httpx.URL) -> Any:
        transport = original(self, url)
        text = str(url)
        if active.claims(text):
            return door(transport, active, url, text)
        return transport

    client._transport_for_url = transport_for_url

    def uninstall() -> None:
        if client._transport_for_url is transport_for_url:
            client._transport_for_url = original

    return uninstall


def _seal_respx(active: _Active) -> Callable[[], None]:
    """Make respx's ``httpx`` mocker, if imported, offer Forge URLs to the fake first.

    ``HTTPXMocker.mock(spec)`` builds the ``_transport_for_url`` that respx patches in at its
    start, around ``spec``, the method it replaces. For a URL the fake claims, the function
    built here returns the fake's door around respx's transport: storage is served, and a
    request the fake declines goes on to respx's routes and its "not mocked" error, as any
    other URL does. A mocker started while a fake is active keeps this function after the
    fake stops, and then hands everything to respx (nothing is claimed any more).
    """
    mocks = sys.modules.get("respx.mocks")
    mocker = getattr(mocks, "HTTPXMocker", None)
    original = getattr(mocker, "__dict__", {}).get("mock")
    if not isinstance(original, classmethod):
        return lambda: None
    assert mocker is not None
    build = original.__func__

    def mock(cls: type[Any], spec: Callable[..., Any]) -> Callable[..., Any]:
        theirs = build(cls, spec)

        @functools.wraps(theirs)
        def _transport_for_url(self: Any, url: httpx.URL, *args: Any, **kwargs: Any) -> Any:
            transport = theirs(self, url, *args, **kwargs)
            text = str(url)
            if not active.claims(text):
                return transport
            door = _AsyncTransport if isinstance(self, httpx.AsyncClient) else _ForgeTransport
            return door(transport, active, url, text)

        return _transport_for_url

    sealed = classmethod(mock)
    mocker.mock = sealed

    def unseal() -> None:
        if mocker.__dict__.get("mock") is sealed:
            mocker.mock = original

    return unseal


def _wire(request: httpx.Request, url: httpx.URL, text: str) -> HttpRequest:
    """The request for the fake; ``text`` is ``str(url)``, already made for the claim."""
    return HttpRequest(
        request.method,
        text if request.url is url else str(request.url),
        _headers(request.headers),
        request.content,
    )


def _headers(headers: httpx.Headers) -> dict[str, str]:
    """``dict(headers.items())`` (lower-case names, repeats joined with ``", "``) for ASCII
    headers, at two thirds of its cost; ``items()`` itself decodes anything else."""
    out: dict[str, str] = {}
    try:
        for name, value in headers.raw:
            key = name.decode("ascii").lower()
            text = value.decode("ascii")
            if key in out:
                out[key] += ", " + text
            else:
                out[key] = text
    except UnicodeDecodeError:
        return dict(headers.items())
    return out


def _response(result: HttpResponse, request: httpx.Request) -> httpx.Response:
    """The answer as httpx's own ``Response(content=...)`` makes it, at a seventh of the cost:
    the same headers (with ``Content-Length``), a ``ByteStream``, and the body already read
    (``_content``, what ``Response.read()`` fills in and returns from then on)."""
    body = result.body
    headers = response_headers(result)
    headers["Content-Length"] = str(len(body))
    response = httpx.Response(
        result.status, headers=headers, stream=httpx.ByteStream(body), request=request
    )
    response._content = body
    return response


def _retries(transport: Any) -> int:
    """How often the transport's pool retries a failed connection (``retries=``)."""
    retries = getattr(getattr(transport, "_pool", None), "_retries", 0)
    return retries if isinstance(retries, int) else 0


def _delays() -> Iterator[float]:
    """httpcore's ``exponential_backoff``: 0, then 0.5, 1, 2, ... seconds."""
    yield 0.0
    for n in itertools.count():
        yield BACKOFF_FACTOR * 2**n


def _error(fault: TransportFault, request: httpx.Request) -> httpx.TransportError:
    if fault.error == "timeout":
        return httpx.ReadTimeout(fault.message, request=request)
    return httpx.ConnectError(fault.message, request=request)


class _ForgeTransport(httpx.BaseTransport):
    """Made per request; closing it is a no-op (httpx closes only the transports it owns)."""

    def __init__(
        self, inner: httpx.BaseTransport, active: _Active, url: httpx.URL, text: str
    ) -> None:
        self._inner = inner
        self._active = active
        self._url = url
        self._text = text

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        wire = _wire(request, self._url, self._text)
        retries, delays = -1, _delays()  # the transport's retries, read on the first fault
        while True:
            result = self._active.serve(wire)
            if result is None:
                with _guard.sending(wire.url):
                    return self._inner.handle_request(request)
            if isinstance(result, HttpResponse):
                return _response(result, request)
            if retries < 0:
                retries = _retries(self._inner)
            if result.error == "timeout" or retries <= 0:
                raise _error(result, request)
            retries -= 1
            time.sleep(next(delays))


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(
        self, inner: httpx.AsyncBaseTransport, active: _Active, url: httpx.URL, text: str
    ) -> None:
        self._inner = inner
        self._active = active
        self._url = url
        self._text = text

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        wire = _wire(request, self._url, self._text)
        retries, delays = -1, _delays()  # the transport's retries, read on the first fault
        while True:
            result = self._active.serve(wire)
            if result is None:
                with _guard.sending(wire.url):
                    return await self._inner.handle_async_request(request)
            if isinstance(result, HttpResponse):
                return _response(result, request)
            if retries < 0:
                retries = _retries(self._inner)
            if result.error == "timeout" or retries <= 0:
                raise _error(result, request)
            retries -= 1
            delay = next(delays)
            if delay:
                import anyio  # httpx's own async dependency; trio or asyncio alike

                await anyio.sleep(delay)
