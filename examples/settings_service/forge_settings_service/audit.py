"""The audit log: one KVS entry per change, ``audit:<site>:<timestamp>``, kept 30 days.

Keys sort by time because the timestamp is ISO-8601 UTC with microseconds, so a
``BEGINS_WITH audit:<site>:`` query lists a site's entries oldest first. Two entries
written in the same microsecond (a frozen clock in tests does that) get a ``-02``,
``-03`` ... suffix: the write uses ``keyPolicy: FAIL_IF_EXISTS`` and moves on to the next
suffix on ``KEY_CONFLICT``, so an entry is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from .forge_storage_client import ForgeStorageClient, KeyConflict

AUDIT_TTL = timedelta(days=30)
MAX_SAME_TIME = 99


def audit_prefix(site: str) -> str:
    """The key prefix of one site's entries; the trailing ``:`` keeps ``site-1`` apart
    from ``site-10``."""
    return f"audit:{site}:"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AuditLog:
    def __init__(
        self, storage: ForgeStorageClient, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._storage = storage
        self._clock = clock

    def record(self, site: str, action: str, details: dict[str, Any] | None = None) -> str:
        """Write one entry; returns its key."""
        now = self._clock().astimezone(timezone.utc)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entry = {"site": site, "action": action, "at": stamp, "details": details or {}}
        base = f"{audit_prefix(site)}{stamp}"
        for n in range(1, MAX_SAME_TIME + 1):
            key = base if n == 1 else f"{base}-{n:02d}"
            try:
                self._storage.set(key, entry, ttl=AUDIT_TTL, create_only=True)
            except KeyConflict:
                continue
            return key
        raise RuntimeError(f"more than {MAX_SAME_TIME} audit entries at {stamp} for {site}")

    def page(
        self, site: str, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a site's entries, oldest first, each with its ``expires_at``."""
        found = self._storage.query(
            audit_prefix(site), limit=limit, after=cursor, metadata=["EXPIRE_TIME"]
        )
        return [entry_from_item(item) for item in found.items], found.cursor


def entry_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored audit item as the service shows it."""
    return {"key": item["key"], **item["value"], "expires_at": item.get("expireTime")}
