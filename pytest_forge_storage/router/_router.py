"""``(method, url, headers, body) → (status, headers, body)``: the one way into the fake.

Every door (the in-process transports, server mode) calls :meth:`Router.handle`. The router
resolves the URL to a route (:mod:`._origins`), and hands the request and a
:class:`RequestGate` to the REST or GraphQL protocol. The gate carries the router's concerns
into the protocol: the token check, faults, recording and the engine the caller reaches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._http import HttpRequest, RouterResult, TransportFault
from pytest_forge_storage._operations import DEFAULT_BASE_URL

from ._calls import StorageCall
from ._faults import FaultPlan
from ._origins import Origins, route_local

if TYPE_CHECKING:
    from pytest_forge_storage.engine import Engine, ItemFault
    from pytest_forge_storage.protocol import Api


class Router:
    """Serves Forge storage requests for one :class:`~pytest_forge_storage.ForgeStorage`."""

    def __init__(self, engine: Engine, base_urls: Iterable[str] = (DEFAULT_BASE_URL,)) -> None:
        self.engine = engine
        self.origins = Origins(base_urls)
        self.calls: list[StorageCall] = []
        self.faults = FaultPlan()
        self.auth_required = True
        self.allowed_tokens: set[str] | None = None
        self._record_lock = threading.Lock()

    def claims(self, url: str) -> bool:
        """Whether ``url`` is on a Forge origin: the transports' one question."""
        return self.origins.claims(url)

    def handle(self, request: HttpRequest) -> RouterResult:
        """Serve ``request``; ``None`` when it is not a storage request.

        ``request.local`` requests reached server mode: they are routed by path alone
        (whatever the host), with the ``@forge/kvs`` in-runtime aliases (decision 13).
        """
        route = route_local(request.url) if request.local else self.origins.route(request.url)
        if route is None:
            return None
        gate = RequestGate(self, request)
        if route.protocol == "rest":
            from pytest_forge_storage.protocol import rest

            return rest.handle(request, route.operation, gate)
        from pytest_forge_storage.protocol import graphql  # graphql-core loads on first use

        return graphql.handle(request, gate)

    # -- auth ----------------------------------------------------------------------
    def unauthorized(self, headers: Mapping[str, str]) -> ForgeStorageError | None:
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

    def record(self, call: StorageCall) -> None:
        with self._record_lock:
            self.calls.append(call)


class RequestGate:
    """The router's side of one request (the :class:`~pytest_forge_storage.protocol.Gate`)."""

    __slots__ = ("_request", "_router", "store")

    def __init__(self, router: Router, request: HttpRequest) -> None:
        self._router = router
        self._request = request
        self.store: Engine = router.engine

    def authorize(self, headers: Mapping[str, str]) -> ForgeStorageError | None:
        return self._router.unauthorized(headers)

    def check(
        self, operation: str, key: str | None, entity_name: str | None
    ) -> ForgeStorageError | TransportFault | None:
        faults = self._router.faults
        fault = faults.take(operation, key, entity_name) if faults else None
        if fault is None:
            return None
        if fault.transport is not None:
            return TransportFault(fault.transport)
        return ForgeStorageError(fault.code, fault.message, fault.status)

    def item_fault(self, operation: str) -> ItemFault | None:
        faults = self._router.faults
        if not faults:
            return None

        def hook(key: object, entity_name: object) -> ForgeStorageError | None:
            fault = faults.take(operation, key, entity_name, item=True)  # type: ignore[arg-type]
            if fault is None:
                return None
            return ForgeStorageError(fault.code, fault.message, fault.status)

        return hook

    def record(
        self,
        api: Api,
        operation: str | None,
        key: str | None,
        entity_name: str | None,
        request: bytes,
        status: int,
        response: bytes,
        error_code: str | None,
    ) -> None:
        self._router.record(
            StorageCall(
                operation, api, key, entity_name, request, status, response, error_code,
                self._request.url,
            )
        )  # fmt: skip
