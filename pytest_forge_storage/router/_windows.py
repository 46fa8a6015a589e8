"""Sliding windows: sums over the last ``length`` microseconds, evicted as entries age out.

The rate limiter's data structures (:mod:`._ratelimit`). An entry counts while
``now - length < instant <= now``. Each window is a FIFO, so adding is O(1) and eviction is
amortised O(1); what a window holds is bounded by what its limit admits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable

__all__ = ["KeyWindows", "Window"]


class Window:
    """A sliding sum over ``(now - length, now]``: instants and amounts, oldest first, one entry
    per instant (a frozen clock keeps one entry however many requests it sees)."""

    __slots__ = ("amounts", "length", "times", "total")

    def __init__(self, length: int) -> None:
        self.length = length
        self.times: deque[int] = deque()
        self.amounts: deque[int] = deque()
        self.total = 0

    def evict(self, now: int) -> None:
        times, amounts = self.times, self.amounts
        cutoff = now - self.length
        while times and times[0] <= cutoff:
            times.popleft()
            self.total -= amounts.popleft()

    def add(self, now: int, amount: int) -> None:
        times = self.times
        if times and times[-1] == now:
            self.amounts[-1] += amount
        else:
            times.append(now)
            self.amounts.append(amount)
        self.total += amount

    def take_back(self, amount: int) -> None:
        """Remove ``amount`` from the newest entries (what was just added, and not used)."""
        times, amounts = self.times, self.amounts
        while amount and amounts:
            taken = min(amount, amounts[-1])
            amounts[-1] -= taken
            self.total -= taken
            amount -= taken
            if not amounts[-1]:
                amounts.pop()
                times.pop()

    def wait(self, now: int, need: int, limit: int) -> tuple[int, bool]:
        """Microseconds until ``need`` more fits (or the window is empty), and whether every
        entry is at ``now`` (a clock that has not moved)."""
        left = self.total
        for instant, amount in zip(self.times, self.amounts, strict=True):
            left -= amount
            if left == 0 or left + need <= limit:
                return instant + self.length - now, self.times[0] == now
        return 0, True  # pragma: no cover - only asked when the window is over


class KeyWindows:
    """One sliding window per key, sharing one FIFO so that idle keys are forgotten.

    Entries are not merged: the request window bounds them to 1000 per second.
    """

    __slots__ = ("entries", "length", "totals")

    def __init__(self, length: int) -> None:
        self.length = length
        self.entries: deque[tuple[int, Hashable, int]] = deque()
        self.totals: dict[Hashable, int] = {}

    def evict(self, now: int) -> None:
        entries, totals = self.entries, self.totals
        cutoff = now - self.length
        while entries and entries[0][0] <= cutoff:
            _, key, amount = entries.popleft()
            left = totals[key] - amount
            if left:
                totals[key] = left
            else:
                del totals[key]

    def add(self, now: int, key: Hashable, amount: int) -> None:
        self.entries.append((now, key, amount))
        self.totals[key] = self.totals.get(key, 0) + amount

    def wait(self, now: int, key: Hashable, need: int, limit: int) -> tuple[int, bool]:
        left = self.totals[key]
        first: int | None = None
        for instant, owner, amount in self.entries:
            if owner != key:
                continue
            if first is None:
                first = instant
            left -= amount
            if left == 0 or left + need <= limit:
                return instant + self.length - now, first == now
        return 0, True  # pragma: no cover - only asked when the key is over
