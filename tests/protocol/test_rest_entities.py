"""Custom entities over REST (ref §3, §4.2, §6), through real requests and httpx clients.

Every entity condition, filter, sort order and error code, driven with real HTTP calls; the
engine's own tests (tests/engine) cover the same rules without HTTP.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Client

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
    {"name": "by-age-per-gender", "range": ["age"], "partition": ["gender"]},
    {"name": "by-salary-per-team-gender", "range": ["salary"], "partition": ["team", "gender"]},
]

MANIFEST = """\
modules:
  jira:issuePanel:
    - key: hello-panel
      resource: main
      title: Hello
  endpoint:
    - key: remote-endpoint
      remote: backend
      auth:
        appSystemToken:
          enabled: true
remotes:
  - key: backend
    baseUrl: https://backend.example.com
    operations:
      - storage
      - compute
    storage:
      inScopeEUD: false
resources:
  - key: main
    path: static/hello/build
permissions:
  scopes:
    - storage:app
    - read:app-system-token
app:
  id: ari:cloud:ecosystem::app/00000000-0000-0000-0000-000000000000
  runtime:
    name: nodejs22.x
  storage:
    entities:
      - name: employee
        attributes:
          name: {type: string}
          age: {type: integer}
          salary: {type: float}
          active: {type: boolean}
          gender: {type: string}
          team: {type: string}
          profile: {type: any}
        indexes:
          - age
          - name
          - name: by-age-per-gender
            partition: [gender]
            range: [age]
          - name: by-salary-per-team-gender
            partition: [team, gender]
            range: [salary]
"""

STAFF: dict[str, dict[str, Any]] = {
    "e01": {"name": "Alice", "age": 30, "salary": 5000.5, "active": True, "gender": "f",
            "team": "red", "profile": {"langs": ["py"]}},
    "e02": {"name": "Bob", "age": 25, "salary": 4000, "active": False, "gender": "m",
            "team": "red"},
    "e03": {"name": "Carol", "age": 35, "salary": 7000.25, "active": True, "gender": "f",
            "team": "blue"},
    "e04": {"name": "Dave", "age": 30, "salary": 3000, "gender": "m", "team": "blue"},
    "e05": {"name": "Alan", "age": 40, "salary": 9000, "active": False, "gender": "m",
            "team": "red"},
    "e06": {"name": "Eve", "age": 20, "active": True, "gender": "f", "team": "red"},
    "e07": {"name": "Anna", "age": 50, "salary": 6000, "active": True, "gender": "f",
            "team": "red"},
    "x01": {"name": "Xavier", "age": 45, "salary": 1.5, "gender": "x", "team": "blue"},
}  # fmt: skip


@pytest.fixture(params=["define_entity", "manifest"])
def declared(request: pytest.FixtureRequest, forge_storage: Any, tmp_path: Path) -> str:
    """The ``employee`` entity, declared in Python or by a full Forge manifest."""
    if request.param == "define_entity":
        forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    else:
        manifest = tmp_path / "manifest.yml"
        manifest.write_text(MANIFEST, encoding="utf-8")
        assert forge_storage.load_manifest(manifest) == ["employee"]
    return "employee"


@pytest.fixture
def employee(forge_storage: Any) -> str:
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    return "employee"


@pytest.fixture
def rq(forge_storage: Any) -> Client:
    """requests only: for the long tables, where every client would only repeat the cost."""
    return Client("requests")


@pytest.fixture
def staff(forge_storage: Any) -> dict[str, dict[str, Any]]:
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    view = forge_storage.entity("employee")
    for key, value in STAFF.items():
        view[key] = value
    return STAFF


def query(client: Client, index: str = "by-key", **body: Any) -> Any:
    answer = client.post("entity/query", {"entityName": "employee", "indexName": index, **body})
    assert answer.status == 200, answer.text
    return answer.body


def keys(client: Client, index: str = "by-key", **body: Any) -> list[str]:
    return [item["key"] for item in query(client, index, **body)["data"]]


def rng(condition: str, *values: Any) -> dict[str, Any]:
    return {"condition": condition, "values": list(values)}


def cond(prop: str, condition: str, *values: Any) -> dict[str, Any]:
    return {"property": prop, "condition": condition, "values": list(values)}


# -- get / set / delete ------------------------------------------------------------------
def test_set_get_delete_round_trip(client: Client, declared: str, forge_storage: Any) -> None:
    employee = declared
    value = {"name": "Alice", "age": 30, "salary": 1.5, "active": False, "profile": [1, {"a": 2}]}
    answer = client.post("entity/set", {"entityName": employee, "key": "e1", "value": value})
    assert (answer.status, answer.text) == (204, "")
    got = client.post("entity/get", {"entityName": employee, "key": "e1"})
    assert (got.status, got.body) == (200, {"key": "e1", "value": value, "entityName": employee})
    assert forge_storage.entity(employee)["e1"] == value
    answer = client.post("entity/delete", {"entityName": employee, "key": "e1"})
    assert (answer.status, answer.text) == (204, "")
    assert client.post("entity/get", {"entityName": employee, "key": "e1"}).error() == (
        404,
        "KEY_NOT_FOUND",
    )
    assert "e1" not in forge_storage.entity(employee)


def test_delete_of_a_missing_record_is_404(client: Client, employee: str) -> None:
    answer = client.post("entity/delete", {"entityName": employee, "key": "nope"})
    assert answer.error() == (404, "KEY_NOT_FOUND")


def test_entities_kvs_and_secrets_are_disjoint(client: Client, employee: str) -> None:
    client.post("set", {"key": "k", "value": "plain"})
    client.post("secret/set", {"key": "k", "value": "hidden"})
    client.post("entity/set", {"entityName": employee, "key": "k", "value": {"age": 1}})
    assert client.post("get", {"key": "k"}).body["value"] == "plain"
    assert client.post("entity/get", {"entityName": employee, "key": "k"}).body["value"] == {
        "age": 1
    }
    assert [i["key"] for i in client.post("query", {}).body["data"]] == ["k"]
    client.post("delete", {"key": "k"})
    assert client.post("entity/get", {"entityName": employee, "key": "k"}).status == 200


def test_entity_get_metadata_only_when_requested(
    client: Client, employee: str, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 1, 1, tzinfo=timezone.utc), tick=False)
    options = {"ttl": {"value": 2, "unit": "DAYS"}}
    body = {"entityName": employee, "key": "e", "value": {"age": 1}, "options": options}
    client.post("entity/set", body)
    time_machine.move_to(datetime(2026, 1, 1, 12, tzinfo=timezone.utc), tick=False)
    client.post("entity/set", {**body, "value": {"age": 2}})
    fields = ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]
    got = client.post(
        "entity/get", {"entityName": employee, "key": "e", "options": {"metadataFields": fields}}
    )
    assert got.body == {
        "key": "e",
        "value": {"age": 2},
        "entityName": employee,
        "createdAt": 1767225600000,
        "updatedAt": 1767268800000,
        "expireTime": "2026-01-03T12:00:00.000Z",
    }


def test_return_value_latest_and_previous(client: Client, employee: str) -> None:
    base = {"entityName": employee, "key": "e"}
    latest = {"returnValue": "LATEST", "returnMetadataFields": ["CREATED_AT"]}
    answer = client.post("entity/set", {**base, "value": {"age": 1}, "options": latest})
    assert answer.status == 200
    assert set(answer.body) == {"key", "value", "entityName", "createdAt"}
    assert answer.body["value"] == {"age": 1}
    assert answer.body["entityName"] == employee
    previous = {"keyPolicy": "OVERRIDE", "returnValue": "PREVIOUS"}
    answer = client.post("entity/set", {**base, "value": {"age": 2}, "options": previous})
    assert (answer.status, answer.body) == (
        200,
        {"key": "e", "value": {"age": 1}, "entityName": employee},
    )
    fresh = {"entityName": employee, "key": "new", "value": {"age": 3}, "options": previous}
    answer = client.post("entity/set", fresh)
    assert (answer.status, answer.text) == (204, "")


def test_fail_if_exists_is_key_conflict_and_writes_nothing(
    client: Client, employee: str, forge_storage: Any, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 1, 1, tzinfo=timezone.utc), tick=False)
    options = {"keyPolicy": "FAIL_IF_EXISTS"}
    body = {"entityName": employee, "key": "e", "value": {"age": 1}, "options": options}
    assert client.post("entity/set", body).status == 204
    answer = client.post("entity/set", {**body, "value": {"age": 2}})
    assert answer.error() == (409, "KEY_CONFLICT")
    assert forge_storage.entity(employee)["e"] == {"age": 1}
    assert keys(client, "age", range=rng("EQUAL_TO", 2)) == []
    # an expired record does not conflict
    ttl = {"ttl": {"value": 1, "unit": "MINUTES"}}
    client.post(
        "entity/set", {"entityName": employee, "key": "t", "value": {"age": 5}, "options": ttl}
    )
    time_machine.shift(timedelta(minutes=1))
    assert client.post("entity/set", {**body, "key": "t"}).status == 204


def test_fail_if_exists_with_return_value_is_rejected(client: Client, employee: str) -> None:
    options = {"keyPolicy": "FAIL_IF_EXISTS", "returnValue": "LATEST"}
    body = {"entityName": employee, "key": "e", "value": {"age": 1}, "options": options}
    assert client.post("entity/set", body).error() == (
        400,
        "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION",
    )


# -- key and entity-name codes -----------------------------------------------------------
ENTITY_OPERATIONS = ["entity/get", "entity/set", "entity/delete"]


def _record_body(operation: str, entity: Any, key: Any) -> dict[str, Any]:
    body = {"entityName": entity, "key": key}
    if operation == "entity/set":
        body["value"] = {"age": 1}
    return body


@pytest.mark.parametrize(
    ("key", "code"),
    [("", "EMPTY_KEY"), ("k" * 501, "KEY_TOO_LONG"), ("a/b", "INVALID_KEY"),
     ("a@b", "INVALID_KEY"), ("   ", "INVALID_KEY"), ("ü", "INVALID_KEY")],
)  # fmt: skip
@pytest.mark.parametrize("operation", ENTITY_OPERATIONS)
def test_key_codes(rq: Client, employee: str, operation: str, key: str, code: str) -> None:
    assert rq.post(operation, _record_body(operation, employee, key)).error() == (400, code)


@pytest.mark.parametrize(
    ("entity", "code"),
    [
        ("", "ENTITY_TYPE_TOO_SHORT"),
        ("ab", "ENTITY_TYPE_TOO_SHORT"),
        ("e" * 61, "ENTITY_TYPE_TOO_LARGE"),
        ("Employee", "INVALID_ENTITY_TYPE"),
        ("_emp", "INVALID_ENTITY_TYPE"),
        ("-emp", "INVALID_ENTITY_TYPE"),
        ("emp..x", "INVALID_ENTITY_TYPE"),
        ("emp.", "INVALID_ENTITY_TYPE"),
        ("emp/x", "INVALID_ENTITY_TYPE"),
        ("manager", "INVALID_ENTITY_TYPE"),  # well-formed but undeclared (decision 9)
        ("abc", "INVALID_ENTITY_TYPE"),
        ("e" * 60, "INVALID_ENTITY_TYPE"),
    ],
)
@pytest.mark.parametrize("operation", [*ENTITY_OPERATIONS, "entity/query"])
def test_entity_name_codes(
    rq: Client, employee: str, operation: str, entity: str, code: str
) -> None:
    if operation == "entity/query":
        body: dict[str, Any] = {"entityName": entity, "indexName": "by-key"}
    else:
        body = _record_body(operation, entity, "k")
    assert rq.post(operation, body).error() == (400, code)


def test_names_at_the_length_edges_are_valid(client: Client, forge_storage: Any) -> None:
    for name in ("abc", "a" * 60, "my-app:emp_1.v2"):
        forge_storage.define_entity(name, {"n": "integer"})
        body = {"entityName": name, "key": "k", "value": {"n": 1}}
        assert client.post("entity/set", body).status == 204
        assert client.post("entity/get", {"entityName": name, "key": "k"}).status == 200


def test_a_bad_key_is_reported_before_a_bad_entity_name(client: Client) -> None:
    body = {"entityName": "ab", "key": "", "value": {}}
    assert client.post("entity/set", body).error() == (400, "EMPTY_KEY")


# -- values ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        {"age": "30"},
        {"age": 1.5},
        {"age": True},
        {"age": 2**31},
        {"age": -(2**31) - 1},
        {"salary": "1.5"},
        {"salary": False},
        {"salary": 1e200},
        {"active": 1},
        {"active": "true"},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": ["Alice"]},
        {"nickname": "Al"},  # undeclared attribute (decision 9)
        {"age": None},
        {"profile": None},
    ],
)
def test_invalid_entity_values(rq: Client, employee: str, value: Any) -> None:
    body = {"entityName": employee, "key": "e", "value": value}
    assert rq.post("entity/set", body).error() == (400, "INVALID_ENTITY_VALUE")
    assert rq.post("entity/get", {"entityName": employee, "key": "e"}).status == 404


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"age": 2**31 - 1},
        {"age": -(2**31)},
        {"salary": 3},  # a float attribute accepts integers
        {"salary": 0},
        {"salary": -2.5e-100},
        {"name": " x "},
        {"profile": "text"},
        {"profile": 1},
        {"profile": False},
        {"profile": [1, "a"]},
        {"profile": {"nested": {"deep": [True]}}},
    ],
)
def test_valid_entity_values(rq: Client, employee: str, value: Any) -> None:
    body = {"entityName": employee, "key": "e", "value": value}
    assert rq.post("entity/set", body).status == 204
    assert rq.post("entity/get", {"entityName": employee, "key": "e"}).body["value"] == value


@pytest.mark.parametrize("value", [[1], "x", 1, None])
def test_a_non_object_value_is_bad_request(client: Client, employee: str, value: Any) -> None:
    body = {"entityName": employee, "key": "e", "value": value}
    assert client.post("entity/set", body).error() == (400, "BAD_REQUEST")


# -- query errors ------------------------------------------------------------------------
QUERY_ERRORS: list[tuple[dict[str, Any], int, str]] = [
    ({"indexName": "by-team"}, 400, "INVALID_ENTITY_INDEX"),
    ({"indexName": "profile"}, 400, "INVALID_ENTITY_INDEX"),
    ({"indexName": "by-key", "limit": 0}, 400, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE"),
    ({"indexName": "by-key", "limit": 101}, 400, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE"),
    ({"indexName": "by-key", "limit": -5}, 400, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE"),
    (
        {"indexName": "by-key", "filters": {"and": [cond("age", "EXISTS", True)],
                                            "or": [cond("name", "EXISTS", True)]}},
        400, "INVALID_FILTER_OPERATORS_COMBINATION",
    ),
    ({"indexName": "by-key", "filters": {"and": [], "or": []}}, 400,
     "INVALID_FILTER_OPERATORS_COMBINATION"),
    ({"indexName": "by-key", "filters": {"and": []}}, 400, "EMPTY_FILTER_OPERATOR"),
    ({"indexName": "by-key", "filters": {"or": []}}, 400, "EMPTY_FILTER_OPERATOR"),
    ({"indexName": "by-key", "filters": {"and": [cond("age", "BETWEEN", 1)]}}, 400,
     "INSUFFICIENT_FILTER_VALUES"),
    ({"indexName": "age", "range": rng("BETWEEN", 1)}, 400, "INSUFFICIENT_FILTER_VALUES"),
    ({"indexName": "by-key", "filters": {"or": [cond("age", "EQUAL_TO")]}}, 400,
     "INSUFFICIENT_FILTER_VALUES"),
    # conditions on `any` attributes: 422 (ref §4.2, [DOC:entities-api-query])
    ({"indexName": "by-key", "filters": {"and": [cond("profile", "EXISTS", True)]}}, 422,
     "UNPROCESSABLE_ENTITY"),
    ({"indexName": "by-key", "filters": {"or": [cond("profile", "EQUAL_TO", "x")]}}, 422,
     "UNPROCESSABLE_ENTITY"),
    # schema violations and the rest of the request's shape: BAD_REQUEST
    ({}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "limit": "10"}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "sort": "asc"}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "cursor": "c"}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "after": "c"}, 400, "BAD_REQUEST"),  # `cursor`, not `after`
    ({"indexName": "by-key", "filters": {}}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "range": rng("CONTAINS", "a")}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "range": rng("BETWEEN", "a", "b", "c")}, 400, "BAD_REQUEST"),
    ({"indexName": "age", "range": rng("BEGINS_WITH", "3")}, 400, "BAD_REQUEST"),
    ({"indexName": "age", "range": rng("EQUAL_TO", "30")}, 400, "BAD_REQUEST"),
    ({"indexName": "by-key", "filters": {"and": [cond("nickname", "EXISTS", True)]}}, 400,
     "BAD_REQUEST"),
    ({"indexName": "by-key", "filters": {"and": [cond("age", "CONTAINS", "3")]}}, 400,
     "BAD_REQUEST"),
    ({"indexName": "by-age-per-gender"}, 400, "BAD_REQUEST"),  # partition missing
    ({"indexName": "by-age-per-gender", "partition": [1]}, 400, "BAD_REQUEST"),
    ({"indexName": "by-salary-per-team-gender", "partition": ["red"]}, 400, "BAD_REQUEST"),
    ({"indexName": "age", "partition": ["f"]}, 400, "BAD_REQUEST"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "code"), QUERY_ERRORS)
def test_query_errors(
    rq: Client, employee: str, body: dict[str, Any], status: int, code: str
) -> None:
    answer = rq.post("entity/query", {"entityName": employee, **body})
    assert answer.error() == (status, code)


@pytest.mark.parametrize("limit", [0, 101])
def test_the_specific_limit_code_wins_over_the_schema(
    client: Client, employee: str, limit: int
) -> None:
    # the spec declares minimum 1 / maximum 100 on limit; design §2.4: the specific code wins
    body = {"entityName": employee, "indexName": "by-key", "limit": limit}
    answer = client.post("entity/query", body)
    assert answer.error() == (400, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE")
    assert str(limit) in answer.body["message"]


def test_the_specific_filter_value_code_wins_over_the_schema(client: Client, employee: str) -> None:
    # a BETWEEN filter with one value satisfies the schema (minItems 1): the engine's code
    filters = {"and": [cond("age", "BETWEEN", 20)]}
    body = {"entityName": employee, "indexName": "by-key", "filters": filters}
    assert client.post("entity/query", body).error() == (400, "INSUFFICIENT_FILTER_VALUES")
    # with no value at all the schema's minItems would fire first; the specific code still wins
    filters = {"and": [cond("age", "BETWEEN")]}
    body = {"entityName": employee, "indexName": "by-key", "filters": filters}
    assert client.post("entity/query", body).error() == (400, "INSUFFICIENT_FILTER_VALUES")


@pytest.mark.parametrize("limit", [1, 100])
def test_limits_at_the_edges_are_served(client: Client, staff: Any, limit: int) -> None:
    assert len(keys(client, limit=limit)) == min(limit, len(staff))


# -- range conditions --------------------------------------------------------------------
RANGES: list[tuple[str, dict[str, Any], list[str]]] = [
    # by-key: the key is the range (strings)
    ("by-key", rng("BEGINS_WITH", "e0"), ["e01", "e02", "e03", "e04", "e05", "e06", "e07"]),
    ("by-key", rng("BEGINS_WITH", "x"), ["x01"]),
    ("by-key", rng("BETWEEN", "e02", "e04"), ["e02", "e03", "e04"]),
    ("by-key", rng("EQUAL_TO", "e05"), ["e05"]),
    ("by-key", rng("GREATER_THAN", "e06"), ["e07", "x01"]),
    ("by-key", rng("GREATER_THAN_EQUAL_TO", "e06"), ["e06", "e07", "x01"]),
    ("by-key", rng("LESS_THAN", "e03"), ["e01", "e02"]),
    ("by-key", rng("LESS_THAN_EQUAL_TO", "e03"), ["e01", "e02", "e03"]),
    # an integer index: ordered by (age, key); BETWEEN is inclusive (design §2.4)
    ("age", rng("BETWEEN", 25, 35), ["e02", "e01", "e04", "e03"]),
    ("age", rng("BETWEEN", 30, 30), ["e01", "e04"]),
    ("age", rng("EQUAL_TO", 30), ["e01", "e04"]),
    ("age", rng("GREATER_THAN", 40), ["x01", "e07"]),
    ("age", rng("GREATER_THAN_EQUAL_TO", 40), ["e05", "x01", "e07"]),
    ("age", rng("LESS_THAN", 30), ["e06", "e02"]),
    ("age", rng("LESS_THAN_EQUAL_TO", 30), ["e06", "e02", "e01", "e04"]),
    # a string index
    ("name", rng("BEGINS_WITH", "A"), ["e05", "e01", "e07"]),
    ("name", rng("BETWEEN", "Bob", "Dave"), ["e02", "e03", "e04"]),
    ("name", rng("GREATER_THAN", "Dave"), ["e06", "x01"]),
]


@pytest.mark.parametrize(("index", "condition", "expected"), RANGES)
def test_range_conditions(
    rq: Client, staff: Any, index: str, condition: dict[str, Any], expected: list[str]
) -> None:
    assert keys(rq, index, range=condition, limit=100) == expected
    descending = keys(rq, index, range=condition, limit=100, sort="DESC")
    assert descending == list(reversed(expected))


def test_a_float_index_range_compares_integers_and_floats(client: Client, staff: Any) -> None:
    partition = ["red", "m"]
    index = "by-salary-per-team-gender"
    assert keys(client, index, partition=partition) == ["e02", "e05"]
    got = keys(client, index, partition=partition, range=rng("BETWEEN", 4000.0, 8999.99))
    assert got == ["e02"]
    assert keys(client, index, partition=["red", "f"], range=rng("GREATER_THAN", 5000)) == [
        "e01",
        "e07",
    ]


def test_records_without_the_range_attribute_are_not_in_the_index(
    client: Client, staff: Any
) -> None:
    # e06 has no salary: it is in by-key but not in the salary index
    assert "e06" in keys(client, limit=100)
    assert keys(client, "by-salary-per-team-gender", partition=["red", "f"]) == ["e01", "e07"]


# -- filter conditions -------------------------------------------------------------------
FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({"and": [cond("name", "BEGINS_WITH", "A")]}, ["e01", "e05", "e07"]),
    ({"and": [cond("age", "BETWEEN", 30, 40)]}, ["e01", "e03", "e04", "e05"]),
    ({"and": [cond("active", "EQUAL_TO", True)]}, ["e01", "e03", "e06", "e07"]),
    ({"and": [cond("active", "NOT_EQUAL_TO", True)]}, ["e02", "e05"]),
    ({"and": [cond("age", "GREATER_THAN", 40)]}, ["e07", "x01"]),
    ({"and": [cond("age", "GREATER_THAN_EQUAL_TO", 40)]}, ["e05", "e07", "x01"]),
    ({"and": [cond("salary", "LESS_THAN", 4000)]}, ["e04", "x01"]),
    ({"and": [cond("salary", "LESS_THAN_EQUAL_TO", 4000)]}, ["e02", "e04", "x01"]),
    ({"and": [cond("active", "EXISTS", True)]}, ["e01", "e02", "e03", "e05", "e06", "e07"]),
    ({"and": [cond("salary", "NOT_EXISTS", True)]}, ["e06"]),
    ({"and": [cond("name", "CONTAINS", "n")]}, ["e05", "e07"]),
    ({"and": [cond("name", "NOT_CONTAINS", "a")]}, ["e01", "e02", "e06"]),
    ({"and": [cond("team", "EQUAL_TO", "blue"), cond("age", "LESS_THAN", 40)]}, ["e03", "e04"]),
    ({"or": [cond("team", "EQUAL_TO", "blue"), cond("age", "LESS_THAN", 25)]},
     ["e03", "e04", "e06", "x01"]),
    ({"or": [cond("salary", "GREATER_THAN", 8000), cond("name", "EQUAL_TO", "Bob")]},
     ["e02", "e05"]),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "expected"), FILTERS)
def test_filter_conditions(
    rq: Client, staff: Any, filters: dict[str, Any], expected: list[str]
) -> None:
    assert keys(rq, filters=filters, limit=100) == expected


def test_filters_combine_with_a_range_and_a_partition(client: Client, staff: Any) -> None:
    got = keys(
        client,
        "by-age-per-gender",
        partition=["f"],
        range=rng("GREATER_THAN_EQUAL_TO", 30),
        filters={"and": [cond("team", "EQUAL_TO", "red")]},
        sort="DESC",
    )
    assert got == ["e07", "e01"]


def test_filters_apply_after_the_page_is_cut(client: Client, staff: Any) -> None:
    # decision 9: limit 3 cuts e01..e03, then the filter keeps none of them; the cursor is
    # still there because further records exist in the range
    filters = {"and": [cond("name", "EQUAL_TO", "Anna")]}
    first = query(client, filters=filters, limit=3)
    assert first["data"] == []
    assert "cursor" in first
    second = query(client, filters=filters, limit=3, cursor=first["cursor"])
    assert second["data"] == []
    assert "cursor" in second
    third = query(client, filters=filters, limit=3, cursor=second["cursor"])
    assert [i["key"] for i in third["data"]] == ["e07"]
    assert "cursor" not in third


# -- sort, partition, limit, response shape ----------------------------------------------
def test_default_sort_is_asc_and_default_limit_is_10(client: Client, forge_storage: Any) -> None:
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    view = forge_storage.entity("employee")
    for i in range(12):
        view[f"k{i:02}"] = {"age": 50 - i}
    body = query(client)
    assert [i["key"] for i in body["data"]] == [f"k{i:02}" for i in range(10)]
    assert "cursor" in body
    assert keys(client, "age", limit=3) == ["k11", "k10", "k09"]
    assert keys(client, "age", limit=3, sort="DESC") == ["k00", "k01", "k02"]
    assert keys(client, "age", limit=3, sort="ASC") == ["k11", "k10", "k09"]


def test_equal_range_values_are_ordered_by_key(client: Client, forge_storage: Any) -> None:
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    view = forge_storage.entity("employee")
    for key in ["c", "a", "d", "b"]:
        view[key] = {"age": 7}
    assert keys(client, "age") == ["a", "b", "c", "d"]
    assert keys(client, "age", sort="DESC") == ["d", "c", "b", "a"]


def test_partitions_match_exactly_in_declared_order(client: Client, staff: Any) -> None:
    assert keys(client, "by-age-per-gender", partition=["f"]) == ["e06", "e01", "e03", "e07"]
    assert keys(client, "by-age-per-gender", partition=["m"]) == ["e02", "e04", "e05"]
    assert keys(client, "by-age-per-gender", partition=["F"]) == []
    index = "by-salary-per-team-gender"
    assert keys(client, index, partition=["blue", "m"]) == ["e04"]
    assert keys(client, index, partition=["m", "blue"]) == []  # wrong order: nothing matches


def test_query_items_carry_no_entity_name_and_metadata_on_request(
    client: Client, staff: Any
) -> None:
    body = query(client, limit=2)
    assert body["data"] == [
        {"key": "e01", "value": STAFF["e01"]},
        {"key": "e02", "value": STAFF["e02"]},
    ]
    fields = ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]
    body = query(client, limit=1, options={"metadataFields": fields})
    assert set(body["data"][0]) == {"key", "value", "createdAt", "updatedAt"}


def test_an_empty_entity_answers_no_data_and_no_cursor(client: Client, employee: str) -> None:
    answer = client.post("entity/query", {"entityName": employee, "indexName": "age"})
    assert (answer.status, answer.body) == (200, {"data": []})


# -- pagination --------------------------------------------------------------------------
N_RECORDS = 2000
GENDERS = ("f", "m")


@pytest.fixture
def many(forge_storage: Any) -> dict[str, dict[str, Any]]:
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    view = forge_storage.entity("employee")
    records = {}
    for i in range(N_RECORDS):
        # ages repeat, so the (age, key) tie-break is exercised on every page boundary
        records[f"emp-{i:05}"] = {"age": (i * 7919) % 97, "gender": GENDERS[i % 2]}
    for key, value in records.items():
        view[key] = value
    return records


def _collect(client: Client, **body: Any) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        extra = {"cursor": cursor} if cursor is not None else {}
        answer = query(client, limit=100, **body, **extra)
        pages += 1
        assert len(answer["data"]) <= 100
        seen.extend(item["key"] for item in answer["data"])
        cursor = answer.get("cursor")
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("sort", ["ASC", "DESC"])
@pytest.mark.parametrize("partitioned", [False, True], ids=["age", "by-age-per-gender"])
def test_cursor_pagination_collects_each_record_once_in_order(
    many: dict[str, dict[str, Any]], forge_storage: Any, sort: str, partitioned: bool
) -> None:
    client = Client("requests")
    expected = sorted(
        (key for key, value in many.items() if not partitioned or value["gender"] == "f"),
        key=lambda key: (many[key]["age"], key),
        reverse=sort == "DESC",
    )
    if partitioned:
        seen, pages = _collect(client, index="by-age-per-gender", partition=["f"], sort=sort)
    else:
        seen, pages = _collect(client, index="age", sort=sort)
    assert seen == expected
    assert len(set(seen)) == len(seen)
    assert pages == len(expected) // 100  # full last page: no extra empty page (design §2.4)


def test_by_key_pagination_through_every_client(client: Client, many: Any) -> None:
    seen, pages = _collect(client, range=rng("BEGINS_WITH", "emp-01"))
    assert seen == [f"emp-{i:05}" for i in range(1000, 2000)]
    assert pages == 10


def test_300_records_at_limit_100_are_3_pages(client: Client, forge_storage: Any) -> None:
    forge_storage.define_entity("employee", ATTRIBUTES, INDEXES)
    view = forge_storage.entity("employee")
    for i in range(300):
        view[f"k{i:03}"] = {"age": i}
    seen, pages = _collect(client, index="age")
    assert (len(seen), pages) == (300, 3)


# -- indexes follow updates, deletes and expiry ------------------------------------------
def test_indexes_follow_updates_and_deletes(client: Client, staff: Any) -> None:
    body = {"entityName": "employee", "key": "e01", "value": {"name": "Alice", "age": 99}}
    assert client.post("entity/set", body).status == 204
    assert "e01" not in keys(client, "age", range=rng("EQUAL_TO", 30))
    assert keys(client, "age", range=rng("EQUAL_TO", 99)) == ["e01"]
    # the new value has no gender: e01 left the partitioned index
    assert "e01" not in keys(client, "by-age-per-gender", partition=["f"], limit=100)
    client.post("entity/delete", {"entityName": "employee", "key": "e04"})
    assert keys(client, "age", range=rng("EQUAL_TO", 30)) == []
    assert "e04" not in keys(client, "name", limit=100)
    assert "e04" not in keys(client, limit=100)


def test_indexes_follow_expiry(client: Client, employee: str, time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 5, 1, tzinfo=timezone.utc), tick=False)
    for key, minutes in [("a", 1), ("b", 2), ("c", None)]:
        body: dict[str, Any] = {"entityName": employee, "key": key, "value": {"age": 1}}
        if minutes:
            body["options"] = {"ttl": {"value": minutes, "unit": "MINUTES"}}
        client.post("entity/set", body)
    assert keys(client, "age") == ["a", "b", "c"]
    time_machine.shift(timedelta(seconds=59))
    assert keys(client, "age", range=rng("EQUAL_TO", 1)) == ["a", "b", "c"]
    time_machine.shift(timedelta(seconds=1))
    assert keys(client, "age", range=rng("EQUAL_TO", 1)) == ["b", "c"]
    assert keys(client, "by-key", sort="DESC") == ["c", "b"]
    time_machine.shift(timedelta(minutes=1))
    assert keys(client, "age") == ["c"]
    assert client.post("entity/get", {"entityName": employee, "key": "b"}).error() == (
        404,
        "KEY_NOT_FOUND",
    )


def test_an_expired_record_does_not_hold_a_cursor_open(
    client: Client, employee: str, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2026, 5, 1, tzinfo=timezone.utc), tick=False)
    client.post("entity/set", {"entityName": employee, "key": "a", "value": {"age": 1}})
    ttl = {"ttl": {"value": 5, "unit": "SECONDS"}}
    body = {"entityName": employee, "key": "b", "value": {"age": 2}, "options": ttl}
    client.post("entity/set", body)
    time_machine.shift(5)
    assert query(client, "age", limit=1) == {"data": [{"key": "a", "value": {"age": 1}}]}


# -- the SDK's exact bodies (ref §3.4, §14.4) --------------------------------------------
def test_the_sdk_query_body_of_ref_3_4(client: Client, forge_storage: Any) -> None:
    forge_storage.define_entity(
        "employee",
        {"name": "string", "age": "integer", "gender": "string", "x": "string"},
        [{"name": "by-age-per-gender", "partition": ["gender"], "range": ["age"]}],
    )
    view = forge_storage.entity("employee")
    for i in range(25):
        value = {"name": f"A{i}" if i % 2 else f"B{i}", "age": i + 5, "gender": "f"}
        if i % 4 != 1:
            value["x"] = "y"
        view[f"k{i:02}"] = value
    # verbatim, apart from the cursor: "c" stands for the cursor of a previous page
    body = {
        "entityName": "employee",
        "indexName": "by-age-per-gender",
        "partition": ["f"],
        "range": {"condition": "BETWEEN", "values": [20, 30]},
        "sort": "DESC",
        "limit": 10,
        "options": {"metadataFields": ["EXPIRE_TIME"]},
        "filters": {
            "and": [
                {"property": "name", "condition": "BEGINS_WITH", "values": ["A"]},
                {"property": "x", "condition": "EXISTS", "values": [True]},
            ]
        },
    }
    first = client.post("entity/query", body)
    assert first.status == 200
    assert first.body == {
        "data": [{"key": k, "value": view[k]} for k in ("k23", "k19", "k15")]
    }  # ages 29..20 fill the page of 10; nothing further in the range: no cursor
    pages, cursor = [], None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        answer = client.post("entity/query", {**body, "limit": 3, **extra}).body
        pages.append([item["key"] for item in answer["data"]])
        cursor = answer.get("cursor")
        if cursor is None:
            break
    assert pages == [["k23"], ["k19"], [], ["k15"]]


def test_the_sdk_record_bodies_of_ref_14_4(client: Client, employee: str) -> None:
    options = {"ttl": {"value": 5, "unit": "MINUTES"}}
    body = {"entityName": employee, "key": "k", "value": {"age": 1}, "options": options}
    assert client.post("entity/set", body).status == 204
    got = client.post(
        "entity/get",
        {"entityName": employee, "key": "k", "options": {"metadataFields": ["CREATED_AT"]}},
    )
    assert set(got.body) == {"key", "value", "entityName", "createdAt"}
    assert client.post("entity/get", {"entityName": employee, "key": "k"}).status == 200
    assert client.post("entity/delete", {"entityName": employee, "key": "k"}).status == 204


def test_every_query_key_the_sdk_sends(client: Client, staff: Any) -> None:
    # kvs.entity(e).query({metadataFields}).index(i, {partition}).where(c).filters(f)
    #    .sort(s).cursor(c).limit(n).getMany()   (ref §14.4)
    body = {
        "entityName": "employee",
        "indexName": "by-age-per-gender",
        "partition": ["m"],
        "range": {"condition": "GREATER_THAN", "values": [20]},
        "filters": {"or": [{"property": "team", "condition": "EQUAL_TO", "values": ["blue"]}]},
        "sort": "ASC",
        "limit": 1,
        "options": {"metadataFields": ["UPDATED_AT"]},
    }
    first = client.post("entity/query", body).body
    assert first["data"] == []  # e02 (red) is cut and filtered out
    second = client.post("entity/query", {**body, "cursor": first["cursor"]}).body
    assert [i["key"] for i in second["data"]] == ["e04"]
    assert set(second["data"][0]) == {"key", "value", "updatedAt"}


# -- a real manifest, loaded unchanged ---------------------------------------------------
def test_a_full_forge_manifest_declares_only_its_entities(
    client: Client, forge_storage: Any, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.yml"
    manifest.write_text(textwrap.dedent(MANIFEST), encoding="utf-8")
    assert forge_storage.load_manifest(manifest) == ["employee"]
    partitions = {"by-age-per-gender": ["f"], "by-salary-per-team-gender": ["red", "f"]}
    for index in ["by-key", "age", "name", *partitions]:
        assert query(client, index, partition=partitions.get(index, [])) == {"data": []}
    body = {"entityName": "employee", "key": "k", "value": {"age": 1, "gender": "f"}}
    assert client.post("entity/set", body).status == 204
    assert keys(client, "by-age-per-gender", partition=["f"]) == ["k"]
