"""Interception of ``aiohttp.ClientSession`` requests (aiohttp 3.12.2 and later).

How it works
------------
One method is wrapped: ``ClientSession._request``, the coroutine behind every verb
(``get``/``post``/... and ``request``), ``aiohttp.request()`` and ``ws_connect``, and the very
method that aioresponses (and ``mock.patch`` recipes) replace. Our wrapper, a *layer*, asks
``claims(url)`` of each started interceptor for the session's absolute URL:

* not claimed — the call goes, untouched, to whatever the layer sits on (aiohttp's own
  ``_request``, or a user's aioresponses mock);
* claimed — the layer runs **aiohttp's own** ``_request`` with one extra *client middleware*
  (aiohttp's public per-request ``middlewares=`` hook, after the session's own), so the
  session's base URL, default headers, cookies, auth, ``json=``/``data=`` payloads and the
  user's middlewares (an auth middleware adding the bearer token, a retry middleware) all act
  as in production. Our middleware is the innermost one, exactly where aiohttp would open a
  connection. It hands the handler the request as aiohttp would send it (method, URL, the
  payload's bytes via ``Payload.as_bytes()``, compressed if ``compress=`` asked, header
  names lower-cased, the ones aiohttp adds included), then:

  - an ``HttpResponse`` is returned as a real ``ClientResponse`` (status, reason, headers,
    a ``StreamReader`` holding the body), so ``raise_for_status``, ``async with``, ``json()``,
    redirects and trace signals behave as for a network answer;
  - a ``TransportFault`` raises ``ClientConnectorError`` (the request's own
    ``ConnectionKey``, a ``ConnectionRefusedError`` as its cause) or ``SocketTimeoutError``
    (a ``ServerTimeoutError``) where the connector or the response reader would: user
    middlewares and retry loops around the call see a network error, and every attempt
    reaches the handler once;
  - ``None`` continues to aiohttp's connection (the network) when nothing is underneath;
    with a user mock underneath, the request is handed to that mock with its original
    arguments, so the mock decides about it exactly as it would without us.

Why not aioresponses at runtime
-------------------------------
aioresponses is the library made for mocking aiohttp, and users keep it for their own URLs, but
it cannot carry the fake: a callback sees the call's keyword arguments, not the bytes and
headers aiohttp would send; it cannot decline a request after seeing its body (a GraphQL
document that is not storage must reach the user's mock); it records every request it sees; it
sits under any aioresponses started after it; and 0.7.9, its latest release, cannot build a
response on aiohttp 3.14 (pnuckowski/aioresponses#289). So we patch ``_request`` as
aioresponses does, and serve below it through the public middleware hook.

First look, whatever the order
------------------------------
Attribute patches stack: the last one installed is called first. So whenever an interceptor
is started, a layer of ours must be on top:

* our ``start()`` puts a layer on top of whatever ``_request`` is (the real one, or a user's
  aioresponses mock started earlier);
* ``aioresponses.start`` and ``aioresponses.stop`` are wrapped (while aioresponses is
  installed, from our first ``start()``) to put a new layer back on top after they patch or
  restore ``_request``. Every form — ``with aioresponses()``, ``@aioresponses()``,
  ``start()``, a pytest fixture set up before or after ours — goes through these two methods.

Layers are never removed from under someone: a user's mock started after us remembers the
layer it replaced and restores it when it stops. A layer with no interceptor started passes
every call through, and any layer found on top with nothing started is unwound (by our
``stop()``, or after the next aioresponses start/stop); the hooks on aioresponses go once
nothing is started and ``_request`` is aiohttp's own again. A request that a layer hands to a
mock underneath is marked, so that a lower layer (the one the mock's ``passthrough`` reaches)
passes it on rather than asking the handler twice. Nested or repeated interceptors share the
layers; the newest one that answers a request serves it.

Limitations
-----------
* A ``_request`` patch other than aioresponses (``mock.patch``, another mocking library)
  started *after* ours is above us and sees Forge requests first.
* A Forge-origin request the fake declines, with a user mock underneath, has run through
  aiohttp's request preparation once before the mock gets it: the session's trace configs
  see a request start and an exception (a private ``BaseException``), and the user's
  middlewares see that exception pass. A body that the handler's reading used up (a file,
  a stream, an async iterable) reaches the mock as aiohttp's replayable payload of it.
* aiohttp before 3.12.2 has no client middlewares or ``Payload.as_bytes()`` (3.12.0 and
  3.12.1 are yanked): not supported.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import weakref
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_forge_storage._http import HttpResponse, TransportFault
from pytest_forge_storage.transports import Handler

if TYPE_CHECKING:
    from aiohttp import ClientRequest, ClientResponse, ClientSession
    from aiohttp.client_middlewares import ClientHandlerType

__all__ = ["AiohttpInterceptor", "Claims"]

#: The router's rule: is this absolute URL on a Forge origin?
Claims = Callable[[str], bool]

#: ``True`` while aiohttp's ``_request`` runs for a claimed URL with a user mock underneath:
#: a request the handler declines then goes to that mock, not to the network.
_MOCK_BELOW: ContextVar[bool] = ContextVar("pytest_forge_storage_mock_below", default=False)
#: ``(METHOD, url)`` of a declined request on its way down to a user mock.
_HANDED_DOWN: ContextVar[tuple[str, str] | None] = ContextVar(
    "pytest_forge_storage_handed_down", default=None
)


class _Declined(BaseException):
    """Unwinds aiohttp's ``_request``, so that a declined request can go to the user's mock.

    A ``BaseException``, so that a user middleware catching ``Exception`` does not retry it.
    Carries the request's payload, which the handler has read: see :func:`_handed_down`.
    """

    def __init__(self, payload: object) -> None:
        super().__init__()
        self.payload = payload


class AiohttpInterceptor:
    """Serve ``aiohttp`` requests to URLs that ``claims`` accepts from ``handler``."""

    #: Started interceptors, oldest first: the newest one that answers a request serves it.
    _started: ClassVar[list[AiohttpInterceptor]] = []

    def __init__(self, claims: Claims, handler: Handler) -> None:
        self._claims = claims
        self._handler = handler

    @property
    def active(self) -> bool:
        return self in AiohttpInterceptor._started

    def start(self) -> None:
        if self.active:
            return
        _seam.prepare()
        AiohttpInterceptor._started.append(self)
        _seam.restack()

    def stop(self) -> None:
        if self.active:
            AiohttpInterceptor._started.remove(self)
            _seam.restack()


class _Seam:
    """Our layers on ``ClientSession._request`` and our hooks on aioresponses."""

    def __init__(self) -> None:
        self.aiohttp: ModuleType | None = None
        self.real: Callable[..., Any] | None = None  # aiohttp's own ClientSession._request
        self.hooked: type | None = None  # the aioresponses class whose start/stop we wrap
        self.originals: dict[str, Callable[..., Any]] = {}  # its start and stop
        #: Each layer of ours → what it sits on. (Not an attribute of the layer: an autospec
        #: of a layer would copy it.)
        self.below: weakref.WeakKeyDictionary[Callable[..., Any], Callable[..., Any]] = (
            weakref.WeakKeyDictionary()
        )

    def prepare(self) -> None:
        """Import aiohttp, find its own ``_request``, hook aioresponses if it is installed."""
        import aiohttp

        self.aiohttp = aiohttp
        if self.real is None:
            self.real = self.find_real(vars(aiohttp.ClientSession)["_request"])
        if self.hooked is None and importlib.util.find_spec("aioresponses") is not None:
            from aioresponses import aioresponses

            for name in ("start", "stop"):
                self.originals[name] = getattr(aioresponses, name)
                setattr(aioresponses, name, _hook(self.originals[name]))
            self.hooked = aioresponses

    def restack(self) -> None:
        """A layer on top while an interceptor is started; else unwind our layers on top."""
        assert self.aiohttp is not None
        session_class = self.aiohttp.ClientSession
        current = vars(session_class)["_request"]
        if AiohttpInterceptor._started:
            if current not in self.below:
                session_class._request = self.layer(current)
            return
        while current in self.below:
            current = self.below[current]
            session_class._request = current
        if current is self.real and self.hooked is not None:
            for name, method in self.originals.items():
                setattr(self.hooked, name, method)
            self.hooked = None

    def layer(self, below: Callable[..., Any]) -> Callable[..., Any]:
        real = self.real
        assert real is not None
        mock_below = below is not real  # restack() never puts a layer right on a layer

        @functools.wraps(real)  # so aioresponses' autospec checks calls as against aiohttp's
        async def _request(
            session: ClientSession, method: str, str_or_url: Any, *args: Any, **kwargs: Any
        ) -> ClientResponse:
            if AiohttpInterceptor._started:
                url = _absolute_url(session, str_or_url)
                if (
                    url is not None
                    and _HANDED_DOWN.get() != (method.upper(), url)
                    and any(i._claims(url) for i in AiohttpInterceptor._started)
                ):
                    call = (session, method, str_or_url, args, kwargs)
                    return await _forge_request(real, below, mock_below, url, *call)
            response: ClientResponse = await below(session, method, str_or_url, *args, **kwargs)
            return response

        self.below[_request] = below
        return _request

    def find_real(self, current: Any) -> Callable[..., Any]:
        """aiohttp's own ``_request``, found under our layers and aioresponses mocks."""
        seen: set[int] = set()
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if current in self.below:
                current = self.below[current]
            elif hasattr(current, "mock"):  # an autospec: aioresponses' patcher has the original
                owner = getattr(current.mock.side_effect, "__self__", None)
                current = getattr(getattr(owner, "patcher", None), "temp_original", None)
            elif inspect.iscoroutinefunction(current):
                return current  # type: ignore[no-any-return]
            else:
                break
        raise RuntimeError(
            "pytest-forge-storage cannot find aiohttp's own ClientSession._request under the "
            "patch on it: start the fake before patching ClientSession._request"
        )


_seam = _Seam()


def _hook(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` of aioresponses, followed by putting our layer back on top."""

    @functools.wraps(method)
    def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            _seam.restack()

    return hooked


def _absolute_url(session: ClientSession, str_or_url: Any) -> str | None:
    try:
        return str(session._build_url(str_or_url))
    except (TypeError, ValueError):  # aiohttp itself will say what is wrong with it
        return None


async def _forge_request(
    real: Callable[..., Any],
    below: Callable[..., Any],
    mock_below: bool,
    url: str,
    session: ClientSession,
    method: str,
    str_or_url: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> ClientResponse:
    """Run aiohttp's own ``_request`` with our middleware innermost; or hand it down."""
    middlewares = kwargs.get("middlewares")
    if middlewares is None:
        middlewares = session._middlewares
    token = _MOCK_BELOW.set(mock_below)
    try:
        response: ClientResponse = await real(
            session,
            method,
            str_or_url,
            *args,
            **{**kwargs, "middlewares": (*middlewares, _forge_middleware)},
        )
        return response
    except _Declined as declined:
        kwargs = _handed_down(kwargs, declined.payload)
    finally:
        _MOCK_BELOW.reset(token)
    handed = _HANDED_DOWN.set((method.upper(), url))
    try:
        response = await below(session, method, str_or_url, *args, **kwargs)
        return response
    finally:
        _HANDED_DOWN.reset(handed)


async def _forge_middleware(req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
    """Where aiohttp would connect: serve, fail, or let the request go on."""
    from pytest_forge_storage.transports import _aiohttp_wire as _wire  # imports aiohttp

    url = str(req.url)
    interceptors = [i for i in reversed(AiohttpInterceptor._started) if i._claims(url)]
    if interceptors:
        request = await _wire.http_request(req)
        for interceptor in interceptors:
            result = interceptor._handler(request)
            if isinstance(result, TransportFault):
                _wire.raise_transport_error(req, result)
            if isinstance(result, HttpResponse):
                return _wire.client_response(req, request, result)
    if _MOCK_BELOW.get():
        payload, req._body = req._body, None  # else aiohttp's clean-up closes a file body
        raise _Declined(payload)
    return await handler(req)


def _handed_down(kwargs: dict[str, Any], payload: object) -> dict[str, Any]:
    """The call's arguments for the user's mock, after the handler has read the body.

    A body that reading used up (a file, a stream, an async iterable) is replaced by the
    payload aiohttp made of it, which replays what was read (as aiohttp's own redirects do).
    """
    from aiohttp import FormData

    data = kwargs.get("data")
    replayable = (bytes, bytearray, str, Mapping, list, tuple, FormData)  # rebuilt per request
    if payload is None or data is None or isinstance(data, replayable):
        return kwargs
    return {**kwargs, "data": payload}
