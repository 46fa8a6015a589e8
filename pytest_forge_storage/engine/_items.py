"""A stored item and how Forge renders it with metadata (ref §8, decision 4)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_forge_storage._clock import iso_ms

#: ``(created_ms, updated_ms, expire_ms or None)``: an item's times, epoch milliseconds.
Stamp = tuple[int, int, int | None]


class Item:
    """A value with Forge's metadata. Times are epoch milliseconds.

    The three times live in one ``stamp`` tuple that items written in the same millisecond
    share (see :class:`Stamps`). The stores keep the value and the stamp in their tables,
    not the item, so a stored item costs two references.
    """

    __slots__ = ("stamp", "value")

    def __init__(self, value: Any, created_ms: int, updated_ms: int, expire_ms: int | None) -> None:
        self.value = value
        self.stamp: Stamp = (created_ms, updated_ms, expire_ms)

    @property
    def created_ms(self) -> int:
        return self.stamp[0]

    @property
    def updated_ms(self) -> int:
        return self.stamp[1]

    @property
    def expire_ms(self) -> int | None:
        return self.stamp[2]

    def alive(self, now: int) -> bool:
        expire_ms = self.stamp[2]
        return expire_ms is None or now < expire_ms

    def render(
        self, key: str, fields: Iterable[str] = (), entity_name: str | None = None
    ) -> dict[str, Any]:
        """``{"key", "value", ["entityName"], [metadata]}`` with only the requested fields."""
        out: dict[str, Any] = {"key": key, "value": self.value}
        if entity_name is not None:
            out["entityName"] = entity_name
        if not fields:
            return out
        created_ms, updated_ms, expire_ms = self.stamp
        for name in fields:
            if name == "CREATED_AT":
                out["createdAt"] = created_ms
            elif name == "UPDATED_AT":
                out["updatedAt"] = updated_ms
            elif name == "EXPIRE_TIME" and expire_ms is not None:
                out["expireTime"] = iso_ms(expire_ms)
        return out

    def to_data(self) -> dict[str, Any]:
        """Plain form for snapshots and dumps."""
        created_ms, updated_ms, expire_ms = self.stamp
        data: dict[str, Any] = {
            "value": self.value,
            "createdAt": created_ms,
            "updatedAt": updated_ms,
        }
        if expire_ms is not None:
            data["expireAt"] = expire_ms
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Item:
        return cls(data["value"], data["createdAt"], data["updatedAt"], data.get("expireAt"))


_new = object.__new__


def stamped(value: Any, stamp: Stamp) -> Item:
    """``Item`` of ``value`` and ``stamp``: the stores keep both in their tables and build
    an item per read (this costs a third of ``Item(...)``)."""
    item: Item = _new(Item)
    item.value = value
    item.stamp = stamp
    return item


class Stamps:
    """Hands out stamps, reusing the last one when the times are the same.

    Seeding writes hundreds of items per millisecond; they share one stamp (and its two
    integers) instead of holding 100 bytes of equal times each.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: Stamp = (0, 0, None)

    def __call__(self, created_ms: int, updated_ms: int, expire_ms: int | None) -> Stamp:
        last = self._last
        if last[0] == created_ms and last[1] == updated_ms and last[2] == expire_ms:
            return last
        stamp = self._last = (created_ms, updated_ms, expire_ms)
        return stamp
