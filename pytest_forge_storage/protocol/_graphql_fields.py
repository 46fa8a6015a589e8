"""What each storage field of the GraphQL schema does: its operation name and engine work.

A table (``QUERY_FIELDS``, ``MUTATION_FIELDS``) maps each storage field to a ``describe``
function — its recorded operation, key and entity name (design §2.2: ``appStoredEntity``
with ``encrypted: true`` is ``secret/get``, ...) — and a ``run`` function on the engine,
which takes the field's arguments with explicit nulls already removed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine, encode_cursor

#: Forge's own list cursors are a tuple-encoded key: ``\x14\x02<key>\x00`` (ref §7).
_FORGE_CURSOR_HEAD, _FORGE_CURSOR_TAIL = b"\x14\x02", b"\x00"
SUCCESS: dict[str, Any] = {"success": True, "errors": None}


def engine_after(after: str | None) -> str | None:
    """Accept Forge's own cursor form too (e.g. the docs' ``FAJ0ZXN0LWtleS0yAA==``)."""
    if after is None:
        return None
    try:
        raw = base64.b64decode(after, validate=True)
    except (binascii.Error, ValueError):
        return after
    if raw.startswith(_FORGE_CURSOR_HEAD) and raw.endswith(_FORGE_CURSOR_TAIL) and len(raw) > 3:
        try:
            return encode_cursor(raw[2:-1].decode("utf-8"))
        except UnicodeDecodeError:
            return after
    return after


# -- what each storage field is ----------------------------------------------------------
Describe = Callable[[dict[str, Any]], tuple[str, "str | None", "str | None"]]
Run = Callable[[Engine, dict[str, Any]], Any]


def _describe_get(args: dict[str, Any]) -> tuple[str, str | None, str | None]:
    return ("secret/get" if args.get("encrypted") else "get"), args.get("key"), None


def _describe_list(args: dict[str, Any]) -> tuple[str, str | None, str | None]:
    return "query", None, None


def _describe_entity(operation: str) -> Describe:
    def describe(args: dict[str, Any]) -> tuple[str, str | None, str | None]:
        return operation, args.get("key"), args.get("entityName")

    return describe


def _describe_input(operation: str, secret_operation: str | None = None) -> Describe:
    def describe(args: dict[str, Any]) -> tuple[str, str | None, str | None]:
        data = args.get("input") or {}
        name = secret_operation if secret_operation and data.get("encrypted") else operation
        return name, data.get("key"), data.get("entityName")

    return describe


# -- resolvers' work on the engine -------------------------------------------------------
def _get(engine: Engine, args: dict[str, Any]) -> Any:
    key = args["key"]
    try:
        return engine.get(key, secret=bool(args.get("encrypted")))
    except ForgeStorageError as exc:
        if exc.code != "KEY_NOT_FOUND":
            raise
        return {"key": key, "value": None}  # ref §14.5 trap 1: never a null entity


def _list(engine: Engine, args: dict[str, Any]) -> Any:
    first = args.get("first")
    if first is not None and not 1 <= first <= _limits.GRAPHQL_MAX_FIRST:
        raise ForgeStorageError(
            "LIST_QUERY_LIMIT_EXCEEDED",
            f"first can be set to at most {_limits.GRAPHQL_MAX_FIRST} (and at least 1), "
            f"got {first}",
        )
    where = []
    for clause in args.get("where") or ():
        condition = clause.get("condition")
        if condition != "STARTS_WITH":
            raise ForgeStorageError(
                "INVALID_FILTER_CONDITION",
                f"Only the STARTS_WITH condition is supported, got {condition}",
            )
        where.append(
            {"property": clause.get("field"), "condition": "BEGINS_WITH",
             "values": [clause.get("value")]}
        )  # fmt: skip
    after = args.get("after")
    page = engine.query(where=where, limit=first, after=engine_after(after))
    items = page["data"]
    return {
        "edges": [{"cursor": encode_cursor(item["key"]), "node": item} for item in items],
        "nodes": items,
        "pageInfo": {"hasNextPage": "cursor" in page, "hasPreviousPage": after is not None},
        "totalCount": len(items),
    }


def _entity_get(engine: Engine, args: dict[str, Any]) -> Any:
    name, key = args["entityName"], args["key"]
    try:
        return engine.entity_get(name, key)
    except ForgeStorageError as exc:
        if exc.code != "KEY_NOT_FOUND":
            raise
        return {"entityName": name, "key": key, "value": None}


_ENTITY_QUERY_ARGS = (
    "entityName", "indexName", "partition", "range", "filters", "sort", "limit", "cursor",
)  # fmt: skip


def _entity_list(engine: Engine, args: dict[str, Any]) -> Any:
    from .openapi import validate_request

    body = {name: args[name] for name in _ENTITY_QUERY_ARGS if name in args}
    validate_request("entity/query", body)
    page = engine.entity_query(body)
    items, cursor = page["data"], page.get("cursor")
    return {
        "cursor": cursor,
        "edges": [{"cursor": None, "node": item} for item in items],
        "nodes": items,
        "pageInfo": {"hasNextPage": cursor is not None, "hasPreviousPage": "cursor" in body},
        "totalCount": len(items),
    }


def _set(engine: Engine, args: dict[str, Any]) -> Any:
    data = args["input"]
    engine.set(data["key"], data["value"], secret=bool(data.get("encrypted")))
    return SUCCESS


def _delete(engine: Engine, args: dict[str, Any]) -> Any:
    data = args["input"]
    try:
        engine.delete(data["key"], secret=bool(data.get("encrypted")))
    except ForgeStorageError as exc:
        if exc.code != "KEY_NOT_FOUND":  # deleting a missing key succeeds (see docs)
            raise
    return SUCCESS


def _entity_set(engine: Engine, args: dict[str, Any]) -> Any:
    data = args["input"]
    engine.entity_set(data["entityName"], data["key"], data["value"])
    return SUCCESS


def _entity_delete(engine: Engine, args: dict[str, Any]) -> Any:
    data = args["input"]
    try:
        engine.entity_delete(data["entityName"], data["key"])
    except ForgeStorageError as exc:
        if exc.code != "KEY_NOT_FOUND":
            raise
    return SUCCESS


QUERY_FIELDS: dict[str, tuple[Describe, Run]] = {
    "appStoredEntity": (_describe_get, _get),
    "appStoredEntities": (_describe_list, _list),
    "appStoredCustomEntity": (_describe_entity("entity/get"), _entity_get),
    "appStoredCustomEntities": (_describe_entity("entity/query"), _entity_list),
}
MUTATION_FIELDS: dict[str, dict[str, tuple[Describe, Run]]] = {
    "AppStorageMutation": {
        "setAppStoredEntity": (_describe_input("set", "secret/set"), _set),
        "deleteAppStoredEntity": (_describe_input("delete", "secret/delete"), _delete),
    },
    "AppStorageCustomEntityMutation": {
        "setAppStoredCustomEntity": (_describe_input("entity/set"), _entity_set),
        "deleteAppStoredCustomEntity": (_describe_input("entity/delete"), _entity_delete),
    },
}
