"""Query lag and lingering expiry (design §2.7): what ``query`` and ``entity/query`` see.

Forge's ``get`` is strongly consistent and its ``query`` eventually consistent (ref §7);
expired items linger up to 48 hours (ref §8). A store keeps its current truth in its table,
which ``get``, ``batch/get``, transactions, snapshots and the facade read as before. Under
``realism.query_lag`` a store's :class:`History` also keeps, for each key written within the
lag window (and only those), what queries still see of it and the newer versions they do
not see yet: ``(sequence number, visible from, item or None for a delete)``. A query walks
the table and the history's own small tables of shown entries side by side, skipping the
table's rows of pending keys: O(log n + page + w), where w counts the writes in the query's
range still inside the window. Nothing is copied: the history holds references to items.

A write becomes visible to queries at its time plus its lag (fixed when it is written:
``query_lag``, or with ``seed`` a draw from :func:`~pytest_forge_storage._realism.write_lags`,
one sequence per storage). :meth:`History.settle` runs before every query and write: each
version whose time has come becomes what queries see, and the versions older than it are
forgotten, so the newest visible write of a key wins (last writer wins, whatever the lags),
and a key whose versions are all visible leaves the history. With realism off the history is
empty and a store pays one truth test per query and one per write.

The clock is the test's (``time.time()``). One that moves backwards shows the state as of that
earlier instant for the keys still pending; what has become visible stays visible.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from pytest_forge_storage._realism import Realism, write_lags

from ._items import Item, Stamp, stamped
from ._table import Position, Table

#: ``(key, value) -> position``, or ``None`` when the value has no entry in that index.
PositionOf = Callable[[str, Any], Position | None]
#: A row as a query walks it: ``(position, key, value, stamp)``.
Row = tuple[Position, str, Any, Stamp]


class Lags:
    """What every store of one storage shares: its realism knobs and the lag of each write."""

    __slots__ = ("_made_for", "_next", "realism")

    def __init__(self, realism: Realism | None = None) -> None:
        self.realism = realism if realism is not None else Realism()
        self._made_for: tuple[float, int | None] | None = None
        self._next: Callable[[], float] = float

    def next_ms(self) -> int:
        """The lag of the next write, in ms; a new sequence when ``query_lag`` or ``seed``
        changed since the last write."""
        realism = self.realism
        wanted = (realism.query_lag, realism.seed)
        if wanted != self._made_for:
            self._made_for, self._next = wanted, write_lags(realism)
        return max(0, round(self._next() * 1000))

    def grace_ms(self) -> int:
        """How long an expired item stays stored (``expiry_lag``), in ms."""
        return round(self.realism.expiry_lag * 1000)


class _Pending:
    """One key written within the lag window: what queries see of it (``item``, ``None``
    when absent) and the newer versions they do not see yet, oldest first."""

    __slots__ = ("item", "versions")

    def __init__(self, item: Item | None) -> None:
        self.item = item
        self.versions: list[tuple[int, int, Item | None]] = []


class History:
    """The writes of one store that queries do not see yet, and what they see instead.

    ``overlays`` maps each index name of the store to the position of a value in it and a
    table of the entries queries see for pending keys (same layout as the index).
    """

    __slots__ = ("_heap", "_sequence", "lags", "overlays", "pending", "realism")

    def __init__(self, lags: Lags, overlays: dict[str, tuple[PositionOf, Table]]) -> None:
        self.lags = lags
        self.realism = lags.realism
        self.pending: dict[str, _Pending] = {}
        self.overlays = overlays
        self._heap: list[tuple[int, int, str]] = []  # (visible from, sequence, key)
        self._sequence = itertools.count()

    # -- writes --------------------------------------------------------------------------
    def record(self, key: str, before: Item | None, after: Item | None, now: int) -> None:
        """A write of ``key`` at ``now`` through the API: ``before`` is the live item it
        replaced (what queries saw when the key was not pending), ``after`` the new one
        (``None``: deleted). Called when ``query_lag`` is on or something is pending."""
        if not self.realism.query_lag:
            self.forget(key)  # lag switched off: this write is visible at once
            return
        heap = self._heap
        if heap and heap[0][0] <= now:
            self.settle(now)
        visible = now + self.lags.next_ms()
        pending = self.pending.get(key)
        if pending is None:
            if visible <= now:  # a lag of 0 ms, nothing older pending: visible at once
                return
            pending = self.pending[key] = _Pending(before)
            self._show(key, before)
        sequence = next(self._sequence)
        pending.versions.append((sequence, visible, after))
        heapq.heappush(heap, (visible, sequence, key))

    def forget(self, key: str) -> None:
        """Queries see ``key`` as it is now (a write through the facade: seeding is what
        was there already)."""
        pending = self.pending.pop(key, None)
        if pending is not None:
            self._hide(key, pending.item)

    def clear(self) -> None:
        self.pending = {}
        self._heap = []
        for _, table in self.overlays.values():
            table.clear()

    def drop_expired(self, now: int) -> None:
        """After a purge: queries stop seeing items whose TTL has passed, shown or pending."""
        for key, pending in self.pending.items():
            if _expired(pending.item, now):
                self._hide(key, pending.item)
                pending.item = None
            pending.versions = [
                (seq, at, None if _expired(item, now) else item)
                for seq, at, item in pending.versions
            ]

    # -- reads ---------------------------------------------------------------------------
    def settle(self, now: int) -> None:
        """Make visible every version whose time has come (with the lag off: all of them)."""
        if not self.realism.query_lag:
            self.clear()
            return
        heap, pending_by_key = self._heap, self.pending
        while heap and heap[0][0] <= now:
            _, sequence, key = heapq.heappop(heap)
            pending = pending_by_key.get(key)
            if pending is None:
                continue
            versions = pending.versions
            found = next((i for i, v in enumerate(versions) if v[0] == sequence), None)
            if found is None:  # a newer version became visible first
                continue
            shown = versions[found][2]
            del versions[: found + 1]
            self._hide(key, pending.item)
            if versions:
                pending.item = shown
                self._show(key, shown)
            else:  # every write is visible: queries see the store's truth
                del pending_by_key[key]

    def page(
        self,
        index: str,
        current: Table,
        low: Position | None,
        high: Position | None,
        *,
        reverse: bool = False,
        limit: int,
        now: int,
    ) -> tuple[list[tuple[str, Item]], Position | None]:
        """Up to ``limit`` items a query sees between ``low`` and ``high`` of ``index``, in
        order, and the position of the last one when a further one exists (else ``None``):
        ``current``'s rows of keys not pending, merged with the entries shown for pending
        keys. Call :meth:`settle` first."""
        overlay = self.overlays[index][1]
        merged = heapq.merge(
            _rows(current, low, high, reverse, self.pending),
            _rows(overlay, low, high, reverse, None),
            key=_position,
            reverse=reverse,
        )
        grace = self.lags.grace_ms()
        page: list[tuple[str, Item]] = []
        last: Position | None = None
        for position, key, value, stamp in merged:
            expire_ms = stamp[2]
            if expire_ms is not None and now >= expire_ms + grace:
                continue
            if len(page) == limit:
                return page, last
            page.append((key, stamped(value, stamp)))
            last = position
        return page, None

    # -- internals -----------------------------------------------------------------------
    def _show(self, key: str, item: Item | None) -> None:
        if item is None:
            return
        for position_of, table in self.overlays.values():
            position = position_of(key, item.value)
            if position is not None:
                table.put(position, (item.value, item.stamp))

    def _hide(self, key: str, item: Item | None) -> None:
        if item is None:
            return
        for position_of, table in self.overlays.values():
            position = position_of(key, item.value)
            if position is not None:
                table.pop(position)


def _expired(item: Item | None, now: int) -> bool:
    return item is not None and item.stamp[2] is not None and now >= item.stamp[2]


def _position(row: Row) -> Position:
    return row[0]


def _rows(
    table: Table,
    low: Position | None,
    high: Position | None,
    reverse: bool,
    skip: dict[str, _Pending] | None,
) -> Iterator[Row]:
    """``table``'s rows between the bounds, but those of keys in ``skip``. Every table here
    keeps the key, the value and the stamp in its last three lists."""
    row = table.row
    for chunk, slots in table.segments(low, high, reverse=reverse):
        keys, values, stamps = chunk[-3], chunk[-2], chunk[-1]
        for slot in slots:
            key = keys[slot]
            if skip is None or key not in skip:
                yield row(chunk, slot), key, values[slot], stamps[slot]
