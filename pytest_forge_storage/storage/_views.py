"""Mapping views over the engine's namespaces, for seeding and inspection."""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from pytest_forge_storage._errors import ForgeStorageError

if TYPE_CHECKING:
    from pytest_forge_storage.engine import Engine

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
        item = self._engine.lookup(key, secret=self._secret)
        if item is None:
            raise KeyError(key)
        return copy.deepcopy(item.value)

    def __setitem__(self, key: str, value: Any) -> None:
        self._engine.put(key, value, secret=self._secret)  # put() copies it

    def __delitem__(self, key: str) -> None:
        try:
            self._engine.remove(key, secret=self._secret)
        except ForgeStorageError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._engine.keys(secret=self._secret))

    def __len__(self) -> int:
        return self._engine.count(secret=self._secret)

    def __contains__(self, key: object) -> bool:
        return self._engine.lookup(key, secret=self._secret) is not None

    def __repr__(self) -> str:
        name = "secrets" if self._secret else "kvs"
        shown = "{...}" if self._secret else repr(dict(self.items()))
        return f"<ForgeStorage.{name} {len(self)} items {shown}>"


class EntityView(MutableMapping[str, dict[str, Any]]):
    """``storage.entity("employee")``: the live records of one custom entity."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self.name = name

    @property
    def declaration(self) -> dict[str, Any]:
        """The entity as declared, in manifest form: ``{"name", "attributes", "indexes"}``.

        A fresh copy each time (read-only: changing it changes nothing); ``attributes`` maps
        each name to ``{"type": ...}``, and ``indexes`` is present when the entity has any.
        """
        return self._engine.entity_declaration(self.name).to_manifest()

    def __getitem__(self, key: str) -> dict[str, Any]:
        try:
            found = self._engine.entity_get(self.name, key)
        except ForgeStorageError as exc:
            if exc.code in _MISSING:
                raise KeyError(key) from None
            raise
        return copy.deepcopy(found["value"])

    def __setitem__(self, key: str, value: dict[str, Any]) -> None:
        self._engine.entity_put(self.name, key, value)  # stores a private copy

    def __delitem__(self, key: str) -> None:
        try:
            self._engine.entity_remove(self.name, key)
        except ForgeStorageError as exc:
            if exc.code == "KEY_NOT_FOUND":
                raise KeyError(key) from None
            raise

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._engine.entity_items(self.name)])

    def __len__(self) -> int:
        return sum(1 for _ in self._engine.entity_items(self.name))

    def __repr__(self) -> str:
        return f"<ForgeStorage.entity({self.name!r}) {dict(self.items())!r}>"
