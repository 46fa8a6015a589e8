"""Mapping views over the engine's namespaces, for seeding and inspection."""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from ._errors import ForgeStorageError
from .engine._plain import plain_copy

if TYPE_CHECKING:
    from .engine import Engine

#: Codes that mean "no such record" to a mapping lookup.
_MISSING = frozenset({"KEY_NOT_FOUND", "EMPTY_KEY", "KEY_TOO_LONG", "INVALID_KEY"})


class KvsView(MutableMapping[str, Any]):
    """``storage.kvs`` / ``storage.secrets``: what the app would see now, in key order.

    Values are copied in and out, so mutating a value you read does not change the
    store. Writes are validated like the API and raise :class:`ForgeStorageError`.
    """

    def __init__(self, engine: Engine, *, secret: bool) -> None:
        self._engine = engine
        self._secret = secret

    def __getitem__(self, key: str) -> Any:
        with self._engine.lock:
            item = self._engine.namespace(self._secret).live(key) if isinstance(key, str) else None
            if item is None:
                raise KeyError(key)
            return copy.deepcopy(item.value)

    def __setitem__(self, key: str, value: Any) -> None:
        with self._engine.lock:
            self._engine.namespace(self._secret).put(key, value)  # put() copies it

    def __delitem__(self, key: str) -> None:
        with self._engine.lock:
            try:
                self._engine.namespace(self._secret).remove(key)
            except ForgeStorageError:
                raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        with self._engine.lock:
            keys = [key for key, _ in self._engine.namespace(self._secret).items()]
        return iter(keys)

    def __len__(self) -> int:
        with self._engine.lock:
            return len(self._engine.namespace(self._secret))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._engine.lock:
            return self._engine.namespace(self._secret).live(key) is not None

    def __repr__(self) -> str:
        name = "secrets" if self._secret else "kvs"
        shown = "{...}" if self._secret else repr(dict(self.items()))
        return f"<ForgeStorage.{name} {len(self)} items {shown}>"


class EntityView(MutableMapping[str, dict[str, Any]]):
    """``storage.entity("employee")``: the live records of one custom entity."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self.name = name

    def __getitem__(self, key: str) -> dict[str, Any]:
        try:
            found = self._engine.entity_get(self.name, key)
        except ForgeStorageError as exc:
            if exc.code in _MISSING:
                raise KeyError(key) from None
            raise
        return copy.deepcopy(found["value"])

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        found = plain_copy(value)  # plain JSON: copied in the walk that checks it
        if found is None:
            self._engine.entity_put(self.name, key, copy.deepcopy(value))
        else:
            self._engine.entity_put(self.name, key, found[0], trusted=True)

    def __delitem__(self, key: str) -> None:
        try:
            self._engine.entity_remove(self.name, key)
        except ForgeStorageError as exc:
            if exc.code == "KEY_NOT_FOUND":
                raise KeyError(key) from None
            raise

    def __iter__(self) -> Iterator[str]:
        with self._engine.lock:
            keys = [key for key, _ in self._engine.entity_items(self.name)]
        return iter(keys)

    def __len__(self) -> int:
        with self._engine.lock:
            return sum(1 for _ in self._engine.entity_items(self.name))

    def __repr__(self) -> str:
        return f"<ForgeStorage.entity({self.name!r}) {dict(self.items())!r}>"
