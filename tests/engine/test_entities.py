"""Entity records: get/set/delete, typed values, TTL, metadata and index upkeep."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import time_machine

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine
from pytest_forge_storage.engine._items import Item

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
START_MS = int(START.timestamp() * 1000)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    engine.define_entity(
        "employee",
        {
            "name": "string",
            "age": "integer",
            "salary": "float",
            "active": "boolean",
            "profile": "any",
            "gender": "string",
        },
        ["age", {"name": "by-age-per-gender", "range": ["age"], "partition": ["gender"]}],
    )
    return engine


def code_of(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ForgeStorageError) as info:
        call(*args, **kwargs)
    return info.value.code


def keys(engine: Engine, index: str, **body: Any) -> list[str]:
    result = engine.entity_query({"entityName": "employee", "indexName": index, **body})
    return [item["key"] for item in result["data"]]


# -- get / set / delete ----------------------------------------------------------------
def test_set_get_delete(engine: Engine) -> None:
    assert engine.entity_set("employee", "e1", {"name": "Ann", "age": 30}) is None
    assert engine.entity_get("employee", "e1") == {
        "key": "e1",
        "value": {"name": "Ann", "age": 30},
        "entityName": "employee",
    }
    engine.entity_delete("employee", "e1")
    assert code_of(engine.entity_get, "employee", "e1") == "KEY_NOT_FOUND"
    assert code_of(engine.entity_delete, "employee", "e1") == "KEY_NOT_FOUND"


def test_missing_key_is_404(engine: Engine) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_get("employee", "nope")
    assert (info.value.code, info.value.status) == ("KEY_NOT_FOUND", 404)


@pytest.mark.parametrize(
    ("entity", "key", "code"),
    [
        ("employee", "", "EMPTY_KEY"),
        ("employee", "k" * 501, "KEY_TOO_LONG"),
        ("employee", "a/b", "INVALID_KEY"),
        ("employee", "   ", "INVALID_KEY"),
        ("employee", 5, "INVALID_KEY"),
        ("ab", "k", "ENTITY_TYPE_TOO_SHORT"),
        ("e" * 61, "k", "ENTITY_TYPE_TOO_LARGE"),
        ("Employee", "k", "INVALID_ENTITY_TYPE"),
        (None, "k", "INVALID_ENTITY_TYPE"),
        ("manager", "k", "INVALID_ENTITY_TYPE"),  # well-formed but undeclared (decision 9)
        ("ab", "", "EMPTY_KEY"),  # the key is checked first
        ("manager", "a/b", "INVALID_KEY"),
    ],
)
def test_key_and_entity_name_errors(engine: Engine, entity: Any, key: Any, code: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: engine.entity_get(entity, key),
        lambda: engine.entity_set(entity, key, {"age": 1}),
        lambda: engine.entity_delete(entity, key),
        lambda: engine.entity_put(entity, key, {"age": 1}),
    ]
    for call in calls:
        with pytest.raises(ForgeStorageError) as info:
            call()
        assert (info.value.code, info.value.status) == (code, 400)


def test_valid_keys(engine: Engine) -> None:
    for key in ("k", "k" * 500, "a b", "a:b.c_d-e#f", "-", "#"):
        engine.entity_set("employee", key, {"age": 1})
        assert engine.entity_get("employee", key)["key"] == key


def test_namespaces_are_disjoint(engine: Engine) -> None:
    engine.define_entity("manager", {"age": "integer"})
    engine.set("a", "kvs")
    engine.set("a", "secret", secret=True)
    engine.entity_set("employee", "a", {"age": 1})
    engine.entity_set("manager", "a", {"age": 2})
    assert engine.get("a")["value"] == "kvs"
    assert engine.get("a", secret=True)["value"] == "secret"
    assert engine.entity_get("employee", "a")["value"] == {"age": 1}
    assert engine.entity_get("manager", "a")["value"] == {"age": 2}
    assert [item["key"] for item in engine.query()["data"]] == ["a"]
    engine.entity_delete("employee", "a")
    assert engine.get("a")["value"] == "kvs"
    assert engine.entity_get("manager", "a")["value"] == {"age": 2}


# -- typed values ----------------------------------------------------------------------
ACCEPTED: list[tuple[str, Any]] = [
    ("age", 0),
    ("age", 2**31 - 1),
    ("age", -(2**31)),
    ("salary", 0),
    ("salary", 0.0),
    ("salary", 3),  # float accepts integers
    ("salary", 1.5),
    ("salary", 1e-130),
    ("salary", -1e-130),
    ("salary", 9.99e125),
    ("salary", -9.999999999999998e125),  # the largest double below Forge's maximum
    ("salary", 2**31),
    ("name", "a"),
    ("name", " a "),
    ("name", "ü"),
    ("active", True),
    ("active", False),
    ("profile", {"nested": {"deep": [1, {"x": None}]}}),
    ("profile", [1, "two", None]),
    ("profile", "text"),
    ("profile", 1.5),
    ("profile", False),
    ("profile", {}),
]


@pytest.mark.parametrize(("attr", "value"), ACCEPTED)
def test_accepted_attribute_values(engine: Engine, attr: str, value: Any) -> None:
    engine.entity_set("employee", "k", {attr: value})
    assert engine.entity_get("employee", "k")["value"] == {attr: value}


REJECTED: list[tuple[str, Any]] = [
    ("age", 2**31),
    ("age", -(2**31) - 1),
    ("age", True),  # booleans are never numbers
    ("age", 1.5),
    ("age", 5.0),
    ("age", "5"),
    ("age", None),
    ("salary", True),
    ("salary", 1e-131),
    ("salary", -5e-131),
    ("salary", 1e126),  # Forge's 38-digit maximum rounds to this double, which is above it
    ("salary", -9.9999999999999999999999999999999999999e125),
    ("salary", 1e127),
    ("salary", -1e127),
    ("salary", 10**200),
    ("salary", "1.5"),
    ("name", ""),
    ("name", "   "),
    ("name", "\t\n"),
    ("name", "\u00a0\u2003"),
    ("name", "\ufeff"),
    ("name", 5),
    ("name", None),
    ("active", 1),
    ("active", "true"),
    ("active", None),
    ("profile", None),
    ("undeclared", 1),
]


@pytest.mark.parametrize(("attr", "value"), REJECTED)
def test_rejected_attribute_values(engine: Engine, attr: str, value: Any) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_set("employee", "k", {"name": "ok", attr: value})
    assert (info.value.code, info.value.status) == ("INVALID_ENTITY_VALUE", 400)
    assert f'"{attr}"' in info.value.message
    assert code_of(engine.entity_get, "employee", "k") == "KEY_NOT_FOUND"


@pytest.mark.parametrize("value", [[], "text", 1, True, None, [{"age": 1}]])
def test_values_must_be_objects(engine: Engine, value: Any) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_set("employee", "k", value)
    assert info.value.code == "INVALID_ENTITY_VALUE"
    assert "must be an object" in info.value.message


def test_trusted_values_skip_only_the_json_check(engine: Engine) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_put("employee", "k", {"age": {1, 2}}, trusted=True)
    assert info.value.code == "INVALID_ENTITY_VALUE"
    assert "{1, 2}" in info.value.message
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_put("employee", "k", {"salary": 10**400})
    assert info.value.code == "INVALID_ENTITY_VALUE"


def test_empty_object_and_missing_attributes_are_fine(engine: Engine) -> None:
    engine.entity_set("employee", "k", {})
    assert engine.entity_get("employee", "k")["value"] == {}


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def test_depth_and_size(engine: Engine) -> None:
    engine.entity_set("employee", "k", {"profile": nested(30)})  # 31 levels with the root
    assert code_of(engine.entity_set, "employee", "k", {"profile": nested(31)}) == "MAX_DEPTH"
    big = "x" * (240 * 1024)
    assert code_of(engine.entity_set, "employee", "k", {"profile": big}) == "MAX_SIZE"
    fits = "x" * (240 * 1024 - len('{"profile":""}'))
    engine.entity_set("employee", "k", {"profile": fits})


@pytest.mark.parametrize(
    "value", [{"profile": {1, 2}}, {"salary": float("nan")}, {"profile": float("inf")}]
)
def test_untrusted_values_must_be_json(engine: Engine, value: Any) -> None:
    assert code_of(engine.entity_set, "employee", "k", value) == "BAD_REQUEST"


def test_index_value_sizes(engine: Engine) -> None:
    engine.define_entity(
        "doc",
        {"title": "string", "body": "string", "a": "string", "b": "string"},
        ["title", {"name": "by-a-b", "range": ["title"], "partition": ["a", "b"]}],
    )
    engine.entity_set("doc", "k", {"body": "x" * 5000, "title": "t" * 900})
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_set("doc", "k", {"title": "é" * 451})  # 902 bytes
    assert info.value.code == "INVALID_ENTITY_VALUE"
    assert "900 bytes" in info.value.message
    engine.entity_set("doc", "k", {"title": "t", "a": "x" * 850, "b": "y" * 850})
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_set("doc", "k", {"title": "t", "a": "x" * 851, "b": "y" * 850})
    assert "1700" in info.value.message


# -- options, metadata and TTL ---------------------------------------------------------
def test_return_value_and_key_policy(engine: Engine, clock: time_machine.Traveller) -> None:
    assert (
        engine.entity_set("employee", "k", {"age": 1}, options={"returnValue": "PREVIOUS"}) is None
    )
    clock.shift(5)
    assert engine.entity_set(
        "employee",
        "k",
        {"age": 2},
        options={"returnValue": "PREVIOUS", "returnMetadataFields": ["CREATED_AT", "UPDATED_AT"]},
    ) == {
        "key": "k",
        "value": {"age": 1},
        "entityName": "employee",
        "createdAt": START_MS,
        "updatedAt": START_MS,
    }
    latest = engine.entity_set(
        "employee",
        "k",
        {"age": 3},
        options={"returnValue": "LATEST", "returnMetadataFields": ["UPDATED_AT"]},
    )
    assert latest == {
        "key": "k",
        "value": {"age": 3},
        "entityName": "employee",
        "updatedAt": START_MS + 5000,
    }
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_set("employee", "k", {"age": 4}, options={"keyPolicy": "FAIL_IF_EXISTS"})
    assert (info.value.code, info.value.status) == ("KEY_CONFLICT", 409)
    assert engine.entity_get("employee", "k")["value"] == {"age": 3}
    engine.entity_set("employee", "new", {"age": 4}, options={"keyPolicy": "FAIL_IF_EXISTS"})
    assert (
        code_of(
            engine.entity_set,
            "employee",
            "k",
            {"age": 1},
            options={"keyPolicy": "FAIL_IF_EXISTS", "returnValue": "LATEST"},
        )
        == "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION"
    )


def test_metadata_and_ttl(engine: Engine, clock: time_machine.Traveller) -> None:
    engine.entity_set("employee", "k", {"age": 1}, options={"ttl": {"value": 1, "unit": "MINUTES"}})
    clock.shift(10)
    engine.entity_set("employee", "k", {"age": 2}, options={"ttl": {"value": 1, "unit": "MINUTES"}})
    fields = ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]
    assert engine.entity_get("employee", "k", options={"metadataFields": fields}) == {
        "key": "k",
        "value": {"age": 2},
        "entityName": "employee",
        "createdAt": START_MS,
        "updatedAt": START_MS + 10_000,
        "expireTime": "2025-01-01T00:01:10.000Z",
    }
    clock.shift(59)
    assert engine.entity_get("employee", "k")["value"] == {"age": 2}
    clock.shift(1)
    assert code_of(engine.entity_get, "employee", "k") == "KEY_NOT_FOUND"
    assert code_of(engine.entity_delete, "employee", "k") == "KEY_NOT_FOUND"
    assert list(engine.entity_items("employee")) == []
    # A write after expiry starts afresh: createdAt is the new write's time.
    engine.entity_set("employee", "k", {"age": 3})
    assert engine.entity_get("employee", "k", options={"metadataFields": fields}) == {
        "key": "k",
        "value": {"age": 3},
        "entityName": "employee",
        "createdAt": START_MS + 70_000,
        "updatedAt": START_MS + 70_000,
    }


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": {"value": 0, "unit": "SECONDS"}},
        {"ttl": {"value": 1, "unit": "WEEKS"}},
        {"ttl": {"value": 366, "unit": "DAYS"}},
        {"ttl": 5},
        {"metadataFields": ["CREATED_AT"]},
        "fast",
    ],
)
def test_invalid_set_options(engine: Engine, options: Any) -> None:
    assert code_of(engine.entity_set, "employee", "k", {"age": 1}, options=options) == "BAD_REQUEST"


def test_invalid_get_options(engine: Engine) -> None:
    engine.entity_set("employee", "k", {"age": 1})
    assert (
        code_of(engine.entity_get, "employee", "k", options={"metadataFields": ["X"]})
        == "BAD_REQUEST"
    )


# -- index upkeep ----------------------------------------------------------------------
def test_indexes_follow_overwrite_delete_and_expiry(
    engine: Engine, clock: time_machine.Traveller
) -> None:
    engine.entity_set("employee", "a", {"age": 30, "gender": "f"})
    engine.entity_set("employee", "b", {"age": 20, "gender": "f"})
    engine.entity_set("employee", "c", {"age": 25})  # no gender: not in by-age-per-gender
    assert keys(engine, "age") == ["b", "c", "a"]
    assert keys(engine, "by-age-per-gender", partition=["f"]) == ["b", "a"]

    engine.entity_set("employee", "a", {"age": 10, "gender": "m"})  # moves in both indexes
    assert keys(engine, "age") == ["a", "b", "c"]
    assert keys(engine, "by-age-per-gender", partition=["f"]) == ["b"]
    assert keys(engine, "by-age-per-gender", partition=["m"]) == ["a"]

    engine.entity_set("employee", "b", {"name": "no age"})  # leaves the age indexes
    assert keys(engine, "age") == ["a", "c"]
    assert keys(engine, "by-age-per-gender", partition=["f"]) == []
    assert keys(engine, "by-key") == ["a", "b", "c"]

    engine.entity_delete("employee", "c")
    assert keys(engine, "age") == ["a"]

    engine.entity_set(
        "employee", "t", {"age": 1, "gender": "m"}, options={"ttl": {"value": 5, "unit": "SECONDS"}}
    )
    assert keys(engine, "by-age-per-gender", partition=["m"]) == ["t", "a"]
    clock.shift(5)
    assert keys(engine, "by-age-per-gender", partition=["m"]) == ["a"]
    assert keys(engine, "age") == ["a"]
    assert keys(engine, "by-key") == ["a", "b"]
    engine.entity_set("employee", "t", {"age": 50, "gender": "m"})
    assert keys(engine, "by-age-per-gender", partition=["m"]) == ["a", "t"]
    store = engine._entities.store("employee")
    assert [len(index) for index in store._indexes.values()] == [3, 2, 2]


# -- facade helpers --------------------------------------------------------------------
def test_facade_helpers(engine: Engine, clock: time_machine.Traveller) -> None:
    engine.entity_put("employee", "b", {"age": 2})
    engine.entity_put("employee", "a", {"age": 1}, ttl=10)
    engine.entity_put("employee", "c", {"age": 3}, ttl=0.5)
    assert [key for key, _ in engine.entity_items("employee")] == ["a", "b", "c"]
    items = engine.entity_items("employee")
    engine.entity_remove("employee", "b")  # the iterator is a snapshot
    assert [key for key, _ in items] == ["a", "b", "c"]
    clock.shift(1)
    assert [key for key, _ in engine.entity_items("employee")] == ["a"]
    assert code_of(engine.entity_remove, "employee", "b") == "KEY_NOT_FOUND"
    assert code_of(engine.entity_put, "employee", "x", {"age": "old"}) == "INVALID_ENTITY_VALUE"
    for ttl in (0, -1, True, "5", 366 * 86400):
        assert code_of(engine.entity_put, "employee", "x", {"age": 1}, ttl=ttl) == "BAD_REQUEST"
    engine.entity_clear("employee")
    assert list(engine.entity_items("employee")) == []
    assert code_of(engine.entity_items, "manager") == "INVALID_ENTITY_TYPE"
    assert code_of(engine.entity_clear, "manager") == "INVALID_ENTITY_TYPE"


def test_restore_item_keeps_metadata_and_indexes(
    engine: Engine, clock: time_machine.Traveller
) -> None:
    engine.entity_set("employee", "k", {"age": 5})
    item = Item({"age": 7, "gender": "f"}, 1000, 2000, START_MS + 60_000)
    engine.entity_restore_item("employee", "k", item)
    assert engine.entity_get(
        "employee", "k", options={"metadataFields": ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]}
    ) == {
        "key": "k",
        "value": {"age": 7, "gender": "f"},
        "entityName": "employee",
        "createdAt": 1000,
        "updatedAt": 2000,
        "expireTime": "2025-01-01T00:01:00.000Z",
    }
    assert keys(engine, "age") == ["k"]
    assert keys(engine, "by-age-per-gender", partition=["f"]) == ["k"]
    assert keys(engine, "age", range={"condition": "EQUAL_TO", "values": [5]}) == []
    bad = Item({"age": "seven"}, 1, 1, None)
    assert code_of(engine.entity_restore_item, "employee", "k", bad) == "INVALID_ENTITY_VALUE"
