"""Custom-entity records: one :class:`EntityStore` per declared entity (decision 3).

Each store keeps its live records by key and every index of the declaration in sync on
set, overwrite, delete and expiry. Expired records are purged when met and are never
returned (decision 5), unless ``realism.expiry_lag`` keeps them stored that much longer.
Under ``realism.query_lag`` a page sees the writes only that old (:mod:`._lag`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError

from ._conditions import Condition
from ._index import Index, Position, span
from ._items import Item, Stamps, stamped
from ._lag import History, Lags
from ._schema import BY_KEY, EntityDecl
from ._validation import validate_entity_name, validate_key
from ._values import check_value

Page = list[tuple[str, Item]]


class EntityStore:
    """The records of one entity and its sorted indexes.

    The by-key index is the record store itself (a lookup is a bisection, O(log n)): a
    record costs its item and one entry per index, with no dict entry besides.
    """

    def __init__(self, decl: EntityDecl, lags: Lags | None = None) -> None:
        self.decl = decl
        self._indexes = {index.name: Index(index) for index in decl.all_indexes()}
        self._by_key = self._indexes[BY_KEY].entries
        self.stamps = Stamps()
        #: Stored records with an expiry time, expired or not: while there are none, a
        #: page of values need not read any record's stamp.
        self._expiring = 0
        self._lags = lags if lags is not None else Lags()
        #: The writes a page does not see yet (empty unless ``realism.query_lag``).
        self.history = History(
            self._lags,
            {name: (index.position, index.empty_table()) for name, index in self._indexes.items()},
        )

    # -- reads -------------------------------------------------------------------------
    def live(self, key: str, now: int) -> Item | None:
        item = self._stored(key)
        if item is None:
            return None
        expire_ms = item.stamp[2]
        if expire_ms is not None and now >= expire_ms + self._lags.grace_ms():
            self._drop(key, item)
            return None
        return item

    def _stored(self, key: str) -> Item | None:
        """The record under ``key``, expired or not."""
        found = self._by_key.find((key, key))
        if found is None:
            return None
        chunk, slot = found
        return stamped(chunk[1][slot], chunk[2][slot])

    def items(self, now: int) -> list[tuple[str, Item]]:
        """Live records in key order (a snapshot)."""
        out: list[tuple[str, Item]] = []
        expired: list[tuple[str, Item]] = []
        alive_after = now - self._lags.grace_ms()
        for chunk, slots in self._by_key.segments(None, None):
            keys, values, stamps = chunk
            for slot in slots:
                item = stamped(values[slot], stamps[slot])
                if item.alive(alive_after):
                    out.append((keys[slot], item))
                else:
                    expired.append((keys[slot], item))
        self._purge(expired)
        return out

    def page(
        self,
        index_name: str,
        partition: tuple[Any, ...],
        condition: Condition | None,
        *,
        after: Position | None,
        descending: bool,
        limit: int,
        now: int,
    ) -> tuple[Page, Position | None]:
        """Up to ``limit`` live records in index order, and the position to resume from
        when a further live record exists in the range (decision 7), else ``None``."""
        index = self._indexes[index_name]
        history = self.history
        if history.pending:
            history.settle(now)
            if history.pending:  # some writes are not visible yet (realism.query_lag)
                low, high = span(partition, condition, after=after, descending=descending)
                return history.page(
                    index_name, index.entries, low, high,
                    reverse=descending, limit=limit, now=now,
                )  # fmt: skip
        grace = self._lags.grace_ms()
        page: Page = []
        append = page.append
        expired: list[tuple[str, Item]] = []
        resume: Position | None = None
        last_chunk: list[list[Any]] = []
        last_slot = 0
        # The entry carries the value: no lookup by key, so a walk reads each record's
        # memory once (a walk over a large store is bound by memory, not by steps).
        for chunk, slots in index.scan(partition, condition, after=after, descending=descending):
            keys, values, stamps = chunk[-3], chunk[-2], chunk[-1]
            for slot in slots:
                stamp = stamps[slot]
                expire_ms = stamp[2]
                if expire_ms is not None and now >= expire_ms + grace:
                    expired.append((keys[slot], stamped(values[slot], stamp)))
                    continue
                if len(page) == limit:
                    resume = index.entries.resume(last_chunk, last_slot)
                    break
                append((keys[slot], stamped(values[slot], stamp)))
                last_chunk, last_slot = chunk, slot
            if resume is not None:
                break
        self._purge(expired)
        return page, resume

    def page_values(
        self,
        index_name: str,
        partition: tuple[Any, ...],
        condition: Condition | None,
        *,
        after: Position | None,
        descending: bool,
        limit: int,
        now: int,
    ) -> tuple[list[tuple[str, Any]], Position | None]:
        """:meth:`page` as ``(key, value)`` pairs, for an answer without metadata.

        While no stored record has an expiry time and every write is visible, every entry
        in the range is live: the page is its first ``limit`` entries, read without the
        records' stamps. Stamps are shared by the records written in one millisecond, so
        reading them sends a walk to as many places in memory as there are milliseconds.
        """
        if self._expiring or self.history.pending:
            page, resume = self.page(
                index_name, partition, condition,
                after=after, descending=descending, limit=limit, now=now,
            )  # fmt: skip
            return [(key, item.value) for key, item in page], resume
        entries = self._indexes[index_name].entries
        segments = entries.segments(
            *span(partition, condition, after=after, descending=descending), reverse=descending
        )
        out: list[tuple[str, Any]] = []
        wanted = limit  # at least 1; segments are never empty
        for chunk, slots in segments:
            taken = slots[:wanted]
            keys, values = chunk[-3], chunk[-2]
            out += zip(map(keys.__getitem__, taken), map(values.__getitem__, taken), strict=True)
            wanted -= len(taken)
            if not wanted:  # a cursor when a further entry exists, here or in a next chunk
                further = len(taken) < len(slots) or next(segments, None) is not None
                return out, entries.resume(chunk, taken[-1]) if further else None
        return out, None

    # -- writes ------------------------------------------------------------------------
    def write(
        self,
        key: str,
        value: dict[str, Any],
        *,
        now: int,
        ttl_ms: int | None = None,
        fail_if_exists: bool = False,
    ) -> tuple[Item | None, Item]:
        """Store an already validated value; return (previous live item, new item)."""
        previous = self.live(key, now)
        if previous is not None:
            if fail_if_exists:
                raise ForgeStorageError("KEY_CONFLICT")
            self._unindex(key, previous)
        created = previous.created_ms if previous is not None else now
        expire = now + ttl_ms if ttl_ms is not None else None
        item = stamped(value, self.stamps(created, now, expire))
        self._index(key, item)
        history = self.history
        if history.realism.query_lag or history.pending:
            history.record(key, previous, item, now)
        return previous, item

    def restore(self, key: str, item: Item) -> None:
        """Put ``item`` back as it was (snapshots), metadata included."""
        existing = self._stored(key)
        if existing is not None:
            self._unindex(key, existing)
        self._index(key, item)
        self.show_now(key)

    def show_now(self, key: str) -> None:
        """Pages see ``key`` as it is (after a write through the facade: seeding)."""
        if self.history.pending:
            self.history.forget(key)

    def load(self, records: dict[str, Item]) -> None:
        """Store many checked records at once, replacing records under the same keys."""
        for key in records:
            existing = self._stored(key)
            if existing is not None:
                self._unindex(key, existing)
        for index in self._indexes.values():
            index.load(records.items())
        self._expiring += sum(item.stamp[2] is not None for item in records.values())
        if self.history.pending:
            for key in records:
                self.history.forget(key)

    def remove(self, key: str, now: int) -> Item | None:
        """Delete a live record; ``None`` when there is none."""
        item = self.live(key, now)
        if item is not None:
            self._drop(key, item)
            history = self.history
            if history.realism.query_lag or history.pending:
                history.record(key, item, None, now)
        return item

    def clear(self) -> None:
        for index in self._indexes.values():
            index.entries.clear()
        self._expiring = 0
        self.history.clear()

    def purge_expired(self, now: int) -> int:
        """Delete every record whose TTL has passed, ``expiry_lag`` or not; the count."""
        expired = [
            (keys[slot], stamped(values[slot], stamps[slot]))
            for (keys, values, stamps), slots in self._by_key.segments(None, None)
            for slot in slots
            if stamps[slot][2] is not None and now >= stamps[slot][2]
        ]
        self._purge(expired)
        if self.history.pending:
            self.history.drop_expired(now)
        return len(expired)

    def rebuilt(self, decl: EntityDecl, now: int) -> EntityStore:
        """A store for a new declaration holding this store's live records, each
        re-validated (a record that no longer fits is an error naming it)."""
        store = EntityStore(decl, self._lags)
        records = self.items(now)
        for key, item in records:
            try:
                check_value(decl, item.value, trusted=True)
            except ForgeStorageError as exc:
                raise ForgeStorageError(
                    "BAD_REQUEST",
                    f"entity {decl.name!r}: the stored record {key!r} does not fit the new "
                    f"declaration ({exc.message}); clear the entity first",
                ) from None
        store.load(dict(records))
        return store

    # -- internals ---------------------------------------------------------------------
    def _index(self, key: str, item: Item) -> None:
        if item.stamp[2] is not None:
            self._expiring += 1
        for index in self._indexes.values():
            index.add(key, item)

    def _unindex(self, key: str, item: Item) -> None:
        if item.stamp[2] is not None:
            self._expiring -= 1
        for index in self._indexes.values():
            index.discard(key, item)

    def _drop(self, key: str, item: Item) -> None:
        self._unindex(key, item)

    def _purge(self, records: Iterable[tuple[str, Item]]) -> None:
        for key, item in records:
            self._drop(key, item)


class EntityRegistry:
    """Declared entities and their stores."""

    def __init__(self, lags: Lags | None = None) -> None:
        self._stores: dict[str, EntityStore] = {}
        self._lags = lags

    def names(self) -> list[str]:
        return list(self._stores)

    def store(self, name: Any) -> EntityStore:
        """The store of a declared entity; Forge's name codes, then 400
        ``INVALID_ENTITY_TYPE`` for an undeclared one (decision 9)."""
        validate_entity_name(name)
        store = self._stores.get(name)
        if store is None:
            raise ForgeStorageError(
                "INVALID_ENTITY_TYPE",
                f'Entity "{name}" is not declared; declare it in manifest.yml '
                "(app.storage.entities) or with define_entity()",
            )
        return store

    def target(self, name: Any, key: Any) -> EntityStore:
        """Validate a record address: the key, then the entity name (ref §4.2)."""
        validate_key(key, entity=True)
        return self.store(name)

    def define(self, decls: Iterable[EntityDecl], now: int, *, where: str = "") -> None:
        """Declare (or redeclare) entities, all or none: existing records are re-indexed
        and must fit their new declaration."""
        staged: dict[str, EntityStore] = {}
        for decl in decls:
            existing = self._stores.get(decl.name)
            try:
                staged[decl.name] = (
                    existing.rebuilt(decl, now)
                    if existing is not None
                    else EntityStore(decl, self._lags)
                )
            except ForgeStorageError as exc:
                raise ForgeStorageError(exc.code, where + exc.message) from None
        total = len(set(self._stores) | set(staged))
        if total > _limits.ENTITIES_MAX:
            raise ForgeStorageError(
                "BAD_REQUEST",
                f"{where}an app can declare at most {_limits.ENTITIES_MAX} entities; this "
                f"would make {total}",
            )
        self._stores.update(staged)

    def reset(self) -> None:
        for store in self._stores.values():
            store.clear()

    def purge_expired(self, now: int) -> int:
        return sum(store.purge_expired(now) for store in self._stores.values())
