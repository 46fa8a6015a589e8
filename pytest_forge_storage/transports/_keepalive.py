"""Keep-alive on the worker: serve a client's next request without a trip through the loop."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from typing import TYPE_CHECKING

from ._http11 import PeerClosed, Refusal, Request

if TYPE_CHECKING:
    from ._connection import Connection
    from ._loop import Loop

#: How long a worker that has just answered waits for the same client's next request.
GRACE = 0.002


def next_request(loop: Loop, conn: Connection) -> Request | None:
    """From a worker whose answer went out whole: the connection's next request, if the
    client sends it within :data:`GRACE` seconds and no other request waits for a worker;
    else ``None``, the connection handed on (watched for its next request, or closed).

    A keep-alive client sends its next request as soon as it has read an answer; serving
    it on the same worker saves two thread hand-offs, what makes a pooled server slower
    than one thread per connection. A worker waits at most :data:`GRACE` seconds for the
    whole request (clients send the head and the body apart); what has arrived of it by
    then goes to the I/O thread and its deadlines.
    """
    http = conn.http
    assert http is not None
    if not http.next_cycle():
        loop.hand_back(conn, "linger")
        return None
    if not http.buffered and not loop.quiet():
        loop.rearm(conn)
        return None
    data: bytes | None = None if http.buffered else b""
    until = time.monotonic() + GRACE
    while True:
        if data == b"":  # nothing new yet: wait, at most until the grace runs out
            if not _readable(conn.sock, until - time.monotonic()):
                if http.phase == "idle":
                    loop.rearm(conn)
                else:  # part of a request: the I/O thread and its deadlines take over
                    loop.hand_back(conn, "received")
                return None
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                loop.hand_back(conn, "drop")  # the client closed (or reset)
                return None
        try:
            request = http.receive(data, time.monotonic())
        except PeerClosed:
            loop.hand_back(conn, "drop")
            return None
        except Refusal as refusal:
            loop.hand_back(conn, "refuse", refusal)
            return None
        if request is not None:
            return request
        if http.interim:  # 100 Continue: the client waits for it before the body
            interim, http.interim = http.interim, b""
            with contextlib.suppress(OSError):
                conn.sock.send(interim)
        data = b""


def _readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has bytes (or its end) within ``timeout``; ``False`` once closed."""
    if timeout <= 0:
        return False
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    except (OSError, ValueError):  # closed by stop() meanwhile
        return False
