"""JSON on the wire: request bodies decoded strictly (RFC 8259), answers encoded compactly.

:func:`dumps` is the one encoder of every body the fake writes (REST, GraphQL, server mode,
recorded calls): compact separators, UTF-8, non-ASCII kept as is (as Forge answers).

:func:`loads` decodes request bodies the same way for REST and GraphQL.

What ``json.loads`` would let through, and what the fake answers instead:

* a body that is not UTF-8 — including UTF-16/32, which ``json.loads(bytes)`` detects and
  decodes, and UTF-8-encoded surrogates, which it lets pass — is ``BAD_REQUEST``; a leading
  UTF-8 byte order mark is ignored (RFC 8259 §8.1);
* ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON: ``BAD_REQUEST``;
* a number beyond a double (``1e400``, which Python reads as ``inf``) is ``BAD_REQUEST``, and so
  is an integer literal longer than the interpreter converts (4,300 digits by default);
* a lone surrogate escape (``"\\ud800"``) is not a Unicode string: ``BAD_REQUEST``;
* nesting deeper than the parser's recursion allows is ``MAX_DEPTH`` (any value that deep is
  far over Forge's 31 levels).

Duplicate member names are not an error: the last one wins, as with ``JSON.parse``.
"""

from __future__ import annotations

import json
import json.encoder
import math
from collections.abc import Callable
from typing import Any

from pytest_forge_storage._errors import ForgeStorageError

__all__ = ["dumps", "loads", "quote", "text"]

_BOM = "\ufeff"


def loads(raw: bytes) -> Any:
    """Decode ``raw`` strictly; ``ForgeStorageError`` (400) for what is not strict JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ForgeStorageError(
            "BAD_REQUEST", f"The request body is not valid UTF-8 (at byte {exc.start})"
        ) from None
    if text.startswith(_BOM):
        text = text[1:]
    try:
        data = _DECODER.decode(text)
    except RecursionError:
        raise ForgeStorageError("MAX_DEPTH") from None
    except ValueError as exc:  # JSONDecodeError, and int literals over the digit limit
        raise ForgeStorageError(
            "BAD_REQUEST", f"The request body is not valid JSON: {exc}"
        ) from None
    if "\\ud" in text or "\\uD" in text:  # only surrogate escapes can produce lone surrogates
        _reject_lone_surrogates(data)
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"the number {literal[:40]} is out of range")
    return number


#: ``json.loads(text, parse_constant=..., parse_float=...)`` makes one of these per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _reject_lone_surrogates(data: Any) -> None:
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and not node.isascii():
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise ForgeStorageError(
                    "BAD_REQUEST",
                    "The request body is not valid JSON: a string contains a lone surrogate "
                    "escape (\\ud800-\\udfff without its pair), which is not Unicode",
                ) from None


def _undefined_as_null(value: Any) -> None:
    # graphql-core's ``Undefined`` (a variable that was not provided) is the only non-JSON
    # value that reaches an answer; anything else is a bug in the fake.
    if type(value).__name__ == "UndefinedType":
        return None
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_c_quote = getattr(json.encoder, "c_encode_basestring", None)

#: ``quote(name)``: a string as JSON text, quotes included (what :func:`text` writes for it).
quote: Callable[[str], str] = _c_quote or json.encoder.py_encode_basestring


def _make_text() -> Callable[[Any], str]:
    """The compact JSON text of an answer, with one C encoder made once and reused.

    ``json.JSONEncoder.encode`` builds a new C encoder on every call, which costs as much as
    encoding a small answer: its circular-reference check needs fresh state. Answers are
    built by the fake from parsed JSON and private copies, so they are never circular, and
    the encoder is made once with no markers: the same text (the same separators,
    ``ensure_ascii=False``, floats as ``float.__repr__``) in half the time. Without CPython's
    C encoder, the Python ``JSONEncoder`` writes it.
    """
    slow = json.JSONEncoder(
        separators=(",", ":"), ensure_ascii=False, default=_undefined_as_null
    ).encode
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None or _c_quote is None:  # pragma: no cover - PyPy, or CPython without _json
        return slow
    # c_make_encoder(markers, default, encoder, indent, key_separator, item_separator,
    # sort_keys, skipkeys, allow_nan): what JSONEncoder.iterencode passes (CPython 3.8-3.14)
    chunks = make(None, _undefined_as_null, _c_quote, None, ":", ",", False, False, True)
    join = "".join

    def text(data: Any) -> str:
        return join(chunks(data, 0))

    return text


#: ``text(data)``: the compact JSON text of ``data`` (``dumps`` without the UTF-8 step).
text = _make_text()


def dumps(data: Any) -> bytes:
    """``data`` as compact UTF-8 JSON bytes."""
    return text(data).encode("utf-8")
