"""Opaque cursors: base64url JSON of the position after which the next page starts."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError


def encode(position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: Any) -> Any:
    """The position inside ``cursor``; 400 ``BAD_REQUEST`` for anything we did not issue."""
    if not isinstance(cursor, str) or not cursor:
        raise ForgeStorageError("BAD_REQUEST", "The cursor is invalid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # a forged cursor
        raise invalid(cursor) from None


def invalid(cursor: str, where: str = "") -> ForgeStorageError:
    """The 400 for a cursor we did not issue, naming it (shortened: it came from the client)."""
    shown = cursor if len(cursor) <= 80 else cursor[:77] + "..."
    return ForgeStorageError("BAD_REQUEST", f"The cursor {shown!r} is invalid{where}")
