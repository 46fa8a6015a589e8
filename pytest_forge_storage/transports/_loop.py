"""The server's I/O thread: one selector over non-blocking sockets, deadlines, the caps.

Every socket belongs to this thread except while a worker serves its complete request:

    read ──(request complete)──▶ work (worker) ──▶ write ──▶ read (keep-alive)
      │                            │                  └──▶ linger ──▶ closed
      └─(refusal)─▶ write ─▶ linger └─(timeout fault)─▶ hold ──▶ closed

* **read**: h11 parses what arrives. Between requests the idle deadline applies; from a
  request's first byte the head deadline, from its complete head the body deadline (408).
* **hold**: a ``timeout`` fault keeps the socket open, unanswered, until the client gives
  up or ``timeout_delay`` passes. No worker waits meanwhile.
* **linger**: after an answer that closes, the write side is shut and whatever the client
  still sends is read and dropped until it closes (or a short deadline), so the answer is
  not lost to a reset.

Deadlines are kept on the connections; the loop sleeps until the earliest one it knows of
and sweeps all connections only when that one is due. Over ``max_connections`` a new socket
gets 503 and is closed. When ``accept()`` fails for lack of file descriptors, the listening
socket leaves the selector for a growing pause instead of waking the loop again at once.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._connection import HOLD, LINGER, READ, WORK, WRITE, Connection, Handback, Limits, Serve
from ._http11 import Http11, PeerClosed, Refusal, Request, refusal_bytes
from ._keepalive import next_request

if TYPE_CHECKING:
    from ._pool import WorkerPool

LOGGER = logging.getLogger("pytest_forge_storage.server")
#: accept() errors that mean "out of descriptors or memory": pause accepting, do not spin.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: How long a closing connection may keep sending before it is closed anyway (seconds).
LINGER_SECONDS = 2.0
_ACCEPT_PAUSE = (0.05, 1.0)  # first and longest pause after an EMFILE


class Loop:
    """The selector loop of one server; ``run()`` is the I/O thread's body."""

    def __init__(
        self, listener: socket.socket, limits: Limits, pool: WorkerPool, serve: Serve
    ) -> None:
        self.limits = limits
        self._listener = listener
        self._pool = pool
        self._serve = serve
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        self._handbacks: collections.deque[Handback] = collections.deque()
        self._connections: dict[int, Connection] = {}
        self._stopped = threading.Event()
        self._next_due = float("inf")
        self._due_lock = threading.Lock()  # workers set deadlines too (rearm)
        self._accept_paused_until: float | None = None
        self._accept_pause = _ACCEPT_PAUSE[0]
        self._warned_emfile = False
        self.log: Callable[[str], None] = lambda line: None

    # -- called from other threads ----------------------------------------------------------
    def hand_back(self, conn: Connection, action: str, data: bytes | float | Refusal = b"") -> None:
        """A worker is done with ``conn``: the I/O thread takes it from here (thread-safe)."""
        self._handbacks.append((conn, action, data))
        self._wake()

    def after_answer(self, conn: Connection) -> Request | None:
        """From a worker whose answer went out whole: the connection's next request, if it
        comes at once (see :func:`._keepalive.next_request`); else ``None``, handed on."""
        return next_request(self, conn)

    def quiet(self) -> bool:
        """Whether no other request waits for a worker (the pool's view)."""
        return self._pool.quiet()

    def rearm(self, conn: Connection) -> None:
        """From a worker, after a whole answer on a connection that lives on: wait for its next
        request. The common case of keep-alive, so it skips the trip through the I/O thread:
        the worker registers the socket itself. ``selectors`` allows that for a socket the I/O
        thread is not touching (epoll_ctl is thread-safe; the selector's key map is a dict).
        """
        deadline = time.monotonic() + self.limits.idle_timeout
        with self._due_lock:
            conn.deadline = deadline  # before the state: a sweep never sees the old deadline
            earlier = deadline < self._next_due
            if earlier:
                self._next_due = deadline
        conn.state = READ
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (KeyError, ValueError, OSError, RuntimeError):  # stopped meanwhile
            self.hand_back(conn, "drop")
            return
        if earlier:
            self._wake()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- the I/O thread ---------------------------------------------------------------------
    def run(self) -> None:
        selector = self._selector
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, self)
        try:
            while not self._stopped.is_set():
                timeout = None
                if self._next_due != float("inf") or self._accept_paused_until is not None:
                    due = min(self._next_due, self._accept_paused_until or float("inf"))
                    timeout = max(0.0, due - time.monotonic())
                for key, mask in selector.select(timeout):
                    if key.data is None:
                        self._accept()
                    elif key.data is self:
                        self._drain_wake()
                    else:
                        self._on_ready(key.data, mask)
                self._take_handbacks()
                now = time.monotonic()
                if now >= self._next_due:
                    self._sweep(now)
                if self._accept_paused_until is not None and now >= self._accept_paused_until:
                    self._accept_paused_until = None
                    selector.register(self._listener, selectors.EVENT_READ, None)
        finally:
            self.close()

    def close(self) -> None:
        """Drop every connection and release the selector (the I/O thread's last act)."""
        for conn in list(self._connections.values()):
            self._close(conn, abrupt=True)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        # After draining and before taking the handbacks: a worker that hands back from now
        # on writes a new byte, so none waits unseen.
        self._woken = False

    def _take_handbacks(self) -> None:
        while self._handbacks:
            conn, action, data = self._handbacks.popleft()
            if conn.sock.fileno() < 0:
                continue
            if action == "write" and isinstance(data, bytes):
                self._write(conn, data, close=False)
            elif action == "hold" and isinstance(data, float):
                conn.state = HOLD
                self._set_deadline(conn, time.monotonic() + data)
                self._watch(conn, selectors.EVENT_READ)
            elif action == "linger":
                self._linger(conn)
            elif action == "received" and conn.http is not None:
                conn.state = READ
                self._set_deadline(conn, time.monotonic() + self.limits.idle_timeout)
                self._watch(conn, selectors.EVENT_READ)
                self._received(conn, conn.http, None)
            elif action == "refuse" and isinstance(data, Refusal) and conn.http is not None:
                self._refuse(conn, conn.http, data)
            else:
                self._close(conn, abrupt=True)

    # -- accepting ----------------------------------------------------------------------------
    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRNOS:
                    self._pause_accepting(exc)
                elif exc.errno != errno.ECONNABORTED:
                    LOGGER.debug("accept() failed", exc_info=True)
                return
            self._accept_pause = _ACCEPT_PAUSE[0]
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            now = time.monotonic()
            if len(self._connections) >= self.limits.max_connections:
                self._over_capacity(sock, now)
                continue
            http = Http11(self.limits.max_body_bytes, self.limits.max_header_bytes)
            conn = Connection(sock, http, now, self.limits.idle_timeout)
            self._connections[sock.fileno()] = conn
            self._watch(conn, selectors.EVENT_READ)
            self._set_deadline(conn, conn.deadline)

    def _pause_accepting(self, exc: OSError) -> None:
        pause = self._accept_pause
        self._accept_pause = min(pause * 2, _ACCEPT_PAUSE[1])
        self._accept_paused_until = time.monotonic() + pause
        self._selector.unregister(self._listener)
        if not self._warned_emfile:
            self._warned_emfile = True
            LOGGER.warning(
                "pytest-forge-storage server: accept() failed (%s); pausing new connections "
                "until descriptors are free (logged once)",
                exc,
            )

    def _over_capacity(self, sock: socket.socket, now: float) -> None:
        # Linger such sockets only while that stays bounded too; past it, just close.
        if len(self._connections) >= 2 * self.limits.max_connections:
            sock.close()
            return
        conn = Connection(sock, None, now, 0.0)
        self._connections[sock.fileno()] = conn
        message = (
            f"This server already has {self.limits.max_connections} connections open "
            "(max_connections); retry later"
        )
        self.log("- - 503 0.0ms")
        self._write(conn, refusal_bytes(503, message), close=True)

    # -- reading ------------------------------------------------------------------------------
    def _on_ready(self, conn: Connection, mask: int) -> None:
        if conn.state == WRITE:
            self._flush(conn)
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if conn.state == READ:
            self._receive(conn, data)
        elif not data:  # a held or lingering client closed (or reset): done
            if conn.state == HOLD:
                self._log_held(conn)
            self._close(conn, abrupt=True)

    def _receive(self, conn: Connection, data: bytes | None) -> None:
        http = conn.http
        assert http is not None
        now = time.monotonic()
        try:
            request = http.receive(data, now)
        except PeerClosed:
            self._close(conn, abrupt=True)
            return
        except Refusal as refusal:
            self._refuse(conn, http, refusal)
            return
        self._received(conn, http, request)

    def _received(self, conn: Connection, http: Http11, request: Request | None) -> None:
        if http.interim:
            interim, http.interim = http.interim, b""
            with contextlib.suppress(OSError):
                conn.sock.send(interim)  # 25 bytes into an empty buffer
        if request is None:
            limits = self.limits
            phase = http.phase
            if phase == "head" and http.head_since is not None:
                self._set_deadline(conn, http.head_since + limits.header_timeout)
            elif phase == "body" and http.body_since is not None:
                self._set_deadline(conn, http.body_since + limits.body_timeout)
            return
        conn.state = WORK
        self._unwatch(conn)
        self._pool.submit(lambda: self._serve(conn, request))

    def _refuse(self, conn: Connection, http: Http11, refusal: Refusal) -> None:
        elapsed = (time.perf_counter() - http.started) * 1000 if http.started else 0.0
        self.log(f"{http.method} {http.path} {refusal.status} {elapsed:.1f}ms")
        self._write(conn, http.refuse(refusal), close=True)

    # -- writing ------------------------------------------------------------------------------
    def _write(self, conn: Connection, data: bytes, close: bool) -> None:
        conn.out, conn.close_after = data, close
        conn.state = WRITE
        self._set_deadline(conn, time.monotonic() + self.limits.body_timeout)
        self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        try:
            while conn.out:
                sent = conn.sock.send(conn.out)
                conn.out = conn.out[sent:]
        except (BlockingIOError, InterruptedError):
            self._watch(conn, selectors.EVENT_WRITE)
            return
        except OSError:
            self._close(conn, abrupt=True)
            return
        self._answered(conn)

    def _answered(self, conn: Connection) -> None:
        http = conn.http
        if conn.close_after or http is None or not http.next_cycle():
            self._linger(conn)
            return
        conn.state = READ
        now = time.monotonic()
        self._set_deadline(conn, now + self.limits.idle_timeout)
        self._watch(conn, selectors.EVENT_READ)
        if http.buffered:  # pipelined: the next request is already here
            self._receive(conn, None)

    def _linger(self, conn: Connection) -> None:
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn, abrupt=True)
            return
        conn.state = LINGER
        self._set_deadline(conn, time.monotonic() + LINGER_SECONDS)
        self._watch(conn, selectors.EVENT_READ)

    # -- deadlines ----------------------------------------------------------------------------
    def _set_deadline(self, conn: Connection, deadline: float) -> None:
        with self._due_lock:
            conn.deadline = deadline
            if deadline < self._next_due:
                self._next_due = deadline

    def _sweep(self, now: float) -> None:
        with self._due_lock:  # what workers set from now on is kept (merged below)
            self._next_due = float("inf")
        due = float("inf")
        for conn in list(self._connections.values()):
            if conn.state == WORK:
                continue
            if conn.deadline > now:
                due = min(due, conn.deadline)
                continue
            http = conn.http
            if conn.state == READ and http is not None and http.phase != "idle":
                which = "header" if http.phase == "head" else "body"
                self._refuse(conn, http, Refusal(408, f"The request's {which} came too slowly"))
                due = min(due, conn.deadline)
            else:
                if conn.state == HOLD:
                    self._log_held(conn)
                self._close(conn, abrupt=conn.state != LINGER)
        with self._due_lock:
            self._next_due = min(self._next_due, due)

    def _log_held(self, conn: Connection) -> None:
        started = conn.http.started if conn.http is not None else time.perf_counter()
        self.log(f"{conn.what} {(time.perf_counter() - started) * 1000:.1f}ms")

    # -- selector bookkeeping -----------------------------------------------------------------
    def _watch(self, conn: Connection, events: int) -> None:
        try:
            key = self._selector.get_key(conn.sock)
        except KeyError:
            self._selector.register(conn.sock, events, conn)
            return
        if key.events != events:
            self._selector.modify(conn.sock, events, conn)

    def _unwatch(self, conn: Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _close(self, conn: Connection, *, abrupt: bool) -> None:
        self._unwatch(conn)
        fd = conn.sock.fileno()
        if fd >= 0:
            self._connections.pop(fd, None)
        if abrupt:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        conn.sock.close()

    @property
    def open_connections(self) -> int:
        return len(self._connections)
