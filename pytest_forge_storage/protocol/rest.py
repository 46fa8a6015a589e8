"""The REST protocol: 15 operations under ``/forge/storage/kvs/v1/``, routed from a table.

:func:`handle` serves one request for the operation the router resolved from its path
(``None`` for an unknown path under the storage prefix: Forge's 403, decision 1):

1. the token (:meth:`Gate.authorize`): 401;
2. the method (POST only: 405 with ``Allow``), the body (strict JSON), the request schema;
3. what the gate says before the operation runs (a planned fault): that answer instead;
4. the operation on the engine, rendered: 200 with a body, or 204.

Every answer is recorded as one call. Forge rules with their own codes are the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pytest_forge_storage import _json
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._http import JSON_HEADERS, HttpRequest, HttpResponse, TransportFault
from pytest_forge_storage._operations import ARRAY_BODIES, KEYLESS
from pytest_forge_storage.engine import Engine, ItemFault

from ._gate import Gate
from .openapi import validate_request

Result = tuple[int, Any]
Handler = Callable[[Engine, Any, "ItemFault | None"], Result]

#: A 405 names the one method storage routes accept (RFC 9110 §15.5.6).
ALLOW_POST = {**JSON_HEADERS, "allow": "POST"}


def _ok(body: Any) -> Result:
    return (200, body) if body is not None else (204, None)


def _get(secret: bool) -> Handler:
    def handler(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
        return 200, engine.get(body.get("key"), secret=secret, options=body.get("options"))

    return handler


def _set(secret: bool) -> Handler:
    def handler(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
        return _ok(
            engine.set(
                body.get("key"),
                body["value"],  # required by the request schema
                secret=secret,
                options=body.get("options"),
                trusted=True,
            )
        )

    return handler


def _delete(secret: bool) -> Handler:
    def handler(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
        engine.delete(body.get("key"), secret=secret)
        return 204, None

    return handler


def _query(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
    return 200, engine.query(
        where=body.get("where"),
        limit=body.get("limit"),
        after=body.get("after"),
        options=body.get("options"),
    )


def _entity_get(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
    return 200, engine.entity_get(
        body.get("entityName"), body.get("key"), options=body.get("options")
    )


def _entity_set(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
    return _ok(
        engine.entity_set(
            body.get("entityName"),
            body.get("key"),
            body["value"],  # required by the request schema
            options=body.get("options"),
            trusted=True,
        )
    )


def _entity_delete(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
    engine.entity_delete(body.get("entityName"), body.get("key"))
    return 204, None


def _entity_query(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
    return 200, engine.entity_query(body)


def _batch_set(engine: Engine, body: Any, fault: ItemFault | None) -> Result:
    return 200, engine.batch_set(body, item_fault=fault)


def _batch_get(engine: Engine, body: Any, fault: ItemFault | None) -> Result:
    return 200, engine.batch_get(body, item_fault=fault)


def _batch_delete(engine: Engine, body: Any, fault: ItemFault | None) -> Result:
    return 200, engine.batch_delete(body, item_fault=fault)


def _transaction(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
    engine.transaction(body)
    return 204, None


#: operation name (the path after ``v1/``) → handler; its keys are ``_operations.OPERATIONS``.
ROUTES: dict[str, Handler] = {
    "get": _get(secret=False),
    "set": _set(secret=False),
    "delete": _delete(secret=False),
    "query": _query,
    "secret/get": _get(secret=True),
    "secret/set": _set(secret=True),
    "secret/delete": _delete(secret=True),
    "entity/get": _entity_get,
    "entity/set": _entity_set,
    "entity/delete": _entity_delete,
    "entity/query": _entity_query,
    "batch/set": _batch_set,
    "batch/get": _batch_get,
    "batch/delete": _batch_delete,
    "transaction": _transaction,
}


def handle(
    request: HttpRequest, operation: str | None, gate: Gate
) -> HttpResponse | TransportFault:
    """Serve one REST request for ``operation`` (``None``: an unknown storage path)."""
    if operation not in ROUTES:
        operation = None
    denied = gate.authorize(request.headers)
    if denied is not None:
        key, entity_name = _describe_quietly(operation, request.body)
        return _answer_error(gate, request, operation, key, entity_name, denied)
    if operation is None:
        forbidden = ForgeStorageError(
            "FORBIDDEN", f"Forbidden: {urlsplit(request.url).path} is not a Forge storage route"
        )
        return _answer_error(gate, request, None, None, None, forbidden)
    key = entity_name = None
    try:
        if request.method.upper() != "POST":
            raise ForgeStorageError(
                "METHOD_NOT_ALLOWED", f"{request.method} is not allowed; use POST", 405
            )
        body = parse_body(request.body)
        key, entity_name = describe(operation, body)
        stop = gate.check(operation, key, entity_name, body)
        if isinstance(stop, TransportFault):
            gate.record("rest", operation, key, entity_name, request.body, 0, b"", None)
            return stop
        if stop is not None:
            raise stop
        status, payload = execute(gate.store, operation, body, gate.item_fault(operation))
    except ForgeStorageError as exc:
        return _answer_error(gate, request, operation, key, entity_name, exc)
    raw = b"" if payload is None else _json.dumps(payload)
    gate.record("rest", operation, key, entity_name, request.body, status, raw, None, body)
    return HttpResponse(status, raw, JSON_HEADERS if raw else {})


def _answer_error(
    gate: Gate,
    request: HttpRequest,
    operation: str | None,
    key: str | None,
    entity_name: str | None,
    error: ForgeStorageError,
) -> HttpResponse:
    raw = _json.dumps(error.to_rest())
    gate.record("rest", operation, key, entity_name, request.body, error.status, raw, error.code)
    headers = ALLOW_POST if error.status == 405 else JSON_HEADERS
    if error.status == 429 and gate.extra_headers:
        headers = {**headers, **gate.extra_headers}
    return HttpResponse(error.status, raw, headers)


def parse_body(raw: bytes) -> Any:
    """Decode a JSON request body; Forge's 400 for anything that is not strict JSON."""
    if not raw:
        raise ForgeStorageError("BAD_REQUEST", "The request body is empty; a JSON body is required")
    return _json.loads(raw)


def describe(operation: str, body: Any) -> tuple[str | None, str | None]:
    """``(key, entity_name)`` of a request, for recording and fault matching."""
    if operation in KEYLESS or not isinstance(body, dict):
        entity = body.get("entityName") if isinstance(body, dict) else None
        return None, entity if isinstance(entity, str) else None
    key, entity = body.get("key"), body.get("entityName")
    return (
        key if isinstance(key, str) else None,
        entity if isinstance(entity, str) else None,
    )


def _describe_quietly(operation: str | None, raw: bytes) -> tuple[str | None, str | None]:
    """Key and entity of a request refused anyway, so that its call is findable by key."""
    if operation is None:
        return None, None
    try:
        return describe(operation, parse_body(raw))
    except ForgeStorageError:
        return None, None


def execute(engine: Engine, operation: str, body: Any, item_fault: ItemFault | None) -> Result:
    """Validate ``body`` against the spec and run ``operation``; may raise ForgeStorageError."""
    validate_request(operation, body)
    if operation in ARRAY_BODIES:
        if not isinstance(body, list):
            raise ForgeStorageError("BAD_REQUEST", "Invalid request body: expected an array")
    elif not isinstance(body, dict):
        raise ForgeStorageError("BAD_REQUEST", "Invalid request body: expected an object")
    return ROUTES[operation](engine, body, item_fault)
