"""Server mode's control API under ``/_forge-storage/`` (design §2.8), for clients that are
not Python: a Jest suite resets, seeds, reads the calls and plans faults over HTTP, as a
pytest test does through ``ForgeStorage``.

=========  =========================  ====================================================
Method     Path                       Does
=========  =========================  ====================================================
GET        ``/_forge-storage/``       lists these endpoints
POST       ``reset``                  ``storage.reset()``: data, calls and faults
POST       ``seed``                   ``storage.load_data(body)`` (the ``data`` shape)
GET        ``snapshot``               ``storage.snapshot()`` (secrets in clear: it is the data)
GET        ``calls``                  the recorded calls, secret values masked; filters
                                      ``?operation=&key=&entity_name=&api=``
POST       ``faults``                 ``fail()`` or ``fail_transport()`` (one object or a list)
DELETE     ``faults``                 forgets every planned fault
=========  =========================  ====================================================

A fault object holds ``fail()``'s keyword arguments (``operation``, ``code``, ``status``,
``message``, ``times``, ``after``, ``key``, ``entity_name``), or with ``"transport": true``
``fail_transport()``'s (``operation``, ``error``, ``times``, ``after``). Every answer is
JSON; a bad request is 400 ``{code, message}`` naming the field. Control requests are not
storage calls: they are never recorded. ``POST installations`` comes with installations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._http import HttpResponse
from pytest_forge_storage._json import dumps as encode_json
from pytest_forge_storage.router import make_fault

if TYPE_CHECKING:
    from pytest_forge_storage.storage import ForgeStorage, Installation

    from ._durability import Durability

PREFIX = "/_forge-storage/"
_JSON = {"content-type": "application/json"}
#: Field → (accepted JSON types, what to write), for each kind of fault.
_NULLABLE_STR = ((str, type(None)), "a string or null")
_COUNT = ((int, type(None)), "a positive integer or null (every call)")
_REQUIRED = ((bool,), "true or false (false: the test may end with it unused)")
FORGE_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "operation": _NULLABLE_STR,
    "code": ((str,), "a Forge error code such as 'RATE_LIMIT_EXCEEDED'"),
    "status": ((int, type(None)), "an HTTP status or null"),
    "message": _NULLABLE_STR,
    "times": _COUNT,
    "after": ((int,), "a non-negative integer"),
    "key": _NULLABLE_STR,
    "entity_name": _NULLABLE_STR,
    "required": _REQUIRED,
}
TRANSPORT_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "operation": _NULLABLE_STR,
    "error": ((str,), "'connection' or 'timeout'"),
    "times": _COUNT,
    "after": ((int,), "a non-negative integer"),
    "required": _REQUIRED,
}
_CALL_FILTERS = ("operation", "key", "entity_name", "api")


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ControlApi:
    def __init__(self, storage: ForgeStorage, durability: Durability | None = None) -> None:
        self.storage = storage
        self.durability = durability
        self._routes: dict[str, dict[str, Callable[[str, bytes], Any]]] = {
            "": {"GET": self._index},
            "reset": {"POST": self._reset},
            "seed": {"POST": self._seed},
            "snapshot": {"GET": self._snapshot},
            "calls": {"GET": self._calls},
            "faults": {"POST": self._add_faults, "DELETE": self._clear_faults},
            "installations": {"POST": self._installation, "GET": self._installations},
        }

    def handle(self, method: str, target: str, body: bytes) -> HttpResponse:
        parts = urlsplit(target)
        name = parts.path[len(PREFIX) :].strip("/")
        methods = self._routes.get(name)
        try:
            if methods is None:
                paths = ", ".join(PREFIX + path for path in self._routes if path)
                raise ControlError(
                    404, "NOT_FOUND", f"{parts.path} is not a control path; there are {paths}"
                )
            handler = methods.get("GET" if method == "HEAD" else method)
            if handler is None:
                allowed = ", ".join(methods)
                response = _error(405, "METHOD_NOT_ALLOWED", f"{parts.path} takes {allowed}")
                return HttpResponse(405, response.body, {**_JSON, "allow": allowed})
            return HttpResponse(200, encode_json(handler(parts.query, body)), _JSON)
        except ControlError as exc:
            return _error(exc.status, exc.code, exc.message)
        except ForgeStorageError as exc:
            return _error(exc.status, exc.code, exc.message)

    # -- endpoints ----------------------------------------------------------------------
    def _index(self, query: str, body: bytes) -> Any:
        return {
            "endpoints": [
                f"{method} {PREFIX}{path}"
                for path, methods in self._routes.items()
                if path
                for method in methods
            ]
        }

    def _reset(self, query: str, body: bytes) -> Any:
        self.storage.reset()
        if self.durability is not None:
            self.durability.rewrite()
        return {"reset": True}

    def _installation(self, query: str, body: bytes) -> Any:
        """``{"key", "product"?, "cloudId"?, "environment"?}`` → the installation (made on
        first use) with its current token and contextAri (design §2.8)."""
        data = _json_body(body, "installations")
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ControlError(
                400,
                "BAD_REQUEST",
                'installations: send {"key": "site-b"} (and optionally '
                '"product", "cloudId", "environment")',
            )
        unknown = sorted(set(data) - {"key", "product", "cloudId", "environment"})
        if unknown:
            raise ControlError(400, "BAD_REQUEST", f"installations: unknown field {unknown[0]!r}")
        try:
            installation = self.storage.installation(
                data["key"],
                product=data.get("product"),
                cloud_id=data.get("cloudId"),
                environment=data.get("environment"),
            )
        except ValueError as exc:
            raise ControlError(400, "BAD_REQUEST", f"installations: {exc}") from None
        return _described(installation)

    def _installations(self, query: str, body: bytes) -> Any:
        return {"installations": [_described(i) for i in self.storage.installations.values()]}

    def _seed(self, query: str, body: bytes) -> Any:
        data = _json_body(body, "seed")
        try:
            self.storage.load_data(data)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ForgeStorageError):
                raise
            raise ControlError(400, "BAD_REQUEST", f"seed: {exc}") from None
        if self.durability is not None:
            self.durability.rewrite()
        entities = data.get("entities") or {}
        return {
            "seeded": {
                "kvs": len(data.get("kvs") or {}),
                "secrets": len(data.get("secrets") or {}),
                "entities": {name: len(records) for name, records in entities.items()},
            }
        }

    def _snapshot(self, query: str, body: bytes) -> Any:
        return self.storage.snapshot()

    def _calls(self, query: str, body: bytes) -> Any:
        filters: dict[str, Any] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name not in _CALL_FILTERS:
                raise ControlError(
                    400,
                    "BAD_REQUEST",
                    f"calls: unknown filter {name!r}; use {', '.join(_CALL_FILTERS)}",
                )
            filters[name] = value
        operation = filters.pop("operation", None)
        try:
            calls = self.storage.calls_to(operation, **filters)
        except ValueError as exc:
            raise ControlError(400, "BAD_REQUEST", f"calls: {exc}") from None
        return {
            "calls": [
                {
                    "operation": call.operation,
                    "api": call.api,
                    "key": call.key,
                    "entity_name": call.entity_name,
                    "status": call.status,
                    "error_code": call.error_code,
                    "url": call.url,
                    "request": call.masked_request(),
                    "response": call.masked_response(),
                    "summary": call.summary(),
                }
                for call in calls
            ]
        }

    def _add_faults(self, query: str, body: bytes) -> Any:
        data = _json_body(body, "faults")
        items = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(item, dict) for item in items):
            raise ControlError(
                400,
                "BAD_REQUEST",
                "faults: send a fault object or a non-empty list of them, e.g. "
                '{"operation": "get", "code": "RATE_LIMIT_EXCEEDED", "times": 1}',
            )
        listed = isinstance(data, list)
        planned = [_fault_arguments(item, i if listed else None) for i, item in enumerate(items)]
        for transport, arguments in planned:  # all checked before any is planned
            if transport:
                self.storage.fail_transport(**arguments)
            else:
                self.storage.fail(**arguments)
        return {"planned": len(planned)}

    def _clear_faults(self, query: str, body: bytes) -> Any:
        # ForgeStorage has no public "clear faults" (reset() also empties the data).
        self.storage._router.faults.clear()
        return {"cleared": True}


def _fault_arguments(item: Mapping[str, Any], index: int | None) -> tuple[bool, dict[str, Any]]:
    where = "faults" if index is None else f"faults[{index}]"
    transport = item.get("transport", False)
    if not isinstance(transport, bool):
        raise ControlError(400, "BAD_REQUEST", f"{where}: 'transport' must be true or false")
    fields = TRANSPORT_FIELDS if transport else FORGE_FIELDS
    arguments: dict[str, Any] = {}
    for name, value in item.items():
        if name == "transport":
            continue
        if name not in fields:
            kind = "fail_transport()" if transport else "fail()"
            raise ControlError(
                400,
                "BAD_REQUEST",
                f"{where}: unknown field {name!r}; a {kind} fault takes "
                f"{', '.join(fields)}" + ("" if transport else ' (or "transport": true)'),
            )
        types, wanted = fields[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ControlError(
                400, "BAD_REQUEST", f"{where}: {name!r} must be {wanted}, not {value!r}"
            )
        arguments[name] = value
    try:
        if transport:
            error = arguments.get("error", "connection")
            if error not in ("connection", "timeout"):
                raise ValueError(f"'error' must be 'connection' or 'timeout', not {error!r}")
            make_fault(
                arguments.get("operation"),
                code="TRANSPORT_ERROR",
                status=0,
                message=None,
                times=arguments.get("times", 1),
                after=arguments.get("after", 0),
                key=None,
                entity_name=None,
                transport=error,
            )
        else:
            make_fault(
                arguments.get("operation"),
                code=arguments.get("code", "RATE_LIMIT_EXCEEDED"),
                status=arguments.get("status"),
                message=arguments.get("message"),
                times=arguments.get("times", 1),
                after=arguments.get("after", 0),
                key=arguments.get("key"),
                entity_name=arguments.get("entity_name"),
            )
    except ValueError as exc:
        raise ControlError(400, "BAD_REQUEST", f"{where}: {exc}") from None
    return transport, arguments


def _json_body(body: bytes, where: str) -> Any:
    from pytest_forge_storage._json import loads

    if not body.strip():
        raise ControlError(400, "BAD_REQUEST", f"{where}: the request body is empty; send JSON")
    try:
        return loads(body)
    except ForgeStorageError as exc:
        raise ControlError(exc.status, exc.code, f"{where}: {exc.message}") from None


def _error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(status, encode_json({"code": code, "message": message}), _JSON)


def _described(installation: Installation) -> dict[str, Any]:
    return {
        "key": installation.key,
        "product": installation.product,
        "cloudId": installation.cloud_id,
        "environment": installation.environment,
        "installationId": installation.installation_id,
        "contextAri": installation.context_ari,
        "token": installation.token,
    }
