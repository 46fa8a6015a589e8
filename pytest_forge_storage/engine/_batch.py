"""``batch/set``, ``batch/get`` and ``batch/delete`` (ref §11, decision 10).

The request as a whole must be a non-empty array of at most 25 items without a
duplicate (key, entityName) pair and at most 4 MB, else 400 ``BAD_REQUEST``. Each item is
then validated and applied on its own: its error goes to ``failedKeys``, in request
order. Items without ``entityName`` are plain KVS items (never secrets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError

from ._entities import EntityRegistry
from ._kvs import KvsStore
from ._options import SetOptions, get_fields
from ._validation import encoded_size, validate_key
from ._values import check_value

#: Per-item fault hook: ``(key, entity_name) -> error or None``.
ItemFault = Callable[[Any, Any], ForgeStorageError | None]
#: Applies one item; returns extra fields of its ``successfulKeys`` entry.
Apply = Callable[[dict[str, Any]], dict[str, Any]]

_ITEM_KEYS = {
    "set": frozenset({"key", "value", "entityName", "options"}),
    "get": frozenset({"key", "entityName", "options"}),
    "delete": frozenset({"key", "entityName"}),
}


def batch_set(
    registry: EntityRegistry,
    kvs: KvsStore,
    items: Any,
    fault: ItemFault | None,
    payload_limit: int = _limits.PAYLOAD_MAX_BYTES,
) -> dict[str, Any]:
    def apply(item: dict[str, Any]) -> dict[str, Any]:
        key, entity = item["key"], item.get("entityName")
        if entity is None:
            validate_key(key)
        else:
            store = registry.target(entity, key)
        if "value" not in item:
            raise ForgeStorageError("BAD_REQUEST", "value is required")
        opts = SetOptions.parse(item.get("options"), extended=False)
        value = item["value"]
        if entity is None:
            kvs.put(key, value, ttl=opts.ttl)
        else:
            check_value(store.decl, value)
            store.write(key, value, now=now_ms(), ttl_ms=_ms(opts.ttl))
        return {}

    return _run("set", items, fault, apply, payload_limit)


def batch_get(
    registry: EntityRegistry,
    kvs: KvsStore,
    items: Any,
    fault: ItemFault | None,
    payload_limit: int = _limits.PAYLOAD_MAX_BYTES,
) -> dict[str, Any]:
    def apply(item: dict[str, Any]) -> dict[str, Any]:
        key, entity = item["key"], item.get("entityName")
        if entity is None:
            validate_key(key)
            fields = get_fields(item.get("options"))
            return kvs.get(key).render(key, fields)
        store = registry.target(entity, key)
        fields = get_fields(item.get("options"))
        found = store.live(key, now_ms())
        if found is None:
            raise ForgeStorageError("KEY_NOT_FOUND")
        return found.render(key, fields, entity)

    return _run("get", items, fault, apply, payload_limit)


def batch_delete(
    registry: EntityRegistry,
    kvs: KvsStore,
    items: Any,
    fault: ItemFault | None,
    payload_limit: int = _limits.PAYLOAD_MAX_BYTES,
) -> dict[str, Any]:
    def apply(item: dict[str, Any]) -> dict[str, Any]:
        key, entity = item["key"], item.get("entityName")
        if entity is None:
            kvs.remove(key)
        elif registry.target(entity, key).remove(key, now_ms()) is None:
            raise ForgeStorageError("KEY_NOT_FOUND")
        return {}

    return _run("delete", items, fault, apply, payload_limit)


def _run(
    operation: str, items: Any, fault: ItemFault | None, apply: Apply, payload_limit: int
) -> dict[str, Any]:
    check_request(operation, items, payload_limit)
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for item in items:
        ref: dict[str, Any] = {"key": item["key"]}
        if item.get("entityName") is not None:
            ref["entityName"] = item["entityName"]
        try:
            error = fault(item["key"], item.get("entityName")) if fault is not None else None
            if error is not None:
                raise error
            unknown = sorted(set(item) - _ITEM_KEYS[operation])
            if unknown:
                raise ForgeStorageError(
                    "BAD_REQUEST", f"{unknown[0]} is not allowed in a batch/{operation} item"
                )
            extra = apply(item)
        except ForgeStorageError as exc:
            failed.append({**ref, "error": exc.to_rest()})
        else:
            successful.append({**ref, **extra})
    return {"successfulKeys": successful, "failedKeys": failed}


def check_request(
    operation: str, items: Any, payload_limit: int = _limits.PAYLOAD_MAX_BYTES
) -> None:
    """Whole-request rules (decision 10): 400 ``BAD_REQUEST`` when broken."""
    if not isinstance(items, list):
        raise ForgeStorageError("BAD_REQUEST", f"batch/{operation} takes an array of items")
    if not items:
        raise ForgeStorageError("BAD_REQUEST", f"batch/{operation} needs at least one item")
    if len(items) > _limits.BATCH_MAX_ITEMS:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"batch/{operation} takes at most {_limits.BATCH_MAX_ITEMS} items, got {len(items)}",
        )
    seen: set[tuple[str, str]] = set()
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "key" not in item:
            raise ForgeStorageError(
                "BAD_REQUEST",
                f"batch/{operation} item #{position + 1} must be an object with a key",
            )
        ident = (repr(item["key"]), repr(item.get("entityName")))
        if ident in seen:
            entity = item.get("entityName")
            where = f" of entity {entity!r}" if entity is not None else ""
            raise ForgeStorageError(
                "BAD_REQUEST", f"batch/{operation} has the key {item['key']!r}{where} twice"
            )
        seen.add(ident)
    size = encoded_size(items)
    if size > payload_limit:
        raise ForgeStorageError(
            "BAD_REQUEST",
            f"batch/{operation} payload is {size} bytes, but at most {payload_limit} are allowed",
        )


def _ms(ttl: int | None) -> int | None:
    return ttl * 1000 if ttl is not None else None
