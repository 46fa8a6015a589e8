"""Helpers and fixtures shared by the aiohttp transport tests.

The fixtures (a loopback-only guard, a real echo server) are plain functions that each test
module makes fixtures of: not a ``conftest.py``, since other tests import ``conftest`` by name.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_forge_storage._http import HttpRequest, HttpResponse, RouterResult, TransportFault
from pytest_forge_storage.transports._aiohttp import AiohttpInterceptor

FORGE = "https://api.atlassian.com"
STORAGE = f"{FORGE}/forge/storage/kvs/v1/get"
AUTH = {"Authorization": "Bearer test-token"}


class Recorder:
    """A handler: serves ``/forge/storage/`` (echoing the request), faults, declines the rest."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.seen: list[HttpRequest] = []
        self.faults: list[TransportFault] = []

    def __call__(self, request: HttpRequest) -> RouterResult:
        self.seen.append(request)
        if self.faults:
            return self.faults.pop(0)
        if "/forge/storage/" not in request.url:
            return None
        status = 429 if request.url.endswith("/limited") else 200
        if request.url.endswith("/empty") or request.method == "HEAD":
            return HttpResponse(204 if request.method != "HEAD" else 200)
        if request.url.endswith("/large"):
            return HttpResponse(200, b"x" * 300_000, {"content-type": "text/plain"})
        echo = {
            "served_by": self.name,
            "method": request.method,
            "url": request.url,
            "headers": dict(request.headers),
            "body": base64.b64encode(request.body).decode(),
        }
        return HttpResponse(status, json.dumps(echo).encode(), {"X-Fake": "1"})


def claims_for(server: str) -> Callable[[str], bool]:
    """Forge, plus the echo server's ``/claimed/`` tree (where declined requests land)."""
    return lambda url: url.startswith((f"{FORGE}/", f"{FORGE}:443/", f"{server}/claimed/"))


def real_echo(answer: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    assert answer.get("real") is True, answer
    return base64.b64decode(answer["body"]), answer["headers"]


@contextlib.contextmanager
def started(interceptor: AiohttpInterceptor) -> Iterator[AiohttpInterceptor]:
    """Start ``interceptor`` for the block, and stop it whatever happens."""
    interceptor.start()
    try:
        yield interceptor
    finally:
        interceptor.stop()


class _Echo(BaseHTTPRequestHandler):
    """Answers what it received: method, path, headers (names lower-cased), body (base64)."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().strip(), 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps(
            {
                "real": True,
                "method": self.command,
                "path": self.path,
                "headers": {name.lower(): value for name, value in self.headers.items()},
                "body": base64.b64encode(body).decode(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def echo_server() -> Iterator[str]:
    """A real HTTP server on loopback, in a thread: ``http://127.0.0.1:<port>``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()
