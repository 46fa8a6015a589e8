"""Helpers shared by the aiohttp transport tests."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
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
