"""Custom entities, batch and transactions on the engine (ref §3, §6, §10, §11).

:class:`EntityOperations` is mixed into :class:`~pytest_forge_storage.engine.Engine`; the
REST and GraphQL protocols and the ``ForgeStorage`` facade call these methods. Every public
method takes the engine's re-entrant lock, so a call is atomic on its own and inside a
request that already holds the lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError

from . import _batch, _manifest
from ._batch import ItemFault as ItemFault
from ._entities import EntityRegistry, EntityStore
from ._entity_query import run_query
from ._items import Item
from ._options import SetOptions, get_fields, returned, seed_ttl_ms
from ._schema import EntityDecl, declare
from ._transaction import run_transaction
from ._values import check_value, stored_entity_value

if TYPE_CHECKING:
    from ._kvs import KvsStore
    from ._lag import Lags

__all__ = ["EntityOperations", "ItemFault"]


class EntityOperations:
    """Entity declarations, entity records, batch and transactions."""

    lock: threading.RLock
    kvs: KvsStore
    _entities: EntityRegistry
    _lags: Lags
    #: ``app.id`` of the last manifest loaded that has one.
    manifest_app_id: str | None = None

    def _init_entities(self) -> None:
        self._entities = EntityRegistry(self._lags)

    def _reset_entities(self) -> None:
        """Drop entity records (declarations stay)."""
        with self.lock:
            self._entities.reset()

    # -- declarations ------------------------------------------------------------------
    def define_entity(
        self,
        name: str,
        attributes: Mapping[str, str | Mapping[str, Any]],
        indexes: Sequence[str | Mapping[str, Any]] = (),
    ) -> None:
        """Declare an entity (``{"age": "integer"}`` or ``{"age": {"type": "integer"}}``;
        indexes in manifest form). Redeclaring replaces the declaration and re-indexes the
        stored records, which must fit it. 400 ``BAD_REQUEST`` naming the rule broken."""
        self._define([declare(name, attributes, indexes)])

    def load_manifest(self, path: str | os.PathLike[str]) -> list[str]:
        """Declare the entities of a ``manifest.yml`` (``app.storage.entities`` only), all
        or none; return their names."""
        decls = _manifest.load(path)
        self._define(decls, where=f"{os.fspath(path)}: ")
        self.manifest_app_id = _manifest.app_id(path) or getattr(self, "manifest_app_id", None)
        return [decl.name for decl in decls]

    def _define(self, decls: list[EntityDecl], where: str = "") -> None:
        """Declare ``decls`` in every partition (declarations are app-wide), all or none."""
        with self.lock:
            done: list[tuple[EntityRegistry, dict[str, EntityStore]]] = []
            try:
                for engine in self._engines():
                    registry = engine._entities
                    saved = dict(registry._stores)
                    registry.define(decls, now_ms(), where=where)
                    done.append((registry, saved))
            except BaseException:
                for registry, saved in done:
                    registry._stores = saved
                raise

    def _copy_declarations(self, other: EntityOperations) -> None:
        names = other._entities.names()
        decls = [other._entities.store(name).decl for name in names]
        if decls:
            self._entities.define(decls, now_ms())

    def _engines(self) -> list[Any]:
        return [self]

    def payload_limit(self) -> int:
        """The cap on a batch or transaction payload (the realism knob; 4 MiB by default)."""
        return _limits.PAYLOAD_MAX_BYTES

    def entity_names(self) -> list[str]:
        with self.lock:
            return self._entities.names()

    def entity_declaration(self, name: str) -> EntityDecl:
        """The declaration of ``name`` (``.attributes``, ``.indexes``, ``.to_manifest()``)."""
        with self.lock:
            return self._entities.store(name).decl

    # -- records (REST and GraphQL) ----------------------------------------------------
    def entity_get(self, entity_name: Any, key: Any, *, options: Any = None) -> dict[str, Any]:
        with self.lock:
            store = self._entities.target(entity_name, key)
            fields = get_fields(options)
            item = store.live(key, now_ms())
            if item is None:
                raise ForgeStorageError("KEY_NOT_FOUND")
            return item.render(key, fields, entity_name)

    def entity_set(
        self, entity_name: Any, key: Any, value: Any, *, options: Any = None, trusted: bool = False
    ) -> dict[str, Any] | None:
        """Write a record; the returned dict is the 200 body, ``None`` means 204."""
        with self.lock:
            store = self._entities.target(entity_name, key)
            opts = SetOptions.parse(options)
            check_value(store.decl, value, trusted=trusted)
            previous, item = store.write(
                key,
                value,
                now=now_ms(),
                ttl_ms=opts.ttl * 1000 if opts.ttl is not None else None,
                fail_if_exists=opts.fail_if_exists,
            )
            return returned(key, opts, previous, item, entity_name)

    def entity_delete(self, entity_name: Any, key: Any) -> None:
        """Delete a record; 404 ``KEY_NOT_FOUND`` when there is none (decision 2)."""
        with self.lock:
            if self._entities.target(entity_name, key).remove(key, now_ms()) is None:
                raise ForgeStorageError("KEY_NOT_FOUND")

    def entity_query(self, body: dict[str, Any]) -> dict[str, Any]:
        """The ``entity/query`` body of ref §3.4 → ``{"data": [...], "cursor"?}``."""
        with self.lock:
            return run_query(self._entities, body)

    # -- facade helpers ----------------------------------------------------------------
    def entity_items(self, entity_name: str) -> Iterator[tuple[str, Item]]:
        """Live records in key order (a snapshot, safe to modify the store meanwhile)."""
        with self.lock:
            return iter(self._entities.store(entity_name).items(now_ms()))

    def entity_put(
        self,
        entity_name: str,
        key: str,
        value: Any,
        *,
        ttl: float | None = None,
        trusted: bool = False,
    ) -> None:
        """Seed a record, validated exactly as ``entity/set``; ``ttl`` in seconds. A value
        that is not ``trusted`` is stored as a private copy (made in the walk that checks it),
        so the caller may keep using its object."""
        with self.lock:
            store = self._entities.target(entity_name, key)
            ttl_ms = seed_ttl_ms(ttl)
            stored = stored_entity_value(store.decl, value, trusted=trusted)
            store.write(key, stored, now=now_ms(), ttl_ms=ttl_ms)
            store.show_now(key)  # seeding is what was there already: no query lag

    def entity_remove(self, entity_name: str, key: str) -> None:
        with self.lock:
            self.entity_delete(entity_name, key)
            self._entities.store(entity_name).show_now(key)

    def entity_clear(self, entity_name: str) -> None:
        with self.lock:
            self._entities.store(entity_name).clear()

    def entity_restore_item(self, entity_name: str, key: str, item: Item) -> None:
        """Put back a record from a snapshot, metadata included; it must still fit the
        entity's declaration."""
        with self.lock:
            store: EntityStore = self._entities.target(entity_name, key)
            check_value(store.decl, item.value, trusted=True)
            store.restore(key, item)

    # -- batch and transactions --------------------------------------------------------
    def batch_set(self, items: list[Any], *, item_fault: ItemFault | None = None) -> dict[str, Any]:
        with self.lock:
            return _batch.batch_set(
                self._entities, self.kvs, items, item_fault, self.payload_limit()
            )

    def batch_get(self, items: list[Any], *, item_fault: ItemFault | None = None) -> dict[str, Any]:
        with self.lock:
            return _batch.batch_get(
                self._entities, self.kvs, items, item_fault, self.payload_limit()
            )

    def batch_delete(
        self, items: list[Any], *, item_fault: ItemFault | None = None
    ) -> dict[str, Any]:
        with self.lock:
            return _batch.batch_delete(
                self._entities, self.kvs, items, item_fault, self.payload_limit()
            )

    def transaction(self, body: dict[str, Any]) -> None:
        """Apply a transaction or raise; ``None`` means 204 (decision 11)."""
        with self.lock:
            run_transaction(self._entities, self.kvs, body, self.payload_limit())

    # -- bulk loads ----------------------------------------------------------------------
    def entity_store(self, entity_name: Any) -> EntityStore:
        """The store of a declared entity (Forge's name codes otherwise), for bulk loads
        that check records first and then call ``EntityStore.load``, under :attr:`lock`."""
        return self._entities.store(entity_name)
