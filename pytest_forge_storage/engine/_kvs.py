"""Key-value namespaces (plain KVS and secrets): a sorted key space with TTL (ref §7, §8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedDict

from pytest_forge_storage import _limits
from pytest_forge_storage._clock import now_ms
from pytest_forge_storage._errors import ForgeStorageError

from . import _cursor
from ._items import Item
from ._validation import stored_value, validate_key


class KvsStore:
    """One namespace of keys in code-point order. Expired items are absent everywhere."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: SortedDict = SortedDict()

    # -- reads -------------------------------------------------------------------------
    def live(self, key: str, now: int | None = None) -> Item | None:
        item: Item | None = self._items.get(key)
        if item is None:
            return None
        if not item.alive(now_ms() if now is None else now):
            del self._items[key]
            return None
        return item

    def get(self, key: Any) -> Item:
        validate_key(key)
        item = self.live(key)
        if item is None:
            raise ForgeStorageError("KEY_NOT_FOUND")
        return item

    def items(self) -> Iterator[tuple[str, Item]]:
        """Live items in key order (a snapshot: safe to modify the store meanwhile)."""
        now = now_ms()
        for key, item in list(self._items.items()):
            if item.alive(now):
                yield key, item

    def __len__(self) -> int:
        now = now_ms()
        return sum(1 for item in self._items.values() if item.alive(now))

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
        validate_key(key)
        value = stored_value(value, max_bytes=self.max_bytes, trusted=trusted)
        now = now_ms()
        previous = self.live(key, now)
        if previous is not None and fail_if_exists:
            raise ForgeStorageError("KEY_CONFLICT")
        created = previous.created_ms if previous is not None else now
        item = Item(value, created, now, now + round(ttl * 1000) if ttl is not None else None)
        self._items[key] = item
        return previous, item

    def remove(self, key: Any) -> Item:
        validate_key(key)
        item = self.live(key)
        if item is None:
            raise ForgeStorageError("KEY_NOT_FOUND")
        del self._items[key]
        return item

    def clear(self) -> None:
        self._items.clear()

    def restore_item(self, key: str, item: Item) -> None:
        self._items[key] = item

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
        start = prefix
        inclusive = True
        if after is not None:
            position = _cursor.decode(after)
            if not isinstance(position, str):
                raise _cursor.invalid(after)
            if position >= start:
                start, inclusive = position, False
        now = now_ms()
        page: list[tuple[str, Item]] = []
        expired: list[str] = []
        more = False
        for key in self._items.irange(minimum=start, inclusive=(inclusive, True)):
            if not key.startswith(prefix):
                break
            item: Item = self._items[key]
            if not item.alive(now):
                expired.append(key)
                continue
            if len(page) == limit:
                more = True
                break
            page.append((key, item))
        for key in expired:
            del self._items[key]
        cursor = _cursor.encode(page[-1][0]) if more and page else None
        return page, cursor
