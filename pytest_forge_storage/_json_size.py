"""The size of a value's compact JSON, without keeping the text: the usage rule's hot path.

:mod:`._usage` charges every served write the compact JSON of its parsed request body, so
this runs once per write (twice never: the rate limiter passes its figure on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._json import dumps

__all__ = ["encoded_size"]


def _make() -> Callable[[Any], int]:
    """The UTF-8 length of :func:`pytest_forge_storage._json.dumps` of a value, made fast.

    Every metered write measures its parsed body, so this is on the hot path (design §3:
    usage counting costs at most 3 % of a served call). ``json.JSONEncoder.encode`` builds a
    new C encoder on every call (its circular-reference check needs fresh state); a parsed
    JSON body cannot be circular, so one C encoder is built once and reused: the same text
    (the same separators, ``ensure_ascii=False``, floats as ``float.__repr__``) in a third
    less time. An ASCII text's length is its UTF-8 length, with no bytes made. Without
    CPython's C encoder, or for anything it refuses, :func:`dumps` measures it.
    """
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    quote = getattr(encoder, "c_encode_basestring", None)
    if make is None or quote is None:  # pragma: no cover - PyPy, or CPython without _json
        return lambda body: len(dumps(body))
    # c_make_encoder(markers, default, encoder, indent, key_separator, item_separator,
    # sort_keys, skipkeys, allow_nan): what JSONEncoder.iterencode passes (the same on
    # every CPython from 2.7 to 3.13 checked); _not_json sends graphql-core's Undefined to dumps
    chunks = make(None, _not_json, quote, None, ":", ",", False, False, True)
    join = "".join

    def encoded_size(body: Any) -> int:
        try:
            text = join(chunks(body, 0))
        except (TypeError, ValueError, RecursionError):
            return len(dumps(body))  # dumps' own rules (and errors) for what is not JSON
        return len(text) if text.isascii() else len(text.encode("utf-8"))

    return encoded_size


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: ``encoded_size(value) == len(dumps(value))`` for every JSON value.
encoded_size = _make()
