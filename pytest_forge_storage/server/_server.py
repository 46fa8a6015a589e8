"""Server mode: the fake behind a real HTTP port, for subprocesses and non-Python clients.

It serves every path the router knows: the REST paths under ``/forge/storage/kvs/v1/``,
the ``@forge/kvs`` in-runtime aliases ``/api/v1/<op>`` (ref §17 decision 13), ``/graphql``
and ``/forge/entities/graphql``; the control API under ``/_forge-storage/`` (see
:mod:`._control`); and answers anything else with 404. No storage logic lives here: read the
request, call the router, write the answer.

The HTTP stack is h11 behind one selector thread (:mod:`._loop`, :mod:`._http11`) and a
bounded pool of workers (:mod:`._pool`) that serve complete requests, so idle, slow or held
sockets cost a file descriptor and never a thread. docs/server.md lists every cap and
deadline; each is a constructor argument.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pytest_forge_storage._http import HttpRequest, HttpResponse, RouterResult, TransportFault
from pytest_forge_storage._json import dumps as encode_json
from pytest_forge_storage._operations import GRAPHQL_PATHS, REST_V1, SDK_V1
from pytest_forge_storage.transports._connection import Connection, Limits
from pytest_forge_storage.transports._loop import Loop
from pytest_forge_storage.transports._pool import WorkerPool

if TYPE_CHECKING:
    import os
    from types import TracebackType

    from pytest_forge_storage.storage import ForgeStorage
    from pytest_forge_storage.transports._http11 import Request

    from ._control import ControlApi
    from ._durability import Durability

__all__ = ["ForgeStorageServer"]

#: Bodies above this size are refused (413): from ``Content-Length`` before they are read,
#: and while they arrive when chunked.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: The request line and headers together (431, or 414 for the request line alone).
MAX_HEADER_BYTES = 64 * 1024
#: Open connections at once; one more is answered 503 and closed.
MAX_CONNECTIONS = 512
#: Seconds from a request's first byte to the end of its headers (else 408 and close).
HEADER_TIMEOUT = 10.0
#: Seconds from the end of a request's headers to the end of its body (else 408 and close).
BODY_TIMEOUT = 30.0
#: Seconds a keep-alive connection may stay idle between requests before it is closed.
IDLE_TIMEOUT = 60.0
#: How long a ``fail_transport(error="timeout")`` call is held before the connection drops.
TIMEOUT_DELAY = 30.0
#: Worker threads serving complete requests (started on demand).
WORKERS = 4
CONTROL_PREFIX = "/_forge-storage/"
LOGGER = logging.getLogger("pytest_forge_storage.server")

Log = Callable[[str], None]
_JSON = {"content-type": "application/json"}


class ForgeStorageServer:
    """Serve a :class:`~pytest_forge_storage.ForgeStorage` over HTTP on localhost.

    ``ForgeStorageServer()`` binds ``127.0.0.1`` on a free port and creates its own
    storage (with ``manifest`` loaded, when given); pass ``storage`` to serve an existing
    one. ``log`` is a ``logging.Logger`` or a callable taking one line per request
    (method, path, status, duration — never the body); by default lines go to the
    ``pytest_forge_storage.server`` logger at INFO. Binding anything but a loopback
    address needs ``allow_remote=True``: the fake has no TLS and accepts any token.
    The control API (``/_forge-storage/...``: reset, seed, snapshot with secrets in clear)
    is on by default on loopback and off on any other interface; ``control=True`` or
    ``control=False`` says so explicitly. The caps and deadlines default to the module
    constants of the same names, upper-cased.
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
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        workers: int = WORKERS,
        control: bool | None = None,
        db: str | os.PathLike[str] | None = None,
    ) -> None:
        if control is None:  # anyone who reaches the port could reset, seed and read it
            control = _is_loopback(host)
        _check_host(host, allow_remote, control)
        limits = _limits(
            max_connections, max_body_bytes, header_timeout, body_timeout, idle_timeout
        )
        #: Seconds a request hit by ``fail_transport(error="timeout")`` is held open.
        self.timeout_delay = timeout_delay
        self.max_body_bytes = max_body_bytes
        self._log = _log_function(log)
        self._pool = WorkerPool(workers, "forge-storage-worker")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # create_server() sets SO_REUSEADDR (a port in TIME_WAIT is reusable, one in use is not).
        self._listener = socket.create_server((host, port), family=family, backlog=1024)
        self._listener.setblocking(False)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        try:
            if storage is None:
                from pytest_forge_storage.storage import ForgeStorage

                storage = ForgeStorage(base_urls=[self.url], manifest=manifest)
            elif manifest is not None:
                storage.load_manifest(manifest)
        except BaseException:
            self._listener.close()
            raise
        self.storage: ForgeStorage = storage
        #: With ``db``, the durable copy: loaded now, kept in step with every write.
        self.durability: Durability | None = None
        if db is not None:
            from ._durability import Durability

            try:
                self.durability = Durability(storage, db)
            except BaseException:
                self._listener.close()
                raise
        # Requests are recorded under this URL: the server's own when the storage lists it,
        # else the storage's first base URL (a storage created elsewhere cannot know the port).
        self._origin = self.url if self.url in storage.base_urls else storage.base_urls[0]
        self._control: ControlApi | None = None
        if control:
            from ._control import ControlApi

            self._control = ControlApi(storage, self.durability)
        self._loop = Loop(self._listener, limits, self._pool, self._serve)
        self._loop.log = self.log
        self._thread: threading.Thread | None = None
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
                    target=self._loop.run, name=f"forge-storage-server:{self.port}", daemon=True
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port (idempotent)."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            thread, self._thread = self._thread, None
        self._loop.stop()
        if thread is not None and thread.ident is not None:
            thread.join()
        else:  # never started (or a signal came between making the thread and starting it)
            self._loop.close()
        self._pool.close(wait=1.0)
        self._listener.close()
        if self.durability is not None:
            self.durability.close()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def open_connections(self) -> int:
        """Connections open right now (idle keep-alive ones included)."""
        return self._loop.open_connections

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

    # -- one request ----------------------------------------------------------------------
    def dispatch(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> RouterResult:
        """Hand one request to the storage: an HttpResponse, a TransportFault or ``None``."""
        if self._origin != self.url and path.startswith(SDK_V1):
            # Presented under the storage's base URL, as if sent to Forge: the public path.
            path = REST_V1 + path[len(SDK_V1) :]
        request = HttpRequest(method, self._origin + path, headers, body, local=True)
        return self.storage.handle(request)

    def log(self, line: str) -> None:
        self._log(line)

    def _answer(self, request: Request) -> HttpResponse | TransportFault:
        target = request.target
        path = target.partition("?")[0] if target.startswith("/") else urlsplit(target).path
        if self._control is not None and path.startswith(CONTROL_PREFIX):
            return self._control.handle(request.method, target, request.body)
        try:
            result = self.dispatch(request.method, target, request.headers, request.body)
        except Exception as exc:  # a bug in the fake: answer, do not hang the client
            LOGGER.exception("pytest-forge-storage failed to serve %s %s", request.method, path)
            message = f"pytest-forge-storage failed to serve this request: {exc!r}"
            return _error(500, "INTERNAL_SERVER_ERROR", message)
        if result is None and path in GRAPHQL_PATHS:
            return _graphql_not_served(request.method, path)
        if result is None:
            return _error(
                404,
                "NOT_FOUND",
                f"{path} is not a Forge storage path; this server serves "
                "/forge/storage/kvs/v1/<op>, /api/v1/<op>, /graphql and /forge/entities/graphql",
            )
        return result

    def _serve(self, conn: Connection, request: Request) -> None:
        """A worker's job: answer one complete request (and the same client's next ones, while
        they come at once), then hand the socket back to the I/O thread."""
        next_request: Request | None = request
        try:
            while next_request is not None:
                if not self._serve_one(conn, next_request):
                    return
                next_request = self._loop.after_answer(conn)
        except Exception:  # the server stopped under this worker's feet
            LOGGER.debug("worker gave up a connection", exc_info=True)
            self._loop.hand_back(conn, "drop")

    def _serve_one(self, conn: Connection, request: Request) -> bool:
        """Answer ``request``; ``True`` when the whole answer was sent."""
        loop = self._loop
        http = conn.http
        assert http is not None
        what = f"{request.method} {http.path}"
        try:
            answer = self._answer(request)
            if isinstance(answer, TransportFault):
                if answer.error == "timeout":
                    conn.what = f"{what} dropped (timeout fault)"
                    loop.hand_back(conn, "hold", float(self.timeout_delay))
                else:
                    self.log(f"{what} dropped (connection fault) {_since(request.started)}")
                    loop.hand_back(conn, "drop")
                return False
            data = http.respond(answer.status, answer.headers, answer.body)
            self.log(f"{what} {answer.status} {_since(request.started)}")
        except Exception:
            LOGGER.exception("pytest-forge-storage failed to answer %s", what)
            loop.hand_back(conn, "drop")
            return False
        try:
            sent = conn.sock.send(data)  # usually all of it: the socket's buffer is empty
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            loop.hand_back(conn, "drop")
            return False
        if sent < len(data):
            loop.hand_back(conn, "write", data[sent:])
            return False
        return True


def _error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(status, encode_json({"code": code, "message": message}), _JSON)


def _graphql_not_served(method: str, path: str) -> HttpResponse:
    """A GraphQL request with no storage field: in process it would go on to the user's own
    mock, but a server has nowhere to send it. Answered in GraphQL's error shape."""
    # loaded already: the router asked the GraphQL protocol whether the request was storage
    from pytest_forge_storage.protocol.graphql import error_body

    if method.upper() != "POST":
        status, error_type = 405, "METHOD_NOT_ALLOWED"
        message = f"{method} is not allowed on {path}: this server serves GraphQL by POST"
        headers = {**_JSON, "allow": "POST"}
    else:
        status, error_type, headers = 400, "BAD_REQUEST", _JSON
        message = (
            "This operation has no Forge storage field: this server serves only the app "
            "storage fields of Atlassian's GraphQL API (appStoredEntity, appStoredEntities, "
            "appStoredCustomEntity, appStoredCustomEntities, and the appStorage and "
            "appStorageCustomEntity mutations), not the rest of it"
        )
    return HttpResponse(status, error_body(message, error_type, status), headers)


def _since(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.1f}ms"


def _limits(
    max_connections: int,
    max_body_bytes: int,
    header_timeout: float,
    body_timeout: float,
    idle_timeout: float,
) -> Limits:
    for name, value in (("max_connections", max_connections), ("max_body_bytes", max_body_bytes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    for name, seconds in (
        ("header_timeout", header_timeout),
        ("body_timeout", body_timeout),
        ("idle_timeout", idle_timeout),
    ):
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise ValueError(f"{name} must be a positive number of seconds, not {seconds!r}")
    return Limits(
        max_connections=max_connections,
        max_body_bytes=max_body_bytes,
        max_header_bytes=MAX_HEADER_BYTES,
        header_timeout=float(header_timeout),
        body_timeout=float(body_timeout),
        idle_timeout=float(idle_timeout),
    )


def _check_host(host: str, allow_remote: bool, control: bool) -> None:
    if _is_loopback(host):
        return
    if not allow_remote:
        raise ValueError(
            f"Refusing to serve the Forge storage fake on {host!r}, which other machines can "
            "reach. Bind '127.0.0.1' (the default), or pass allow_remote=True "
            "(--allow-remote on the command line) if you really mean it."
        )
    reach = (
        "and its control API is on: anyone who reaches the port can reset, seed and read the "
        "store, secrets included"
        if control
        else "its control API is off (control=True, --control turns it on)"
    )
    warnings.warn(
        f"The Forge storage fake is serving on {host!r}, reachable from other machines: it has "
        f"no TLS and accepts any bearer token, {reach}. Use it only on a trusted network.",
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
