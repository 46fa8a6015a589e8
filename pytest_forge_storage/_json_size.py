"""The size of a value's compact JSON, without keeping the bytes: the usage rule's hot path.

:mod:`._usage` charges every served write the compact JSON of its parsed request body, so
this runs once per write (twice never: the rate limiter passes its figure on).

A served write's value has been measured once already: the engine sizes every value it
stores (Forge's size limit), from the same parsed body. The engine leaves that figure here
(:func:`remember`), keyed by the value object itself, and :func:`encoded_size` of the body
then encodes only the body's other members: a 150 KB ``set`` encodes its value once
instead of twice (1.8 ms less here). The figure is exact: it is taken only for the very
object it was measured on (parsed bodies are never changed in place), and taken once.
Values under :data:`WORTH_REMEMBERING` bytes are not remembered: encoding a small body
whole is one call into C, cheaper than adding up its members.
"""

from __future__ import annotations

from typing import Any

from ._json import quote, text

__all__ = ["WORTH_REMEMBERING", "encoded_size", "remember"]

#: The smallest value the engine remembers the size of (:func:`remember`).
WORTH_REMEMBERING = 1024

#: ``(value, its compact JSON size)``: the last value the engine measured, or ``(None, 0)``.
#: One slot: a request measures its value and is charged right after, on the same thread.
#: Another thread's write in between only replaces the slot, and the body is then encoded
#: in full: a lost shortcut, never a wrong size.
_last: tuple[Any, int] = (None, 0)


def remember(value: Any, size: int) -> None:
    """Note that ``value``'s compact JSON is ``size`` bytes: the engine has just encoded it.
    It does so for values of :data:`WORTH_REMEMBERING` bytes or more."""
    global _last
    _last = (value, size)


def encoded_size(body: Any) -> int:
    """``len(dumps(body))``: the UTF-8 length of :func:`pytest_forge_storage._json.dumps`.

    A body whose ``value`` the engine has just measured is added up from that figure and its
    other members' encodings (a dict's compact JSON is ``{``, then ``"name":value`` joined by
    commas, then ``}``). Anything else is encoded with the answers' encoder
    (:func:`pytest_forge_storage._json.text`); an ASCII text's length is its UTF-8 length,
    so no bytes are made.
    """
    global _last
    last = _last
    value = last[0]
    if value is not None and body.__class__ is dict and body.get("value") is value:
        _last = (None, 0)
        size = len(body) + 1  # the braces and the commas
        for name, member in body.items():
            size += _utf8_length(quote(name)) + 1
            size += last[1] if member is value else _utf8_length(text(member))
        return size
    encoded = text(body)
    return len(encoded) if encoded.isascii() else len(encoded.encode("utf-8"))


def _utf8_length(encoded: str) -> int:
    return len(encoded) if encoded.isascii() else len(encoded.encode("utf-8"))
