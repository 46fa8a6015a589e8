"""batch/set, batch/get, batch/delete (ref §11, decision 10)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import time_machine

from pytest_forge_storage._codes import message_for
from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine

START_MS = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    engine.define_entity("employee", {"age": "integer", "name": "string"}, ["age"])
    engine.define_entity("manager", {"age": "integer"})
    return engine


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=timezone.utc), tick=False) as traveller:
        yield traveller


def error(code: str) -> dict[str, Any]:
    return {"code": code, "message": message_for(code)}


# -- batch/set -------------------------------------------------------------------------
def test_batch_set_kvs_and_entities(engine: Engine) -> None:
    result = engine.batch_set(
        [
            {"key": "a", "value": 1},
            {"key": "a", "value": {"age": 1}, "entityName": "employee"},
            {"key": "a", "value": {"age": 2}, "entityName": "manager"},
            {
                "key": "b",
                "value": [1, {"x": None}],
                "options": {"ttl": {"value": 1, "unit": "DAYS"}},
            },
        ]
    )
    assert result == {
        "successfulKeys": [
            {"key": "a"},  # KVS items carry no entityName
            {"key": "a", "entityName": "employee"},
            {"key": "a", "entityName": "manager"},
            {"key": "b"},
        ],
        "failedKeys": [],
    }
    assert engine.get("a")["value"] == 1
    assert engine.get("b")["value"] == [1, {"x": None}]
    assert engine.entity_get("employee", "a")["value"] == {"age": 1}
    assert engine.entity_get("manager", "a")["value"] == {"age": 2}
    assert [
        item["key"]
        for item in engine.entity_query({"entityName": "employee", "indexName": "age"})["data"]
    ] == ["a"]


def test_batch_set_partial_failure_in_request_order(engine: Engine) -> None:
    result = engine.batch_set(
        [
            {"key": "bad/key", "value": 1},
            {"key": "ok1", "value": 1},
            {"key": "", "value": 1},
            {"key": "", "value": {"age": 1}, "entityName": "employee"},
            {"key": "e1", "value": {"age": "x"}, "entityName": "employee"},
            {"key": "e2", "value": {"age": 1}, "entityName": "nobody"},
            {"key": "e3", "value": {"age": 1}, "entityName": "ab"},
            {"key": "n", "value": None},
            {"key": "p", "value": 1, "options": {"keyPolicy": "OVERRIDE"}},
            {"key": "t", "value": 1, "options": {"ttl": {"value": 0, "unit": "SECONDS"}}},
            {"key": "v"},
            {"key": "w", "value": 1, "extra": True},
            {"key": "big", "value": "x" * (240 * 1024)},
            {"key": "ok2", "value": {"age": 3}, "entityName": "employee"},
        ]
    )
    assert result["successfulKeys"] == [{"key": "ok1"}, {"key": "ok2", "entityName": "employee"}]
    failed = [
        (item["key"], item.get("entityName"), item["error"]["code"])
        for item in result["failedKeys"]
    ]
    assert failed == [
        ("bad/key", None, "INVALID_KEY"),
        ("", None, "KEY_TOO_SHORT"),
        ("", "employee", "EMPTY_KEY"),
        ("e1", "employee", "INVALID_ENTITY_VALUE"),
        ("e2", "nobody", "INVALID_ENTITY_TYPE"),
        ("e3", "ab", "ENTITY_TYPE_TOO_SHORT"),
        ("n", None, "BAD_REQUEST"),
        ("p", None, "BAD_REQUEST"),  # keyPolicy/returnValue are not batch options
        ("t", None, "BAD_REQUEST"),
        ("v", None, "BAD_REQUEST"),
        ("w", None, "BAD_REQUEST"),
        ("big", None, "MAX_SIZE"),
    ]
    assert all(set(item["error"]) == {"code", "message"} for item in result["failedKeys"])
    assert "entityName" not in result["failedKeys"][0]
    assert [item["key"] for item in engine.query()["data"]] == ["ok1"]


def test_batch_set_ttl(engine: Engine, clock: time_machine.Traveller) -> None:
    engine.batch_set(
        [
            {"key": "k", "value": 1, "options": {"ttl": {"value": 10, "unit": "SECONDS"}}},
            {
                "key": "k",
                "value": {"age": 1},
                "entityName": "employee",
                "options": {"ttl": {"value": 5, "unit": "SECONDS"}},
            },
        ]
    )
    got = engine.batch_get(
        [
            {"key": "k", "options": {"metadataFields": ["EXPIRE_TIME"]}},
            {"key": "k", "entityName": "employee", "options": {"metadataFields": ["EXPIRE_TIME"]}},
        ]
    )
    assert [item["expireTime"] for item in got["successfulKeys"]] == [
        "2025-01-01T00:00:10.000Z",
        "2025-01-01T00:00:05.000Z",
    ]
    clock.shift(5)
    got = engine.batch_get([{"key": "k"}, {"key": "k", "entityName": "employee"}])
    assert got == {
        "successfulKeys": [{"key": "k", "value": 1}],
        "failedKeys": [{"key": "k", "entityName": "employee", "error": error("KEY_NOT_FOUND")}],
    }
    assert engine.entity_query({"entityName": "employee", "indexName": "age"}) == {"data": []}


# -- whole-request rejection -----------------------------------------------------------
WHOLE: list[tuple[Any, str]] = [
    ({"key": "a"}, "array"),
    ([], "at least one item"),
    ([{"key": f"k{i}", "value": 1} for i in range(26)], "at most 25"),
    ([{"key": "a", "value": 1}, {"key": "a", "value": 2}], "twice"),
    (
        [
            {"key": "a", "value": {}, "entityName": "employee"},
            {"key": "a", "value": {}, "entityName": "employee"},
        ],
        "twice",
    ),
    ([{"key": "a", "value": 1}, "b"], "must be an object with a key"),
    ([{"value": 1}], "must be an object with a key"),
    ([{"key": f"k{i}", "value": "x" * (200 * 1024)} for i in range(21)], "payload"),
]


@pytest.mark.parametrize(("items", "fragment"), WHOLE)
@pytest.mark.parametrize("operation", ["batch_set", "batch_get", "batch_delete"])
def test_whole_request_rejection(engine: Engine, operation: str, items: Any, fragment: str) -> None:
    engine.set("a", "untouched")
    with pytest.raises(ForgeStorageError) as info:
        getattr(engine, operation)(items)
    assert (info.value.code, info.value.status) == ("BAD_REQUEST", 400)
    assert fragment in info.value.message
    assert engine.get("a")["value"] == "untouched"
    assert [item["key"] for item in engine.query()["data"]] == ["a"]


def test_limits_are_inclusive(engine: Engine) -> None:
    result = engine.batch_set([{"key": f"k{i}", "value": "x" * (160 * 1024)} for i in range(25)])
    assert len(result["successfulKeys"]) == 25  # 25 items, ~4 MB
    assert len(engine.batch_get([{"key": f"k{i}"} for i in range(25)])["successfulKeys"]) == 25


def test_same_key_in_different_namespaces_is_not_a_duplicate(engine: Engine) -> None:
    result = engine.batch_set(
        [
            {"key": "a", "value": 1},
            {"key": "a", "value": {}, "entityName": "employee"},
            {"key": "a", "value": {}, "entityName": "manager"},
        ]
    )
    assert len(result["successfulKeys"]) == 3


# -- batch/get and batch/delete --------------------------------------------------------
def test_batch_get(engine: Engine, clock: time_machine.Traveller) -> None:
    engine.set("a", {"v": 1})
    engine.set("s", "secret", secret=True)
    engine.entity_set("employee", "a", {"age": 5})
    result = engine.batch_get(
        [
            {"key": "a", "options": {"metadataFields": ["CREATED_AT", "UPDATED_AT"]}},
            {"key": "missing"},
            {"key": "s"},  # secrets are out of reach of batch
            {"key": "a", "entityName": "employee"},
            {"key": "b", "entityName": "employee"},
            {"key": "a", "entityName": "nobody"},
            {"key": "a", "options": {"metadataFields": ["NOPE"]}, "entityName": "manager"},
            {"key": "x", "value": 1},
        ]
    )
    assert result == {
        "successfulKeys": [
            {"key": "a", "value": {"v": 1}, "createdAt": START_MS, "updatedAt": START_MS},
            {"key": "a", "entityName": "employee", "value": {"age": 5}},
        ],
        "failedKeys": [
            {"key": "missing", "error": error("KEY_NOT_FOUND")},
            {"key": "s", "error": error("KEY_NOT_FOUND")},
            {"key": "b", "entityName": "employee", "error": error("KEY_NOT_FOUND")},
            {
                "key": "a",
                "entityName": "nobody",
                "error": {
                    "code": "INVALID_ENTITY_TYPE",
                    "message": result["failedKeys"][3]["error"]["message"],
                },
            },
            {
                "key": "a",
                "entityName": "manager",
                "error": {
                    "code": "BAD_REQUEST",
                    "message": result["failedKeys"][4]["error"]["message"],
                },
            },
            {
                "key": "x",
                "error": {
                    "code": "BAD_REQUEST",
                    "message": "value is not allowed in a batch/get item",
                },
            },
        ],
    }


def test_batch_delete(engine: Engine) -> None:
    engine.set("a", 1)
    engine.set("s", "secret", secret=True)
    engine.entity_set("employee", "a", {"age": 5})
    result = engine.batch_delete(
        [
            {"key": "a"},
            {"key": "a", "entityName": "employee"},
            {"key": "missing"},
            {"key": "s"},
            {"key": "b", "entityName": "manager"},
            {"key": "a/b"},
        ]
    )
    assert result["successfulKeys"] == [{"key": "a"}, {"key": "a", "entityName": "employee"}]
    assert [(item["key"], item["error"]["code"]) for item in result["failedKeys"]] == [
        ("missing", "KEY_NOT_FOUND"),
        ("s", "KEY_NOT_FOUND"),
        ("b", "KEY_NOT_FOUND"),
        ("a/b", "INVALID_KEY"),
    ]
    assert engine.query() == {"data": []}
    assert engine.get("s", secret=True)["value"] == "secret"
    assert engine.entity_query({"entityName": "employee", "indexName": "age"}) == {"data": []}


# -- item faults -----------------------------------------------------------------------
def test_item_fault_fails_only_that_item(engine: Engine) -> None:
    calls: list[tuple[Any, Any]] = []

    def fault(key: Any, entity_name: Any) -> ForgeStorageError | None:
        calls.append((key, entity_name))
        if key == "b":
            return ForgeStorageError("INTERNAL_SERVER_ERROR")
        return None

    items = [
        {"key": "a", "value": 1},
        {"key": "b", "value": {"age": 1}, "entityName": "employee"},
        {"key": "bad/key", "value": 1},
        {"key": "c", "value": 3},
    ]
    result = engine.batch_set(items, item_fault=fault)
    assert calls == [("a", None), ("b", "employee"), ("bad/key", None), ("c", None)]
    assert result["successfulKeys"] == [{"key": "a"}, {"key": "c"}]
    assert result["failedKeys"] == [
        {"key": "b", "entityName": "employee", "error": error("INTERNAL_SERVER_ERROR")},
        {"key": "bad/key", "error": result["failedKeys"][1]["error"]},
    ]
    assert result["failedKeys"][1]["error"]["code"] == "INVALID_KEY"
    assert code_of_get(engine, "employee", "b") == "KEY_NOT_FOUND"

    engine.set("z", 1)
    gone = engine.batch_delete(
        [{"key": "z"}], item_fault=lambda k, e: ForgeStorageError("RATE_LIMIT_EXCEEDED")
    )
    assert gone["failedKeys"][0]["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert engine.get("z")["value"] == 1
    got = engine.batch_get([{"key": "z"}], item_fault=lambda k, e: None)
    assert got["successfulKeys"] == [{"key": "z", "value": 1}]


def code_of_get(engine: Engine, entity: str, key: str) -> str:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_get(entity, key)
    return info.value.code
