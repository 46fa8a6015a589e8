"""Values seeded from Python: each JSON rule, with its code and message, through every door.

Values from a test are Python objects, not parsed JSON, so they can hold what JSON cannot
(NaN, tuples, non-string keys, lone surrogates, sets) or be JSON in an unusual type (an
``OrderedDict``, an ``IntEnum``). Each door must answer the same error, and what it stores
must be the seeder's value at the time of the call, unaffected by later changes to it.
"""

from __future__ import annotations

import enum
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest

from pytest_forge_storage import ForgeStorage, ForgeStorageError

NOT_JSON = "Value of type {} cannot be stored as JSON"
SURROGATE = "Strings must be valid Unicode: a lone surrogate cannot be stored"
_INT_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 0)()


class Level(enum.IntEnum):
    HIGH = 3


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def circular() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


#: (case, value, code, message); the value sits under the attribute "tags" (type any).
REJECTED: list[tuple[str, Any, str, str]] = [
    ("NaN", float("nan"), "BAD_REQUEST", "Value nan is not valid JSON"),
    ("Infinity in a list", [1, float("inf")], "BAD_REQUEST", "Value inf is not valid JSON"),
    ("a tuple", (1, 2), "BAD_REQUEST", NOT_JSON.format("tuple")),
    ("a set in a dict", {"s": {1}}, "BAD_REQUEST", NOT_JSON.format("set")),
    ("bytes", [b"x"], "BAD_REQUEST", NOT_JSON.format("bytes")),
    # copy.deepcopy cannot copy a lock: the rule must speak before any copy is attempted
    ("a lock", {"held": threading.Lock()}, "BAD_REQUEST", NOT_JSON.format("lock")),
    ("an int key", {1: "a"}, "BAD_REQUEST", "Object keys must be strings, not int"),
    ("a None key", {None: "a"}, "BAD_REQUEST", "Object keys must be strings, not null"),
    ("a bool key, nested", [{True: 1}], "BAD_REQUEST", "Object keys must be strings, not bool"),
    ("a lone surrogate", ["\ud800"], "BAD_REQUEST", SURROGATE),
    ("a lone surrogate in a key", {"\udfff": 1}, "BAD_REQUEST", SURROGATE),
    ("32 levels", nested(32), "MAX_DEPTH", "maximum object depth (32)"),
    ("a value holding itself", circular(), "MAX_DEPTH", "maximum object depth (32)"),
]
#: (case, value, what is stored).
ACCEPTED: list[tuple[str, Any, Any]] = [
    ("an OrderedDict", OrderedDict(b=1, a=2), {"b": 1, "a": 2}),
    ("an IntEnum", [Level.HIGH], [3]),
    ("an emoji", ["\U0001f600"], ["\U0001f600"]),
    ("-0.0 and big floats", [-0.0, 1e300], [-0.0, 1e300]),
]
if _INT_DIGITS:
    REJECTED.append(
        (
            "an int too long to print",
            10 ** (_INT_DIGITS + 1),
            "BAD_REQUEST",
            "Value is not JSON: Exceeds the limit",
        )
    )

Seeder = Callable[[ForgeStorage, str, Any], None]


def _kvs(storage: ForgeStorage, key: str, value: Any) -> None:
    storage.kvs[key] = value


def _set(storage: ForgeStorage, key: str, value: Any) -> None:
    storage.set(key, value)


def _secret(storage: ForgeStorage, key: str, value: Any) -> None:
    storage.secrets[key] = value


def _entity(storage: ForgeStorage, key: str, value: Any) -> None:
    storage.entity("thing")[key] = {"tags": value}


def _load_data(storage: ForgeStorage, key: str, value: Any) -> None:
    storage.load_data({"kvs": {key: value}})


SEEDERS = {"kvs": _kvs, "set": _set, "secrets": _secret, "entity": _entity, "data": _load_data}


@pytest.fixture
def storage() -> ForgeStorage:
    storage = ForgeStorage()
    storage.define_entity("thing", {"tags": "any"})
    return storage


def _stored(storage: ForgeStorage, door: str, key: str) -> Any:
    if door == "entity":
        return storage.entity("thing")[key]["tags"]
    return (storage.secrets if door == "secrets" else storage.kvs)[key]


@pytest.mark.parametrize("door", SEEDERS)
@pytest.mark.parametrize(
    ("value", "code", "message"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_a_value_json_cannot_carry_is_refused_naming_the_rule(
    storage: ForgeStorage, door: str, value: Any, code: str, message: str
) -> None:
    with pytest.raises(ForgeStorageError) as excinfo:
        SEEDERS[door](storage, "k", value)
    assert excinfo.value.code == code
    assert message in excinfo.value.message
    assert storage.snapshot()["kvs"] == {}
    assert "k" not in storage.secrets
    assert list(storage.entity("thing")) == []


@pytest.mark.parametrize("door", SEEDERS)
@pytest.mark.parametrize(
    ("value", "stored"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_json_in_any_python_shape_is_stored_as_json(
    storage: ForgeStorage, door: str, value: Any, stored: Any
) -> None:
    SEEDERS[door](storage, "k", value)
    assert _stored(storage, door, "k") == stored


@pytest.mark.parametrize("door", SEEDERS)
def test_31_levels_are_stored_and_32_are_max_depth(storage: ForgeStorage, door: str) -> None:
    levels = 30 if door == "entity" else 31  # the record's object is a level
    SEEDERS[door](storage, "k", nested(levels))
    assert _stored(storage, door, "k") == nested(levels)
    with pytest.raises(ForgeStorageError) as excinfo:
        SEEDERS[door](storage, "k", nested(levels + 1))
    assert excinfo.value.code == "MAX_DEPTH"


@pytest.mark.parametrize("door", SEEDERS)
def test_the_store_keeps_the_value_as_it_was_when_seeded(storage: ForgeStorage, door: str) -> None:
    value = {"list": [1, {"deep": "x"}], "text": "é"}
    SEEDERS[door](storage, "k", value)
    value["list"][1]["deep"] = "changed"
    value["list"].append(2)
    value["new"] = True
    assert _stored(storage, door, "k") == {"list": [1, {"deep": "x"}], "text": "é"}
    _stored(storage, door, "k")["list"].clear()  # what a read returns is a copy too
    assert _stored(storage, door, "k") == {"list": [1, {"deep": "x"}], "text": "é"}


@pytest.mark.parametrize("door", SEEDERS)
def test_the_size_rule_counts_utf8_bytes_of_compact_json(storage: ForgeStorage, door: str) -> None:
    limit = 128 * 1024 if door == "secrets" else 240 * 1024
    overhead = len('{"tags":[""]}') if door == "entity" else len('[""]')
    fits = ["é" * ((limit - overhead) // 2)]  # two bytes each
    SEEDERS[door](storage, "k", fits)
    with pytest.raises(ForgeStorageError) as excinfo:
        SEEDERS[door](storage, "k", [*fits, 1])
    size = overhead + 2 * len(fits[0]) + len(",1")
    assert excinfo.value.code == "MAX_SIZE"
    assert f"The provided value is {size} bytes" in excinfo.value.message
    assert f"limit of {limit} bytes" in excinfo.value.message
