"""One walk and one encoding per stored value: the fast path of value validation.

A value a test seeds is nearly always *plain* JSON: dicts with string keys, lists, and
``str``/``int``/``float``/``bool``/``None`` leaves of exactly those types. For such a value
one walk (which also copies the containers) and one compact encoding decide every rule:
the walk checks the types, the key types and the nesting depth, and the encoding rejects
NaN/Infinity and, by its UTF-8 length, lone surrogates and gives the size.

Whenever the fast path cannot decide (a tuple, a subclass, a non-string key, a lone
surrogate, a value too deep or too big to encode), it answers ``None`` and the caller runs
the exact checks of :mod:`._validation` one by one, which raise the same error, with the
same message, as they always did (or accept a value JSON can carry after all, such as an
``OrderedDict``).

The encoder is the C encoder that ``json.dumps`` itself uses, made once with the options
of decision 8 (compact separators, ``ensure_ascii=False``, ``allow_nan=False``): calling
``json.dumps`` with options builds a new ``JSONEncoder`` per call, which costs three times
the encoding of a small value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from pytest_forge_storage import _limits
from pytest_forge_storage._json_size import WORTH_REMEMBERING, remember

_LEAVES = frozenset({str, int, float, bool, type(None)})
_MAX_DEPTH = _limits.VALUE_MAX_DEPTH


class _NotPlain(Exception):
    """Raised inside the walk; never leaves this module."""


def _make_encoder() -> Callable[[Any], str]:
    options: dict[str, Any] = {
        "separators": (",", ":"),
        "ensure_ascii": False,
        "allow_nan": False,
    }
    slow = json.JSONEncoder(**options)
    try:
        from json.encoder import (  # type: ignore[attr-defined]  # not in typeshed
            c_make_encoder,
            encode_basestring,
        )

        if c_make_encoder is None:
            return slow.encode
        fast = c_make_encoder(None, slow.default, encode_basestring, None, ":", ",", *(False,) * 3)
    except (ImportError, TypeError):  # another Python's json module
        return slow.encode

    def encode(value: Any) -> str:
        return "".join(fast(value, 0))

    sample = {"a": [1, 2.5, "é", None, True], "b": {"c": -0.0}}
    return encode if encode(sample) == slow.encode(sample) else slow.encode


#: ``json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``.
encode = _make_encoder()


def _copy(node: Any, level: int) -> Any:
    """A copy of the plain container ``node`` at nesting ``level`` (1 for the top)."""
    if level > _MAX_DEPTH:
        raise _NotPlain
    leaves = _LEAVES
    out = node.copy()
    if type(node) is dict:
        for name, child in out.items():
            if type(name) is not str:
                raise _NotPlain
            kind = type(child)
            if kind is dict or kind is list:
                out[name] = _copy(child, level + 1)
            elif kind not in leaves:
                raise _NotPlain
        return out
    for position, child in enumerate(out):
        kind = type(child)
        if kind is dict or kind is list:
            out[position] = _copy(child, level + 1)
        elif kind not in leaves:
            raise _NotPlain
    return out


def plain_copy(value: Any) -> tuple[Any, int] | None:
    """``(copy, UTF-8 bytes of its compact JSON)`` for a plain value, else ``None``.

    The copy shares the immutable leaves with ``value``, so seeding does not duplicate its
    strings.
    """
    kind = type(value)
    try:
        if kind is dict or kind is list:
            value = _copy(value, 1)
        elif kind not in _LEAVES:
            return None
        text = encode(value)
    except (_NotPlain, ValueError, TypeError, RecursionError):
        return None
    if text.isascii():
        return value, len(text)
    try:
        return value, len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: the exact checks say so
        return None


def copy_of(value: Any) -> Any:
    """A private copy of a stored value: containers copied, immutable leaves shared."""
    kind = type(value)
    if kind is dict or kind is list:
        try:
            return _copy(value, 1)
        except _NotPlain:
            pass
    elif kind in _LEAVES:
        return value
    return copy.deepcopy(value)


def trusted_size(value: Any) -> int | None:
    """UTF-8 bytes of a parsed value within the depth rule, else ``None``."""
    try:
        text = encode(value)
    except (ValueError, TypeError, RecursionError):
        return None
    # Each level opens a bracket, so fewer brackets than the limit settle the depth
    # (brackets inside strings only make the count safer).
    if text.count("[") + text.count("{") > _MAX_DEPTH and _too_deep(value):
        return None
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size >= WORTH_REMEMBERING:
        remember(value, size)  # the meter charges the body holding it: no second encoding
    return size


def _too_deep(value: Any) -> bool:
    return depth_of(value) > _MAX_DEPTH


def depth_of(value: Any) -> int:
    """Nesting levels of objects and arrays: ``1`` is 0, ``{}`` is 1, ``[{}]`` is 2.

    The walk stops one level past ``VALUE_MAX_DEPTH`` (all that rule needs), so it ends
    on a value that contains itself.
    """
    if not isinstance(value, (dict, list)):
        return 0
    limit = _limits.VALUE_MAX_DEPTH + 1
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if level >= limit:
                break
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, level + 1))
    return deepest
