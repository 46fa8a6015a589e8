"""Custom entities, batch and transactions on the engine (filled in by the entity work)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._errors import ForgeStorageError

#: Per-item fault hook for batch operations: ``(key, entity_name) -> error or None``.
ItemFault = Callable[[Any, Any], ForgeStorageError | None]


class EntityOperations:
    def _init_entities(self) -> None:
        pass

    def _reset_entities(self) -> None:
        """Drop entity records (declarations stay)."""

    def entity_get(self, entity_name: Any, key: Any, *, options: Any = None) -> dict[str, Any]:
        raise NotImplementedError

    def entity_set(
        self, entity_name: Any, key: Any, value: Any, *, options: Any = None, trusted: bool = False
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    def entity_delete(self, entity_name: Any, key: Any) -> None:
        raise NotImplementedError

    def entity_query(self, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def batch_set(self, items: list[Any], *, item_fault: ItemFault | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def batch_get(self, items: list[Any], *, item_fault: ItemFault | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def batch_delete(
        self, items: list[Any], *, item_fault: ItemFault | None = None
    ) -> dict[str, Any]:
        raise NotImplementedError

    def transaction(self, body: dict[str, Any]) -> None:
        raise NotImplementedError
