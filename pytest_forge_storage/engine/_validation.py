"""Validation of keys, values, TTLs and metadata fields (ref §4.2, §5, §8)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._errors import ForgeStorageError

from . import _plain
from ._plain import depth_of as depth_of

METADATA_FIELDS = ("CREATED_AT", "UPDATED_AT", "EXPIRE_TIME")
KEY_POLICIES = ("OVERRIDE", "FAIL_IF_EXISTS")
RETURN_VALUES = ("PREVIOUS", "LATEST")


def validate_key(key: Any, *, entity: bool = False, in_bytes: bool = False) -> str:
    """Check a key in Forge's order: empty, too long, pattern (ref §4.2). ``in_bytes``: the
    length is in UTF-8 bytes (secrets, ref §5), else in characters."""
    if not isinstance(key, str):
        raise ForgeStorageError("INVALID_KEY", f"Key must be a string, not {_type_name(key)}")
    if not key:
        raise ForgeStorageError("EMPTY_KEY" if entity else "KEY_TOO_SHORT")
    if len(key) > _limits.KEY_MAX_LENGTH:
        raise ForgeStorageError(
            "KEY_TOO_LONG",
            f"Key was {len(key)} characters, but should be at most "
            f"{_limits.KEY_MAX_LENGTH} characters",
        )
    if in_bytes and not key.isascii():
        size = len(key.encode("utf-8", "surrogatepass"))
        if size > _limits.KEY_MAX_LENGTH:
            raise ForgeStorageError(
                "KEY_TOO_LONG",
                f"Key was {size} bytes in UTF-8, but a secret's key should be at most "
                f"{_limits.KEY_MAX_LENGTH} bytes",
            )
    if not _limits.KEY_PATTERN.match(key):
        raise ForgeStorageError(
            "INVALID_KEY",
            f'Key "{key}" should match the pattern "/^(?!\\s+$)[a-zA-Z0-9:._\\s-#]+$/"',
        )
    return key


def validate_entity_name(name: Any) -> str:
    """Check an entity name: too short, too long, pattern (ref §4.2, §16 #11)."""
    if not isinstance(name, str):
        raise ForgeStorageError(
            "INVALID_ENTITY_TYPE", f"Entity name must be a string, not {_type_name(name)}"
        )
    if len(name) < _limits.ENTITY_NAME_MIN:
        raise ForgeStorageError(
            "ENTITY_TYPE_TOO_SHORT",
            f'Entity name "{name}" was {len(name)} characters, but should be at least '
            f"{_limits.ENTITY_NAME_MIN} characters",
        )
    if len(name) > _limits.ENTITY_NAME_MAX:
        raise ForgeStorageError(
            "ENTITY_TYPE_TOO_LARGE",
            f"Entity name was {len(name)} characters, but should be at most "
            f"{_limits.ENTITY_NAME_MAX} characters",
        )
    if not _limits.ENTITY_NAME_PATTERN.match(name):
        raise ForgeStorageError(
            "INVALID_ENTITY_TYPE",
            f'Entity name "{name}" should match the pattern '
            '"/^(?![_.-])(?!.*\\.{2})[a-z0-9:\\-_.]*(?<![.])$/"',
        )
    return name


def encoded_size(value: Any) -> int:
    """UTF-8 bytes of the compact JSON form of ``value`` (decision 8)."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ForgeStorageError("BAD_REQUEST", f"Value is not JSON: {exc}") from None
    return len(text.encode("utf-8", "surrogatepass"))


def check_json(value: Any) -> None:
    """Reject what JSON cannot carry: non-string object keys, NaN/Infinity, other types.

    A container met twice (shared, or holding itself) is checked once.
    """
    stack = [value]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if id(node) in seen:
                continue
            seen.add(id(node))
            for name, child in node.items():
                if not isinstance(name, str):
                    raise ForgeStorageError(
                        "BAD_REQUEST", f"Object keys must be strings, not {_type_name(name)}"
                    )
                stack.append(name)
                stack.append(child)
        elif isinstance(node, list):
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.extend(node)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise ForgeStorageError("BAD_REQUEST", f"Value {node} is not valid JSON")
        elif isinstance(node, str):
            if not node.isascii() and not _is_unicode(node):
                raise ForgeStorageError(
                    "BAD_REQUEST",
                    "Strings must be valid Unicode: a lone surrogate cannot be stored",
                )
        elif node is not None and not isinstance(node, (int, bool)):
            raise ForgeStorageError(
                "BAD_REQUEST", f"Value of type {_type_name(node)} cannot be stored as JSON"
            )


def validate_value(value: Any, *, max_bytes: int, trusted: bool = False) -> None:
    """Null, depth and size rules for a stored value (ref §5, decision 8).

    ``trusted`` values came from a JSON parser, so only the Forge rules are checked.
    """
    stored_value(value, max_bytes=max_bytes, trusted=trusted)


def stored_value(value: Any, *, max_bytes: int, trusted: bool = False) -> Any:
    """Check ``value`` as :func:`validate_value` does and return what to store.

    A ``trusted`` value is returned as it is. Any other value is returned as a private
    copy (containers copied, immutable leaves shared), so the caller may keep using its
    object. See :mod:`._plain` for the one walk that does the work.
    """
    if value is None:
        raise ForgeStorageError("BAD_REQUEST", "Value cannot be null")
    if trusted:
        size = _plain.trusted_size(value)
        if size is None:
            _check_exactly(value, max_bytes, trusted=True)
            return value
        check_size(size, max_bytes)
        return value
    found = _plain.plain_copy(value)
    if found is None:
        _check_exactly(value, max_bytes, trusted=False)  # raises, naming the problem
        return copy.deepcopy(value)  # JSON by the rules, but not of plain types
    check_size(found[1], max_bytes)
    return found[0]


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ForgeStorageError(
            "MAX_SIZE",
            f"The provided value is {size} bytes, which exceeds the maximum size limit of "
            f"{max_bytes} bytes.",
        )


def _check_exactly(value: Any, max_bytes: int, *, trusted: bool) -> None:
    """Every rule one by one, in Forge's order: the error names what is wrong."""
    if not trusted:
        check_json(value)
    if depth_of(value) > _limits.VALUE_MAX_DEPTH:
        raise ForgeStorageError("MAX_DEPTH")
    check_size(encoded_size(value), max_bytes)


def ttl_seconds(ttl: Any) -> int:
    """Seconds from Forge's ``{"value": n, "unit": "MINUTES"}`` (decision 5)."""
    if not isinstance(ttl, dict) or set(ttl) != {"value", "unit"}:
        raise ForgeStorageError(
            "BAD_REQUEST", 'ttl must be an object {"value": <positive integer>, "unit": <unit>}'
        )
    unit, amount = ttl["unit"], ttl["value"]
    if unit not in _limits.TTL_UNITS:
        raise ForgeStorageError(
            "BAD_REQUEST", f"ttl.unit must be one of {', '.join(_limits.TTL_UNITS)}"
        )
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ForgeStorageError("BAD_REQUEST", "ttl.value must be a positive integer")
    seconds = amount * _limits.TTL_UNITS[unit]
    if seconds > _limits.TTL_MAX_SECONDS:
        # a huge number is not echoed: str() of an int over 4,300 digits raises ValueError
        got = f"got {seconds}" if seconds < 10**15 else "got far more"
        raise ForgeStorageError(
            "BAD_REQUEST", f"ttl must be at most 1 year ({_limits.TTL_MAX_SECONDS} seconds), {got}"
        )
    return seconds


def metadata_fields(fields: Any) -> tuple[str, ...]:
    """Validate a ``metadataFields`` list; duplicates are harmless."""
    if fields is None:
        return ()
    if not isinstance(fields, (list, tuple)):
        raise ForgeStorageError("BAD_REQUEST", "metadataFields must be an array")
    for name in fields:
        if name not in METADATA_FIELDS:
            raise ForgeStorageError(
                "BAD_REQUEST",
                f"metadataFields items must be one of {', '.join(METADATA_FIELDS)}, got {name!r}",
            )
    return tuple(fields)


def one_of(name: str, value: Any, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ForgeStorageError("BAD_REQUEST", f"{name} must be one of {', '.join(allowed)}")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__
