"""One client connection of the server, as the I/O thread and the workers share it.

A connection is in one state at a time (:data:`READ` … :data:`LINGER`, drawn in
:mod:`._loop`); only the thread that owns that state touches its socket.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from ._http11 import Http11, Refusal, Request

READ, WORK, WRITE, HOLD, LINGER = "read", "work", "write", "hold", "linger"


@dataclass(frozen=True)
class Limits:
    max_connections: int
    max_body_bytes: int
    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    idle_timeout: float


class Connection:
    __slots__ = ("close_after", "deadline", "http", "out", "sock", "state", "what")

    def __init__(self, sock: socket.socket, http: Http11 | None, now: float, idle: float) -> None:
        self.sock = sock
        self.http = http
        self.state = READ
        self.out = b""
        self.close_after = False
        self.deadline = now + idle
        self.what = ""  # the log line's "METHOD path" of a held request


#: What a worker hands back: the connection, what to do with it, and the data for that:
#: ``write`` the rest of an answer (bytes), ``hold`` it (seconds), ``drop`` it at once,
#: ``linger`` (answered; the connection must close), ``receive`` (answered; the next request
#: is already buffered).
Handback = tuple[Connection, str, "bytes | float | Refusal"]
#: How the loop hands a complete request to the server (on a worker).
Serve = Callable[[Connection, Request], None]
