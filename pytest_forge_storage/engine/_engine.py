"""The engine facade: every storage operation, by meaning, under one lock.

Lock contract: every public method takes :attr:`Engine.lock` (re-entrant) itself, so each
call is atomic on its own. A caller that needs several calls to be atomic together (a
GraphQL document with several fields) holds the lock around them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage._realism import Realism

from ._entity_ops import EntityOperations
from ._items import Item
from ._kvs import KvsStore
from ._lag import Lags
from ._options import SetOptions, get_fields, kvs_prefix, query_limit, returned, seed_ttl_ms

#: The partition of the default installation: the engine itself.
DEFAULT_PARTITION = "default"


class Engine(EntityOperations):
    """All stores of one Forge installation: plain KVS, secrets and custom entities.

    Methods take decoded JSON (already checked against the request schema by the
    protocol, but re-checked here where a Forge rule applies) and return JSON-ready
    dicts; every rule violation raises :class:`ForgeStorageError`.

    Forge partitions storage per installation (ref §13, decision 3): an engine is the default
    installation's partition, and :meth:`partition` gives the others. Partitions share the
    engine's lock and its entity declarations (app-wide, as in the manifest); their data is
    their own.
    """

    def __init__(self, *, realism: Realism | None = None, _root: Engine | None = None) -> None:
        self._root = _root
        self.lock: threading.RLock = _root.lock if _root is not None else threading.RLock()
        #: The realism knobs of the storage (shared with the router; partitions use the root's).
        self.realism: Realism = _root.realism if _root is not None else (realism or Realism())
        #: Query lag and lingering expiry: one sequence of write lags for every partition.
        self._lags = _root._lags if _root is not None else Lags(self.realism)
        self.kvs = KvsStore(max_bytes=_limits.VALUE_MAX_BYTES, lags=self._lags)
        self.secrets = KvsStore(max_bytes=_limits.SECRET_MAX_BYTES, lags=self._lags, key_bytes=True)
        self._init_entities()
        self._partitions: dict[str, Engine] = {}
        if _root is not None:
            self._copy_declarations(_root)

    # -- partitions ----------------------------------------------------------------------
    def partition(self, key: str) -> Engine:
        """The partition of installation ``key`` (made on first use; ``"default"`` is the
        engine itself)."""
        root = self._root or self
        if key == DEFAULT_PARTITION:
            return root
        with self.lock:
            found = root._partitions.get(key)
            if found is None:
                found = root._partitions[key] = Engine(_root=root)
            return found

    def partitions(self) -> dict[str, Engine]:
        """Every partition but the default one, by installation key."""
        root = self._root or self
        with self.lock:
            return dict(root._partitions)

    def payload_limit(self) -> int:
        return (self._root or self).realism.batch_payload_limit

    def _engines(self) -> list[Engine]:
        root = self._root or self
        return [root, *root._partitions.values()]

    def namespace(self, secret: bool) -> KvsStore:
        return self.secrets if secret else self.kvs

    # -- KVS and secrets ---------------------------------------------------------------
    def get(self, key: Any, *, secret: bool = False, options: Any = None) -> dict[str, Any]:
        with self.lock:
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
        with self.lock:
            opts = SetOptions.parse(options)
            previous, item = self.namespace(secret).put(
                key, value, ttl=opts.ttl, fail_if_exists=opts.fail_if_exists, trusted=trusted
            )
            return returned(key, opts, previous, item)

    def delete(self, key: Any, *, secret: bool = False) -> None:
        with self.lock:
            self.namespace(secret).remove(key)

    def query(
        self, *, where: Any = None, limit: Any = None, after: Any = None, options: Any = None
    ) -> dict[str, Any]:
        """KVS query: ``BEGINS_WITH`` on the key, code-point order (ref §7, decision 7)."""
        with self.lock:
            fields = get_fields(options)
            prefix = kvs_prefix(where)
            page_size = query_limit(limit, "LIST_QUERY_LIMIT_EXCEEDED")
            page, cursor = self.kvs.query(prefix=prefix, limit=page_size, after=after)
            body: dict[str, Any] = {"data": [item.render(key, fields) for key, item in page]}
            if cursor is not None:
                body["cursor"] = cursor
            return body

    # -- seeding and inspection (the ForgeStorage facade) --------------------------------
    def lookup(self, key: Any, *, secret: bool = False) -> Item | None:
        """The live item under ``key`` (``None`` for a missing, expired or invalid key)."""
        with self.lock:
            return self.namespace(secret).live(key) if isinstance(key, str) else None

    def put(self, key: Any, value: Any, *, secret: bool = False, ttl: float | None = None) -> None:
        """Seed ``value``, validated as ``set`` validates it; ``ttl`` in seconds."""
        with self.lock:
            ttl_ms = seed_ttl_ms(ttl)
            store = self.namespace(secret)
            store.put(key, value, ttl=None if ttl_ms is None else ttl_ms / 1000)
            store.show_now(key)  # seeding is what was there already: no query lag

    def remove(self, key: Any, *, secret: bool = False) -> None:
        """Delete ``key``; 404 ``KEY_NOT_FOUND`` when it is not there."""
        with self.lock:
            store = self.namespace(secret)
            store.remove(key)
            store.show_now(key)

    def keys(self, *, secret: bool = False) -> list[str]:
        """Live keys in code-point order."""
        with self.lock:
            return [key for key, _ in self.namespace(secret).items()]

    def count(self, *, secret: bool = False) -> int:
        with self.lock:
            return len(self.namespace(secret))

    # -- whole-store operations --------------------------------------------------------
    def purge_expired(self, *, every_partition: bool = False) -> int:
        """Delete the items and records whose TTL has passed, now, whatever
        ``realism.expiry_lag`` says (in this partition, or in all); how many."""
        with self.lock:
            now = now_ms()
            engines = self._engines() if every_partition else [self]
            return sum(engine._purge_expired(now) for engine in engines)

    def _purge_expired(self, now: int) -> int:
        purged = self.kvs.purge_expired(now) + self.secrets.purge_expired(now)
        return purged + self._entities.purge_expired(now)

    def reset(self) -> None:
        """Empty this partition (declarations stay)."""
        with self.lock:
            self.kvs.clear()
            self.secrets.clear()
            self._reset_entities()

    def reset_all(self) -> None:
        """Empty every partition (declarations stay)."""
        with self.lock:
            for engine in self._engines():
                engine.reset()

    def snapshot(self) -> dict[str, Any]:
        """Everything stored, in the ``data`` shape plus ``metadata`` (see ``_snapshot``);
        on the engine, the other partitions under ``installations``."""
        from ._snapshot import snapshot

        with self.lock:
            data = snapshot(self)
            if self._root is None and self._partitions:
                data["installations"] = {
                    key: snapshot(part) for key, part in self._partitions.items()
                }
            return data

    def restore(
        self, data: Mapping[str, Any], *, replace: bool = True, owned: bool = False
    ) -> None:
        """Load ``data`` (all or nothing); with ``replace`` the stores are emptied first.
        ``owned``: the caller hands ``data`` over (parsed from a file just now), so its
        values are stored as they are, not copied.

        On the engine, ``data["installations"]`` maps installation keys to their own data;
        their partitions are made as needed, and with ``replace`` the partitions it does
        not name are emptied too.
        """
        from ._snapshot import check_installations, gc_paused, restore

        with self.lock, gc_paused():
            checked = self._root is None  # check_installations validates every section
            parts = check_installations(data) if checked else {}
            if not parts and "installations" not in data and not (replace and self._partitions):
                restore(self, data, replace=replace, checked=checked, owned=owned)
                return
            before = self.snapshot()
            existed = set(self._partitions)
            try:
                own = {k: v for k, v in data.items() if k != "installations"}
                restore(self, own, replace=replace, checked=checked, owned=owned)
                for key, part in self.partitions().items():
                    if replace and key not in parts:
                        part.reset()
                for key, section in parts.items():
                    try:
                        restore(
                            self.partition(key),
                            section,
                            replace=replace,
                            checked=checked,
                            owned=owned,
                        )
                    except (TypeError, ValueError, ForgeStorageError) as exc:
                        raise _located(exc, f"data['installations'][{key!r}]") from None
            except BaseException:
                self.reset_all()
                restore(self, {k: v for k, v in before.items() if k != "installations"})
                for key in set(self._partitions) - existed:  # made for the failed data
                    del self._partitions[key]
                for key, section in (before.get("installations") or {}).items():
                    restore(self.partition(key), section)
                raise


def _located(error: Exception, where: str) -> Exception:
    """``error`` with its message saying which part of the data it is about."""
    if isinstance(error, ForgeStorageError):
        return ForgeStorageError(error.code, f"{where}: {error.message}", error.status)
    return type(error)(f"{where}: {error}")
