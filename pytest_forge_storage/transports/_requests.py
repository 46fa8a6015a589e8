"""The ``requests`` door: ``Session.get_adapter``, wrapped while a fake is active.

How it works
------------
``Session.send`` asks ``self.get_adapter(url)`` for the adapter of every request, then calls
``adapter.send(...)``, and does everything else itself: auth and hooks were applied when the
request was prepared, and redirects, cookies and ``elapsed`` come after. The wrapper returns
the adapter requests would have used, except for a URL on a Forge origin, where it returns a
:class:`_ForgeAdapter` around that adapter. Mock libraries for ``requests`` work one level
down: ``responses`` patches ``HTTPAdapter.send``, others mount adapters. So the fake sees a
Forge request first whatever mocks start before or after it, and hands on, unchanged, what it
does not serve: the user's mock then sees only its own traffic (``responses.calls`` never holds
a storage call), and with no mock the request meets the network guard.

Transport faults run urllib3's own retry machinery: the mounted adapter's ``max_retries``
(a ``urllib3.util.Retry``) is incremented with the error urllib3 raises for that failure
(``NewConnectionError`` for ``connection``, ``ReadTimeoutError`` for ``timeout``), sleeps its
backoff, and the request is offered to the fake again, one recorded call per attempt; when the
``Retry`` gives up, requests' own exception comes out as ``HTTPAdapter.send`` maps it
(``ConnectionError``, ``ReadTimeout``). Status retries (``status_forcelist``) work the same
way on served answers. What this cannot see: a ``Session`` subclass that overrides
``get_adapter`` without calling it, and ``requests-mock``, which replaces ``get_adapter`` too.
"""

from __future__ import annotations

import functools
import http
import io
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from urllib3 import HTTPConnectionPool, HTTPResponse, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError, ResponseError
from urllib3.util.retry import Retry

from pytest_forge_storage._http import HttpRequest, HttpResponse, TransportFault

from . import _guard, response_headers

if TYPE_CHECKING:
    from requests import PreparedRequest

    from . import _Active

_NO_RETRIES = Retry(0, read=False)  # requests' own default (DEFAULT_RETRIES)


def install(active: _Active) -> Callable[[], None]:
    """Wrap ``requests.Session.get_adapter``; returns the function that restores it."""
    original = requests.Session.get_adapter

    @functools.wraps(original)
    def get_adapter(self: requests.Session, url: str) -> Any:
        adapter = original(self, url)
        if active.claims(url):
            return _ForgeAdapter(adapter, active)
        return adapter

    requests.Session.get_adapter = get_adapter  # type: ignore[method-assign]

    def uninstall() -> None:
        if requests.Session.get_adapter is get_adapter:
            requests.Session.get_adapter = original  # type: ignore[method-assign]

    return uninstall


class _ForgeAdapter:
    """The adapter of a Forge-origin request: the fake first, then the adapter underneath."""

    __slots__ = ("_active", "_inner")

    def __init__(self, inner: Any, active: _Active) -> None:
        self._inner = inner
        self._active = active

    def send(self, request: PreparedRequest, **kwargs: Any) -> requests.Response:
        wire = HttpRequest(
            request.method or "GET",
            request.url or "",
            {
                name: value if isinstance(value, str) else value.decode("latin-1")
                for name, value in request.headers.lower_items()
            },
            _body_bytes(request),
        )
        retries: Retry | None = None
        while True:
            result = self._active.serve(wire)
            if result is None:
                with _guard.sending(wire.url):
                    response: requests.Response = self._inner.send(request, **kwargs)
                return response
            if retries is None:
                retries = _retries_of(self._inner)
            if isinstance(result, TransportFault):
                retries = _after_fault(request, result, retries)
                continue
            raw = _raw(result)
            if retries.is_retry(wire.method, result.status, "retry-after" in raw.headers):
                try:
                    retries = retries.increment(
                        wire.method, request.path_url, response=raw, _pool=_pool(request)
                    )
                except MaxRetryError as error:
                    if retries.raise_on_status:
                        raise requests.exceptions.RetryError(error, request=request) from error
                else:
                    retries.sleep(raw)
                    continue
            return _build(self._inner, request, raw)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _retries_of(adapter: Any) -> Retry:
    retries = getattr(adapter, "max_retries", None)
    if isinstance(retries, Retry):
        return retries
    return Retry.from_int(retries) if isinstance(retries, int) else _NO_RETRIES


def _pool(request: PreparedRequest) -> HTTPConnectionPool:
    """A pool object for urllib3's messages (``HTTPSConnectionPool(host=..., port=443)``)."""
    parts = urlsplit(request.url or "")
    secure = parts.scheme == "https"
    kind = HTTPSConnectionPool if secure else HTTPConnectionPool
    return kind(parts.hostname or "", parts.port or (443 if secure else 80))


def _after_fault(request: PreparedRequest, fault: TransportFault, retries: Retry) -> Retry:
    """Count one failed attempt on ``retries``: the next ``Retry``, or requests' exception."""
    pool = _pool(request)
    error: NewConnectionError | ReadTimeoutError
    if fault.error == "connection":
        connection: Any = pool.ConnectionCls(host=pool.host, port=pool.port)  # never connected
        message = f"Failed to establish a new connection: {fault.message}"
        error = NewConnectionError(connection, message)
    else:
        error = ReadTimeoutError(pool, request.path_url, f"Read timed out. ({fault.message})")
    try:
        retries = retries.increment(request.method, request.path_url, error=error, _pool=pool)
    except MaxRetryError as exhausted:  # as HTTPAdapter.send maps it
        if isinstance(exhausted.reason, ResponseError):
            raise requests.exceptions.RetryError(exhausted, request=request) from exhausted
        raise requests.ConnectionError(exhausted, request=request) from exhausted
    except ReadTimeoutError as timeout:  # not retried (read=False, or POST not allowed)
        raise requests.exceptions.ReadTimeout(timeout, request=request) from timeout
    retries.sleep()
    return retries


def _raw(result: HttpResponse) -> HTTPResponse:
    try:
        reason = http.HTTPStatus(result.status).phrase
    except ValueError:
        reason = ""
    return HTTPResponse(
        body=io.BytesIO(result.body),
        headers=response_headers(result),
        status=result.status,
        reason=reason,
        preload_content=False,
        decode_content=False,
    )


def _build(adapter: Any, request: PreparedRequest, raw: HTTPResponse) -> requests.Response:
    # HTTPAdapter.build_response only reads ``self`` to set ``response.connection``.
    response: requests.Response = requests.adapters.HTTPAdapter.build_response(
        adapter, request, raw
    )
    return response


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
    request.body = data  # a streamed upload is consumed: keep it sendable when handed on
    return data


def _read(body: Any) -> bytes:
    if hasattr(body, "read"):
        chunk = body.read()
        return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
    chunks: Iterable[Any] = body
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in chunks)
