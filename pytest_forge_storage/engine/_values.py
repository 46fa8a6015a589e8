"""Typed entity values: what a declared attribute accepts (ref §5, §6.2, decision 9)."""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError

from ._plain import plain_copy
from ._schema import EntityDecl, IndexDecl
from ._validation import check_json, check_size, validate_value

_BLANK = re.compile(r"[\s\ufeff]*\Z")  # JavaScript's \s also covers U+FEFF


def accepts(kind: str, value: Any) -> bool:
    """Whether a stored attribute of type ``kind`` may hold ``value`` (ref §5)."""
    if kind == "string":
        return isinstance(value, str) and not _BLANK.match(value)
    if kind == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and _limits.INT32_MIN <= value <= _limits.INT32_MAX
        )
    if kind == "float":
        return _float_ok(value)
    if kind == "boolean":
        return isinstance(value, bool)
    return value is not None  # any


def _float_ok(value: Any) -> bool:
    """0, or a magnitude in 1e-130..9.99e125, compared at double precision."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        magnitude = abs(float(value))
    except OverflowError:
        return False
    return magnitude == 0 or (
        math.isfinite(magnitude) and _limits.FLOAT_MIN_MAGNITUDE <= magnitude < _limits.FLOAT_LIMIT
    )


_EXPECTED = {
    "string": "a non-blank string",
    "integer": "a 32-bit integer",
    "float": "a number of magnitude 0 or 1e-130..9.99e125",
    "boolean": "true or false",
    "any": "a JSON value other than null",
}


def check_value(decl: EntityDecl, value: Any, *, trusted: bool = False) -> None:
    """Every rule for a stored entity value; 400 ``INVALID_ENTITY_VALUE`` and friends."""
    stored_entity_value(decl, value, trusted=trusted)


def stored_entity_value(decl: EntityDecl, value: Any, *, trusted: bool = False) -> Any:
    """Check ``value`` as :func:`check_value` does and return what to store: ``value``
    itself when ``trusted``, else a private copy (see :func:`._validation.stored_value`)."""
    if not isinstance(value, dict):
        raise ForgeStorageError(
            "INVALID_ENTITY_VALUE",
            f'The value of entity "{decl.name}" must be an object, not {_json_type(value)}',
        )
    size: int | None = None
    stored = value
    if not trusted:
        found = plain_copy(value)  # JSON-ness, depth and size in one walk (see _plain)
        if found is None:  # the exact checks, one by one, name the problem
            check_json(value)
            stored = copy.deepcopy(value)
        else:
            stored, size = found
    _check_attributes(decl, value)
    if size is None:
        validate_value(value, max_bytes=_limits.VALUE_MAX_BYTES, trusted=True)
    else:
        check_size(size, _limits.VALUE_MAX_BYTES)
    for index in decl.indexes:
        _check_index_size(decl, index, value)
    return stored


def _check_attributes(decl: EntityDecl, value: dict[str, Any]) -> None:
    attributes = decl.attributes
    for attr, item in value.items():
        kind = attributes.get(attr)
        if kind is None:
            raise ForgeStorageError(
                "INVALID_ENTITY_VALUE",
                f'Attribute "{attr}" is not declared for entity "{decl.name}"',
            )
        # The common cases, decided without the regex or the calls of accepts(): a string
        # whose first character is a letter or a digit is not blank, and an int in range.
        cls = item.__class__
        if cls is str:
            if kind == "string" and item[:1].isalnum():
                continue
        elif cls is int and kind == "integer" and _limits.INT32_MIN <= item <= _limits.INT32_MAX:
            continue
        if not accepts(kind, item):
            raise ForgeStorageError(
                "INVALID_ENTITY_VALUE",
                f'Attribute "{attr}" of entity "{decl.name}" is {kind}: expected '
                f"{_EXPECTED[kind]}, got {_short(item)}",
            )


def _check_index_size(decl: EntityDecl, index: IndexDecl, value: dict[str, Any]) -> None:
    assert index.range is not None
    if (
        index.range in value
        and not _surely_within(value[index.range], _limits.INDEX_RANGE_MAX_BYTES)
        and _bytes(value[index.range]) > _limits.INDEX_RANGE_MAX_BYTES
    ):
        raise ForgeStorageError(
            "INVALID_ENTITY_VALUE",
            f'Attribute "{index.range}" of entity "{decl.name}" is the range of index '
            f'"{index.name}" and may be at most {_limits.INDEX_RANGE_MAX_BYTES} bytes',
        )
    if index.partition:
        total = 0
        for attr in index.partition:
            if attr not in value:  # the record is not in this index
                return
            part = value[attr]
            total += len(part) if part.__class__ is str and part.isascii() else _bytes(part)
        if total > _limits.INDEX_PARTITION_MAX_BYTES:
            raise ForgeStorageError(
                "INVALID_ENTITY_VALUE",
                f'The partition values of index "{index.name}" of entity "{decl.name}" are '
                f"{total} bytes, but at most {_limits.INDEX_PARTITION_MAX_BYTES} are allowed",
            )


def _surely_within(value: Any, limit: int) -> bool:
    """Whether ``value`` is certainly at most ``limit`` bytes, without measuring it: a string
    takes at most 4 bytes per character, an int in a 32-bit range at most 11."""
    cls = value.__class__
    if cls is str:
        return len(value) * 4 <= limit
    return cls is int and limit >= 11 and _limits.INT32_MIN <= value <= _limits.INT32_MAX


def _bytes(value: Any) -> int:
    kind = type(value)
    if kind is str:
        text = value
    elif kind is int:  # what json.dumps writes for an int, without building an encoder
        text = int.__repr__(value)
    else:
        text = value if isinstance(value, str) else json.dumps(value)
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _json_type(value)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
