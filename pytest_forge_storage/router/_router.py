"""``(method, url, headers, body) → (status, headers, body)``: the one way into the fake.

Every door (the in-process transports, server mode) calls :meth:`Router.handle`. The router
resolves the URL to a route (:mod:`._origins`), and hands the request and a
:class:`RequestGate` to the REST or GraphQL protocol. The gate carries the router's concerns
into the protocol: the token check, faults, recording and the engine the caller reaches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pytest_forge_storage import _json
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._http import (
    JSON_HEADERS,
    HttpRequest,
    HttpResponse,
    RouterResult,
    TransportFault,
)
from pytest_forge_storage._operations import DEFAULT_BASE_URL
from pytest_forge_storage._realism import Realism
from pytest_forge_storage._usage import WRITE_OPERATIONS, request_size

from ._calls import StorageCall
from ._faults import FaultPlan
from ._installations import DEFAULT, Installations
from ._meter import Meter
from ._origins import Origins, Route, route_local
from ._ratelimit import RateLimiter

if TYPE_CHECKING:
    from pytest_forge_storage.engine import Engine, ItemFault
    from pytest_forge_storage.protocol import Api


#: What :attr:`Router.observer` is called with for each acknowledged write.
Observer = Callable[["Engine", str, str, "str | None", "str | None", Any], None]


class Router:
    """Serves Forge storage requests for one :class:`~pytest_forge_storage.ForgeStorage`."""

    def __init__(
        self,
        engine: Engine,
        base_urls: Iterable[str] = (DEFAULT_BASE_URL,),
        *,
        realism: Realism | None = None,
    ) -> None:
        self.engine = engine
        self.origins = Origins(base_urls)
        self.installations = Installations()
        self.calls: list[StorageCall] = []
        self.faults = FaultPlan()
        self.auth_required = True
        self.allowed_tokens: set[str] | None = None
        #: Usage counting, always on (design §2.7); rate limits per installation when asked.
        self.meter = Meter()
        #: Told of every acknowledged write, under the engine lock, before it is answered
        #: (server mode's ``--db``): ``(partition, installation, operation, key, entity,
        #: body)``.
        self.observer: Observer | None = None
        self.realism = realism if realism is not None else Realism()
        self._limiters: dict[str, RateLimiter] = {}
        self._record_lock = threading.Lock()

    def limiter(self, installation: str) -> RateLimiter:
        """The rate limits of ``installation`` (windows kept while the test runs)."""
        found = self._limiters.get(installation)
        if found is None:
            with self._record_lock:
                found = self._limiters.setdefault(installation, RateLimiter())
        found.retry_after = self.realism.retry_after
        return found

    def forget(self) -> None:
        """Forget calls, faults, usage and rate-limit windows (``storage.reset()``)."""
        with self._record_lock:
            self.calls.clear()
            self._limiters.clear()
        self.faults.clear()
        self.meter.reset()

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
        if route.protocol == "jwks":
            return _jwks(request)
        gate = RequestGate(self, request, route)
        if route.protocol == "rest":
            from pytest_forge_storage.protocol import rest

            return rest.handle(request, route.operation, gate)
        from pytest_forge_storage.protocol import graphql  # graphql-core loads on first use

        return graphql.handle(request, gate)

    # -- auth ----------------------------------------------------------------------
    def authorize(
        self, headers: Mapping[str, str], *, via_proxy: bool = False
    ) -> tuple[str, ForgeStorageError | None]:
        """The installation a request reaches, and the 401 to answer (decision 1, §2.6).

        ``allowed_tokens`` restricts the tokens the fake did not issue (0.1's tokens, which
        reach the default installation); an installation's own token proves itself.
        """
        key, denied = self.installations.resolve(
            headers, required=self.auth_required, via_proxy=via_proxy
        )
        if denied is None and self.auth_required and self.allowed_tokens is not None:
            token = headers.get("authorization", "").partition(" ")[2].strip()
            if (
                not via_proxy
                and token not in self.allowed_tokens
                and not self.installations.tokens.lookup(token).ok
            ):
                denied = ForgeStorageError(
                    "UNAUTHORIZED",
                    "Unauthorized: the request provided an invalid or expired token",
                )
        return key, denied

    def record(self, call: StorageCall) -> None:
        with self._record_lock:
            self.calls.append(call)


class RequestGate:
    """The router's side of one request (the :class:`~pytest_forge_storage.protocol.Gate`)."""

    __slots__ = (
        "_admissions", "_admitted", "_refused", "_request", "_route", "_router",
        "extra_headers", "installation", "store",
    )  # fmt: skip

    def __init__(self, router: Router, request: HttpRequest, route: Route) -> None:
        self._router = router
        self._request = request
        self._route = route
        self.installation = DEFAULT
        self.store: Engine = router.engine
        #: Headers to add to an error answer (``Retry-After`` of a rate limit, when asked).
        self.extra_headers: Mapping[str, str] = {}
        #: Operations the rate limiter admitted, with their write size: charged at record.
        self._admitted: dict[tuple[str, str | None, str | None], int] = {}
        self._refused: set[tuple[str, str | None, str | None]] = set()
        #: How many operations the rate limiter admitted (aliases may repeat an operation).
        self._admissions = 0

    def authorize(self, headers: Mapping[str, str]) -> ForgeStorageError | None:
        key, denied = self._router.authorize(headers, via_proxy=self._route.via_proxy)
        if key != self.installation:
            self.installation = key
            self.store = self._router.engine.partition(key)
        return denied

    @property
    def screening(self) -> bool:
        return bool(self._router.faults) or self._router.realism.rate_limits

    def context_error(self, context_ari: object) -> ForgeStorageError | None:
        return self._router.installations.context_error(self.installation, context_ari)

    def check(
        self, operation: str, key: str | None, entity_name: str | None, body: Any = None
    ) -> ForgeStorageError | TransportFault | None:
        router = self._router
        faults = router.faults
        if faults:
            fault = faults.take(operation, key, entity_name, installation=self.installation)
            if fault is not None:
                if fault.transport is not None:
                    return TransportFault(fault.transport)
                return ForgeStorageError(fault.code, fault.message, fault.status)
        if router.realism.rate_limits:
            size = request_size(operation, body)
            refusal = router.limiter(self.installation).admit(
                operation, key, entity_name, write_bytes=size
            )
            if refusal is not None:
                self._refused.add((operation, key, entity_name))
                self.extra_headers = refusal.headers
                return refusal.error
            self._admitted[(operation, key, entity_name)] = size
            self._admissions += 1
        return None

    def withdraw(self) -> None:
        admissions, self._admissions = self._admissions, 0
        self._admitted.clear()
        if admissions:
            self._router.limiter(self.installation).withdraw(admissions)

    def item_fault(self, operation: str) -> ItemFault | None:
        faults = self._router.faults
        if not faults:
            return None

        installation = self.installation

        def hook(key: Any, entity_name: Any) -> ForgeStorageError | None:
            fault = faults.take(operation, key, entity_name, item=True, installation=installation)
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
        body: Any = None,
    ) -> None:
        router = self._router
        router.record(
            StorageCall(
                operation, api, key, entity_name, request, status, response, error_code,
                self._request.url, self.installation,
            )
        )  # fmt: skip
        ident = (operation or "", key, entity_name)
        refused = ident in self._refused
        charge = router.meter.record(
            operation,
            body if body is not None else request,
            response,
            status=status,
            error_code=error_code,
            rate_limited=refused,
            installation=self.installation,
            request_bytes=self._admitted.get(ident),
        )
        if ident in self._admitted:
            router.limiter(self.installation).settle(operation, key, entity_name, charge)
        observer = router.observer
        if observer is not None and operation in WRITE_OPERATIONS and charge.write_units:
            with self.store.lock:  # the state this write left, or a later one: never older
                observer(self.store, self.installation, operation, key, entity_name, body)


def _jwks(request: HttpRequest) -> HttpResponse:
    """Forge's JWKS document, with the fake's signing key (design §2.6)."""
    if request.method.upper() not in ("GET", "HEAD"):
        body = _json.dumps({"code": "METHOD_NOT_ALLOWED", "message": "Use GET"})
        return HttpResponse(405, body, {**JSON_HEADERS, "allow": "GET"})
    try:
        from . import _keys

        document = _keys.jwks()
    except ImportError as missing:  # the invocations extra is not installed
        body = _json.dumps({"code": "SERVICE_UNAVAILABLE", "message": str(missing)})
        return HttpResponse(503, body, JSON_HEADERS)
    body = b"" if request.method.upper() == "HEAD" else _json.dumps(document)
    return HttpResponse(200, body, JSON_HEADERS)
