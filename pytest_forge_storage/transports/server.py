"""Server mode: the fake behind a real HTTP port, for subprocesses and non-Python clients.

A standard-library ``ThreadingHTTPServer`` in front of :meth:`ForgeStorage.handle`.
It serves every path the router knows — the REST paths under ``/forge/storage/kvs/v1/``,
the ``@forge/kvs`` in-runtime aliases ``/api/v1/<op>`` (ref §17 decision 13),
``/graphql`` and ``/forge/entities/graphql`` — and answers anything else with 404.
No storage logic lives here: read the request, call the router, write the answer.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import selectors
import socket
import socketserver
import threading
import time
import warnings
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_forge_storage._http import HttpRequest, HttpResponse, RouterResult, TransportFault
from pytest_forge_storage._json import dumps as encode_json
from pytest_forge_storage._operations import REST_V1, SDK_V1

if TYPE_CHECKING:
    import os
    from types import TracebackType

    from pytest_forge_storage.storage import ForgeStorage

__all__ = ["ForgeStorageServer"]

#: Bodies above this size are refused from ``Content-Length`` alone, unread (413).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: How long a ``fail_transport(error="timeout")`` call is held before the connection drops.
TIMEOUT_DELAY = 5.0
#: Idle keep-alive connections are closed after this many seconds.
IDLE_TIMEOUT = 120.0
LOGGER = logging.getLogger("pytest_forge_storage.server")

Log = Callable[[str], None]


class ForgeStorageServer:
    """Serve a :class:`~pytest_forge_storage.ForgeStorage` over HTTP on localhost.

    ``ForgeStorageServer()`` binds ``127.0.0.1`` on a free port and creates its own
    storage (with ``manifest`` loaded, when given); pass ``storage`` to serve an existing
    one. ``log`` is a ``logging.Logger`` or a callable taking one line per request
    (method, path, status, duration — never the body); by default lines go to the
    ``pytest_forge_storage.server`` logger at INFO. Binding anything but a loopback
    address needs ``allow_remote=True``: the fake has no TLS and accepts any token.
    """

    def __init__(
        self,
        storage: ForgeStorage | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        manifest: str | os.PathLike[str] | None = None,
        log: logging.Logger | Log | None = None,
        *,
        allow_remote: bool = False,
        timeout_delay: float = TIMEOUT_DELAY,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        _check_host(host, allow_remote)
        #: Seconds a request hit by ``fail_transport(error="timeout")`` is held open.
        self.timeout_delay = timeout_delay
        self.max_body_bytes = max_body_bytes
        self._log = _log_function(log)
        self._httpd = _HTTPServer((host, port), self)  # binds now: the port is known
        self.host = host
        self.port: int = self._httpd.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        try:
            if storage is None:
                from pytest_forge_storage.storage import ForgeStorage

                storage = ForgeStorage(base_urls=[self.url], manifest=manifest)
            elif manifest is not None:
                storage.load_manifest(manifest)
        except BaseException:
            self._httpd.server_close()
            raise
        self.storage: ForgeStorage = storage
        # Requests are recorded under this URL: the server's own when the storage lists it,
        # else the storage's first base URL (a storage created elsewhere cannot know the port).
        self._origin = self.url if self.url in storage.base_urls else storage.base_urls[0]
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._state_lock = threading.Lock()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> ForgeStorageServer:
        """Serve in a daemon thread (idempotent); returns the server."""
        with self._state_lock:
            if self._closed:
                raise RuntimeError("This ForgeStorageServer was stopped; create a new one")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name=f"forge-storage-server:{self.port}", daemon=True
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port (idempotent)."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._stopped.set()
            thread, self._thread = self._thread, None
        if thread is not None:
            self._wake_w.send(b"x")
            thread.join()
        self._httpd.drop_connections()
        self._httpd.server_close()
        self._wake_r.close()
        self._wake_w.close()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> ForgeStorageServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else ("stopped" if self._closed else "not started")
        return f"<ForgeStorageServer {self.url} {state}>"

    def _serve(self) -> None:
        # serve_forever() notices shutdown() only at its next poll (0.5 s); waiting on a
        # wake-up socket as well makes stop() immediate.
        httpd = self._httpd
        httpd.timeout = 0
        with selectors.DefaultSelector() as selector:
            selector.register(httpd.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopped.is_set():
                for key, _ in selector.select():
                    if key.fileobj is httpd.socket and not self._stopped.is_set():
                        httpd.handle_request()

    # -- one request ----------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> RouterResult:
        """Hand one request to the storage: an HttpResponse, a TransportFault or ``None``."""
        if self._origin != self.url and path.startswith(SDK_V1):
            # Presented under the storage's base URL, as if sent to Forge: the public path.
            path = REST_V1 + path[len(SDK_V1) :]
        request = HttpRequest(method, self._origin + path, headers, body, local=True)
        return self.storage.handle(request)

    def log(self, line: str) -> None:
        self._log(line)

    def hold(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the server stops meanwhile."""
        self._stopped.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # socketserver's 5 drops connections under parallel clients

    def __init__(self, address: tuple[str, int], owner: ForgeStorageServer) -> None:
        self.owner = owner
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() looks the host up with getfqdn(), which can take seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self.connections_lock:
            if alive:
                self.connections[connection] = threading.current_thread()
            else:
                self.connections.pop(connection, None)

    def drop_connections(self, wait: float = 1.0) -> None:
        """Shut down keep-alive and held connections, and let their threads finish."""
        with self.connections_lock:
            connections = list(self.connections.items())
        for connection, _ in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + wait
        for _, thread in connections:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-response is not worth a traceback on stderr.
        LOGGER.debug("error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def version_string(self) -> str:
        return "forge-storage-fake"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        self.server.track(self.connection, alive=False)
        with contextlib.suppress(OSError):
            super().finish()

    # Every method reaches the router, which answers 405 for non-POST storage calls.
    def do_POST(self) -> None:
        self._serve()

    # TRACE and QUERY too: standard methods get the router's 405, not the stdlib's 501, which
    # stays for methods HTTP does not define (PROPFIND, ...).
    do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_QUERY = do_POST

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        error = self._declared_length_error()
        if error is not None:
            self._reply_error(*error, close=True)
            return False
        return super().handle_expect_100()

    def _serve(self, head: bool = False) -> None:
        owner = self.server.owner
        error = self._declared_length_error()
        if error is not None:
            self._reply_error(*error, close=True)
            return
        body = self._read_body()
        if body is None:
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        try:
            result = owner.dispatch(self.command, self.path, headers, body)
        except Exception as exc:  # a bug in the fake: answer, do not hang the client
            LOGGER.exception("pytest-forge-storage failed to serve %s %s", self.command, self._path)
            message = f"pytest-forge-storage failed to serve this request: {exc!r}"
            self._reply_error(500, "INTERNAL_SERVER_ERROR", message)
            return
        if result is None:
            self._reply_error(
                404,
                "NOT_FOUND",
                f"{self._path} is not a Forge storage path; this server serves "
                "/forge/storage/kvs/v1/<op>, /api/v1/<op>, /graphql and /forge/entities/graphql",
            )
        elif isinstance(result, TransportFault):
            self._fault(result)
        else:
            self._reply(result, head=head)

    @property
    def _path(self) -> str:
        return urlsplit(self.path).path  # the query string is never logged

    # -- body ---------------------------------------------------------------------------
    def _declared_length_error(self) -> tuple[int, str, str] | None:
        if self._chunked():
            return None
        raw = self.headers.get("content-length")
        if raw is None:
            return None
        if not raw.strip().isdigit():
            return 400, "BAD_REQUEST", f"Invalid Content-Length header {raw!r}"
        if int(raw) > self.server.owner.max_body_bytes:
            return 413, "MAX_SIZE", self._too_large(int(raw))
        return None

    def _too_large(self, size: int | None) -> str:
        limit = self.server.owner.max_body_bytes
        told = f"of {size} bytes " if size is not None else ""
        return f"The request body {told}exceeds this server's limit of {limit} bytes"

    def _chunked(self) -> bool:
        coding = self.headers.get("transfer-encoding", "")
        return coding.split(",")[-1].strip().lower() == "chunked"

    def _read_body(self) -> bytes | None:
        """The request body; ``None`` once an error has been answered."""
        if self._chunked():
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            self._log_line("(client closed the connection mid-body)")
            return None
        return body

    def _read_chunked(self) -> bytes | None:
        limit = self.server.owner.max_body_bytes
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._reply_error(400, "BAD_REQUEST", "Malformed chunked request body", close=True)
                return None
            if size == 0:
                while self.rfile.readline(1026) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                self._reply_error(413, "MAX_SIZE", self._too_large(None), close=True)
                return None
            chunk = self.rfile.read(size)
            self.rfile.readline(3)  # the CRLF after the chunk
            if len(chunk) < size:
                self.close_connection = True
                self._log_line("(client closed the connection mid-body)")
                return None
            parts.append(chunk)

    # -- answers --------------------------------------------------------------------------
    def _reply(self, response: HttpResponse, *, head: bool = False, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not head and response.status not in (204, 304):
            self.wfile.write(response.body)
        self._log_line(str(response.status))

    def _reply_error(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        body = encode_json({"code": code, "message": message})
        headers = {"content-type": "application/json"}
        self._reply(HttpResponse(status, body, headers), close=close)

    def _fault(self, fault: TransportFault) -> None:
        """Drop the connection without an answer (held first, for a timeout)."""
        if fault.error == "timeout":
            self.server.owner.hold(self.server.owner.timeout_delay)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self._log_line(f"dropped ({fault.error} fault)")

    def _log_line(self, outcome: str) -> None:
        elapsed = (time.perf_counter() - self._started) * 1000
        method = self.command or "-"
        path = self._path if getattr(self, "path", None) else "-"
        self.server.owner.log(f"{method} {path} {outcome} {elapsed:.1f}ms")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP (bad request line, huge headers, unknown method): JSON, then close."""
        if not hasattr(self, "_started"):
            self._started = time.perf_counter()
        text = message or self.responses.get(code, ("Error",))[0]
        error = "NOT_IMPLEMENTED" if code == 501 else "BAD_REQUEST"
        body = encode_json({"code": error, "message": text})
        response = HttpResponse(code, body, {"content-type": "application/json"})
        self._reply(response, head=self.command == "HEAD", close=True)

    # BaseHTTPRequestHandler writes its own lines to stderr; ours are in _log_line.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        LOGGER.debug("%s " + format, self.address_string(), *args)


def _check_host(host: str, allow_remote: bool) -> None:
    if _is_loopback(host):
        return
    if not allow_remote:
        raise ValueError(
            f"Refusing to serve the Forge storage fake on {host!r}, which other machines can "
            "reach. Bind '127.0.0.1' (the default), or pass allow_remote=True "
            "(--allow-remote on the command line) if you really mean it."
        )
    warnings.warn(
        f"The Forge storage fake is serving on {host!r}, reachable from other machines: it has "
        "no TLS and accepts any bearer token. Use it only on a trusted network.",
        UserWarning,
        stacklevel=3,
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _log_function(log: logging.Logger | Log | None) -> Log:
    if log is None:
        return lambda line: LOGGER.info("%s", line)
    if isinstance(log, logging.Logger):
        logger = log
        return lambda line: logger.info("%s", line)
    if not callable(log):
        raise TypeError(f"log must be a logging.Logger or a callable taking a line, not {log!r}")
    return log
