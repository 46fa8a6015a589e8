"""``transaction``: all-or-nothing writes with conditions (ref §10, decision 11).

Three phases under the engine lock: the request's shape (400
``INVALID_TRANSACTION_REQUEST``), every item (keys, entity names, options, values,
conditions, each with its own code), then every condition against the current live
records (400 ``CONDITIONAL_CHECK_FAILED``). Only when all pass are the writes applied,
and they cannot fail by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._codes import message_for
from pytest_forge_storage._errors import ForgeStorageError

from ._conditions import Filter, parse_filters
from ._entities import EntityRegistry, EntityStore
from ._kvs import KvsStore
from ._options import SetOptions
from ._validation import encoded_size, validate_key, validate_value
from ._values import check_value

GROUPS = ("set", "delete", "check")
_ITEM_KEYS = {
    "set": frozenset({"key", "value", "entityName", "conditions", "options"}),
    "delete": frozenset({"key", "entityName", "conditions"}),
    "check": frozenset({"key", "entityName", "conditions"}),
}


@dataclass
class _Op:
    group: str
    where: str
    raw: dict[str, Any]
    store: EntityStore | None = None
    ttl: int | None = None
    conditions: Filter | None = None

    @property
    def key(self) -> str:
        key: str = self.raw["key"]
        return key


def run_transaction(
    registry: EntityRegistry,
    kvs: KvsStore,
    body: Any,
    payload_limit: int = _limits.PAYLOAD_MAX_BYTES,
) -> None:
    ops = _shape(body, payload_limit)
    for op in ops:
        _validate(registry, op)
    now = now_ms()
    for op in ops:
        if op.conditions is None:
            continue
        assert op.store is not None
        current = op.store.live(op.key, now)
        if not op.conditions.test(current.value if current is not None else None):
            raise ForgeStorageError(
                "CONDITIONAL_CHECK_FAILED",
                f"{message_for('CONDITIONAL_CHECK_FAILED')} {op.where}: the conditions on key "
                f'"{op.key}" of entity "{op.store.decl.name}" are not met; nothing was written.',
            )
    for op in ops:
        if op.group == "set":
            if op.store is None:
                kvs.put(op.key, op.raw["value"], ttl=op.ttl, trusted=True)
            else:
                ttl_ms = op.ttl * 1000 if op.ttl is not None else None
                op.store.write(op.key, op.raw["value"], now=now, ttl_ms=ttl_ms)
        elif op.group == "delete":
            if op.store is None:
                if kvs.live(op.key) is not None:
                    kvs.remove(op.key)
            else:
                op.store.remove(op.key, now)


def _invalid(message: str) -> ForgeStorageError:
    return ForgeStorageError("INVALID_TRANSACTION_REQUEST", message)


def _shape(body: Any, payload_limit: int) -> list[_Op]:
    """The request's structure (decision 11)."""
    if not isinstance(body, dict):
        raise _invalid("The transaction request must be an object")
    unknown = sorted(str(name) for name in set(body) - set(GROUPS))
    if unknown:
        raise _invalid(f"Unknown property {unknown[0]!r}; use set, delete and check")
    ops: list[_Op] = []
    for group in GROUPS:
        items = body.get(group)
        if items is None:
            continue
        if not isinstance(items, list):
            raise _invalid(f"{group} must be an array")
        for position, item in enumerate(items):
            ops.append(_item(group, position, item))
    if not ops:
        raise _invalid("The transaction must include one of set, check or delete")
    if len(ops) > _limits.TRANSACTION_MAX_OPERATIONS:
        raise _invalid(
            f"The transaction has {len(ops)} operations, but at most "
            f"{_limits.TRANSACTION_MAX_OPERATIONS} are allowed"
        )
    seen: dict[tuple[str, str], str] = {}
    for op in ops:
        ident = (repr(op.raw["key"]), repr(op.raw.get("entityName")))
        if ident in seen:
            raise _invalid(
                f"{op.where}: key {op.raw['key']!r} is already used by {seen[ident]}; each "
                "(key, entityName) may appear once per transaction"
            )
        seen[ident] = op.where
    size = encoded_size(body)
    if size > payload_limit:
        raise _invalid(
            f"The transaction payload is {size} bytes, but at most {payload_limit} are allowed"
        )
    return ops


def _item(group: str, position: int, item: Any) -> _Op:
    where = f"{group}[{position}]"
    if not isinstance(item, dict):
        raise _invalid(f"{where} must be an object")
    unknown = sorted(str(name) for name in set(item) - _ITEM_KEYS[group])
    if unknown:
        raise _invalid(f"{where}: {unknown[0]!r} is not allowed in a {group} item")
    if "key" not in item:
        raise _invalid(f"{where}: key is required")
    if group == "set" and "value" not in item:
        raise _invalid(f"{where}: value is required")
    entity = item.get("entityName")
    conditions = item.get("conditions")
    if entity is None and conditions is not None:
        raise _invalid(f"{where}: conditions are allowed only on custom entity items")
    if group == "check" and (entity is None or conditions is None):
        raise _invalid(f"{where}: a check needs entityName and conditions")
    return _Op(group, where, item)


def _validate(registry: EntityRegistry, op: _Op) -> None:
    """Item rules, each with its own Forge code (as the single operations report them)."""
    raw = op.raw
    entity = raw.get("entityName")
    if entity is None:
        validate_key(raw["key"])
    else:
        op.store = registry.target(entity, raw["key"])
    if op.group == "set":
        op.ttl = SetOptions.parse(raw.get("options"), extended=False).ttl
        if op.store is None:
            validate_value(raw["value"], max_bytes=_limits.VALUE_MAX_BYTES)
        else:
            check_value(op.store.decl, raw["value"])
    if op.store is not None:
        op.conditions = parse_filters(
            raw.get("conditions"),
            op.store.decl.attributes,
            where=f"{op.where}.conditions",
            max_conditions=_limits.CONDITIONS_MAX,
        )
        if op.group == "check" and op.conditions is None:
            raise _invalid(f"{op.where}: a check needs at least one condition")
