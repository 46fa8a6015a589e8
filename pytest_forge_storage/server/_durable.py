"""The durable copy behind ``forge-storage-fake serve --db PATH``: every item in SQLite.

One row per stored item, keyed by ``(installation, section, entity_name, key)`` where
``section`` is ``kvs``, ``secrets`` or ``entity``; the row holds the value as JSON and its
metadata (``createdAt``/``updatedAt`` in epoch ms, ``expireTime`` as ISO-8601 or NULL), so
that TTLs and times come back exactly. :meth:`DurableStore.apply` writes a batch of changes
in one transaction; the server calls it before it answers a write, so an acknowledged write
is on disk. :meth:`DurableStore.load` returns everything in the ``data`` shape that
``ForgeStorage.restore()`` takes (design §2.6: other installations under ``installations``).

SQLite from the standard library, in WAL mode with ``synchronous=NORMAL`` (design §3): a
committed transaction is in the WAL file when ``apply()`` returns, so it survives the
process being killed (``kill -9``), though not the machine losing power. The connection is
shared by the server's workers behind one lock.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Change", "DurableStore"]

Section = Literal["kvs", "secrets", "entity"]
SECTIONS = ("kvs", "secrets", "entity")
DEFAULT_INSTALLATION = "default"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    installation TEXT NOT NULL,
    section      TEXT NOT NULL CHECK (section IN ('kvs', 'secrets', 'entity')),
    entity_name  TEXT NOT NULL,  -- '' outside custom entities
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,  -- JSON
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    expire_time  TEXT,           -- ISO-8601, NULL without a TTL
    PRIMARY KEY (installation, section, entity_name, key)
) WITHOUT ROWID
"""
_UPSERT = (
    "INSERT OR REPLACE INTO items (installation, section, entity_name, key, value, "
    "created_at, updated_at, expire_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_DELETE = "DELETE FROM items WHERE installation = ? AND section = ? AND entity_name = ? AND key = ?"


@dataclass(frozen=True)
class Change:
    """One item written (``item`` holds ``value``, ``createdAt``, ``updatedAt`` and
    optionally ``expireTime``) or deleted (``item`` is ``None``)."""

    installation: str
    section: Section
    entity_name: str | None
    key: str
    item: Mapping[str, Any] | None


class DurableStore:
    """Items of every installation in one SQLite file; ``path`` is created if missing."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        target = os.path.abspath(self.path)
        if os.path.isdir(target):
            raise IsADirectoryError(f"cannot use {self.path} as a database: it is a directory")
        if not os.path.isdir(os.path.dirname(target)):
            raise FileNotFoundError(
                f"cannot create the database {self.path}: its directory does not exist"
            )
        try:
            conn = sqlite3.connect(
                target, isolation_level=None, check_same_thread=False, timeout=10
            )
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the database {self.path}: {exc}") from None
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
            conn.execute("PRAGMA synchronous=NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise sqlite3.DatabaseError(
                    f"schema version {version}; this pytest-forge-storage writes {_SCHEMA_VERSION}"
                )
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            conn.close()
            raise OSError(f"cannot use {self.path} as a database: {exc}") from None
        self._conn = conn
        self._lock = threading.Lock()

    def apply(self, changes: Iterable[Change]) -> None:
        """Write ``changes`` in one transaction: all of them are on disk when this returns,
        or (on an error) none."""
        rows = [_row(change) for change in changes]  # checked before anything is written
        if rows:
            self._write(rows)

    def replace_all(self, data: Mapping[str, Any]) -> None:
        """Make the file hold exactly ``data`` (a snapshot: the ``data`` shape with
        ``metadata`` and ``installations``), in one transaction."""
        self._write([_row(change) for change in changes_of(data)], clear=True)

    def _write(self, rows: list[tuple[str, tuple[Any, ...]]], *, clear: bool = False) -> None:
        """One transaction: ``rows`` (after emptying the table when ``clear``), or nothing."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if clear:
                    conn.execute("DELETE FROM items")
                for statement, params in rows:
                    conn.execute(statement, params)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def load(self) -> dict[str, Any]:
        """Everything stored, in the ``data`` shape with ``metadata`` (as ``snapshot()``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT installation, section, entity_name, key, value, created_at, "
                "updated_at, expire_time FROM items ORDER BY installation, section, "
                "entity_name, key"
            ).fetchall()
        shapes: dict[str, dict[str, Any]] = {}
        for installation, section, entity_name, key, value, created, updated, expire in rows:
            shape = shapes.setdefault(installation, _empty())
            meta: dict[str, Any] = {"createdAt": created, "updatedAt": updated}
            if expire is not None:
                meta["expireTime"] = expire
            if section == "entity":
                shape["entities"].setdefault(entity_name, {})[key] = json.loads(value)
                shape["metadata"]["entities"].setdefault(entity_name, {})[key] = meta
            else:
                shape[section][key] = json.loads(value)
                shape["metadata"][section][key] = meta
        data = shapes.pop(DEFAULT_INSTALLATION, None) or _empty()
        if shapes:
            data["installations"] = shapes
        return data

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> DurableStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _empty() -> dict[str, Any]:
    return {
        "kvs": {},
        "secrets": {},
        "entities": {},
        "metadata": {"kvs": {}, "secrets": {}, "entities": {}},
    }


def _row(change: Change) -> tuple[str, tuple[Any, ...]]:
    if change.section not in SECTIONS:
        raise ValueError(f"section must be one of {', '.join(SECTIONS)}, not {change.section!r}")
    if (change.section == "entity") != isinstance(change.entity_name, str):
        raise ValueError("entity_name is required for section 'entity' and only there")
    where = (change.installation, change.section, change.entity_name or "", change.key)
    item = change.item
    if item is None:
        return _DELETE, where
    value = json.dumps(item["value"], ensure_ascii=False, separators=(",", ":"))
    created, updated = item["createdAt"], item["updatedAt"]
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in (created, updated)):
        raise ValueError("createdAt and updatedAt must be epoch milliseconds (integers)")
    expire = item.get("expireTime")
    if expire is not None and not isinstance(expire, str):
        raise ValueError("expireTime must be an ISO-8601 string or None")
    return _UPSERT, (*where, value, created, updated, expire)


def changes_of(data: Mapping[str, Any]) -> Iterable[Change]:
    """Every item of a snapshot as a :class:`Change` (what :meth:`replace_all` writes)."""
    parts = {DEFAULT_INSTALLATION: data, **(data.get("installations") or {})}
    for installation, part in parts.items():
        meta = part.get("metadata") or {}
        for section in ("kvs", "secrets"):
            times = meta.get(section) or {}
            for key, value in (part.get(section) or {}).items():
                yield Change(installation, section, None, key, {"value": value, **times[key]})
        entity_times = meta.get("entities") or {}
        for name, records in (part.get("entities") or {}).items():
            for key, value in records.items():
                item = {"value": value, **entity_times[name][key]}
                yield Change(installation, "entity", name, key, item)
