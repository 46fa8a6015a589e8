"""Secret values never print: the mask and how a secret call's bodies are masked.

Used wherever the fake shows a call: ``repr``/``str`` of recorded calls, assertion messages,
report sections, server logs and the control API, and GraphQL error messages that echo input.

A secret call's request is masked whatever it holds: every scalar but the call's key, and a
body that is not a JSON object or array (a trailing comma, Latin-1 bytes, a bare string) is
masked whole, since any of it may be the secret. Its response keeps only what is never the
secret (keys, codes, statuses, times, structure), and error messages in it have every scalar
of the request replaced by the mask.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MASK = "********"


def mask_request(raw: bytes, key: str | None) -> Any:
    """A secret call's request body as it may be shown."""
    decoded = _json_or_none(raw)
    if isinstance(decoded, (dict, list)):
        return _mask_scalars(decoded, key)
    return None if not raw else f"<{len(raw)} bytes, masked: a secret call>"


def _mask_scalars(data: Any, key: str | None, name: str | None = None) -> Any:
    if isinstance(data, dict):
        return {member: _mask_scalars(child, key, member) for member, child in data.items()}
    if isinstance(data, list):
        return [_mask_scalars(child, key, name) for child in data]
    if data is None or (name == "key" and data == key):
        return data
    return MASK


def scalars(data: Any) -> set[str]:
    """The text of every scalar in ``data``, as it may appear echoed in a message."""
    found: set[str] = set()
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            found.add(node)
        elif isinstance(node, bool):
            found.add("true" if node else "false")
        elif isinstance(node, (int, float)):
            found.add(json.dumps(node))
    return found


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` replaced by the mask: quoted or bare strings, and
    numbers and booleans as whole words (so ``1`` masks ``1`` but not ``10``)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if not secret:
            continue
        if _WORDLIKE.fullmatch(secret):
            text = re.sub(rf"(?<![\w.]){re.escape(secret)}(?![\w.])", MASK, text)
        else:
            for quoted in {
                repr(secret),
                json.dumps(secret),
                json.dumps(secret, ensure_ascii=False),
            }:
                text = text.replace(quoted, f"'{MASK}'")
            text = text.replace(secret, MASK)
    return text


_WORDLIKE = re.compile(r"-?[\w.+]+")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


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


def mask_secret_response(
    data: Any, key: str | None, name: str | None = None, secrets: frozenset[str] = frozenset()
) -> Any:
    """A secret call's response with every scalar masked, except structure that is never it;
    ``message`` texts keep their words but not ``secrets`` (the request's scalars)."""
    if isinstance(data, dict):
        return {
            member: MASK if member == "value" else mask_secret_response(child, key, member, secrets)
            for member, child in data.items()
        }
    if isinstance(data, list):
        return [mask_secret_response(child, key, name, secrets) for child in data]
    if name == "message" and isinstance(data, str):
        return mask_text(data, secrets - ({key} if key else set()))
    if data is None or (name in _SAFE_MEMBERS and (name != "key" or data == key)):
        return data
    return MASK
