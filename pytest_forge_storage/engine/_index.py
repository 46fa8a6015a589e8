"""Sorted entity indexes: one :class:`~._table.Table` of ``(*partition, range value, key)``.

That tuple is an entry's *position* (what a cursor holds); keys are unique within an index,
so no two entries share a position. The table stores each position's values in columns and
the record's value and stamp beside them, so that a page reads each record straight from
its entry, with no lookup by key: a walk touches each record's value once.

A page is a bisection to the start of the partition and range, then a walk: O(log n +
page size). Bounds use two sentinels that sort below and above every value, so a range
never needs to know the largest string or number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._conditions import Condition
from ._items import Item
from ._schema import IndexDecl
from ._table import HIGH, LOW, Chunk, Table, successor

__all__ = ["HIGH", "LOW", "Index", "Position", "bounds", "span"]

#: ``(*partition, range value, key)``: where an entry sits in its index.
Position = tuple[Any, ...]


class Index:
    """The entries of one index; a record lacking a range or partition attribute has none."""

    def __init__(self, decl: IndexDecl) -> None:
        self.decl = decl
        # Each entry carries the record's value and stamp (see ``Item``).
        self.entries = self.empty_table()

    def empty_table(self) -> Table:
        """A table of this index's layout (the entries, or those a lagging query sees)."""
        if self.decl.range is None:  # by-key: positions ``(key, key)``, the keys stored once
            return Table((0, 0), payloads=2)
        return Table(tuple(range(len(self.decl.partition) + 2)), payloads=2)

    def position(self, key: str, value: Mapping[str, Any]) -> Position | None:
        decl = self.decl
        if decl.range is None:
            return (key, key)
        if decl.range not in value:
            return None
        parts = []
        for attr in decl.partition:
            if attr not in value:
                return None
            parts.append(value[attr])
        return (*parts, value[decl.range], key)

    def add(self, key: str, item: Item) -> None:
        position = self.position(key, item.value)
        if position is not None:
            self.entries.put(position, (item.value, item.stamp))

    def discard(self, key: str, item: Item) -> None:
        """Remove the entry of ``item``, the item indexed under ``key``."""
        position = self.position(key, item.value)
        if position is not None:
            self.entries.pop(position)

    def load(self, records: Iterable[tuple[str, Item]]) -> None:
        """Add many records at once (their keys are not in the index yet)."""
        rows = []
        for key, item in records:
            position = self.position(key, item.value)
            if position is not None:
                rows.append((position, (item.value, item.stamp)))
        self.entries.load(rows)

    def scan(
        self,
        partition: tuple[Any, ...],
        condition: Condition | None,
        *,
        after: Position | None = None,
        descending: bool = False,
    ) -> Iterator[tuple[Chunk, range]]:
        """Entries of ``partition`` whose range value meets ``condition``, in order,
        strictly after the cursor position ``after`` (in the direction of travel), chunk
        by chunk (see :meth:`Table.segments`)."""
        low, high = span(partition, condition, after=after, descending=descending)
        return self.entries.segments(low, high, reverse=descending)

    def __len__(self) -> int:
        return len(self.entries)


def span(
    partition: tuple[Any, ...],
    condition: Condition | None,
    *,
    after: Position | None = None,
    descending: bool = False,
) -> tuple[Position, Position]:
    """The bounds of :meth:`Index.scan`: those of the range, narrowed past a cursor."""
    low, high = bounds(partition, condition)
    if after is not None:
        # ``(*after, LOW)`` / ``(*after, HIGH)`` sort just below / above the entry at
        # ``after``, so that entry itself is excluded.
        if descending and after < high:
            high = (*after, LOW)
        elif not descending and after > low:
            low = (*after, HIGH)
    return low, high


def bounds(partition: tuple[Any, ...], condition: Condition | None) -> tuple[Position, Position]:
    """Lowest and highest entry tuples a range condition admits (ref §6.2).

    The tuples contain ``LOW``/``HIGH`` and so never equal a real entry.
    """
    whole = (*partition, LOW), (*partition, HIGH)
    if condition is None:
        return whole
    op, values = condition.condition, condition.values
    first = values[0]
    if op == "EQUAL_TO":
        return (*partition, first, LOW), (*partition, first, HIGH)
    if op == "GREATER_THAN":
        return (*partition, first, HIGH), whole[1]
    if op == "GREATER_THAN_EQUAL_TO":
        return (*partition, first, LOW), whole[1]
    if op == "LESS_THAN":
        return whole[0], (*partition, first, LOW)
    if op == "LESS_THAN_EQUAL_TO":
        return whole[0], (*partition, first, HIGH)
    if op == "BETWEEN":
        return (*partition, first, LOW), (*partition, values[1], HIGH)
    # BEGINS_WITH: from the prefix up to (excluding) the first string past all its
    # extensions.
    end = successor(first)
    high = (*partition, end, LOW) if end is not None else whole[1]
    return (*partition, first, LOW), high
