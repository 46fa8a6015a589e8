"""The REST protocol: 15 paths under ``/forge/storage/kvs/v1/``, routed from a table.

Each handler takes the engine and the decoded body, calls the engine and returns
``(status, body or None)``. Validation against the bundled OpenAPI spec happens first;
Forge rules that have their own codes are the engine's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine
from pytest_forge_storage.engine._entity_ops import ItemFault

from . import _json
from .openapi import validate_request

Result = tuple[int, Any]
Handler = Callable[[Engine, Any, "ItemFault | None"], Result]

PREFIX = "/forge/storage/kvs/v1/"
#: ``@forge/kvs`` inside the Forge runtime sends ``/api/v1/<op>`` (decision 13).
SDK_PREFIX = "/api/v1/"


def _ok(body: Any) -> Result:
    return (200, body) if body is not None else (204, None)


def _get(secret: bool) -> Handler:
    def handler(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
        return 200, engine.get(body.get("key"), secret=secret, options=body.get("options"))

    return handler


def _set(secret: bool) -> Handler:
    def handler(engine: Engine, body: Any, _fault: ItemFault | None) -> Result:
        if "value" not in body:
            raise ForgeStorageError("BAD_REQUEST", "Invalid request body: 'value' is required")
        return _ok(
            engine.set(
                body.get("key"),
                body["value"],
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
    if "value" not in body:
        raise ForgeStorageError("BAD_REQUEST", "Invalid request body: 'value' is required")
    return _ok(
        engine.entity_set(
            body.get("entityName"),
            body.get("key"),
            body["value"],
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


#: operation name (the path after ``v1/``) → handler.
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

#: Operations whose body is a top-level array.
ARRAY_BODIES = frozenset({"batch/set", "batch/get", "batch/delete"})
#: Operations whose recorded call names no single key.
KEYLESS = frozenset(
    {"query", "entity/query", "batch/set", "batch/get", "batch/delete", "transaction"}
)


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


def execute(engine: Engine, operation: str, body: Any, item_fault: ItemFault | None) -> Result:
    """Validate ``body`` against the spec and run ``operation``; may raise ForgeStorageError."""
    validate_request(operation, body)
    if operation in ARRAY_BODIES:
        if not isinstance(body, list):
            raise ForgeStorageError("BAD_REQUEST", "Invalid request body: expected an array")
    elif not isinstance(body, dict):
        raise ForgeStorageError("BAD_REQUEST", "Invalid request body: expected an object")
    with engine.lock:
        return ROUTES[operation](engine, body, item_fault)


def render(status: int, body: Any) -> bytes:
    if body is None:
        return b""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
