"""Key-value namespaces (plain KVS and secrets): a sorted key space with TTL (ref §7, §8).

Under ``realism.expiry_lag`` an expired item stays stored (and visible to every read) until
its expiry plus that lag; under ``realism.query_lag`` a query sees the writes only that old
(:mod:`._lag`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError

from . import _cursor
from ._items import Item, Stamps, stamped
from ._lag import History, Lags
from ._table import HIGH, Table, successor
from ._validation import stored_value, validate_key


class KvsStore:
    """One namespace of keys in code-point order. Expired items are absent everywhere (once
    ``realism.expiry_lag`` has passed after their expiry)."""

    def __init__(
        self, *, max_bytes: int, lags: Lags | None = None, key_bytes: bool = False
    ) -> None:
        self.max_bytes = max_bytes
        #: Keys are measured in UTF-8 bytes, not characters (secrets: "a key of up to 500
        #: bytes", ref §5).
        self._key_bytes = key_bytes
        # Rows ``(key,)`` carrying the value and its stamp: lists [keys, values, stamps].
        self._items = Table((0,), payloads=2)
        self.stamps = Stamps()
        self._lags = lags if lags is not None else Lags()
        #: The writes a query does not see yet (empty unless ``realism.query_lag``).
        self.history = History(self._lags, {"key": (_key_position, Table((0,), payloads=2))})

    # -- reads -------------------------------------------------------------------------
    def live(self, key: str, now: int | None = None) -> Item | None:
        found = self._items.find((key,))
        if found is None:
            return None
        chunk, slot = found
        stamp = chunk[2][slot]
        expire_ms = stamp[2]
        if expire_ms is not None and (now_ms() if now is None else now) >= (
            expire_ms + self._lags.grace_ms()
        ):
            self._items.pop((key,))
            return None
        return stamped(chunk[1][slot], stamp)

    def get(self, key: Any) -> Item:
        validate_key(key, in_bytes=self._key_bytes)
        item = self.live(key)
        if item is None:
            raise ForgeStorageError("KEY_NOT_FOUND")
        return item

    def items(self) -> Iterator[tuple[str, Item]]:
        """Live items in key order (a snapshot: safe to modify the store meanwhile)."""
        now = now_ms() - self._lags.grace_ms()
        live: list[tuple[str, Item]] = []
        for chunk, slots in self._items.segments(None, None):
            keys, values, stamps = chunk
            for slot in slots:
                stamp = stamps[slot]
                if stamp[2] is None or now < stamp[2]:
                    live.append((keys[slot], stamped(values[slot], stamp)))
        return iter(live)

    def __len__(self) -> int:
        now = now_ms() - self._lags.grace_ms()
        return sum(1 for stamp in self._items.column(-1) if stamp[2] is None or now < stamp[2])

    # -- writes ------------------------------------------------------------------------
    def put(
        self,
        key: Any,
        value: Any,
        *,
        ttl: float | None = None,
        fail_if_exists: bool = False,
        trusted: bool = False,
    ) -> tuple[Item | None, Item]:
        """Write ``value``; return (previous live item or None, new item).

        An untrusted value is stored as a private copy (the caller keeps its object); a
        ``trusted`` one, fresh from a JSON parser, as it is.
        """
        validate_key(key, in_bytes=self._key_bytes)
        value = stored_value(value, max_bytes=self.max_bytes, trusted=trusted)
        now = now_ms()
        previous = self.live(key, now)
        if previous is not None and fail_if_exists:
            raise ForgeStorageError("KEY_CONFLICT")
        created = previous.created_ms if previous is not None else now
        expire = now + round(ttl * 1000) if ttl is not None else None
        stamp = self.stamps(created, now, expire)
        self._items.put((key,), (value, stamp))
        item = stamped(value, stamp)
        history = self.history
        if history.realism.query_lag or history.pending:
            history.record(key, previous, item, now)
        return previous, item

    def remove(self, key: Any) -> Item:
        validate_key(key, in_bytes=self._key_bytes)
        now = now_ms()
        item = self.live(key, now)
        if item is None:
            raise ForgeStorageError("KEY_NOT_FOUND")
        self._items.pop((key,))
        history = self.history
        if history.realism.query_lag or history.pending:
            history.record(key, item, None, now)
        return item

    def show_now(self, key: str) -> None:
        """Queries see ``key`` as it is (after a write through the facade: seeding)."""
        if self.history.pending:
            self.history.forget(key)

    def clear(self) -> None:
        self._items.clear()
        self.history.clear()

    def restore_item(self, key: str, item: Item) -> None:
        self._items.put((key,), (item.value, item.stamp))
        self.show_now(key)

    def load(self, items: dict[str, Item]) -> None:
        """Store many checked items at once (see :meth:`Table.load`); queries see them."""
        self._items.load_keys({key: (item.value, item.stamp) for key, item in items.items()})
        if self.history.pending:
            for key in items:
                self.history.forget(key)

    def purge_expired(self, now: int) -> int:
        """Delete every item whose TTL has passed, ``expiry_lag`` or not; the count."""
        expired = [
            keys[slot]
            for (keys, _, stamps), slots in self._items.segments(None, None)
            for slot in slots
            if stamps[slot][2] is not None and now >= stamps[slot][2]
        ]
        for key in expired:
            self._items.pop((key,))
        if self.history.pending:
            self.history.drop_expired(now)
        return len(expired)

    # -- query -------------------------------------------------------------------------
    def query(
        self,
        *,
        prefix: str = "",
        limit: int = _limits.QUERY_DEFAULT_LIMIT,
        after: str | None = None,
    ) -> tuple[list[tuple[str, Item]], str | None]:
        """One page of keys starting with ``prefix``, after the cursor ``after``.

        Costs O(log n + limit): a bisection, then a walk that stops one live match past
        the page (to decide whether a cursor is due, decision 7).
        """
        low: tuple[Any, ...] = (prefix,)
        if after is not None:
            position = _cursor.decode(after)
            if not isinstance(position, str):
                raise _cursor.invalid(after)
            if position >= prefix:
                low = (position, HIGH)
        end = successor(prefix) if prefix else None
        now = now_ms()
        history = self.history
        if history.pending:
            history.settle(now)
            if history.pending:  # some writes are not visible yet (realism.query_lag)
                shown, last = history.page(
                    "key", self._items, low, (end,) if end is not None else None,
                    limit=limit, now=now,
                )  # fmt: skip
                return shown, _cursor.encode(last[0]) if last is not None else None
        grace = self._lags.grace_ms()
        page: list[tuple[str, Item]] = []
        expired: list[str] = []
        more = False
        for chunk, slots in self._items.segments(low, (end,) if end is not None else None):
            keys, values, stamps = chunk
            for slot in slots:
                stamp = stamps[slot]
                expire_ms = stamp[2]
                if expire_ms is not None and now >= expire_ms + grace:
                    expired.append(keys[slot])
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append((keys[slot], stamped(values[slot], stamp)))
            if more:
                break
        for key in expired:
            self._items.pop((key,))
        cursor = _cursor.encode(page[-1][0]) if more and page else None
        return page, cursor


def _key_position(key: str, _value: Any) -> tuple[str]:
    return (key,)
