"""One HTTP/1.1 connection of the server: h11 parses and frames, this module adds our caps.

h11 (the state machine under httpcore, so already installed with httpx) does RFC 9112's
framing: request line and header syntax, ``Content-Length`` (one value, ASCII digits, at
most 20 of them), chunked bodies (hex sizes, the CRLF after each chunk), keep-alive,
pipelining and ``Expect: 100-continue``. On top of it, stricter than h11 alone:

* ``Transfer-Encoding`` together with ``Content-Length`` is refused: RFC 9112 §6.1 lets a
  server refuse it, and a proxy in front might frame the body by the other header;
* the body cap counts bytes as they arrive, so a chunked body cannot go past it;
* a method HTTP does not define is 501, an HTTP version other than 1.0 or 1.1 is 505, both
  before the body is read;
* every other framing error is 400.

A refusal is an answer (JSON ``{code, message}``) followed by closing the connection: after
a framing error the next bytes cannot be trusted, so they never become a request. This
object is used by one thread at a time: the I/O thread while a request arrives, then the
worker that serves it.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import h11

from pytest_forge_storage._json import dumps as encode_json

#: Methods routed to the storage (which answers 405 where Forge would); any other is 501.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"})
#: Content-Length values longer than this are refused unparsed (h11 >= 0.15 does the same).
MAX_LENGTH_DIGITS = 20
#: The ``code`` member of our own (non-Forge) answers, by status.
CODES = {
    408: "REQUEST_TIMEOUT",
    413: "MAX_SIZE",
    501: "NOT_IMPLEMENTED",
    503: "SERVICE_UNAVAILABLE",
    505: "HTTP_VERSION_NOT_SUPPORTED",
}
#: A head is fed to h11 at most this much at a time (see Http11.receive).
_HEAD_STEP = 8 * 1024
_HOP_BY_HOP = frozenset({"content-length", "connection", "transfer-encoding"})


class Refusal(Exception):
    """A request this server answers itself with ``status`` and then closes the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> bytes:
        return encode_json({"code": CODES.get(self.status, "BAD_REQUEST"), "message": self.message})


class PeerClosed(Exception):
    """The client closed the connection between requests: nothing to answer."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    #: Lower-cased names; repeated headers joined with ", ".
    headers: Mapping[str, str]
    body: bytes
    started: float  # time.perf_counter() when the head was complete


class Http11:
    """h11's server side for one socket, with the body cap and the phase timestamps."""

    def __init__(self, max_body_bytes: int, max_header_bytes: int) -> None:
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self._max_body = max_body_bytes
        self._max_head = max_header_bytes
        self._head_bytes = 0  # fed to h11 since the current head began
        self._parts: list[bytes] = []
        self._size = 0
        self._continued = False
        self._head: h11.Request | None = None
        self._fields: list[tuple[bytes, bytes]] = []
        self._close = False
        self._buffered = False
        #: What the log line names: set once a head has been parsed.
        self.method = "-"
        self.path = "-"
        self.started = 0.0
        #: time.monotonic() of the current request's first byte and of its complete head.
        self.head_since: float | None = None
        self.body_since: float | None = None
        #: Bytes to send at once (``100 Continue``), taken by the caller after ``receive``.
        self.interim = b""

    @property
    def phase(self) -> str:
        """``idle`` between requests, ``head`` while one arrives, ``body`` after its head."""
        if self._head is not None:
            return "body"
        return "head" if self.head_since is not None else "idle"

    def receive(self, data: bytes | None, now: float) -> Request | None:
        """Feed what the socket read (``b""`` at EOF, ``None`` for nothing new).

        Returns the request once it is complete, else ``None``; raises :class:`Refusal` or
        :class:`PeerClosed`. A head is fed to h11 in steps smaller than the header cap, so
        h11's cap on an incomplete head holds however much one ``recv()`` brought.
        """
        self._buffered = False
        if not data:
            if data is not None:
                self._h11.receive_data(b"")  # EOF
            elif self.head_since is None and self._h11.trailing_data[0]:
                self.head_since = now  # a pipelined request, already here
            return self._events(more=False)
        if self.head_since is None:
            self.head_since = now
        offset, total = 0, len(data)
        while offset < total:
            size = total - offset
            if self._head is None:  # never step past the cap: h11 checks it between steps
                size = min(size, _HEAD_STEP, max(1, self._max_head + 1 - self._head_bytes))
                self._head_bytes += size
            self._h11.receive_data(data if size == total else data[offset : offset + size])
            offset += size
            request = self._events(more=offset < total)
            if request is not None:
                if offset < total:  # a pipelined next request: h11 keeps it for later
                    self._h11.receive_data(data[offset:])
                return request
        return None

    def _events(self, *, more: bool) -> Request | None:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._refusal(exc) from None
            except Exception as exc:  # an h11 before 0.15 parsing a 5,000-digit length
                raise Refusal(400, f"Malformed request: {exc}") from None
            if event is h11.NEED_DATA or event is h11.PAUSED:
                waiting = self._h11.they_are_waiting_for_100_continue
                if waiting and not more and not self._continued:
                    self._continued = True
                    self.interim = b"HTTP/1.1 100 Continue\r\n\r\n"
                return None
            if isinstance(event, h11.Request):
                self._start(event, time.monotonic())
            elif isinstance(event, h11.Data):
                self._size += len(event.data)
                if self._size > self._max_body:
                    raise Refusal(413, self.too_large(None))
                self._parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return self._complete()
            elif isinstance(event, h11.ConnectionClosed):
                raise PeerClosed

    def _refusal(self, exc: h11.RemoteProtocolError) -> Refusal:
        if str(exc) == "Receive buffer too long":
            buffered = self._h11.trailing_data[0]
            if b"\n" not in buffered:
                return Refusal(414, "The request line is too long")
            return Refusal(431, "The request's header section is too large")
        if self._h11.their_state is h11.ERROR and self.phase == "body" and "closed" in str(exc):
            return Refusal(400, "The client closed the connection before the body ended")
        text = str(exc)
        if "Content-Length" in text:
            return Refusal(400, f"Invalid Content-Length header ({text})")
        if "Transfer-Encoding" in text:
            return Refusal(400, f"Unsupported Transfer-Encoding ({text}): send one 'chunked'")
        if "chunk" in text:
            return Refusal(400, f"Malformed chunked request body ({text})")
        return Refusal(400, f"Malformed HTTP request: {text}")

    def _start(self, head: h11.Request, now: float) -> None:
        self._head = head
        self.started = time.perf_counter()
        self.body_since = now
        self.method = head.method.decode("ascii", "replace")
        self.path = head.target.decode("ascii", "replace").split("?", 1)[0] or "/"
        if head.http_version not in (b"1.1", b"1.0"):
            version = head.http_version.decode("ascii", "replace")
            raise Refusal(505, f"HTTP/{version} is not supported; this server speaks HTTP/1.1")
        # raw_items() is a plain list; iterating h11's Headers goes through Sequence.__iter__
        self._fields = fields = [(name.lower(), value) for name, value in head.headers.raw_items()]
        lengths = [v for n, v in fields if n == b"content-length"]
        if lengths and any(n == b"transfer-encoding" for n, _ in fields):
            raise Refusal(400, "Transfer-Encoding and Content-Length must not come together")
        if lengths and len(lengths[0]) > MAX_LENGTH_DIGITS:
            raise Refusal(400, "Invalid Content-Length header: more than 20 digits")
        if lengths and int(lengths[0]) > self._max_body:
            raise Refusal(413, self.too_large(int(lengths[0])))
        if self.method not in METHODS:
            raise Refusal(501, f"Unsupported method ({self.method!r})")

    def _complete(self) -> Request:
        assert self._head is not None
        headers: dict[str, str] = {}
        for raw_name, raw_value in self._fields:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = b"".join(self._parts)
        target = self._head.target.decode("ascii", "replace")
        return Request(self.method, target, headers, body, self.started)

    def too_large(self, size: int | None) -> str:
        told = f"of {size} bytes " if size is not None else ""
        return f"The request body {told}exceeds this server's limit of {self._max_body} bytes"

    # -- answers --------------------------------------------------------------------------
    def respond(
        self, status: int, headers: Mapping[str, str], body: bytes, *, close: bool = False
    ) -> bytes:
        """The bytes of one response (no body for HEAD, 204 and 304).

        Written here rather than through ``h11.Connection.send``: the fields are ours or the
        router's, never the client's, and h11's checks on them cost more than the rest of a
        response together. h11 parses; the keep-alive decision it would take is in
        :meth:`keep_alive`.
        """
        close = close or not self.keep_alive()
        self._close = close
        lines = [
            b"HTTP/1.1 %d %s\r\nServer: forge-storage-fake\r\nDate: %s\r\n"
            % (status, _reason(status), _date())
        ]
        for name, value in headers.items():
            if name.lower() not in _HOP_BY_HOP:
                lines.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        if status not in (204, 304):
            lines.append(b"Content-Length: %d\r\n" % len(body))
        if close:
            lines.append(b"Connection: close\r\n")
        lines.append(b"\r\n")
        if body and status not in (204, 304) and self.method != "HEAD":
            lines.append(body)
        return b"".join(lines)

    def keep_alive(self) -> bool:
        """Whether the client lets the connection live on after this request (RFC 9112 §9.3)."""
        head = self._head
        if head is None or self._h11.their_state is not h11.DONE:
            return False  # refused mid-request: the rest of it cannot be framed
        tokens = b",".join(v for n, v in self._fields if n == b"connection").lower()
        options = {token.strip() for token in tokens.split(b",")}
        if head.http_version == b"1.0":
            return b"keep-alive" in options
        return b"close" not in options

    def refuse(self, refusal: Refusal) -> bytes:
        body = refusal.body()
        return self.respond(refusal.status, {"content-type": "application/json"}, body, close=True)

    def next_cycle(self) -> bool:
        """After a response: ready for the next request (``True``) or must close.

        A fresh h11 connection takes over what the client already sent (a pipelined next
        request), as ``start_next_cycle`` would after an h11-written response.
        """
        if self._close or self._head is None:
            return False
        trailing, closed = self._h11.trailing_data
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=self._max_head)
        if trailing:
            self._h11.receive_data(trailing)
        if closed:
            self._h11.receive_data(b"")
        self._parts, self._size, self._continued, self._head = [], 0, False, None
        self.head_since = self.body_since = None
        self.method = self.path = "-"
        self.started = 0.0
        self._head_bytes = len(trailing)
        self._buffered = bool(trailing) or closed
        return True

    @property
    def buffered(self) -> bool:
        """Bytes (or the end) of a next, pipelined request are already here."""
        return self._buffered


def refusal_bytes(status: int, message: str) -> bytes:
    """A whole answer for a socket without an h11 connection (over the connection cap)."""
    body = Refusal(status, message).body()
    return (
        b"HTTP/1.1 %d %s\r\nserver: forge-storage-fake\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % (status, _reason(status), len(body))
    ) + body


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


_date_cache: tuple[int, bytes] = (0, b"")


def _date() -> bytes:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]
