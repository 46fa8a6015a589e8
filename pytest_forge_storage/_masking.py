"""Secret values never print: the mask and how a secret call's bodies are masked.

Used wherever the fake shows a call: ``repr``/``str`` of recorded calls, assertion messages,
report sections, server logs and the control API, and GraphQL error messages that echo input.
"""

from __future__ import annotations

from typing import Any

MASK = "********"


def mask_values(data: Any) -> Any:
    """Replace every ``value`` member (at any depth) with a mask."""
    if isinstance(data, dict):
        return {k: MASK if k == "value" else mask_values(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_values(v) for v in data]
    return data


#: Members of a secret call's response that never hold the secret. Everything else is masked,
#: as a GraphQL alias can put the value under any name (``{ v: value }``, even ``{ key: value }``,
#: which is why ``key`` is kept only when it is the call's key).
_SAFE_MEMBERS = frozenset(
    {
        "key", "success", "errors", "message", "locations", "line", "column", "path",
        "extensions", "errorType", "statusCode", "code", "createdAt", "updatedAt", "expireTime",
        "__typename",
    }
)  # fmt: skip


def mask_secret_response(data: Any, key: str | None, name: str | None = None) -> Any:
    """A secret call's response with every scalar masked, except structure that is never it."""
    if isinstance(data, dict):
        return {
            member: MASK if member == "value" else mask_secret_response(child, key, member)
            for member, child in data.items()
        }
    if isinstance(data, list):
        return [mask_secret_response(child, key, name) for child in data]
    if data is None or (name in _SAFE_MEMBERS and (name != "key" or data == key)):
        return data
    return MASK
