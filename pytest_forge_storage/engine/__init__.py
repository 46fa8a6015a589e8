"""The storage engine: pure Python, no HTTP, no pytest.

Stores, validation of keys, values and limits (raising :class:`ForgeStorageError` with
Forge's code and status), TTL against the current clock, sorted key spaces and entity
indexes, cursors, batch and transactions, snapshots. One re-entrant lock guards it all.

What other layers may use is exported here; nothing outside ``engine/`` imports
``engine._*`` (a test pins it).
"""

from __future__ import annotations

from ._batch import ItemFault
from ._cursor import encode as encode_cursor
from ._engine import Engine
from ._items import Item
from ._plain import copy_of, plain_copy
from ._schema import EntityDecl, declare
from ._snapshot import SECTIONS as DATA_SECTIONS
from ._snapshot import gc_paused
from ._validation import depth_of, encoded_size, validate_entity_name, validate_key
from ._values import accepts, check_value

__all__ = [
    "DATA_SECTIONS",
    "Engine",
    "EntityDecl",
    "Item",
    "ItemFault",
    "accepts",
    "check_value",
    "copy_of",
    "declare",
    "depth_of",
    "encode_cursor",
    "encoded_size",
    "gc_paused",
    "plain_copy",
    "validate_entity_name",
    "validate_key",
]
