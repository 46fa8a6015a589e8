"""Sorted entity indexes: one ``SortedList`` of ``(*partition, range value, key, item)`` each.

The leading ``(*partition, range value, key)`` is the entry's *position* (what a cursor
holds); keys are unique within an index, so two entries never compare as far as the item.
The item rides along so that a page reads each record straight from its entry, with no
lookup by key: a walk touches each record's memory once.

A page is a bisection to the start of the partition and range, then a walk: O(log n +
page size). Bounds use two sentinels that sort below and above every value, so a range
never needs to know the largest string or number.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sortedcontainers import SortedList

from ._conditions import Condition
from ._items import Item
from ._schema import IndexDecl

#: ``(*partition, range value, key)``: where an entry sits in its index.
Position = tuple[Any, ...]
#: ``(*position, item)``: what the index stores.
Entry = tuple[Any, ...]


class _Extreme:
    """Sorts below (``LOW``) or above (``HIGH``) everything but itself."""

    __slots__ = ("_high",)

    def __init__(self, high: bool) -> None:
        self._high = high

    def __lt__(self, other: object) -> bool:
        return not self._high and other is not self

    def __le__(self, other: object) -> bool:
        return not self._high or other is self

    def __gt__(self, other: object) -> bool:
        return self._high and other is not self

    def __ge__(self, other: object) -> bool:
        return self._high or other is self

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return "HIGH" if self._high else "LOW"


LOW = _Extreme(high=False)
HIGH = _Extreme(high=True)


class Index:
    """The entries of one index; a record lacking a range or partition attribute has none."""

    def __init__(self, decl: IndexDecl) -> None:
        self.decl = decl
        self.entries = SortedList()

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
            self.entries.add((*position, item))

    def discard(self, key: str, item: Item) -> None:
        """Remove the entry of ``item``, the item indexed under ``key``."""
        position = self.position(key, item.value)
        if position is not None:
            self.entries.discard((*position, item))

    def scan(
        self,
        partition: tuple[Any, ...],
        condition: Condition | None,
        *,
        after: Position | None = None,
        descending: bool = False,
    ) -> Iterator[Entry]:
        """Entries of ``partition`` whose range value meets ``condition``, in order,
        strictly after the cursor position ``after`` (in the direction of travel)."""
        low, high = bounds(partition, condition)
        if after is not None:
            # ``(*after, LOW)`` / ``(*after, HIGH)`` sort just below / above the entry at
            # ``after`` (the sentinel meets its item), so that entry itself is excluded.
            if descending and after < high:
                high = (*after, LOW)
            elif not descending and after > low:
                low = (*after, HIGH)
        result: Iterator[Entry] = self.entries.irange(low, high, reverse=descending)
        return result

    def __len__(self) -> int:
        return len(self.entries)


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
    successor = _successor(first)
    high = (*partition, successor, LOW) if successor is not None else whole[1]
    return (*partition, first, LOW), high


def _successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)
