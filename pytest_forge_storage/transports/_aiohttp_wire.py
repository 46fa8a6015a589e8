"""aiohttp's request and response objects, to and from the wire types of :mod:`._http`.

:func:`http_request` reads a ``ClientRequest`` as aiohttp would send it; :func:`client_response`
builds the real ``ClientResponse`` aiohttp would have read from the network, and
:func:`raise_transport_error` raises what aiohttp's connector or response reader would.
Used by :mod:`._aiohttp`, which imports aiohttp before any of this runs.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import zlib
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.base_protocol import BaseProtocol
from multidict import CIMultiDict, CIMultiDictProxy

from pytest_forge_storage._http import HttpRequest, HttpResponse, TransportFault
from pytest_forge_storage.transports import response_headers

if TYPE_CHECKING:
    from aiohttp import ClientRequest, ClientResponse

__all__ = ["client_response", "http_request", "raise_transport_error"]


async def http_request(req: ClientRequest) -> HttpRequest:
    """The request as aiohttp would send it: header names lower-cased, the body's bytes."""
    return HttpRequest(req.method, str(req.url), _headers(req), await _body(req))


def _headers(req: ClientRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in req.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    # What ClientRequest.send() adds as it writes the request out.
    skipped = req._skip_auto_headers or ()
    if (
        req.method in req.POST_METHODS
        and "content-type" not in headers
        and aiohttp.hdrs.CONTENT_TYPE not in skipped
    ):
        headers["content-type"] = "application/octet-stream"
    if "connection" not in headers:
        connector = req._session.connector if req._session is not None else None
        if connector is not None and connector.force_close:
            if req.version == aiohttp.HttpVersion11:
                headers["connection"] = "close"
        elif req.version == aiohttp.HttpVersion10:
            headers["connection"] = "keep-alive"
    return headers


async def _body(req: ClientRequest) -> bytes:
    """The body's bytes as aiohttp would send them; the payload stays sendable."""
    body = req.body
    if isinstance(body, bytes):
        return body
    data = await body.as_bytes()
    _rewind(body)
    if req.compress:  # as aiohttp's writer compresses (its ZLibCompressor's modes)
        wbits = 16 + zlib.MAX_WBITS if req.compress == "gzip" else zlib.MAX_WBITS
        compressor = zlib.compressobj(wbits=wbits)
        data = compressor.compress(data) + compressor.flush()
    return data


def _rewind(payload: Any) -> None:
    """Seek file payloads back to where they started, as aiohttp does before it sends one.

    aiohttp 3.12 sizes a file payload from the file's current position: unrewound, a request
    that is sent on after the handler has read the body would be sent empty.
    """
    rewind = getattr(payload, "_set_or_restore_start_position", None)
    if rewind is not None:
        rewind()
    for part, *_ in getattr(payload, "_parts", ()):  # a MultipartWriter's parts
        _rewind(part)


def raise_transport_error(req: ClientRequest, fault: TransportFault) -> None:
    """aiohttp's own error for ``fault``, as its connector or its response reader raises it."""
    if fault.error == "timeout":
        raise aiohttp.SocketTimeoutError(fault.message)  # a ServerTimeoutError
    cause = ConnectionRefusedError(errno.ECONNREFUSED, fault.message)
    raise aiohttp.ClientConnectorError(req.connection_key, cause) from cause


class _Sent:
    """What aiohttp 3.14's ``ClientResponse`` asks of the writer that sent the request."""

    def __init__(self, output_size: int) -> None:
        self.output_size = output_size


#: Response class → whether its constructor takes ``stream_writer`` (aiohttp 3.14+).
_TAKES_STREAM_WRITER: dict[type, bool] = {}


def client_response(
    req: ClientRequest, request: HttpRequest, result: HttpResponse
) -> ClientResponse:
    """A real ``ClientResponse``, set up as ``ClientResponse.start`` sets up one it reads."""
    loop = asyncio.get_running_loop()
    response_class = req.response_class
    options: dict[str, Any] = {}
    takes = _TAKES_STREAM_WRITER.get(response_class)
    if takes is None:
        takes = "stream_writer" in inspect.signature(response_class).parameters
        _TAKES_STREAM_WRITER[response_class] = takes
    if takes:
        head = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
        size = len(req.method) + len(req.url.raw_path_qs) + 13 + head + 2 + len(request.body)
        options["stream_writer"] = _Sent(size)
    response = response_class(
        req.method,
        req.original_url,
        writer=None,
        continue100=None,
        timer=req._timer,
        request_info=req.request_info,
        traces=req._traces,
        loop=loop,
        session=req._session,
        **options,
    )
    body = result.body
    headers: CIMultiDict[str] = CIMultiDict(response_headers(result))
    if body and "content-length" not in headers:
        headers["Content-Length"] = str(len(body))
    response.version = aiohttp.HttpVersion11
    response.status = result.status
    try:
        response.reason = HTTPStatus(result.status).phrase
    except ValueError:
        response.reason = ""
    response._headers = CIMultiDictProxy(headers)
    response._raw_headers = tuple((k.encode(), v.encode("latin-1")) for k, v in headers.items())
    # A limit above the body's size: the reader never asks the absent connection to pause.
    content = aiohttp.StreamReader(BaseProtocol(loop), max(2**16, len(body)), loop=loop)
    response._closed = False  # as start() does: closed once the body is all there
    content.on_eof(response._response_eof)
    if body and req.method != "HEAD":
        content.feed_data(body)
    content.feed_eof()
    response.content = content
    return response
