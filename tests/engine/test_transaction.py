"""transaction: validation, conditions, all-or-nothing writes (ref §10, decision 11)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import time_machine

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    engine.define_entity(
        "employee",
        {"age": "integer", "name": "string", "active": "boolean", "profile": "any"},
        ["age"],
    )
    engine.define_entity("counter", {"n": "integer"})
    return engine


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=timezone.utc), tick=False) as traveller:
        yield traveller


def cond(prop: str, condition: str, *values: Any) -> dict[str, Any]:
    return {"property": prop, "condition": condition, "values": list(values)}


def state(engine: Engine) -> str:
    """Everything stored, metadata included, as canonical JSON."""
    data: dict[str, Any] = {
        "kvs": [(key, item.to_data()) for key, item in engine.kvs.items()],
        "secrets": [(key, item.to_data()) for key, item in engine.secrets.items()],
    }
    for name in engine.entity_names():
        data[name] = [(key, item.to_data()) for key, item in engine.entity_items(name)]
    data["age-index"] = engine.entity_query(
        {"entityName": "employee", "indexName": "age", "limit": 100}
    )
    return json.dumps(data, sort_keys=True)


def fails(engine: Engine, body: Any) -> ForgeStorageError:
    before = state(engine)
    with pytest.raises(ForgeStorageError) as info:
        engine.transaction(body)
    assert state(engine) == before
    return info.value


def seed(engine: Engine) -> None:
    engine.set("kv", "old", options={"ttl": {"value": 1, "unit": "HOURS"}})
    engine.set("gone", "x")
    engine.entity_set("employee", "e1", {"age": 30, "name": "Ann"})
    engine.entity_set("employee", "e2", {"age": 40}, options={"ttl": {"value": 1, "unit": "DAYS"}})


# -- success ---------------------------------------------------------------------------
def test_success_applies_every_operation(engine: Engine, clock: time_machine.Traveller) -> None:
    seed(engine)
    engine.entity_set("employee", "e5", {"age": 50, "name": "Al"})
    clock.shift(10)
    engine.transaction(
        {
            "set": [
                {"key": "kv", "value": "new", "options": {"ttl": {"value": 1, "unit": "SECONDS"}}},
                {
                    "key": "e1",
                    "value": {"age": 31, "name": "Ann"},
                    "entityName": "employee",
                    "conditions": {"and": [cond("age", "EQUAL_TO", 30)]},
                },
                {
                    "key": "e3",
                    "value": {"age": 1},
                    "entityName": "employee",
                    "conditions": {"and": [cond("age", "NOT_EXISTS", True)]},
                },
            ],
            "delete": [
                {"key": "gone"},
                {"key": "never-existed"},
                {
                    "key": "e2",
                    "entityName": "employee",
                    "conditions": {
                        "or": [cond("age", "GREATER_THAN", 100), cond("name", "NOT_EXISTS", True)]
                    },
                },
                {"key": "nobody", "entityName": "employee"},
            ],
            "check": [
                {
                    "key": "e5",
                    "entityName": "employee",
                    "conditions": {"and": [cond("name", "BEGINS_WITH", "A")]},
                }
            ],
        }
    )
    assert (
        engine.get("kv", options={"metadataFields": ["CREATED_AT", "EXPIRE_TIME"]})["expireTime"]
        == "2025-01-01T00:00:11.000Z"
    )
    assert engine.entity_get(
        "employee", "e1", options={"metadataFields": ["CREATED_AT", "UPDATED_AT"]}
    ) == {
        "key": "e1",
        "value": {"age": 31, "name": "Ann"},
        "entityName": "employee",
        "createdAt": 1735689600000,
        "updatedAt": 1735689610000,
    }
    assert engine.query()["data"] == [{"key": "kv", "value": "new"}]
    result_keys = [
        item["key"]
        for item in engine.entity_query({"entityName": "employee", "indexName": "age"})["data"]
    ]
    assert result_keys == ["e3", "e1", "e5"]
    clock.shift(1)
    assert engine.query()["data"] == []


def test_check_only_transaction(engine: Engine) -> None:
    seed(engine)
    before = state(engine)
    engine.transaction(
        {
            "check": [
                {
                    "key": "e1",
                    "entityName": "employee",
                    "conditions": {"and": [cond("age", "EXISTS", True)]},
                }
            ]
        }
    )
    assert state(engine) == before


def test_same_key_in_different_namespaces(engine: Engine) -> None:
    engine.transaction(
        {
            "set": [
                {"key": "a", "value": 1},
                {"key": "a", "value": {"age": 1}, "entityName": "employee"},
                {"key": "a", "value": {"n": 1}, "entityName": "counter"},
            ]
        }
    )
    assert engine.get("a")["value"] == 1
    assert engine.entity_get("counter", "a")["value"] == {"n": 1}


def test_25_operations_are_allowed(engine: Engine) -> None:
    engine.transaction(
        {
            "set": [{"key": f"k{i}", "value": i} for i in range(20)],
            "delete": [{"key": f"d{i}"} for i in range(5)],
        }
    )
    assert len(engine.query(limit=100)["data"]) == 20


# -- conditions ------------------------------------------------------------------------
CONDITIONS: list[tuple[dict[str, Any], bool]] = [
    ({"and": [cond("age", "EQUAL_TO", 30)]}, True),
    ({"and": [cond("age", "EQUAL_TO", 31)]}, False),
    ({"and": [cond("age", "NOT_EQUAL_TO", 31)]}, True),
    ({"and": [cond("age", "BETWEEN", 30, 30)]}, True),
    ({"and": [cond("age", "GREATER_THAN", 30)]}, False),
    ({"and": [cond("age", "GREATER_THAN_EQUAL_TO", 30)]}, True),
    ({"and": [cond("age", "LESS_THAN", 30)]}, False),
    ({"and": [cond("age", "LESS_THAN_EQUAL_TO", 30.5)]}, True),
    ({"and": [cond("name", "CONTAINS", "nn")]}, True),
    ({"and": [cond("name", "NOT_CONTAINS", "nn")]}, False),
    ({"and": [cond("name", "BEGINS_WITH", "B")]}, False),
    ({"and": [cond("active", "EXISTS", True)]}, False),
    ({"and": [cond("active", "NOT_EXISTS", True)]}, True),
    ({"and": [cond("active", "EQUAL_TO", False)]}, False),  # missing attribute: false
    ({"and": [cond("active", "NOT_EQUAL_TO", True)]}, False),  # missing attribute: false
    ({"and": [cond("age", "EQUAL_TO", 30), cond("name", "EQUAL_TO", "Bob")]}, False),
    ({"or": [cond("age", "EQUAL_TO", 30), cond("name", "EQUAL_TO", "Bob")]}, True),
    ({"or": [cond("age", "EQUAL_TO", 1), cond("name", "EQUAL_TO", "Bob")]}, False),
]


@pytest.mark.parametrize(("conditions", "holds"), CONDITIONS)
@pytest.mark.parametrize("group", ["set", "delete", "check"])
def test_conditions(engine: Engine, group: str, conditions: dict[str, Any], holds: bool) -> None:
    seed(engine)
    item: dict[str, Any] = {"key": "e1", "entityName": "employee", "conditions": conditions}
    if group == "set":
        item["value"] = {"age": 99}
    body: dict[str, Any] = {group: [item]}
    if group == "set":
        body["delete"] = [{"key": "gone"}]
    else:
        body["set"] = [{"key": "marker", "value": 1}]
    if holds:
        engine.transaction(body)
        if group == "set":
            assert engine.entity_get("employee", "e1")["value"] == {"age": 99}
        if group == "delete":
            with pytest.raises(ForgeStorageError):
                engine.entity_get("employee", "e1")
    else:
        error = fails(engine, body)
        assert (error.code, error.status) == ("CONDITIONAL_CHECK_FAILED", 400)
        assert '"e1"' in error.message


@pytest.mark.parametrize(
    ("conditions", "holds"),
    [
        ({"and": [cond("age", "NOT_EXISTS", True)]}, True),
        ({"and": [cond("age", "NOT_EXISTS", True), cond("name", "NOT_EXISTS", True)]}, True),
        ({"or": [cond("age", "EXISTS", True), cond("name", "NOT_EXISTS", True)]}, True),
        ({"and": [cond("age", "NOT_EQUAL_TO", 5)]}, False),
        ({"and": [cond("name", "NOT_CONTAINS", "x")]}, False),
        ({"and": [cond("age", "EXISTS", True)]}, False),
        ({"and": [cond("age", "NOT_EXISTS", True), cond("age", "EQUAL_TO", 1)]}, False),
    ],
)
def test_conditions_on_a_missing_item(
    engine: Engine, clock: time_machine.Traveller, conditions: dict[str, Any], holds: bool
) -> None:
    engine.entity_set(
        "employee", "expired", {"age": 5}, options={"ttl": {"value": 1, "unit": "SECONDS"}}
    )
    clock.shift(1)
    for key in ("missing", "expired"):
        body = {
            "check": [{"key": key, "entityName": "employee", "conditions": conditions}],
            "set": [{"key": "m", "value": key}],
        }
        if holds:
            engine.transaction(body)
            assert engine.get("m")["value"] == key
        else:
            assert fails(engine, body).code == "CONDITIONAL_CHECK_FAILED"


def test_failed_condition_leaves_state_identical_with_ttl_items(
    engine: Engine, clock: time_machine.Traveller
) -> None:
    seed(engine)
    engine.set("s", "secret", secret=True, options={"ttl": {"value": 5, "unit": "MINUTES"}})
    engine.entity_set(
        "employee", "e4", {"age": 4}, options={"ttl": {"value": 2, "unit": "MINUTES"}}
    )
    clock.shift(30)
    error = fails(
        engine,
        {
            "set": [
                {"key": "kv", "value": "new", "options": {"ttl": {"value": 9, "unit": "DAYS"}}},
                {"key": "e3", "value": {"age": 1}, "entityName": "employee"},
                {
                    "key": "e9",
                    "value": {"age": 9},
                    "entityName": "employee",
                    "options": {"ttl": {"value": 1, "unit": "SECONDS"}},
                },
            ],
            "delete": [{"key": "gone"}, {"key": "e4", "entityName": "employee"}],
            "check": [
                {
                    "key": "e2",
                    "entityName": "employee",
                    "conditions": {"and": [cond("age", "EQUAL_TO", 40)]},
                },
                {
                    "key": "e1",
                    "entityName": "employee",
                    "conditions": {"and": [cond("age", "EQUAL_TO", 31)]},
                },
            ],
        },
    )
    assert error.code == "CONDITIONAL_CHECK_FAILED"
    assert "check[1]" in error.message


# -- invalid requests ------------------------------------------------------------------
E = "employee"
INVALID: list[tuple[Any, str]] = [
    ([], "must be an object"),
    ({}, "must include one of"),
    ({"set": [], "delete": [], "check": []}, "must include one of"),
    ({"set": None}, "must include one of"),
    ({"update": [{"key": "a", "value": 1}]}, "Unknown property"),
    ({"set": {"key": "a", "value": 1}}, "must be an array"),
    ({"set": [{"key": f"k{i}", "value": 1} for i in range(26)]}, "at most 25"),
    (
        {
            "set": [{"key": f"k{i}", "value": 1} for i in range(13)],
            "delete": [{"key": f"d{i}"} for i in range(13)],
        },
        "at most 25",
    ),
    ({"set": [{"key": "a", "value": 1}, {"key": "a", "value": 2}]}, "once per transaction"),
    ({"set": [{"key": "a", "value": 1}], "delete": [{"key": "a"}]}, "once per transaction"),
    (
        {
            "set": [{"key": "a", "value": {}, "entityName": E}],
            "check": [
                {"key": "a", "entityName": E, "conditions": {"and": [cond("age", "EXISTS", True)]}}
            ],
        },
        "once per transaction",
    ),
    (
        {"set": [{"key": "a", "value": 1, "conditions": {"and": [cond("age", "EXISTS", True)]}}]},
        "only on custom entity",
    ),
    (
        {"delete": [{"key": "a", "conditions": {"or": [cond("age", "EXISTS", True)]}}]},
        "only on custom entity",
    ),
    (
        {"check": [{"key": "a", "conditions": {"and": [cond("age", "EXISTS", True)]}}]},
        "only on custom entity",
    ),
    ({"check": [{"key": "a", "entityName": E}]}, "needs entityName and conditions"),
    (
        {"check": [{"key": "a", "entityName": E, "conditions": None}]},
        "needs entityName and conditions",
    ),
    ({"check": [{"key": "a", "entityName": E, "conditions": {}}]}, "at least one condition"),
    ({"set": ["a"]}, "must be an object"),
    ({"set": [{"value": 1}]}, "key is required"),
    ({"set": [{"key": "a"}]}, "value is required"),
    ({"delete": [{"key": "a", "value": 1}]}, "not allowed"),
    ({"delete": [{"key": "a", "options": {}}]}, "not allowed"),
    ({"set": [{"key": "a", "value": 1, "ttl": 5}]}, "not allowed"),
    ({"set": [{"key": f"k{i}", "value": "x" * (200 * 1024)} for i in range(21)]}, "payload"),
]


@pytest.mark.parametrize(("body", "fragment"), INVALID)
def test_invalid_transaction_requests(engine: Engine, body: Any, fragment: str) -> None:
    seed(engine)
    error = fails(engine, body)
    assert (error.code, error.status) == ("INVALID_TRANSACTION_REQUEST", 400)
    assert fragment in error.message


ITEM_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"key": "", "value": 1}, "KEY_TOO_SHORT"),
    ({"key": "a/b", "value": 1}, "INVALID_KEY"),
    ({"key": "", "value": {}, "entityName": E}, "EMPTY_KEY"),
    ({"key": "k" * 501, "value": {}, "entityName": E}, "KEY_TOO_LONG"),
    ({"key": "a", "value": {}, "entityName": "nobody"}, "INVALID_ENTITY_TYPE"),
    ({"key": "a", "value": {}, "entityName": "x"}, "ENTITY_TYPE_TOO_SHORT"),
    ({"key": "a", "value": {"age": "old"}, "entityName": E}, "INVALID_ENTITY_VALUE"),
    ({"key": "a", "value": {"salary": 1}, "entityName": E}, "INVALID_ENTITY_VALUE"),
    ({"key": "a", "value": [], "entityName": E}, "INVALID_ENTITY_VALUE"),
    ({"key": "a", "value": None}, "BAD_REQUEST"),
    ({"key": "a", "value": "x" * (240 * 1024 + 1)}, "MAX_SIZE"),
    ({"key": "a", "value": 1, "options": {"ttl": {"value": 0, "unit": "SECONDS"}}}, "BAD_REQUEST"),
    ({"key": "a", "value": 1, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}, "BAD_REQUEST"),
    ({"key": "a", "value": 1, "options": {"returnValue": "LATEST"}}, "BAD_REQUEST"),
    (
        {"key": "a", "value": {}, "entityName": E, "conditions": {"and": []}},
        "EMPTY_FILTER_OPERATOR",
    ),
    (
        {
            "key": "a",
            "value": {},
            "entityName": E,
            "conditions": {
                "and": [cond("age", "EXISTS", True)],
                "or": [cond("age", "EXISTS", True)],
            },
        },
        "INVALID_FILTER_OPERATORS_COMBINATION",
    ),
    (
        {
            "key": "a",
            "value": {},
            "entityName": E,
            "conditions": {"and": [cond("age", "BETWEEN", 1)]},
        },
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        {
            "key": "a",
            "value": {},
            "entityName": E,
            "conditions": {"and": [cond("profile", "EXISTS", True)]},
        },
        "UNPROCESSABLE_ENTITY",
    ),
    (
        {
            "key": "a",
            "value": {},
            "entityName": E,
            "conditions": {"and": [cond("salary", "EXISTS", True)]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "key": "a",
            "value": {},
            "entityName": E,
            "conditions": {"and": [cond("age", "EQUAL_TO", "30")]},
        },
        "BAD_REQUEST",
    ),
]


@pytest.mark.parametrize(("item", "code"), ITEM_ERRORS)
def test_item_errors_keep_their_own_code_and_nothing_is_written(
    engine: Engine, item: dict[str, Any], code: str
) -> None:
    seed(engine)
    body = {
        "set": [{"key": "first", "value": "written?"}, item],
        "delete": [{"key": "gone"}],
        "check": [
            {"key": "e1", "entityName": E, "conditions": {"and": [cond("age", "EQUAL_TO", 30)]}}
        ],
    }
    error = fails(engine, body)
    assert error.code == code


def test_invalid_items_win_over_failed_conditions(engine: Engine) -> None:
    seed(engine)
    body = {
        "check": [
            {"key": "e1", "entityName": E, "conditions": {"and": [cond("age", "EQUAL_TO", 1)]}}
        ],
        "set": [{"key": "e1x", "value": {"age": "x"}, "entityName": E}],
    }
    assert fails(engine, body).code == "INVALID_ENTITY_VALUE"


# -- atomicity under concurrency -------------------------------------------------------
def test_optimistic_locking_counter_across_threads(engine: Engine) -> None:
    engine.transaction(
        {
            "set": [
                {
                    "key": "c",
                    "value": {"n": 0},
                    "entityName": "counter",
                    "conditions": {"and": [cond("n", "NOT_EXISTS", True)]},
                }
            ]
        }
    )
    successes = [0] * 8
    conflicts: list[str] = []
    start = threading.Barrier(8)

    def worker(slot: int) -> None:
        start.wait()
        while successes[slot] < 50:
            current = engine.entity_get("counter", "c")["value"]["n"]
            try:
                engine.transaction(
                    {
                        "set": [
                            {
                                "key": "c",
                                "value": {"n": current + 1},
                                "entityName": "counter",
                                "conditions": {"and": [cond("n", "EQUAL_TO", current)]},
                            }
                        ]
                    }
                )
            except ForgeStorageError as exc:
                conflicts.append(exc.code)
            else:
                successes[slot] += 1

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert engine.entity_get("counter", "c")["value"]["n"] == sum(successes) == 400
    assert set(conflicts) <= {"CONDITIONAL_CHECK_FAILED"}


def test_concurrent_transactions_are_all_or_nothing(engine: Engine) -> None:
    """Readers never observe half of a transaction that moves a value between two keys."""
    engine.entity_set("counter", "x", {"n": 100})
    engine.entity_set("counter", "y", {"n": 0})
    stop = threading.Event()
    torn: list[int] = []

    def mover() -> None:
        for _ in range(300):
            got = engine.batch_get(
                [{"key": "x", "entityName": "counter"}, {"key": "y", "entityName": "counter"}]
            )
            x, y = (item["value"]["n"] for item in got["successfulKeys"])
            engine.transaction(
                {
                    "set": [
                        {
                            "key": "x",
                            "value": {"n": x - 1},
                            "entityName": "counter",
                            "conditions": {"and": [cond("n", "EQUAL_TO", x)]},
                        },
                        {
                            "key": "y",
                            "value": {"n": y + 1},
                            "entityName": "counter",
                            "conditions": {"and": [cond("n", "EQUAL_TO", y)]},
                        },
                    ]
                }
            ) if x > 0 else None
        stop.set()

    def reader() -> None:
        while not stop.is_set():
            got = engine.batch_get(
                [{"key": "x", "entityName": "counter"}, {"key": "y", "entityName": "counter"}]
            )
            total = sum(item["value"]["n"] for item in got["successfulKeys"])
            if total != 100:
                torn.append(total)

    threads = [threading.Thread(target=mover), *(threading.Thread(target=reader) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert torn == []
    assert engine.entity_get("counter", "y")["value"]["n"] == 100
