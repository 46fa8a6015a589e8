"""``(method, url, headers, body) → (status, headers, body)``: auth, faults, recording.

Every door (responses, respx, the HTTP server) calls :meth:`Router.handle`. The router
decides whether a request is Forge storage at all, checks the token, applies faults,
hands the body to the REST or GraphQL protocol and records one :class:`StorageCall`
per operation served.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._calls import StorageCall, encode_json
from ._errors import ForgeStorageError
from ._faults import Fault, FaultPlan
from ._http import HttpRequest, HttpResponse, RouterResult, TransportFault

if TYPE_CHECKING:
    from .engine import Engine

JSON_HEADERS = {"content-type": "application/json"}
#: A 405 names the one method storage routes accept (RFC 9110 §15.5.6).
ALLOW_POST = {**JSON_HEADERS, "allow": "POST"}
REST_PREFIX = "/forge/storage/kvs/"
REST_V1 = "/forge/storage/kvs/v1/"
SDK_V1 = "/api/v1/"
GRAPHQL_PATHS = ("/graphql", "/forge/entities/graphql")


class Router:
    """Serves Forge storage requests for one :class:`~pytest_forge_storage.ForgeStorage`."""

    def __init__(
        self, engine: Engine, base_urls: Iterable[str], *, sdk_paths: bool = False
    ) -> None:
        self.engine = engine
        self.calls: list[StorageCall] = []
        self.faults = FaultPlan()
        self.auth_required = True
        self.allowed_tokens: set[str] | None = None
        self.sdk_paths = sdk_paths
        self._record_lock = threading.Lock()
        self._bases = tuple(_base_path(url) for url in base_urls)

    # -- entry point ---------------------------------------------------------------
    def handle(self, request: HttpRequest) -> RouterResult:
        path = self._storage_path(request.url)
        if path is None:
            return None
        if path.startswith(REST_PREFIX) or (self.sdk_paths and path.startswith(SDK_V1)):
            return self._rest(request, path)
        if path in GRAPHQL_PATHS:
            return self._graphql(request)
        return None

    def _storage_path(self, url: str) -> str | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        for base_origin, base_path in self._bases:
            if origin == base_origin and parts.path.startswith(base_path):
                return parts.path[len(base_path) :] or "/"
        return None

    # -- auth ----------------------------------------------------------------------
    def unauthorized(self, headers: Any) -> ForgeStorageError | None:
        """The 401 for a missing, blank or unknown bearer token (decision 1)."""
        if not self.auth_required:
            return None
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return ForgeStorageError(
                "UNAUTHORIZED",
                "Unauthorized: the request was missing an Authorization: Bearer <token> header",
            )
        if self.allowed_tokens is not None and token not in self.allowed_tokens:
            return ForgeStorageError(
                "UNAUTHORIZED", "Unauthorized: the request provided an invalid or expired token"
            )
        return None

    # -- faults and recording (also used by the GraphQL protocol) ----------------------
    def take_fault(self, operation: str, key: str | None, entity_name: str | None) -> Fault | None:
        return self.faults.take(operation, key, entity_name) if self.faults else None

    def item_fault(self, operation: str) -> Any:
        """The per-item hook a batch uses: keyed faults fail single items."""
        if not self.faults:
            return None
        faults = self.faults

        def hook(key: Any, entity_name: Any) -> ForgeStorageError | None:
            fault = faults.take(operation, key, entity_name, item=True)
            if fault is None:
                return None
            return ForgeStorageError(fault.code, fault.message, fault.status)

        return hook

    def record(self, call: StorageCall) -> None:
        with self._record_lock:
            self.calls.append(call)

    # -- REST ----------------------------------------------------------------------
    def _rest(self, request: HttpRequest, path: str) -> RouterResult:
        from .protocol import rest

        operation = path[len(REST_V1) :] if path.startswith(REST_V1) else path[len(SDK_V1) :]
        known = operation in rest.ROUTES and path.startswith((REST_V1, SDK_V1))
        denied = self.unauthorized(request.headers)
        if denied is not None:
            if known:
                key, entity_name = _describe_quietly(rest, operation, request.body)
                raw = encode_json(denied.to_rest())
                self.record(self._call(operation, key, entity_name, request, 401, raw, denied.code))
            return _error(denied)
        if not known:
            return _error(
                ForgeStorageError("FORBIDDEN", f"Forbidden: {path} is not a Forge storage route")
            )
        key = entity_name = None
        body: Any = None
        try:
            if request.method.upper() != "POST":
                raise ForgeStorageError(
                    "METHOD_NOT_ALLOWED", f"{request.method} is not allowed; use POST", 405
                )
            body = rest.parse_body(request.body)
            key, entity_name = rest.describe(operation, body)
            fault = self.take_fault(operation, key, entity_name)
            if fault is not None:
                if fault.transport is not None:
                    self.record(self._call(operation, key, entity_name, request, 0, b"", None))
                    return TransportFault(fault.transport)
                raise ForgeStorageError(fault.code, fault.message, fault.status)
            status, payload = rest.execute(self.engine, operation, body, self.item_fault(operation))
            raw = rest.render(status, payload)
            self.record(self._call(operation, key, entity_name, request, status, raw, None))
            return HttpResponse(status, raw, JSON_HEADERS if raw else {})
        except ForgeStorageError as exc:
            raw = encode_json(exc.to_rest())
            self.record(self._call(operation, key, entity_name, request, exc.status, raw, exc.code))
            return HttpResponse(exc.status, raw, ALLOW_POST if exc.status == 405 else JSON_HEADERS)

    def _call(
        self,
        operation: str,
        key: str | None,
        entity_name: str | None,
        request: HttpRequest,
        status: int,
        raw: bytes,
        code: str | None,
    ) -> StorageCall:
        return StorageCall(
            operation, "rest", key, entity_name, request.body, status, raw, code, request.url
        )

    # -- GraphQL -------------------------------------------------------------------
    def _graphql(self, request: HttpRequest) -> RouterResult:
        from pytest_forge_storage.protocol import graphql

        return graphql.handle(self, request)


def _describe_quietly(rest: Any, operation: str, raw: bytes) -> tuple[str | None, str | None]:
    """Key and entity of a request we refuse anyway, so that its call is findable by key."""
    try:
        described: tuple[str | None, str | None] = rest.describe(operation, rest.parse_body(raw))
    except ForgeStorageError:
        return None, None
    return described


def _error(exc: ForgeStorageError) -> HttpResponse:
    return HttpResponse(exc.status, encode_json(exc.to_rest()), JSON_HEADERS)


def _base_path(url: str) -> tuple[str, str]:
    parts = urlsplit(url.rstrip("/"))
    if not parts.scheme or not parts.netloc:
        raise ValueError(
            f"Base URL {url!r} must be absolute, like 'https://api.atlassian.com' or "
            "'http://localhost:8080'"
        )
    return f"{parts.scheme}://{parts.netloc}".lower(), parts.path
