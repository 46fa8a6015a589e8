"""The storage engine: pure Python, no HTTP, no pytest.

Stores, validation of keys, values and limits (raising :class:`ForgeStorageError` with
Forge's code and status), TTL against the current clock, sorted key spaces and entity
indexes, cursors, batch and transactions. One re-entrant lock guards it all.
"""

from __future__ import annotations

from ._engine import Engine

__all__ = ["Engine"]
