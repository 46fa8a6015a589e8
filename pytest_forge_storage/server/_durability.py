"""``--db PATH``: every acknowledged write of server mode survives the process (design §3).

:class:`Durability` joins a storage to a
:class:`~pytest_forge_storage.server._durable.DurableStore`:

* at start it loads what the file holds (items with their exact times and TTLs) into the
  storage;
* the router tells it of every acknowledged write (``Router.observer``), under the engine lock
  and before the answer is sent: it reads back the state of the keys that write touched and
  applies it to the file in one SQLite transaction. A persist under the lock writes the
  state current at that moment, never an older one, so the last persist of a key follows its
  last write;
* after a whole-store change (the control API's reset and seed, ``--data``) it rewrites the
  file from a snapshot.

SQLite in WAL mode with ``synchronous=NORMAL`` survives ``kill -9``, not power loss.
Installations come back with their data but not their details (product, cloud id) or
tokens: tokens are minted per process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pytest_forge_storage._clock import iso_ms
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.server._durable import Change, DurableStore

if TYPE_CHECKING:
    from pytest_forge_storage.engine import Engine
    from pytest_forge_storage.storage import ForgeStorage

_SECTION = {"set": "kvs", "delete": "kvs", "secret/set": "secrets", "secret/delete": "secrets"}
_METADATA = {"metadataFields": ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]}


class Durability:
    """The durable copy of one storage; ``path`` is created if missing (else loaded)."""

    def __init__(self, storage: ForgeStorage, path: str | os.PathLike[str]) -> None:
        self.storage = storage
        self.store = DurableStore(path)
        saved = self.store.load()
        if saved != _EMPTY or "installations" in saved:
            storage.restore(saved)
        storage._router.observer = self.written

    def rewrite(self) -> None:
        """Make the file hold exactly what the storage holds now."""
        with self.storage._engine.lock:
            self.store.replace_all(self.storage.snapshot())

    def close(self) -> None:
        if self.storage._router.observer == self.written:
            self.storage._router.observer = None
        self.store.close()

    # -- the router's observer --------------------------------------------------------
    def written(
        self,
        part: Engine,
        installation: str,
        operation: str,
        key: str | None,
        entity_name: str | None,
        body: Any,
    ) -> None:
        self.store.apply(
            _change(part, installation, section, entity, item_key)
            for section, entity, item_key in _touched(operation, key, entity_name, body)
        )


_EMPTY: dict[str, Any] = {
    "kvs": {},
    "secrets": {},
    "entities": {},
    "metadata": {"kvs": {}, "secrets": {}, "entities": {}},
}


def _touched(
    operation: str, key: str | None, entity_name: str | None, body: Any
) -> Iterator[tuple[str, str | None, str]]:
    """``(section, entity_name, key)`` of every item a successful write may have changed."""
    if operation in _SECTION and key is not None:
        yield _SECTION[operation], None, key
    elif operation in ("entity/set", "entity/delete") and key is not None:
        yield "entity", entity_name, key
    elif operation in ("batch/set", "batch/delete") and isinstance(body, list):
        yield from _items(body)
    elif operation == "transaction" and isinstance(body, dict):
        for group in ("set", "delete"):
            items = body.get(group)
            if isinstance(items, list):
                yield from _items(items)


def _items(items: list[Any]) -> Iterator[tuple[str, str | None, str]]:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            entity = item.get("entityName")
            if isinstance(entity, str):
                yield "entity", entity, item["key"]
            else:
                yield "kvs", None, item["key"]


def _change(part: Engine, installation: str, section: str, entity: str | None, key: str) -> Change:
    if section == "entity":
        assert entity is not None
        try:
            got = part.entity_get(entity, key, options=_METADATA)
        except ForgeStorageError:
            return Change(installation, "entity", entity, key, None)
        item: dict[str, Any] = {name: got[name] for name in ("value", "createdAt", "updatedAt")}
        if "expireTime" in got:
            item["expireTime"] = got["expireTime"]
        return Change(installation, "entity", entity, key, item)
    found = part.lookup(key, secret=section == "secrets")
    if found is None:
        return Change(installation, section, None, key, None)  # type: ignore[arg-type]
    record: dict[str, Any] = {
        "value": found.value,
        "createdAt": found.created_ms,
        "updatedAt": found.updated_ms,
    }
    if found.expire_ms is not None:
        record["expireTime"] = iso_ms(found.expire_ms)
    return Change(installation, section, None, key, record)  # type: ignore[arg-type]
