"""A stored item and how Forge renders it with metadata (ref §8, decision 4)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_forge_storage._clock import iso_ms


class Item:
    """A value with Forge's metadata. Times are epoch milliseconds."""

    __slots__ = ("created_ms", "expire_ms", "updated_ms", "value")

    def __init__(self, value: Any, created_ms: int, updated_ms: int, expire_ms: int | None) -> None:
        self.value = value
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.expire_ms = expire_ms

    def alive(self, now: int) -> bool:
        return self.expire_ms is None or now < self.expire_ms

    def render(
        self, key: str, fields: Iterable[str] = (), entity_name: str | None = None
    ) -> dict[str, Any]:
        """``{"key", "value", ["entityName"], [metadata]}`` with only the requested fields."""
        out: dict[str, Any] = {"key": key, "value": self.value}
        if entity_name is not None:
            out["entityName"] = entity_name
        for name in fields:
            if name == "CREATED_AT":
                out["createdAt"] = self.created_ms
            elif name == "UPDATED_AT":
                out["updatedAt"] = self.updated_ms
            elif name == "EXPIRE_TIME" and self.expire_ms is not None:
                out["expireTime"] = iso_ms(self.expire_ms)
        return out

    def to_data(self) -> dict[str, Any]:
        """Plain form for snapshots and dumps."""
        data: dict[str, Any] = {
            "value": self.value,
            "createdAt": self.created_ms,
            "updatedAt": self.updated_ms,
        }
        if self.expire_ms is not None:
            data["expireAt"] = self.expire_ms
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Item:
        return cls(data["value"], data["createdAt"], data["updatedAt"], data.get("expireAt"))
