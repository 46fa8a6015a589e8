"""Hypothesis strategies for what Forge storage accepts: keys, values, secrets, entity records.

Everything these strategies draw is accepted by the fake, as it would be by Forge. A property
test can therefore send a drawn key or value straight to the code under test, and a failure is
a bug in that code, not a limit the test forgot. The defaults are small, so examples are fast
and shrink to readable ones (``"0"``, ``0``, ``{}``); each limit can be reached on request,
e.g. ``keys(min_size=500)`` or ``values(min_depth=31, max_depth=31)``.

The rules come from the engine itself (``_limits`` and the engine's own checks), not from a copy:
key characters are derived from Forge's key pattern, and entity records are checked with the
same function that ``entity/set`` uses.

Hypothesis is an optional dependency: ``pip install hypothesis``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # the message is tested in a process without hypothesis
    raise ImportError(
        "pytest_forge_storage.strategies needs hypothesis: pip install hypothesis "
        "(or pip install 'pytest-forge-storage[hypothesis]')"
    ) from exc

from . import _limits
from ._errors import ForgeStorageError
from .engine import EntityDecl, accepts, check_value, declare, depth_of, encoded_size

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from .storage import ForgeStorage

__all__ = ["entity_values", "keys", "secret_keys", "secret_values", "values"]

#: JavaScript reads JSON numbers as doubles: integers beyond 2**53 - 1 come back changed from
#: Forge, so they are not drawn (the fake would keep them exact and hide that).
MAX_SAFE_INTEGER = 2**53 - 1


# -- keys --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _key_characters() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(visible, whitespace) characters of Forge's key pattern, read off the pattern itself."""
    allowed = [chr(c) for c in range(0x10000) if _limits.KEY_PATTERN.match("a" + chr(c))]
    spaces = tuple(c for c in allowed if not _limits.KEY_PATTERN.match(c))
    return tuple(c for c in allowed if c not in spaces), spaces


def keys(
    *, min_size: int = 1, max_size: int | None = None, whitespace: bool = True
) -> SearchStrategy[str]:
    """Keys Forge accepts: ``min_size`` to ``max_size`` characters (Forge allows 1 to 500;
    ``max_size`` defaults to 24, or ``min_size`` if larger) of ``a-zA-Z0-9:._-#`` and
    JavaScript's whitespace, never whitespace only.

    ``whitespace=False`` leaves the whitespace characters out (tab, newline, U+00A0, U+3000,
    U+FEFF, ...), for code that puts keys in URLs or file names. Keys work for KVS and entity
    records; for secrets, whose keys are counted in bytes, use :func:`secret_keys`.
    """
    _check_size("keys", "min_size", min_size, 1, _limits.KEY_MAX_LENGTH)
    if max_size is None:
        max_size = max(24, min_size)
    _check_size("keys", "max_size", max_size, 1, _limits.KEY_MAX_LENGTH)
    _check_order("keys", "min_size", min_size, "max_size", max_size)
    if not isinstance(whitespace, bool):
        raise TypeError(f"keys(whitespace=...) takes True or False, not {whitespace!r}")
    visible, spaces = _key_characters()
    alphabet = st.sampled_from(visible + spaces if whitespace else visible)
    text = st.text(alphabet, min_size=min_size, max_size=max_size)
    return text.filter(lambda key: _limits.KEY_PATTERN.match(key) is not None)


def secret_keys(
    *, min_size: int = 1, max_size: int | None = None, whitespace: bool = True
) -> SearchStrategy[str]:
    """Keys Forge accepts for secrets: as :func:`keys`, and at most 500 bytes in UTF-8
    ("a key of up to 500 bytes"). Only whitespace such as U+3000 takes more than one byte:
    where a key would be too long, its last such characters become plain spaces, so
    ``secret_keys(min_size=500)`` still draws keys of exactly 500 characters.
    """
    return keys(min_size=min_size, max_size=max_size, whitespace=whitespace).map(_within_bytes)


def _within_bytes(key: str) -> str:
    excess = len(key.encode("utf-8")) - _limits.KEY_MAX_LENGTH
    if excess <= 0:
        return key
    chars = list(key)
    for at in range(len(chars) - 1, -1, -1):
        wide = len(chars[at].encode("utf-8"))
        if wide > 1:  # whitespace: a plain space keeps the key valid (never all-whitespace)
            chars[at] = " "
            excess -= wide - 1
            if excess <= 0:
                break
    return "".join(chars)


# -- JSON values -------------------------------------------------------------------------
def values(
    *,
    max_depth: int | None = None,
    min_depth: int = 0,
    max_items: int = 4,
    max_string_size: int = 16,
    min_bytes: int = 0,
    max_bytes: int = _limits.VALUE_MAX_BYTES,
) -> SearchStrategy[Any]:
    """JSON values Forge stores in the Key-Value Store: never ``null`` at the top (nested
    ``null`` is fine), at most 31 levels of arrays and objects, at most 240 KiB as compact
    UTF-8 JSON.

    ``min_depth``/``max_depth`` bound the nesting (``{}`` is depth 1, ``[{}]`` depth 2;
    ``max_depth`` defaults to 3, or ``min_depth`` if larger);
    ``max_items`` the items of each array or object; ``max_string_size`` the characters of
    each string and object key. ``min_bytes``/``max_bytes`` bound the size: a value smaller
    than ``min_bytes`` is padded with an ASCII string, so ``values(min_bytes=240 * 1024)``
    draws values of exactly the limit. Integers stay within JavaScript's safe range
    (+/- 2**53 - 1) and floats are finite: what survives Forge's JSON unchanged.
    """
    return _values(
        "values",
        _limits.VALUE_MAX_BYTES,
        max_depth,
        min_depth,
        max_items,
        max_string_size,
        min_bytes,
        max_bytes,
    )


def secret_values(
    *,
    max_depth: int | None = None,
    min_depth: int = 0,
    max_items: int = 4,
    max_string_size: int = 16,
    min_bytes: int = 0,
    max_bytes: int = _limits.SECRET_MAX_BYTES,
) -> SearchStrategy[Any]:
    """JSON values Forge stores as secrets: as :func:`values`, at most 128 KiB."""
    return _values(
        "secret_values",
        _limits.SECRET_MAX_BYTES,
        max_depth,
        min_depth,
        max_items,
        max_string_size,
        min_bytes,
        max_bytes,
    )


def _values(
    func: str,
    limit: int,
    max_depth: int | None,
    min_depth: int,
    max_items: int,
    max_string_size: int,
    min_bytes: int,
    max_bytes: int,
) -> SearchStrategy[Any]:
    _check_size(func, "min_depth", min_depth, 0, _limits.VALUE_MAX_DEPTH)
    if max_depth is None:
        max_depth = max(3, min_depth)
    _check_size(func, "max_depth", max_depth, 0, _limits.VALUE_MAX_DEPTH)
    _check_order(func, "min_depth", min_depth, "max_depth", max_depth)
    _check_size(func, "max_items", max_items, 0, None)
    _check_size(func, "max_string_size", max_string_size, 0, None)
    _check_size(func, "max_bytes", max_bytes, 1, limit)
    _check_size(func, "min_bytes", min_bytes, 0, limit)
    _check_order(func, "min_bytes", min_bytes, "max_bytes", max_bytes)
    return _json(
        max_depth=max_depth,
        min_depth=min_depth,
        max_items=max_items,
        max_string_size=max_string_size,
        min_bytes=min_bytes,
        max_bytes=max_bytes,
    )


def _json(
    *,
    max_depth: int,
    min_depth: int = 0,
    max_items: int,
    max_string_size: int,
    min_bytes: int = 0,
    max_bytes: int = _limits.VALUE_MAX_BYTES,
) -> SearchStrategy[Any]:
    """Non-null JSON of depth ``min_depth..max_depth`` and ``min_bytes..max_bytes`` bytes."""
    text = st.text(max_size=max_string_size)
    leaf = st.one_of(
        st.booleans(),
        st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    )
    nested: SearchStrategy[Any] = st.one_of(st.none(), leaf)
    # Each level below the top is three parts leaf to two parts container, and a container
    # holds two items on average: the expected size stays small at any depth (a branching
    # factor of 0.8), so max_depth=31 costs no more than max_depth=3. Deep values come from
    # min_depth, which wraps the value until it is that deep.
    for _ in range(max_depth - 1):
        nested = st.one_of(
            nested,
            nested,
            nested,
            st.lists(nested, max_size=max_items),
            st.dictionaries(text, nested, max_size=max_items),
        )
    top: SearchStrategy[Any] = leaf
    if max_depth > 0:
        top = st.one_of(
            leaf,
            st.lists(nested, max_size=max_items),
            st.dictionaries(text, nested, max_size=max_items),
        )
    if min_depth == 0 and min_bytes == 0:
        return top.filter(lambda value: encoded_size(value) <= max_bytes)

    @st.composite
    def shaped(draw: Callable[[SearchStrategy[Any]], Any]) -> Any:
        value = draw(top)
        while depth_of(value) < min_depth:
            value = [value] if draw(st.booleans()) else {draw(text): value}
        return _pad(value, min_bytes, max_depth)

    return shaped().filter(lambda value: encoded_size(value) <= max_bytes)


def _pad(value: Any, min_bytes: int, max_depth: int) -> Any:
    """``value`` grown by one ASCII string to at least ``min_bytes`` (a few over, at most)."""
    need = min_bytes - encoded_size(value)
    if need <= 0:
        return value
    if isinstance(value, str):
        return value + "x" * need
    if isinstance(value, list):
        return [*value, "x" * max(0, need - (3 if value else 2))]  # "", or ,""
    if isinstance(value, dict):
        name = next(f"pad{n}" for n in range(len(value) + 1) if f"pad{n}" not in value)
        overhead = len(name) + 5 + (1 if value else 0)  # "name":"" and a comma
        return {**value, name: "x" * max(0, need - overhead)}
    if max_depth > 0:  # a number or boolean: [value, "xxx"]
        return _pad([value], min_bytes, max_depth)
    return "x" * max(0, min_bytes - 2)


# -- custom entities ---------------------------------------------------------------------
def entity_values(
    storage: ForgeStorage,
    entity_name: str,
    *,
    required: Iterable[str] | bool = (),
    overrides: Mapping[str, SearchStrategy[Any]] | None = None,
    max_string_size: int = 16,
    max_depth: int = 2,
) -> SearchStrategy[dict[str, Any]]:
    """Records of ``entity_name`` as ``storage`` declares it (manifest or ``define_entity``).

    Each record holds some of the declared attributes (``required`` names those always
    present; ``required=True`` means all), each of its declared type: ``integer`` a 32-bit
    integer, ``float`` 0 or a magnitude in 1e-130..9.99e125, ``string`` a non-blank string
    of up to ``max_string_size`` characters, ``boolean``, and ``any`` a non-null JSON value of
    depth up to ``max_depth``. ``overrides`` draws chosen attributes from your own strategies
    (``{"site": st.sampled_from(["acme", "globex"])}``); what they draw is filtered to the
    attribute's type, so the record is still one Forge accepts.

    The declaration is read when this is called, so call it where the storage exists: in
    the test with ``st.data()``, or with a module-level ``ForgeStorage(manifest=...)``.
    """
    if not callable(getattr(storage, "entity", None)):
        raise TypeError(
            "entity_values() takes the ForgeStorage first, then the entity name: "
            f"entity_values(forge_storage, 'employee'), not {type(storage).__name__}"
        )
    if not isinstance(entity_name, str):
        raise TypeError(f"entity_values() takes the entity name as a string, not {entity_name!r}")
    decl = _declaration(storage, entity_name)
    attributes = dict(decl.attributes)
    wanted = _required(required, attributes, entity_name)
    if not isinstance(overrides, (Mapping, type(None))):
        raise TypeError("entity_values(overrides=...) takes a dict of attribute name to strategy")
    chosen = dict(overrides or {})
    unknown = sorted(set(chosen) - set(attributes))
    if unknown:
        raise ValueError(
            f"entity_values(overrides=...): {', '.join(map(repr, unknown))} not declared for "
            f"entity {entity_name!r}; its attributes are {', '.join(attributes) or 'none'}"
        )
    for attr, strategy in chosen.items():
        if not isinstance(strategy, st.SearchStrategy):
            raise TypeError(
                f"entity_values(overrides={{{attr!r}: ...}}) takes a hypothesis strategy, "
                f"e.g. st.just({strategy!r})"
            )
    _check_size("entity_values", "max_string_size", max_string_size, 1, None)
    _check_size("entity_values", "max_depth", max_depth, 0, _limits.VALUE_MAX_DEPTH - 1)
    drawn: dict[str, SearchStrategy[Any]] = {}
    for attr, kind in attributes.items():
        if attr in chosen:
            drawn[attr] = chosen[attr].filter(functools.partial(accepts, kind))
        else:
            drawn[attr] = _attribute(kind, max_string_size, max_depth)
    record = st.fixed_dictionaries(
        {attr: drawn[attr] for attr in attributes if attr in wanted},
        optional={attr: drawn[attr] for attr in attributes if attr not in wanted},
    )
    return record.filter(functools.partial(_fits, decl))


def _declaration(storage: ForgeStorage, entity_name: str) -> EntityDecl:
    manifest = storage.entity(entity_name).declaration
    return declare(
        manifest["name"], manifest["attributes"], manifest.get("indexes", ()), shorthand=False
    )


def _required(required: Iterable[str] | bool, attributes: Mapping[str, str], name: str) -> set[str]:
    if required is True:
        return set(attributes)
    if required is False:
        return set()
    if isinstance(required, str):
        raise TypeError(f"entity_values(required=...) takes a list of names: [{required!r}]")
    wanted = set(required)
    unknown = sorted(wanted - set(attributes))
    if unknown:
        raise ValueError(
            f"entity_values(required=...): {', '.join(map(repr, unknown))} not declared for "
            f"entity {name!r}; its attributes are {', '.join(attributes) or 'none'}"
        )
    return wanted


def _attribute(kind: str, max_string_size: int, max_depth: int) -> SearchStrategy[Any]:
    if kind == "integer":
        return st.integers(_limits.INT32_MIN, _limits.INT32_MAX)
    if kind == "float":
        # Magnitudes under 1e-130 (subnormals included) become 0, which Forge accepts.
        return st.floats(
            -_limits.FLOAT_LIMIT, _limits.FLOAT_LIMIT, exclude_min=True, exclude_max=True
        ).map(lambda x: x if abs(x) >= _limits.FLOAT_MIN_MAGNITUDE else 0.0)
    if kind == "string":
        return st.text(min_size=1, max_size=max_string_size).filter(
            functools.partial(accepts, "string")
        )
    if kind == "boolean":
        return st.booleans()
    return _json(max_depth=max_depth, max_items=4, max_string_size=max_string_size)


def _fits(decl: EntityDecl, value: dict[str, Any]) -> bool:
    """Size rules of the whole record (240 KiB, index range and partition bytes)."""
    try:
        check_value(decl, value)
    except ForgeStorageError:
        return False
    return True


# -- argument checks ---------------------------------------------------------------------
def _check_size(func: str, name: str, value: Any, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{func}({name}=...) takes an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"{low} to {high}" if high is not None else f"at least {low}"
        nearest = low if value < low or high is None else high
        raise ValueError(f"{func}({name}={value}): {name} must be {bound}; write {name}={nearest}")


def _check_order(func: str, low_name: str, low: int, high_name: str, high: int) -> None:
    if low > high:
        raise ValueError(
            f"{func}({low_name}={low}, {high_name}={high}): {low_name} must not exceed "
            f"{high_name}; raise {high_name} to at least {low}"
        )
