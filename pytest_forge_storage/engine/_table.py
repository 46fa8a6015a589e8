"""A sorted table: rows in the order of their positions, each carrying a payload.

Both the KVS key space and every entity index are one :class:`Table`. A row's *position* is
a tuple (``(key,)`` for KVS, ``(*partition, range value, key)`` for an index) and its
payload a few values (for the stores: the value and its stamp of times). The table keeps
its rows in chunks of about ``LOAD`` rows, and a chunk keeps one plain list per column of
the position and per payload value. So a row costs one reference per column, and nothing
for a tuple, an item object or a dict entry: a KVS item costs its key, its value and a
reference to a shared stamp, less than a ``dict`` entry, and an index entry costs 8 bytes
per column instead of a 64-byte tuple.

Finding a position is a bisection over the chunks' last positions, then one over each
column inside the chunk (C ``bisect`` throughout): O(log n). A page then reads consecutive
list slots, so a walk touches no memory beyond the lists and the values it returns.

Positions may use ``LOW``/``HIGH``, sentinels that sort below and above every value. A
position one longer than the table's rows, ending in ``LOW`` or ``HIGH``, means just before
or just after the row it starts with (a cursor's own row is excluded that way). Columns may
share a list: the by-key index has the positions ``(key, key)`` but stores its keys once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

#: Rows per chunk: a chunk splits at twice this. Inserting shifts at most that many list
#: slots per column (cheap memmoves); bisecting the chunk index stays short.
LOAD = 1000

Position = tuple[Any, ...]
Chunk = list[list[Any]]


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


class Table:
    """Rows sorted by position. ``layout[i]`` is the list that holds column ``i``; each row
    also carries ``payloads`` values, in the chunk's last lists."""

    __slots__ = (
        "_chunks", "_fill", "_hint", "_layout", "_maxes", "_payloads", "_size", "_width",
    )  # fmt: skip

    def __init__(self, layout: tuple[int, ...], payloads: int = 1) -> None:
        self._layout = layout
        self._width = len(layout)
        #: For each list of positions, the column that fills it.
        self._fill = tuple(layout.index(p) for p in range(max(layout) + 1))
        self._payloads = payloads
        self._chunks: list[Chunk] = []
        self._maxes: list[Position] = []  # the last position of each chunk
        self._size = 0
        #: ``(position, chunk, slot)`` of the row a page ended on (see :meth:`resume`).
        #: Dropped whenever a row is inserted or removed, so its slot is never stale, and
        #: when the chunks are replaced, so it keeps no dropped row alive.
        self._hint: tuple[Position, Chunk, int] | None = None

    def __len__(self) -> int:
        return self._size

    def clear(self) -> None:
        self._chunks, self._maxes, self._size = [], [], 0
        self._hint = None

    # -- finding ---------------------------------------------------------------------------
    def _find(self, target: Position) -> tuple[int, int, bool]:
        """(chunk, slot) of the first row at or after ``target`` (``(len(chunks), 0)`` when
        there is none), and whether that row is ``target`` itself."""
        width = self._width
        after = False
        if len(target) > width:  # ``(*row, LOW)`` / ``(*row, HIGH)``: before / after it
            after = target[width] is HIGH
            target = target[:width]
        maxes = self._maxes
        index = bisect_right(maxes, target) if after else bisect_left(maxes, target)
        if index == len(maxes):
            return index, 0, False
        chunk = self._chunks[index]
        hint = self._hint
        if hint is not None and hint[1] is chunk and hint[0] == target:
            # The next page of a walk: the row is where the last page ended, in this chunk.
            return (index, hint[2] + 1, False) if after else (index, hint[2], True)
        lo, hi = 0, len(chunk[-1])
        for wanted, column in zip(target, self._layout, strict=False):
            values = chunk[column]
            lo = bisect_left(values, wanted, lo, hi)
            if lo == hi or values[lo] != wanted:
                return index, lo, False
            hi = bisect_right(values, wanted, lo, hi)
        if after:
            return index, hi, False
        return index, lo, len(target) == width

    def find(self, position: Position) -> tuple[Chunk, int] | None:
        """``(chunk, slot)`` of the row at ``position``, or ``None``."""
        index, slot, found = self._find(position)
        return (self._chunks[index], slot) if found else None

    def get(self, position: Position) -> tuple[Any, ...] | None:
        """The payload of the row at ``position``, or ``None``."""
        index, slot, found = self._find(position)
        if not found:
            return None
        return tuple(values[slot] for values in self._chunks[index][-self._payloads :])

    def __contains__(self, position: object) -> bool:
        """Whether a row is at ``position`` (a bare value for a one-column table)."""
        if not isinstance(position, tuple):
            position = (position,)
        return self._find(position)[2]

    def row(self, chunk: Chunk, slot: int) -> Position:
        return tuple(chunk[p][slot] for p in self._layout)

    def resume(self, chunk: Chunk, slot: int) -> Position:
        """:meth:`row`, for the cursor of a page that ended on that row: finding the
        cursor's position again (the next page) then takes no bisection inside the chunk."""
        position = tuple(chunk[p][slot] for p in self._layout)
        self._hint = position, chunk, slot
        return position

    # -- changing --------------------------------------------------------------------------
    def put(self, position: Position, payload: tuple[Any, ...]) -> bool:
        """Store the row; return whether it replaced one at the same position."""
        index, slot, found = self._find(position)
        chunks = self._chunks
        if found:
            for values, value in zip(chunks[index][-self._payloads :], payload, strict=True):
                values[slot] = value
            return True
        self._hint = None
        if not chunks:
            chunks.append([[position[i]] for i in self._fill] + [[value] for value in payload])
            self._maxes.append(position)
            self._size = 1
            return False
        if index == len(chunks):  # after the last row: append to the last chunk
            index -= 1
            slot = len(chunks[index][-1])
        chunk = chunks[index]
        for values, value in zip(
            chunk, (*(position[i] for i in self._fill), *payload), strict=True
        ):
            values.insert(slot, value)
        self._size += 1
        if slot == len(chunk[-1]) - 1:
            self._maxes[index] = position
        if len(chunk[-1]) > 2 * LOAD:
            self._split(index)
        return False

    def pop(self, position: Position) -> bool:
        """Remove the row at ``position``; return whether there was one."""
        index, slot, found = self._find(position)
        if not found:
            return False
        chunk = self._chunks[index]
        self._hint = None
        for values in chunk:
            del values[slot]
        self._size -= 1
        if not chunk[-1]:
            del self._chunks[index], self._maxes[index]
        elif slot == len(chunk[-1]):
            self._maxes[index] = self.row(chunk, slot - 1)
        return True

    def _split(self, index: int) -> None:
        chunk = self._chunks[index]
        half = [values[LOAD:] for values in chunk]
        for values in chunk:
            del values[LOAD:]
        self._chunks.insert(index + 1, half)
        self._maxes.insert(index, self.row(chunk, LOAD - 1))

    def load(self, rows: Iterable[tuple[Position, tuple[Any, ...]]]) -> None:
        """Store many ``(position, payload)`` rows (distinct positions) at once.

        Into an empty table, or with rows at least an eighth of the table, this sorts
        everything once and rebuilds the chunks: O((n + m) log(n + m)) in C, against
        O(m log n) Python steps for ``put`` one by one.
        """
        new = rows if isinstance(rows, list) else list(rows)
        if self._size and len(new) * 8 < self._size:
            for position, payload in new:
                self.put(position, payload)
            return
        if self._size:
            fresh = dict(new)
            count = self._payloads
            kept = [
                (row, tuple(values[slot] for values in chunk[-count:]))
                for chunk in self._chunks
                for slot in range(len(chunk[-1]))
                if (row := self.row(chunk, slot)) not in fresh
            ]
            new = kept + new
        new.sort(key=_first)
        self._build(new)

    def load_keys(self, rows: dict[Any, tuple[Any, ...]]) -> None:
        """:meth:`load` for a one-column table, rows given as ``{value: payload}``."""
        if self._size:
            self.load([((value,), payload) for value, payload in rows.items()])
            return
        values = sorted(rows)
        chunks: list[Chunk] = []
        for start in range(0, len(values), LOAD):
            part = values[start : start + LOAD]
            payloads = [rows[value] for value in part]
            chunks.append([part, *(list(column) for column in zip(*payloads, strict=True))])
        self._chunks = chunks
        self._maxes = [(chunk[0][-1],) for chunk in chunks]
        self._size = len(values)

    def _build(self, rows: list[tuple[Position, tuple[Any, ...]]]) -> None:
        """Chunks of ``LOAD`` rows from sorted rows."""
        chunks: list[Chunk] = []
        maxes: list[Position] = []
        width, count = self._width, self._payloads
        for start in range(0, len(rows), LOAD):
            part = rows[start : start + LOAD]
            chunk = [[position[i] for position, _ in part] for i in self._fill]
            chunk += [[payload[i] for _, payload in part] for i in range(count)]
            chunks.append(chunk)
            maxes.append(tuple(part[-1][0][:width]))
        self._chunks, self._maxes, self._size = chunks, maxes, len(rows)
        self._hint = None

    # -- walking ---------------------------------------------------------------------------
    def segments(
        self, low: Position | None, high: Position | None, *, reverse: bool = False
    ) -> Iterator[tuple[Chunk, range]]:
        """The rows strictly between ``low`` and ``high`` (``None``: no bound), chunk by
        chunk as ``(chunk, slots)``, in order or in reverse.

        The bounds are found once; the table must not change during the walk.
        """
        chunks = self._chunks
        first, start, _ = self._find(low) if low is not None else (0, 0, False)
        last, stop, _ = self._find(high) if high is not None else (len(chunks), 0, False)
        if reverse:
            for index in range(min(last, len(chunks) - 1), first - 1, -1):
                size = len(chunks[index][-1])
                upper = stop if index == last else size
                lower = start if index == first else 0
                if lower < upper:
                    yield chunks[index], range(upper - 1, lower - 1, -1)
            return
        for index in range(first, min(last, len(chunks) - 1) + 1):
            size = len(chunks[index][-1])
            lower = start if index == first else 0
            upper = stop if index == last else size
            if lower < upper:
                yield chunks[index], range(lower, upper)

    def column(self, offset: int) -> Iterator[Any]:
        """Every row's value of list ``offset`` of the chunks (``-1``: the last payload)."""
        for chunk in self._chunks:
            yield from chunk[offset]


def _first(row: tuple[Position, tuple[Any, ...]]) -> Position:
    return row[0]


def successor(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)
