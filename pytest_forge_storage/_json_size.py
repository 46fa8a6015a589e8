"""The size of a value's compact JSON, without keeping the bytes: the usage rule's hot path.

:mod:`._usage` charges every served write the compact JSON of its parsed request body, so
this runs once per write (twice never: the rate limiter passes its figure on).
"""

from __future__ import annotations

from typing import Any

from ._json import text

__all__ = ["encoded_size"]


def encoded_size(body: Any) -> int:
    """``len(dumps(body))``: the UTF-8 length of :func:`pytest_forge_storage._json.dumps`.

    It shares the answers' encoder (:func:`pytest_forge_storage._json.text`, one C encoder
    made once), and an ASCII text's length is its UTF-8 length, so no bytes are made.
    """
    encoded = text(body)
    return len(encoded) if encoded.isascii() else len(encoded.encode("utf-8"))
