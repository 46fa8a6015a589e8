"""entity/query: indexes, partitions, range and filter conditions, sort and cursors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import time_machine

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.engine import Engine, _cursor
from pytest_forge_storage.engine._index import HIGH, LOW

ATTRIBUTES = {
    "name": "string",
    "age": "integer",
    "salary": "float",
    "active": "boolean",
    "gender": "string",
    "team": "string",
    "profile": "any",
}
INDEXES: list[Any] = [
    "age",
    "name",
    "salary",
    "active",
    {"name": "by-age-per-gender", "range": ["age"], "partition": ["gender"]},
    {"name": "by-salary-per-team-gender", "range": ["salary"], "partition": ["team", "gender"]},
]


@pytest.fixture
def engine() -> Engine:
    engine = Engine()
    engine.define_entity("employee", ATTRIBUTES, INDEXES)
    return engine


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=timezone.utc), tick=False) as traveller:
        yield traveller


def query(engine: Engine, index: str = "by-key", **body: Any) -> dict[str, Any]:
    return engine.entity_query({"entityName": "employee", "indexName": index, **body})


def keys(engine: Engine, index: str = "by-key", **body: Any) -> list[str]:
    return [item["key"] for item in query(engine, index, **body)["data"]]


def seed_ages(engine: Engine) -> None:
    for key, age in [("a", 10), ("b", 20), ("c", 20), ("d", 30), ("e", 40), ("f", 50)]:
        engine.entity_set("employee", key, {"age": age, "name": f"N-{key}"})


# -- request errors --------------------------------------------------------------------
ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"entityName": "manager", "indexName": "by-key"}, "INVALID_ENTITY_TYPE"),
    ({"entityName": "ab", "indexName": "by-key"}, "ENTITY_TYPE_TOO_SHORT"),
    ({"entityName": "employee"}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": 5}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-team"}, "INVALID_ENTITY_INDEX"),
    ({"entityName": "employee", "indexName": "profile"}, "INVALID_ENTITY_INDEX"),
    ({"entityName": "employee", "indexName": "by-age-per-gender"}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-age-per-gender", "partition": []}, "BAD_REQUEST"),
    (
        {"entityName": "employee", "indexName": "by-age-per-gender", "partition": ["f", "x"]},
        "BAD_REQUEST",
    ),
    ({"entityName": "employee", "indexName": "by-age-per-gender", "partition": [1]}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-age-per-gender", "partition": "f"}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "age", "partition": ["f"]}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "partition": ["f"]}, "BAD_REQUEST"),
    (
        {"entityName": "employee", "indexName": "by-salary-per-team-gender", "partition": ["t"]},
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "CONTAINS", "values": [1]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "NOT_EQUAL_TO", "values": [1]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "EXISTS", "values": [True]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "NOPE", "values": [1]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "BETWEEN", "values": [1]},
        },
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "BETWEEN", "values": []},
        },
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "EQUAL_TO", "values": []},
        },
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "BETWEEN", "values": [1, 2, 3]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "EQUAL_TO", "values": [1, 2]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "EQUAL_TO", "values": ["1"]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "EQUAL_TO", "values": [True]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "age",
            "range": {"condition": "BEGINS_WITH", "values": [1]},
        },
        "BAD_REQUEST",
    ),
    (
        {"entityName": "employee", "indexName": "age", "range": {"condition": "EQUAL_TO"}},
        "BAD_REQUEST",
    ),
    ({"entityName": "employee", "indexName": "age", "range": "EQUAL_TO"}, "BAD_REQUEST"),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "range": {"condition": "GREATER_THAN", "values": [5]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "active",
            "range": {"condition": "GREATER_THAN", "values": [True]},
        },
        "BAD_REQUEST",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "filters": {"and": [], "or": []}},
        "INVALID_FILTER_OPERATORS_COMBINATION",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {
                "and": [{"property": "age", "condition": "EXISTS", "values": [True]}],
                "or": [{"property": "age", "condition": "EXISTS", "values": [True]}],
            },
        },
        "INVALID_FILTER_OPERATORS_COMBINATION",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "filters": {"and": []}},
        "EMPTY_FILTER_OPERATOR",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "filters": {"or": []}},
        "EMPTY_FILTER_OPERATOR",
    ),
    ({"entityName": "employee", "indexName": "by-key", "filters": {"not": []}}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "filters": {"and": {}}}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "filters": []}, "BAD_REQUEST"),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "profile", "condition": "EXISTS", "values": [True]}]},
        },
        "UNPROCESSABLE_ENTITY",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"or": [{"property": "profile", "condition": "EQUAL_TO", "values": ["x"]}]},
        },
        "UNPROCESSABLE_ENTITY",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "salaryy", "condition": "EXISTS", "values": [True]}]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "key", "condition": "EQUAL_TO", "values": ["a"]}]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"condition": "EXISTS", "values": [True]}]},
        },
        "BAD_REQUEST",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "filters": {"and": ["age"]}},
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "age", "condition": "CONTAINS", "values": [1]}]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {
                "and": [{"property": "active", "condition": "LESS_THAN", "values": [True]}]
            },
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "name", "condition": "EQUAL_TO", "values": [1]}]},
        },
        "BAD_REQUEST",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "age", "condition": "BETWEEN", "values": [1]}]},
        },
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "age", "condition": "EQUAL_TO", "values": 1}]},
        },
        "BAD_REQUEST",
    ),
    ({"entityName": "employee", "indexName": "by-key", "sort": "asc"}, "BAD_REQUEST"),
    (
        {"entityName": "employee", "indexName": "by-key", "limit": 0},
        "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "limit": 101},
        "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "limit": -1},
        "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE",
    ),
    ({"entityName": "employee", "indexName": "by-key", "limit": "10"}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "limit": 10.0}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "limit": True}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "cursor": "%%%"}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "cursor": ""}, "BAD_REQUEST"),
    ({"entityName": "employee", "indexName": "by-key", "cursor": 5}, "BAD_REQUEST"),
    (
        {"entityName": "employee", "indexName": "by-key", "cursor": _cursor.encode({"k": 1})},
        "BAD_REQUEST",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "cursor": _cursor.encode(["a"])},
        "BAD_REQUEST",
    ),
    (
        {"entityName": "employee", "indexName": "age", "cursor": _cursor.encode(["a", "a"])},
        "BAD_REQUEST",
    ),
    (
        {"entityName": "employee", "indexName": "by-key", "options": {"metadataFields": ["NOPE"]}},
        "BAD_REQUEST",
    ),
    ({"entityName": "employee", "indexName": "by-key", "options": {"ttl": 1}}, "BAD_REQUEST"),
]


@pytest.mark.parametrize(("body", "code"), ERRORS)
def test_request_errors(engine: Engine, body: dict[str, Any], code: str) -> None:
    seed_ages(engine)
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_query(body)
    assert info.value.code == code
    assert info.value.status == (422 if code == "UNPROCESSABLE_ENTITY" else 400)


def test_body_must_be_an_object(engine: Engine) -> None:
    with pytest.raises(ForgeStorageError) as info:
        engine.entity_query([])  # type: ignore[arg-type]
    assert info.value.code == "BAD_REQUEST"


def exists(prop: str) -> dict[str, Any]:
    return {"property": prop, "condition": "EXISTS", "values": [True]}


def test_at_most_100_conditions(engine: Engine) -> None:
    seed_ages(engine)
    hundred = {"and": [exists("age")] * 100}
    assert len(keys(engine, filters=hundred)) == 6
    assert keys(
        engine,
        "age",
        range={"condition": "GREATER_THAN", "values": [0]},
        filters={"and": [exists("age")] * 99},
    )
    for body in (
        {"filters": {"or": [exists("age")] * 101}},
        {"filters": hundred, "range": {"condition": "BEGINS_WITH", "values": ["a"]}},
    ):
        with pytest.raises(ForgeStorageError) as info:
            query(engine, **body)
        assert info.value.code == "BAD_REQUEST"
        assert "at most" in info.value.message


def test_presence_conditions_need_no_values(engine: Engine) -> None:
    seed_ages(engine)
    engine.entity_set("employee", "z", {"name": "no age"})
    assert keys(engine, filters={"and": [{"property": "age", "condition": "NOT_EXISTS"}]}) == ["z"]
    assert len(keys(engine, filters={"or": [{"property": "age", "condition": "EXISTS"}]})) == 6


def test_bound_sentinels_sort_below_and_above_everything() -> None:
    for value in (0, -(10**100), "", "\U0010ffff", True, 1e300):
        assert LOW < value < HIGH
        assert LOW <= value <= HIGH
        assert HIGH > value > LOW
        assert HIGH >= value >= LOW
        assert value != LOW
        assert value != HIGH
    assert LOW < HIGH
    assert LOW <= LOW
    assert HIGH >= HIGH
    assert not LOW < LOW
    assert not HIGH > HIGH
    assert len({LOW, HIGH, LOW}) == 2
    assert repr((LOW, HIGH)) == "(LOW, HIGH)"


def test_null_members_are_absent(engine: Engine) -> None:
    seed_ages(engine)
    body: dict[str, Any] = {
        "partition": None,
        "range": None,
        "filters": None,
        "sort": None,
        "limit": None,
        "cursor": None,
        "options": None,
    }
    assert keys(engine, **body) == ["a", "b", "c", "d", "e", "f"]
    assert keys(engine, filters={"and": None, "or": [exists("age")]}) == [
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
    ]
    assert keys(engine, filters={}) == ["a", "b", "c", "d", "e", "f"]


# -- range conditions ------------------------------------------------------------------
RANGES: list[tuple[str, list[Any], list[str]]] = [
    ("EQUAL_TO", [20], ["b", "c"]),
    ("EQUAL_TO", [20.0], ["b", "c"]),
    ("EQUAL_TO", [25], []),
    ("GREATER_THAN", [20], ["d", "e", "f"]),
    ("GREATER_THAN", [19.5], ["b", "c", "d", "e", "f"]),
    ("GREATER_THAN_EQUAL_TO", [20], ["b", "c", "d", "e", "f"]),
    ("LESS_THAN", [30], ["a", "b", "c"]),
    ("LESS_THAN_EQUAL_TO", [30], ["a", "b", "c", "d"]),
    ("LESS_THAN", [10], []),
    ("BETWEEN", [20, 40], ["b", "c", "d", "e"]),  # inclusive at both ends
    ("BETWEEN", [20, 20], ["b", "c"]),
    ("BETWEEN", [40, 20], []),
    ("BETWEEN", [-(2**40), 2**40], ["a", "b", "c", "d", "e", "f"]),
]


@pytest.mark.parametrize(("condition", "values", "expected"), RANGES)
def test_range_conditions_on_an_integer_index(
    engine: Engine, condition: str, values: list[Any], expected: list[str]
) -> None:
    seed_ages(engine)
    rng = {"condition": condition, "values": values}
    assert keys(engine, "age", range=rng) == expected
    assert keys(engine, "age", range=rng, sort="DESC") == expected[::-1]


KEYS = ["a", "ab", "abc", "abd", "ac", "b", "b c", "b#", "ba", "c"]
KEY_RANGES: list[tuple[str, list[Any], list[str]]] = [
    ("BEGINS_WITH", ["ab"], ["ab", "abc", "abd"]),
    ("BEGINS_WITH", ["a"], ["a", "ab", "abc", "abd", "ac"]),
    ("BEGINS_WITH", ["b"], ["b", "b c", "b#", "ba"]),
    ("BEGINS_WITH", [""], KEYS),
    ("BEGINS_WITH", ["zz"], []),
    ("EQUAL_TO", ["abc"], ["abc"]),
    ("EQUAL_TO", ["ab "], []),
    ("GREATER_THAN", ["b"], ["b c", "b#", "ba", "c"]),
    ("GREATER_THAN_EQUAL_TO", ["b"], ["b", "b c", "b#", "ba", "c"]),
    ("LESS_THAN", ["ab"], ["a"]),
    ("LESS_THAN_EQUAL_TO", ["ab"], ["a", "ab"]),
    ("BETWEEN", ["ab", "b"], ["ab", "abc", "abd", "ac", "b"]),
    ("BETWEEN", ["", "\U0010ffff"], KEYS),
]


@pytest.mark.parametrize(("condition", "values", "expected"), KEY_RANGES)
def test_range_conditions_on_the_key(
    engine: Engine, condition: str, values: list[Any], expected: list[str]
) -> None:
    shuffled = KEYS[:]
    random.Random(1).shuffle(shuffled)
    for key in shuffled:
        engine.entity_set("employee", key, {"age": 1})
    rng = {"condition": condition, "values": values}
    assert keys(engine, range=rng, limit=100) == expected
    assert keys(engine, range=rng, limit=100, sort="DESC") == expected[::-1]


NAMES = [
    "a",
    "a\U0010ffff",
    "a\U0010ffff\U0010ffff",
    "a\U0010ffffb",
    "aa",
    "b",
    "\U0010ffff",
    "é",
    "\ud7ff",
]


@pytest.mark.parametrize(
    "prefix",
    ["a", "a\U0010ffff", "a\U0010ffff\U0010ffff", "\U0010ffff", "b", "\ud7ff", "é", "x", ""],
)
def test_begins_with_at_the_top_of_unicode(engine: Engine, prefix: str) -> None:
    for i, name in enumerate(NAMES):
        engine.entity_set("employee", f"n{i}", {"name": name})
    rng = {"condition": "BEGINS_WITH", "values": [prefix]}
    found = [item["value"]["name"] for item in query(engine, "name", range=rng, limit=100)["data"]]
    assert found == sorted(name for name in NAMES if name.startswith(prefix))


def test_range_on_boolean_and_float_indexes(engine: Engine) -> None:
    engine.entity_set("employee", "t1", {"active": True, "salary": 2})
    engine.entity_set("employee", "f1", {"active": False, "salary": 1.5})
    engine.entity_set("employee", "t2", {"active": True, "salary": 1e-130})
    engine.entity_set("employee", "z", {"salary": 0})
    assert keys(engine, "active") == ["f1", "t1", "t2"]
    assert keys(engine, "active", range={"condition": "EQUAL_TO", "values": [True]}) == ["t1", "t2"]
    assert keys(engine, "salary") == ["z", "t2", "f1", "t1"]  # ints and floats interleave
    assert keys(engine, "salary", range={"condition": "BETWEEN", "values": [1, 2.0]}) == [
        "f1",
        "t1",
    ]


# -- filter conditions -----------------------------------------------------------------
@pytest.fixture
def people(engine: Engine) -> Engine:
    engine.entity_set("employee", "p1", {"name": "Alice", "age": 30, "active": True, "salary": 1.5})
    engine.entity_set("employee", "p2", {"name": "Bob", "age": 40, "active": False})
    engine.entity_set("employee", "p3", {"name": "Alina", "age": 20, "profile": {"x": 1}})
    engine.entity_set("employee", "p4", {"age": 50, "salary": 3})
    return engine


FILTERS: list[tuple[str, str, list[Any], list[str]]] = [
    ("name", "EQUAL_TO", ["Bob"], ["p2"]),
    ("name", "NOT_EQUAL_TO", ["Bob"], ["p1", "p3"]),  # p4 has no name: false (decision)
    ("name", "BEGINS_WITH", ["Ali"], ["p1", "p3"]),
    ("name", "CONTAINS", ["li"], ["p1", "p3"]),
    ("name", "NOT_CONTAINS", ["li"], ["p2"]),
    ("name", "EXISTS", [True], ["p1", "p2", "p3"]),
    ("name", "NOT_EXISTS", [True], ["p4"]),
    ("name", "GREATER_THAN", ["Alina"], ["p2"]),
    ("name", "BETWEEN", ["Alice", "Alina"], ["p1", "p3"]),
    ("age", "EQUAL_TO", [30], ["p1"]),
    ("age", "NOT_EQUAL_TO", [30], ["p2", "p3", "p4"]),
    ("age", "GREATER_THAN", [30], ["p2", "p4"]),
    ("age", "GREATER_THAN_EQUAL_TO", [30], ["p1", "p2", "p4"]),
    ("age", "LESS_THAN", [30], ["p3"]),
    ("age", "LESS_THAN_EQUAL_TO", [30], ["p1", "p3"]),
    ("age", "BETWEEN", [30, 40], ["p1", "p2"]),
    ("age", "BETWEEN", [25.5, 45.5], ["p1", "p2"]),
    ("salary", "EQUAL_TO", [3], ["p4"]),
    ("salary", "LESS_THAN", [2], ["p1"]),
    ("salary", "NOT_EXISTS", [True], ["p2", "p3"]),
    ("active", "EQUAL_TO", [False], ["p2"]),
    ("active", "NOT_EQUAL_TO", [False], ["p1"]),
    ("active", "EXISTS", [True], ["p1", "p2"]),
    ("active", "NOT_EXISTS", [], ["p3", "p4"]),
]


@pytest.mark.parametrize(("prop", "condition", "values", "expected"), FILTERS)
def test_filter_conditions(
    people: Engine, prop: str, condition: str, values: list[Any], expected: list[str]
) -> None:
    cond = {"property": prop, "condition": condition, "values": values}
    assert keys(people, filters={"and": [cond]}) == expected
    assert keys(people, filters={"or": [cond]}) == expected


def test_and_or(people: Engine) -> None:
    over_25 = {"property": "age", "condition": "GREATER_THAN", "values": [25]}
    named = exists("name")
    assert keys(people, filters={"and": [over_25, named]}) == ["p1", "p2"]
    assert keys(people, filters={"or": [over_25, named]}) == ["p1", "p2", "p3", "p4"]
    young = {"property": "age", "condition": "LESS_THAN", "values": [25]}
    old = {"property": "age", "condition": "GREATER_THAN", "values": [45]}
    assert keys(people, filters={"or": [young, old]}) == ["p3", "p4"]
    assert keys(people, filters={"and": [young, old]}) == []


def test_filters_combine_with_range_and_partition(engine: Engine) -> None:
    for i in range(20):
        engine.entity_set(
            "employee", f"k{i:02d}", {"age": i, "gender": "fm"[i % 2], "name": f"N{i % 3}"}
        )
    result = keys(
        engine,
        "by-age-per-gender",
        partition=["f"],
        range={"condition": "GREATER_THAN_EQUAL_TO", "values": [6]},
        filters={"and": [{"property": "name", "condition": "EQUAL_TO", "values": ["N0"]}]},
        sort="DESC",
    )
    assert result == ["k18", "k12", "k06"]


# -- order and partitions --------------------------------------------------------------
def test_order_is_range_value_then_key_and_desc_reverses_both(engine: Engine) -> None:
    for key, age in [("d", 2), ("a", 2), ("c", 1), ("b", 2), ("e", 1)]:
        engine.entity_set("employee", key, {"age": age})
    assert keys(engine, "age") == ["c", "e", "a", "b", "d"]
    assert keys(engine, "age", sort="ASC") == ["c", "e", "a", "b", "d"]
    assert keys(engine, "age", sort="DESC") == ["d", "b", "a", "e", "c"]
    assert keys(engine) == ["a", "b", "c", "d", "e"]
    assert keys(engine, sort="DESC") == ["e", "d", "c", "b", "a"]


def test_partitions_in_declared_order(engine: Engine) -> None:
    engine.entity_set("employee", "1", {"team": "x", "gender": "f", "salary": 3})
    engine.entity_set("employee", "2", {"team": "x", "gender": "f", "salary": 1})
    engine.entity_set("employee", "3", {"team": "x", "gender": "m", "salary": 2})
    engine.entity_set("employee", "4", {"team": "f", "gender": "x", "salary": 2})
    engine.entity_set("employee", "5", {"team": "x", "salary": 2})  # no gender: not indexed
    index = "by-salary-per-team-gender"
    assert keys(engine, index, partition=["x", "f"]) == ["2", "1"]
    assert keys(engine, index, partition=["x", "m"]) == ["3"]
    assert keys(engine, index, partition=["f", "x"]) == ["4"]  # order matters
    assert keys(engine, index, partition=["x", "x"]) == []
    assert keys(
        engine, index, partition=["x", "f"], range={"condition": "LESS_THAN", "values": [2]}
    ) == ["2"]


def test_items_have_no_entity_name_and_carry_requested_metadata(
    engine: Engine, clock: time_machine.Traveller
) -> None:
    engine.entity_set("employee", "a", {"age": 1}, options={"ttl": {"value": 1, "unit": "HOURS"}})
    engine.entity_set("employee", "b", {"age": 2})
    now = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
    data = query(engine, options={"metadataFields": ["CREATED_AT", "EXPIRE_TIME"]})["data"]
    assert data == [
        {
            "key": "a",
            "value": {"age": 1},
            "createdAt": now,
            "expireTime": "2025-01-01T01:00:00.000Z",
        },
        {"key": "b", "value": {"age": 2}, "createdAt": now},
    ]
    assert query(engine)["data"] == [
        {"key": "a", "value": {"age": 1}},
        {"key": "b", "value": {"age": 2}},
    ]


# -- pages and cursors -----------------------------------------------------------------
def collect(engine: Engine, body: dict[str, Any]) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        page = query(engine, **body, **({"cursor": cursor} if cursor else {}))
        pages += 1
        seen += [item["key"] for item in page["data"]]
        cursor = page.get("cursor")
        if cursor is None:
            return seen, pages
        assert pages < 1000


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
@pytest.mark.parametrize(
    ("index", "extra", "select"),
    [
        ("by-key", {}, lambda v: True),
        ("age", {}, lambda v: True),
        ("by-age-per-gender", {"partition": ["f"]}, lambda v: v["gender"] == "f"),
        (
            "by-age-per-gender",
            {"partition": ["m"], "range": {"condition": "BETWEEN", "values": [100, 700]}},
            lambda v: v["gender"] == "m" and 100 <= v["age"] <= 700,
        ),
        (
            "name",
            {"range": {"condition": "BEGINS_WITH", "values": ["N1"]}},
            lambda v: v["name"].startswith("N1"),
        ),
    ],
)
def test_paginating_3000_records(
    engine: Engine, sort: str, index: str, extra: dict[str, Any], select: Any
) -> None:
    rng = random.Random(3000)
    records = {}
    for i in range(3000):
        value = {
            "age": rng.randrange(1000),
            "gender": rng.choice("fm"),
            "name": f"N{rng.randrange(300)}",
        }
        records[f"k{i:05d}"] = value
        engine.entity_set("employee", f"k{i:05d}", value)
    attr = {"by-key": None, "age": "age", "by-age-per-gender": "age", "name": "name"}[index]
    expected = sorted(
        (key for key, value in records.items() if select(value)),
        key=lambda key: (records[key][attr], key) if attr else key,
        reverse=sort == "DESC",
    )
    seen, pages = collect(engine, {"index": index, "sort": sort, "limit": 100, **extra})
    assert seen == expected
    assert len(set(seen)) == len(seen)
    assert pages == max(1, -(-len(expected) // 100))


def test_300_records_at_limit_100_are_exactly_3_pages(engine: Engine) -> None:
    for i in range(300):
        engine.entity_set("employee", f"k{i:03d}", {"age": i})
    first = query(engine, "age", limit=100)
    second = query(engine, "age", limit=100, cursor=first["cursor"])
    third = query(engine, "age", limit=100, cursor=second["cursor"])
    assert [len(page["data"]) for page in (first, second, third)] == [100, 100, 100]
    assert "cursor" not in third
    assert third["data"][-1]["key"] == "k299"
    assert "cursor" not in query(
        engine, "age", limit=100, range={"condition": "LESS_THAN", "values": [100]}
    )
    assert "cursor" in query(
        engine, "age", limit=100, range={"condition": "LESS_THAN", "values": [101]}
    )


def test_default_limit_is_10(engine: Engine) -> None:
    for i in range(11):
        engine.entity_set("employee", f"k{i:02d}", {"age": i})
    page = query(engine)
    assert len(page["data"]) == 10
    assert "cursor" in page


def test_filtered_page_may_be_empty_with_a_cursor(engine: Engine) -> None:
    for i in range(10):
        engine.entity_set("employee", f"k{i}", {"age": i, "name": "late" if i >= 8 else "early"})
    filters = {"and": [{"property": "name", "condition": "EQUAL_TO", "values": ["late"]}]}
    first = query(engine, "age", limit=4, filters=filters)
    assert first["data"] == []
    assert "cursor" in first
    second = query(engine, "age", limit=4, filters=filters, cursor=first["cursor"])
    assert second["data"] == []
    assert "cursor" in second
    third = query(engine, "age", limit=4, filters=filters, cursor=second["cursor"])
    assert [item["key"] for item in third["data"]] == ["k8", "k9"]
    assert "cursor" not in third


def test_cursor_is_absent_when_only_expired_items_follow(
    engine: Engine, clock: time_machine.Traveller
) -> None:
    for i in range(5):
        ttl = {"ttl": {"value": 1, "unit": "SECONDS"}} if i >= 3 else None
        engine.entity_set("employee", f"k{i}", {"age": i}, options=ttl)
    assert "cursor" in query(engine, "age", limit=3)
    clock.shift(1)
    page = query(engine, "age", limit=3)
    assert [item["key"] for item in page["data"]] == ["k0", "k1", "k2"]
    assert "cursor" not in page
    assert [len(index) for index in engine._entities.store("employee")._indexes.values()][:2] == [
        3,
        3,
    ]


def test_expired_items_inside_a_page_are_skipped(
    engine: Engine, clock: time_machine.Traveller
) -> None:
    for i in range(6):
        ttl = {"ttl": {"value": 1, "unit": "SECONDS"}} if i % 2 else None
        engine.entity_set("employee", f"k{i}", {"age": i}, options=ttl)
    clock.shift(1)
    page = query(engine, "age", limit=2, sort="DESC")
    assert [item["key"] for item in page["data"]] == ["k4", "k2"]
    assert "cursor" in page
    last = query(engine, "age", limit=2, sort="DESC", cursor=page["cursor"])
    assert [item["key"] for item in last["data"]] == ["k0"]
    assert "cursor" not in last


def test_cursor_survives_changes_between_pages(engine: Engine) -> None:
    for i in range(6):
        engine.entity_set("employee", f"k{i}", {"age": i * 10})
    first = query(engine, "age", limit=3)
    engine.entity_delete("employee", "k2")  # the cursor's own record goes away
    engine.entity_set("employee", "new", {"age": 25})
    rest = query(engine, "age", limit=3, cursor=first["cursor"])
    assert [item["key"] for item in rest["data"]] == ["new", "k3", "k4"]


def test_cursor_reused_with_other_parameters_resumes_after_its_position(engine: Engine) -> None:
    for i in range(10):
        engine.entity_set("employee", f"k{i}", {"age": i, "gender": "fm"[i % 2]})
    cursor = query(engine, "age", limit=4)["cursor"]  # position: age 3, k3
    assert keys(engine, "age", cursor=cursor, limit=100) == ["k4", "k5", "k6", "k7", "k8", "k9"]
    assert keys(engine, "age", cursor=cursor, sort="DESC") == ["k2", "k1", "k0"]
    assert keys(
        engine, "age", cursor=cursor, range={"condition": "GREATER_THAN", "values": [6]}
    ) == ["k7", "k8", "k9"]
    assert keys(engine, "age", cursor=cursor, range={"condition": "LESS_THAN", "values": [2]}) == []
    # A cursor from the partitioned index, used in another partition.
    cursor = query(engine, "by-age-per-gender", partition=["f"], limit=2)["cursor"]  # age 2, k2
    assert keys(engine, "by-age-per-gender", partition=["f"], cursor=cursor) == ["k4", "k6", "k8"]
    # ("f", ...) sorts before all of partition "m": ascending sees all of it, descending none.
    m_keys = ["k1", "k3", "k5", "k7", "k9"]
    assert keys(engine, "by-age-per-gender", partition=["m"], cursor=cursor) == m_keys
    assert keys(engine, "by-age-per-gender", partition=["m"], cursor=cursor, sort="DESC") == []
    # A by-key cursor on a string index has the right shape: it resumes after its position.
    key_cursor = query(engine, limit=3)["cursor"]
    assert _cursor.decode(key_cursor) == ["k2", "k2"]
    engine.entity_set("employee", "n1", {"name": "k1"})
    engine.entity_set("employee", "n5", {"name": "k5"})
    assert keys(engine, "name", cursor=key_cursor) == ["n5"]


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
def test_cursor_walk_sees_each_record_once_across_ties_and_overwrites(
    engine: Engine, sort: str
) -> None:
    # Index entries carry their record (no lookup by key): the cursor still holds only the
    # position, resumes strictly after it when that record was overwritten in place, and an
    # overwrite leaves exactly one entry per index.
    for i in range(23):
        engine.entity_set("employee", f"k{i:02d}", {"age": i % 4, "gender": "f"})
    seen: list[str] = []
    cursor = None
    while True:
        page = query(engine, "age", limit=5, sort=sort, **({"cursor": cursor} if cursor else {}))
        seen += [item["key"] for item in page["data"]]
        cursor = page.get("cursor")
        if cursor is None:
            break
        position = _cursor.decode(cursor)
        assert position == [page["data"][-1]["value"]["age"], page["data"][-1]["key"]]
        # Overwrite the cursor's record with the same indexed values (a new stored item).
        engine.entity_set("employee", position[1], {"age": position[0], "gender": "f"})
    expected = sorted((i % 4, f"k{i:02d}") for i in range(23))
    if sort == "DESC":
        expected.reverse()
    assert seen == [key for _, key in expected]
    store = engine._entities.store("employee")
    assert {name: len(index) for name, index in store._indexes.items()}["age"] == 23
    assert len(store._indexes["by-age-per-gender"]) == 23
    assert [item["key"] for item in query(engine, limit=100)["data"]] == sorted(seen)
