"""The engine facade: every storage operation, by meaning, under one lock."""

from __future__ import annotations

import threading
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError

from ._entity_ops import EntityOperations
from ._items import Item
from ._kvs import KvsStore
from ._options import SetOptions, get_fields
from ._validation import validate_key


class Engine(EntityOperations):
    """All stores of one Forge installation: plain KVS, secrets and custom entities.

    Methods take decoded JSON (already checked against the request schema by the
    protocol, but re-checked here where a Forge rule applies) and return JSON-ready
    dicts; every rule violation raises :class:`ForgeStorageError`. Callers hold
    :attr:`lock` around a request so that a whole request is atomic.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.kvs = KvsStore(max_bytes=_limits.VALUE_MAX_BYTES)
        self.secrets = KvsStore(max_bytes=_limits.SECRET_MAX_BYTES)
        self._init_entities()

    def namespace(self, secret: bool) -> KvsStore:
        return self.secrets if secret else self.kvs

    # -- KVS and secrets ---------------------------------------------------------------
    def get(self, key: Any, *, secret: bool = False, options: Any = None) -> dict[str, Any]:
        fields = get_fields(options)
        return self.namespace(secret).get(key).render(key, fields)

    def set(
        self,
        key: Any,
        value: Any,
        *,
        secret: bool = False,
        options: Any = None,
        trusted: bool = False,
    ) -> dict[str, Any] | None:
        """Write; the returned dict is the 200 body, ``None`` means 204 (decision 6)."""
        opts = SetOptions.parse(options)
        previous, item = self.namespace(secret).put(
            key, value, ttl=opts.ttl, fail_if_exists=opts.fail_if_exists, trusted=trusted
        )
        return returned(key, opts, previous, item)

    def delete(self, key: Any, *, secret: bool = False) -> None:
        self.namespace(secret).remove(key)

    def query(
        self, *, where: Any = None, limit: Any = None, after: Any = None, options: Any = None
    ) -> dict[str, Any]:
        """KVS query: ``BEGINS_WITH`` on the key, code-point order (ref §7, decision 7)."""
        fields = get_fields(options)
        prefix = kvs_prefix(where)
        page_size = query_limit(limit, "LIST_QUERY_LIMIT_EXCEEDED")
        page, cursor = self.kvs.query(prefix=prefix, limit=page_size, after=after)
        body: dict[str, Any] = {"data": [item.render(key, fields) for key, item in page]}
        if cursor is not None:
            body["cursor"] = cursor
        return body

    # -- whole-store operations --------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.kvs.clear()
            self.secrets.clear()
            self._reset_entities()


def returned(
    key: str, opts: SetOptions, previous: Item | None, item: Item, entity_name: str | None = None
) -> dict[str, Any] | None:
    """The body of a set with ``returnValue`` (decision 6), or ``None`` for 204."""
    if opts.return_value == "LATEST":
        return item.render(key, opts.return_metadata, entity_name)
    if opts.return_value == "PREVIOUS" and previous is not None:
        return previous.render(key, opts.return_metadata, entity_name)
    return None


def query_limit(limit: Any, code: str) -> int:
    if limit is None:
        return _limits.QUERY_DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ForgeStorageError("BAD_REQUEST", "limit must be an integer")
    if not 1 <= limit <= _limits.QUERY_MAX_LIMIT:
        raise ForgeStorageError(
            code, f"Limit must be between 1 and {_limits.QUERY_MAX_LIMIT}, got {limit}"
        )
    return limit


def kvs_prefix(where: Any) -> str:
    """The key prefix of a KVS ``where`` list; ``""`` when there is none (ref §7)."""
    if where is None:
        return ""
    if not isinstance(where, list):
        raise ForgeStorageError("BAD_REQUEST", "where must be an array")
    if not where:
        return ""
    if len(where) > 1:
        raise ForgeStorageError("QUERY_WHERE_INVALID")
    clause = where[0]
    if not isinstance(clause, dict):
        raise ForgeStorageError("BAD_REQUEST", "where[0] must be an object")
    if clause.get("property") != "key":
        raise ForgeStorageError(
            "QUERY_WHERE_FIELD_INVALID",
            f"Only the key field can be used in a where clause, got {clause.get('property')!r}",
        )
    if clause.get("condition") != "BEGINS_WITH":
        raise ForgeStorageError(
            "INVALID_FILTER_CONDITION",
            f"Only the BEGINS_WITH condition is supported, got {clause.get('condition')!r}",
        )
    values = clause.get("values")
    if not isinstance(values, list) or len(values) != 1:
        raise ForgeStorageError("INVALID_FILTER_VALUES", "BEGINS_WITH takes exactly one value")
    return validate_key(values[0])
