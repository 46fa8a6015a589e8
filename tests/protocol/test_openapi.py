"""The bundled OpenAPI spec and request validation against it.

Request bodies are the ones ``@forge/kvs@1.6.5`` sends, copied from the reference
(``shared/reference/forge-storage-api.md``, cited as ``ref §N``).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_forge_storage._errors import ForgeStorageError
from pytest_forge_storage.protocol import openapi
from pytest_forge_storage.protocol._schema_check import compile_schema
from pytest_forge_storage.protocol.openapi import (
    OPERATIONS,
    documented_statuses,
    spec,
    validate_request,
)

ROOT = Path(__file__).resolve().parents[2]

KVS_OPERATIONS = ("get", "set", "delete", "secret/get", "secret/set", "secret/delete")
GET_DELETE = ("get", "delete", "secret/get", "secret/delete", "entity/get", "entity/delete")
SETS = ("set", "secret/set", "entity/set")
NO_CONTENT = ("delete", "secret/delete", "entity/delete", "transaction")

# -- valid bodies: every one of them must pass ------------------------------------------------

ENTITY_QUERY_BODY = {  # ref §3.4, verbatim
    "entityName": "employee",
    "indexName": "by-age-per-gender",
    "partition": ["f"],
    "range": {"condition": "BETWEEN", "values": [20, 30]},
    "sort": "DESC",
    "limit": 10,
    "cursor": "c",
    "options": {"metadataFields": ["EXPIRE_TIME"]},
    "filters": {
        "and": [
            {"property": "name", "condition": "BEGINS_WITH", "values": ["A"]},
            {"property": "x", "condition": "EXISTS", "values": [True]},
        ]
    },
}
TRANSACTION_BODY = {  # ref §10, verbatim
    "set": [
        {"key": "a", "value": 1, "options": {"ttl": {"value": 1, "unit": "SECONDS"}}},
        {
            "key": "e1",
            "value": {"age": 1},
            "entityName": "employee",
            "conditions": {"and": [{"property": "age", "condition": "LESS_THAN", "values": [5]}]},
        },
    ],
    "delete": [{"key": "b"}, {"key": "e2", "entityName": "employee"}],
    "check": [
        {
            "key": "e3",
            "entityName": "employee",
            "conditions": {"or": [{"property": "age", "condition": "EXISTS", "values": [True]}]},
        }
    ],
}
FULL_SET_OPTIONS = {  # ref §3.2 ExtendedSetOptions, §14.4
    "ttl": {"value": 38, "unit": "SECONDS"},
    "keyPolicy": "OVERRIDE",
    "returnValue": "PREVIOUS",
    "returnMetadataFields": ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"],
}

VALID: list[tuple[str, Any]] = [
    # ref §3.1
    ("get", {"key": "foo"}),
    ("get", {"key": "foo", "options": {"metadataFields": ["CREATED_AT"]}}),
    ("get", {"key": "foo", "options": {}}),
    ("set", {"key": "foo", "value": {"a": 1}}),
    ("set", {"key": "foo", "value": "bar", "options": FULL_SET_OPTIONS}),
    ("set", {"key": "foo", "value": 1, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}),
    ("set", {"key": "foo", "value": 1, "options": {"returnValue": "LATEST"}}),
    ("delete", {"key": "foo"}),
    (
        "query",
        {
            "limit": 5,
            "after": "c1",
            "where": [{"property": "key", "condition": "BEGINS_WITH", "values": ["fo"]}],
            "options": {"metadataFields": ["CREATED_AT", "UPDATED_AT", "EXPIRE_TIME"]},
        },
    ),
    ("query", {"limit": 1}),  # getOne()
    ("query", {}),
    ("secret/get", {"key": "foo"}),
    ("secret/get", {"key": "foo", "options": {"metadataFields": ["UPDATED_AT"]}}),
    ("secret/set", {"key": "s", "value": {"token": "x"}}),
    ("secret/set", {"key": "s", "value": "x", "options": {"ttl": {"value": 1, "unit": "DAYS"}}}),
    ("secret/delete", {"key": "s"}),
    ("entity/get", {"entityName": "employee", "key": "k"}),
    ("entity/get", {"entityName": "employee", "key": "k", "options": {"metadataFields": []}}),
    (
        "entity/set",
        {
            "entityName": "employee",
            "key": "k",
            "value": {"age": 1},
            "options": {"ttl": {"value": 5, "unit": "MINUTES"}},
        },
    ),
    (
        "entity/set",
        {"entityName": "employee", "key": "k", "value": {}, "options": FULL_SET_OPTIONS},
    ),
    ("entity/delete", {"entityName": "employee", "key": "k"}),
    # ref §3.4, §14.4
    ("entity/query", ENTITY_QUERY_BODY),
    ("entity/query", {"entityName": "employee", "indexName": "by-key"}),
    (
        "entity/query",
        {
            "entityName": "employee",
            "indexName": "surname",
            "range": {"condition": "BEGINS_WITH", "values": ["Sm"]},
            "filters": {"or": [{"property": "age", "condition": "NOT_EXISTS", "values": [True]}]},
            "sort": "ASC",
            "partition": ["f", 3, True],
        },
    ),
    # ref §3.1, §11
    (
        "batch/set",
        [
            {"key": "a", "value": 1},
            {
                "key": "b",
                "value": {"x": 1},
                "entityName": "employee",
                "options": {"ttl": {"value": 2, "unit": "HOURS"}},
            },
        ],
    ),
    (
        "batch/get",
        [
            {"key": "a", "options": {"metadataFields": ["CREATED_AT"]}},
            {"key": "b", "entityName": "employee"},
        ],
    ),
    ("batch/delete", [{"key": "a"}, {"key": "b", "entityName": "employee"}]),
    ("batch/delete", [{"key": f"k{i}"} for i in range(25)]),
    # ref §10
    ("transaction", TRANSACTION_BODY),
    ("transaction", {}),  # an empty builder sends {}; the engine rejects it with its own code
    ("transaction", {"delete": [{"key": "k"}]}),
    # falsy values round-trip (ref §14.5 trap 9)
    ("set", {"key": "k", "value": 0}),
    ("set", {"key": "k", "value": False}),
    ("set", {"key": "k", "value": ""}),
    ("set", {"key": "k", "value": []}),
    ("set", {"key": "k", "value": {}}),
    ("set", {"key": "k", "value": 1.5}),
    ("set", {"key": "k", "value": [None, {"a": None}]}),  # only the value itself may not be null
]


@pytest.mark.parametrize(("operation", "body"), VALID)
def test_sdk_bodies_pass(operation: str, body: Any) -> None:
    validate_request(operation, body)


def test_every_operation_has_a_valid_body() -> None:
    assert {operation for operation, _ in VALID} == set(OPERATIONS)


# -- invalid bodies: BAD_REQUEST naming the field ---------------------------------------------

TTL_UNITS = "must be one of SECONDS, MINUTES, HOURS, DAYS"
METADATA = "must be one of CREATED_AT, UPDATED_AT, EXPIRE_TIME"

INVALID: list[tuple[str, Any, str]] = [
    # unknown fields
    ("get", {"key": "k", "extra": 1}, "'extra' is not allowed (allowed fields: key, options)"),
    ("delete", {"key": "k", "options": {}}, "'options' is not allowed (allowed fields: key)"),
    ("set", {"key": "k", "value": 1, "b": 2, "a": 1}, "'a', 'b' are not allowed"),
    ("get", {"key": "k", "options": {"ttl": 1}}, "'options.ttl' is not allowed"),
    ("query", {"cursor": "c"}, "'cursor' is not allowed"),  # query's cursor is `after`
    ("entity/query", {"entityName": "employee", "indexName": "by-key", "after": "c"}, "'after'"),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "DAYS", "x": 0}}},
        "'options.ttl.x' is not allowed (allowed fields: value, unit)",
    ),
    ("transaction", {"update": []}, "'update' is not allowed (allowed fields: set, delete, check)"),
    (
        "transaction",
        {"set": [{"key": "k", "value": 1, "options": {"keyPolicy": "OVERRIDE"}}]},
        "'set[0].options.keyPolicy' is not allowed (allowed fields: ttl)",
    ),
    (
        "batch/set",
        [{"key": "k", "value": 1, "options": {"returnValue": "LATEST"}}],
        "'[0].options.returnValue' is not allowed (allowed fields: ttl)",
    ),
    ("batch/delete", [{"key": "k", "options": {}}], "'[0].options' is not allowed"),
    (
        "entity/query",
        {"entityName": "employee", "indexName": "by-key", "filters": {"and": [], "not": []}},
        "'filters.not' is not allowed (allowed fields: and, or)",
    ),
    # wrong types
    ("get", {"key": 5}, "'key' must be a string"),
    ("get", [], "the request body must be an object"),
    ("set", None, "the request body must be an object"),
    ("entity/get", {"entityName": 7, "key": "k"}, "'entityName' must be a string"),
    (
        "entity/set",
        {"entityName": "employee", "key": "k", "value": [1]},
        "'value' must be an object",
    ),
    ("query", {"limit": "10"}, "'limit' must be an integer"),
    ("query", {"limit": 10.5}, "'limit' must be an integer"),
    ("query", {"limit": True}, "'limit' must be an integer"),
    ("query", {"after": 5}, "'after' must be a string"),
    ("query", {"where": {"property": "key"}}, "'where' must be an array"),
    (
        "query",
        {"where": [{"property": 1, "condition": "BEGINS_WITH", "values": ["a"]}]},
        "'where[0].property' must be a string",
    ),
    (
        "query",
        {"where": [{"property": "key", "condition": "BEGINS_WITH", "values": "a"}]},
        "'where[0].values' must be an array",
    ),
    (
        "query",
        {"where": [{"property": "key", "condition": "BEGINS_WITH", "values": [None]}]},
        "'where[0].values[0]' must not be null",
    ),
    (
        "query",
        {"where": [{"property": "key", "values": ["a"]}]},
        "'where[0].condition' is required",
    ),
    (
        "entity/query",
        {"entityName": "employee", "indexName": "by-key", "limit": "5"},
        "'limit' must be an integer",
    ),
    (
        "entity/query",
        {"entityName": "employee", "indexName": "by-key", "partition": [{}]},
        "'partition[0]' must be a string, a number or a boolean",
    ),
    ("entity/query", {"entityName": "employee", "indexName": 1}, "'indexName' must be a string"),
    ("batch/get", [{"key": 1}], "'[0].key' must be a string"),
    ("batch/get", [{"key": "a"}, "b"], "'[1]' must be an object"),
    ("transaction", {"set": {"key": "k"}}, "'set' must be an array"),
    # bad enums in options and elsewhere
    (
        "get",
        {"key": "k", "options": {"metadataFields": ["CREATED"]}},
        "'options.metadataFields[0]' " + METADATA,
    ),
    (
        "get",
        {"key": "k", "options": {"metadataFields": {"0": "CREATED_AT"}}},
        "'options.metadataFields' must be an array",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"keyPolicy": "REPLACE"}},
        "'options.keyPolicy' must be one of OVERRIDE, FAIL_IF_EXISTS",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"returnValue": "BOTH"}},
        "'options.returnValue' must be one of PREVIOUS, LATEST",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"returnMetadataFields": ["X"]}},
        "'options.returnMetadataFields[0]' " + METADATA,
    ),
    (
        "batch/get",
        [{"key": "a", "options": {"metadataFields": ["created_at"]}}],
        "'[0].options.metadataFields[0]' " + METADATA,
    ),
    (
        "entity/query",
        {"entityName": "employee", "indexName": "by-key", "sort": "UP"},
        "'sort' must be one of ASC, DESC",
    ),
    (
        "entity/query",
        {
            "entityName": "employee",
            "indexName": "by-key",
            "range": {"condition": "CONTAINS", "values": ["a"]},
        },
        "'range.condition' must be one of BEGINS_WITH, BETWEEN, EQUAL_TO, GREATER_THAN, "
        "GREATER_THAN_EQUAL_TO, LESS_THAN, LESS_THAN_EQUAL_TO",
    ),
    (
        "transaction",
        {
            "check": [
                {
                    "key": "k",
                    "entityName": "employee",
                    "conditions": {"and": [{"property": "a", "condition": "LIKE", "values": [1]}]},
                }
            ]
        },
        "'check[0].conditions.and[0].condition' must be one of BEGINS_WITH",
    ),
    # null values
    ("set", {"key": "k", "value": None}, "'value' must not be null"),
    ("secret/set", {"key": "k", "value": None}, "'value' must not be null"),
    (
        "entity/set",
        {"entityName": "employee", "key": "k", "value": None},
        "'value' must be an object",
    ),
    (
        "batch/set",
        [
            {"key": "a", "value": 1},
            {"key": "b", "value": 2},
            {"key": "c", "value": 3},
            {"key": "d", "value": None},
        ],
        "'[3].value' must not be null",
    ),
    ("transaction", {"set": [{"key": "k", "value": None}]}, "'set[0].value' must not be null"),
    # missing fields
    ("get", {}, "'key' is required"),
    ("secret/delete", {"k": "x"}, "'key' is required"),
    ("set", {"key": "k"}, "'value' is required"),
    ("entity/get", {"key": "k"}, "'entityName' is required"),
    ("entity/set", {"entityName": "employee", "key": "k"}, "'value' is required"),
    ("entity/query", {"entityName": "employee"}, "'indexName' is required"),
    (
        "entity/query",
        {"entityName": "employee", "indexName": "i", "range": {"values": [1]}},
        "'range.condition' is required",
    ),
    ("batch/set", [{"value": 1}], "'[0].key' is required"),
    (
        "transaction",
        {"check": [{"key": "k", "entityName": "employee"}]},
        "'check[0].conditions' is required",
    ),
    # TTL (decision 5)
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "WEEKS"}}},
        "'options.ttl.unit' " + TTL_UNITS,
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "seconds"}}},
        "'options.ttl.unit' " + TTL_UNITS,
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 0, "unit": "DAYS"}}},
        "'options.ttl.value' must be at least 1",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": -5, "unit": "DAYS"}}},
        "'options.ttl.value' must be at least 1",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 1.5, "unit": "DAYS"}}},
        "'options.ttl.value' must be an integer",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": "1", "unit": "DAYS"}}},
        "'options.ttl.value' must be an integer",
    ),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 1}}},
        "'options.ttl.unit' is required",
    ),
    ("set", {"key": "k", "value": 1, "options": {"ttl": 60}}, "'options.ttl' must be an object"),
    (
        "entity/set",
        {
            "entityName": "employee",
            "key": "k",
            "value": {},
            "options": {"ttl": {"value": 1, "unit": "YEARS"}},
        },
        "'options.ttl.unit' " + TTL_UNITS,
    ),
    (
        "batch/set",
        [{"key": "k", "value": 1, "options": {"ttl": {"value": 0, "unit": "DAYS"}}}],
        "'[0].options.ttl.value' must be at least 1",
    ),
    (
        "transaction",
        {
            "set": [
                {"key": "k", "value": 1, "options": {"ttl": {"unit": "DAYS", "value": 1, "at": 0}}}
            ]
        },
        "'set[0].options.ttl.at' is not allowed",
    ),
    # batch bodies (decision 10)
    ("batch/get", {"key": "a"}, "the request body must be an array"),
    ("batch/set", {"items": []}, "the request body must be an array"),
    ("batch/delete", [], "the request body must have at least 1 item"),
    (
        "batch/delete",
        [{"key": f"k{i}"} for i in range(26)],
        "the request body must have at most 25 items",
    ),
    # filters: neither and nor or
    (
        "entity/query",
        {"entityName": "employee", "indexName": "by-key", "filters": {}},
        "'filters' must have exactly one of 'and', 'or'",
    ),
    (
        "entity/query",
        {"entityName": "employee", "indexName": "by-key", "filters": []},
        "'filters' must be an object",
    ),
    # transaction conditions are not the entity query's filters: no specific code is deferred
    (
        "transaction",
        {"check": [{"key": "k", "entityName": "employee", "conditions": {"and": [], "or": []}}]},
        "'check[0].conditions' must have exactly one of 'and', 'or'",
    ),
    (
        "transaction",
        {"set": [{"key": "k", "value": 1, "entityName": "employee", "conditions": {"and": []}}]},
        "'set[0].conditions.and' must have at least 1 item",
    ),
    # deferred fields still have types
    (
        "query",
        {"where": [{"property": "key", "condition": 3, "values": ["a"]}]},
        "'where[0].condition' must be a string",
    ),
    (
        "entity/query",
        {
            "entityName": "employee",
            "indexName": "by-key",
            "filters": {"and": [{"property": "a", "condition": "EXISTS", "values": True}]},
        },
        "'filters.and[0].values' must be an array",
    ),
    (
        "entity/query",
        {
            "entityName": "employee",
            "indexName": "by-key",
            "range": {"condition": "BETWEEN", "values": 1},
        },
        "'range.values' must be an array",
    ),
    (
        "batch/set",
        [{"key": "k", "value": 1, "entityName": ["employee"]}],
        "'[0].entityName' must be a string",
    ),
    ("transaction", {"delete": [{"key": None}]}, "'delete[0].key' must be a string"),
]


@pytest.mark.parametrize(("operation", "body", "expected"), INVALID)
def test_invalid_bodies_are_bad_request(operation: str, body: Any, expected: str) -> None:
    with pytest.raises(ForgeStorageError) as excinfo:
        validate_request(operation, body)
    error = excinfo.value
    assert (error.code, error.status) == ("BAD_REQUEST", 400)
    assert error.message.startswith("Invalid request body: ")
    assert expected in error.message


def test_messages_quoted_in_the_design_are_exact() -> None:
    cases = [
        ("set", {"key": "k", "value": 1, "options": {"ttl": {"value": 1, "unit": "WEEKS"}}},
         "Invalid request body: 'options.ttl.unit' must be one of SECONDS, MINUTES, HOURS, DAYS"),
        ("get", {}, "Invalid request body: 'key' is required"),
        ("batch/set", [{"key": "a", "value": 1}] * 3 + [{"key": "d", "value": None}],
         "Invalid request body: '[3].value' must not be null"),
    ]  # fmt: skip
    for operation, body, message in cases:
        with pytest.raises(ForgeStorageError) as excinfo:
            validate_request(operation, body)
        assert excinfo.value.message == message


def test_the_reported_error_is_deterministic_and_shallowest() -> None:
    body = {"options": {"ttl": {"value": 0, "unit": "X"}}, "value": None, "zzz": 1, "aaa": 2}
    messages = set()
    for _ in range(3):
        with pytest.raises(ForgeStorageError) as excinfo:
            validate_request("set", copy.deepcopy(body))
        messages.add(excinfo.value.message)
    assert messages == {"Invalid request body: 'key' is required"}


# -- deferred: the engine reports these with Forge's specific code ----------------------------
# The third column says which code the engine is expected to answer with; this module only
# promises not to answer BAD_REQUEST first.

LONG_KEY = "k" * 501
QUERY_WHERE = {"property": "key", "condition": "BEGINS_WITH", "values": ["a"]}
EQ = {"entityName": "employee", "indexName": "by-key"}

DEFERRED: list[tuple[str, Any, str]] = [
    # KEY_TOO_SHORT / KEY_TOO_LONG / INVALID_KEY on every KVS operation
    *[
        (op, {"key": "", "value": 1} if "set" in op else {"key": ""}, "KEY_TOO_SHORT")
        for op in KVS_OPERATIONS
    ],
    *[
        (op, {"key": LONG_KEY, "value": 1} if "set" in op else {"key": LONG_KEY}, "KEY_TOO_LONG")
        for op in KVS_OPERATIONS
    ],
    *[
        (op, {"key": "a/b", "value": 1} if "set" in op else {"key": "a/b"}, "INVALID_KEY")
        for op in KVS_OPERATIONS
    ],
    ("get", {"key": "   "}, "INVALID_KEY"),
    ("get", {"key": "ü"}, "INVALID_KEY"),
    # a check with conditions and no entityName is a condition on a KVS item (decision 11)
    (
        "transaction",
        {
            "check": [
                {
                    "key": "k",
                    "conditions": {
                        "or": [{"property": "a", "condition": "EXISTS", "values": [True]}]
                    },
                }
            ]
        },
        "INVALID_TRANSACTION_REQUEST",
    ),
    # entity keys and names
    ("entity/get", {"entityName": "employee", "key": ""}, "EMPTY_KEY"),
    ("entity/set", {"entityName": "employee", "key": LONG_KEY, "value": {}}, "KEY_TOO_LONG"),
    ("entity/delete", {"entityName": "employee", "key": "a@b"}, "INVALID_KEY"),
    ("entity/get", {"entityName": "ab", "key": "k"}, "ENTITY_TYPE_TOO_SHORT"),
    ("entity/set", {"entityName": "e" * 61, "key": "k", "value": {}}, "ENTITY_TYPE_TOO_LARGE"),
    ("entity/delete", {"entityName": "Employee", "key": "k"}, "INVALID_ENTITY_TYPE"),
    ("entity/get", {"entityName": "_emp", "key": "k"}, "INVALID_ENTITY_TYPE"),
    ("entity/get", {"entityName": "emp..x", "key": "k"}, "INVALID_ENTITY_TYPE"),
    ("entity/query", {"entityName": "x", "indexName": "by-key"}, "ENTITY_TYPE_TOO_SHORT"),
    # KVS query (ref §7)
    ("query", {"limit": 500}, "LIST_QUERY_LIMIT_EXCEEDED"),
    ("query", {"limit": 0}, "LIST_QUERY_LIMIT_EXCEEDED"),
    ("query", {"limit": 101}, "LIST_QUERY_LIMIT_EXCEEDED"),
    ("query", {"where": [QUERY_WHERE, QUERY_WHERE]}, "QUERY_WHERE_INVALID"),
    ("query", {"where": []}, "QUERY_WHERE_INVALID"),
    ("query", {"where": [{**QUERY_WHERE, "property": "value"}]}, "QUERY_WHERE_FIELD_INVALID"),
    ("query", {"where": [{**QUERY_WHERE, "condition": "CONTAINS"}]}, "INVALID_FILTER_CONDITION"),
    ("query", {"where": [{**QUERY_WHERE, "condition": "STARTS_WITH"}]}, "INVALID_FILTER_CONDITION"),
    ("query", {"where": [{**QUERY_WHERE, "values": []}]}, "INVALID_FILTER_VALUES"),
    ("query", {"where": [{**QUERY_WHERE, "values": ["a", "b"]}]}, "INVALID_FILTER_VALUES"),
    # entity query (ref §6.2)
    ("entity/query", {**EQ, "limit": 0}, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE"),
    ("entity/query", {**EQ, "limit": 101}, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE"),
    (
        "entity/query",
        {**EQ, "filters": {"and": [], "or": []}},
        "INVALID_FILTER_OPERATORS_COMBINATION",
    ),
    (
        "entity/query",
        {
            **EQ,
            "filters": {
                "and": [{"property": "a", "condition": "EXISTS", "values": [True]}],
                "or": [{"property": "b", "condition": "EXISTS", "values": [True]}],
            },
        },
        "INVALID_FILTER_OPERATORS_COMBINATION",
    ),
    ("entity/query", {**EQ, "filters": {"and": []}}, "EMPTY_FILTER_OPERATOR"),
    ("entity/query", {**EQ, "filters": {"or": []}}, "EMPTY_FILTER_OPERATOR"),
    (
        "entity/query",
        {**EQ, "filters": {"and": [{"property": "a", "condition": "LIKE", "values": [1]}]}},
        "an unknown condition: the engine's to word",
    ),
    (
        "entity/query",
        {**EQ, "filters": {"or": [{"property": "a", "condition": "BETWEEN", "values": []}]}},
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        "entity/query",
        {**EQ, "range": {"condition": "BETWEEN", "values": []}},
        "INSUFFICIENT_FILTER_VALUES",
    ),
    (
        "entity/query",
        {**EQ, "range": {"condition": "BETWEEN", "values": [1, 2, 3]}},
        "too many values: the engine's to word",
    ),
    # batch and transaction items: per-item / transaction codes
    ("batch/get", [{"key": LONG_KEY}], "KEY_TOO_LONG in failedKeys"),
    ("batch/set", [{"key": "", "value": 1, "entityName": "A"}], "KEY_TOO_SHORT in failedKeys"),
    ("batch/delete", [{"key": "a/b", "entityName": "ab"}], "INVALID_KEY in failedKeys"),
    ("transaction", {"set": [{"key": "", "value": 1}]}, "KEY_TOO_SHORT"),
    ("transaction", {"delete": [{"key": "k", "entityName": "bad..name"}]}, "INVALID_ENTITY_TYPE"),
    (
        "transaction",
        {
            "check": [
                {
                    "key": "a b/",
                    "entityName": "employee",
                    "conditions": {
                        "and": [{"property": "a", "condition": "EXISTS", "values": [True]}]
                    },
                }
            ]
        },
        "INVALID_KEY",
    ),
    # engine-owned rules the schema does not encode at all
    (
        "transaction",
        {
            "set": [
                {
                    "key": "k",
                    "value": 1,
                    "conditions": {
                        "and": [{"property": "a", "condition": "EXISTS", "values": [True]}]
                    },
                }
            ]
        },
        "INVALID_TRANSACTION_REQUEST",
    ),
    ("transaction", {"set": [], "delete": []}, "INVALID_TRANSACTION_REQUEST"),
    (
        "set",
        {"key": "k", "value": 1, "options": {"ttl": {"value": 366, "unit": "DAYS"}}},
        "BAD_REQUEST from the engine",
    ),
    (
        "set",
        {
            "key": "k",
            "value": 1,
            "options": {"keyPolicy": "FAIL_IF_EXISTS", "returnValue": "LATEST"},
        },
        "INVALID_KEY_POLICY_RETURN_VALUE_COMBINATION",
    ),
    ("batch/get", [{"key": "a"}, {"key": "a"}], "BAD_REQUEST from the engine (duplicate)"),
]


@pytest.mark.parametrize(("operation", "body", "engine_code"), DEFERRED)
def test_specific_codes_are_left_to_the_engine(operation: str, body: Any, engine_code: str) -> None:
    validate_request(operation, body)
    # and they are deferred by the rules, not because the fast path let them through
    errors = list(openapi._validator(operation).iter_errors(body))
    assert all(openapi._deferred(operation, error) for error in errors)


def test_deferred_fields_do_not_hide_other_errors() -> None:
    with pytest.raises(ForgeStorageError, match="'extra' is not allowed"):
        validate_request("get", {"key": LONG_KEY, "extra": 1})
    with pytest.raises(ForgeStorageError, match=r"'options\.ttl\.value' must be at least 1"):
        validate_request(
            "set", {"key": "", "value": 1, "options": {"ttl": {"value": 0, "unit": "DAYS"}}}
        )
    # a deferred keyword on a field that is not deferred still raises: `options` has no enum
    # exemption although `key` has one
    with pytest.raises(ForgeStorageError, match=r"'options\.keyPolicy' must be one of"):
        validate_request("set", {"key": "a/b", "value": 1, "options": {"keyPolicy": "X"}})


# -- the spec document ------------------------------------------------------------------------


def test_spec_has_the_15_paths_in_order() -> None:
    document = spec()
    assert list(document["paths"]) == [f"/v1/{operation}" for operation in OPERATIONS]
    assert len(OPERATIONS) == 15
    assert document["servers"] == [{"url": "https://api.atlassian.com/forge/storage/kvs"}]
    assert document["openapi"].startswith("3.0.")


def test_spec_says_it_extends_atlassians_spec() -> None:
    description = spec()["info"]["description"]
    assert "Forge provides hosted storage" in description  # Atlassian's own text, kept
    assert "extended by pytest-forge-storage" in description


@pytest.mark.parametrize("operation", OPERATIONS)
def test_each_operation_is_named_and_documents_its_statuses(operation: str) -> None:
    post = spec()["paths"][f"/v1/{operation}"]["post"]
    assert post["x-forge-operation"] == operation
    assert post["operationId"]
    assert post["requestBody"]["required"] is True
    statuses = documented_statuses(operation)
    assert {400, 401, 403, 429, 500} <= statuses
    assert (404 in statuses) == (operation in GET_DELETE)
    assert (409 in statuses) == (operation in SETS)
    assert (422 in statuses) == (operation == "entity/query")
    if operation in SETS:
        assert {200, 204} <= statuses
    elif operation in NO_CONTENT:
        assert 204 in statuses
        assert 200 not in statuses
    else:
        assert 200 in statuses
        assert 204 not in statuses


def test_operation_ids_are_unique() -> None:
    ids = [item["post"]["operationId"] for item in spec()["paths"].values()]
    assert len(set(ids)) == len(ids) == 15


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@pytest.mark.parametrize("operation", OPERATIONS)
def test_error_responses_have_the_error_schema(operation: str) -> None:
    responses = spec()["paths"][f"/v1/{operation}"]["post"]["responses"]
    for status, response in responses.items():
        response = _resolve(response)
        assert response["description"]
        if int(status) >= 400:
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorSchema"}, status
    error = spec()["components"]["schemas"]["ErrorSchema"]
    assert error["required"] == ["code", "message"]
    assert error["properties"]["code"]["type"] == error["properties"]["message"]["type"] == "string"


def test_unknown_operation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown Forge storage operation 'v1/get'"):
        documented_statuses("v1/get")
    with pytest.raises(ValueError, match="expected one of get, set"):
        validate_request("secret/query", {})


def _subschemas(schema: Any) -> Any:
    yield schema
    for keyword in ("properties",):
        for sub in schema.get(keyword, {}).values():
            yield from _subschemas(sub)
    for keyword in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(keyword, []):
            yield from _subschemas(sub)
    for keyword in ("items", "not"):
        if isinstance(schema.get(keyword), dict):
            yield from _subschemas(schema[keyword])


@pytest.mark.parametrize("operation", OPERATIONS)
def test_request_schemas_are_closed_and_valid_draft4(operation: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = openapi._request_schema(operation)
    jsonschema.Draft4Validator.check_schema(schema)
    objects = [s for s in _subschemas(schema) if "properties" in s]
    assert objects
    assert all(s["additionalProperties"] is False for s in objects)
    assert compile_schema(schema) is not None  # the fast path covers every operation


def test_spec_is_a_valid_openapi_document() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(json.loads(openapi.SPEC_PATH.read_text(encoding="utf-8")))


def _response_validator(operation: str, status: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    response = _resolve(spec()["paths"][f"/v1/{operation}"]["post"]["responses"][status])
    schema = response["content"]["application/json"]["schema"]
    return jsonschema.Draft4Validator(openapi._inline(schema, spec()["components"]["schemas"]))


MAX_SIZE = {"code": "MAX_SIZE", "message": "The provided value exceeded the maximum size limit."}
RESPONSES: list[tuple[str, str, Any]] = [
    # docs example, decision 4 (epoch ms) and the expireTime form
    ("get", "200", {"key": "foo", "value": "bar", "createdAt": 1753750184233,
                    "updatedAt": 1753750200296, "expireTime": "2026-01-15T16:12:19.000Z"}),
    ("get", "200", {"key": "foo", "value": 0}),
    ("set", "200", {"key": "foo", "value": {"a": 1}, "createdAt": 1}),
    ("entity/get", "200", {"key": "k", "value": {"age": 1}, "entityName": "employee"}),
    ("query", "200", {"data": [{"key": "a", "value": 1}], "cursor": "abc"}),
    ("query", "200", {"data": []}),
    ("entity/query", "200", {"data": [{"key": "a", "value": {"age": 3}, "updatedAt": 2}]}),
    ("batch/set", "200", {"successfulKeys": [{"key": "a"}, {"key": "b", "entityName": "employee"}],
                          "failedKeys": [{"key": "c", "error": MAX_SIZE}]}),
    ("batch/get", "200", {"successfulKeys": [{"key": "a", "value": 1, "createdAt": 5}],
                          "failedKeys": [{"key": "b", "entityName": "employee",
                                          "error": {"code": "KEY_NOT_FOUND", "message": "m"}}]}),
    ("batch/delete", "200", {"successfulKeys": [], "failedKeys": []}),
    ("transaction", "400", {"code": "CONDITIONAL_CHECK_FAILED", "message": "m"}),
    ("get", "404", {"code": "KEY_NOT_FOUND", "message": "Provided key does not exist"}),
]  # fmt: skip


@pytest.mark.parametrize(("operation", "status", "body"), RESPONSES)
def test_response_schemas_accept_forge_responses(operation: str, status: str, body: Any) -> None:
    _response_validator(operation, status).validate(body)


@pytest.mark.parametrize(
    ("operation", "status", "body"),
    [
        ("get", "200", {"key": "foo"}),
        ("get", "200", {"key": "foo", "value": 1, "createdAt": "yesterday"}),
        ("get", "200", {"key": "foo", "value": None}),
        ("query", "200", {"data": [], "cursor": None}),
        ("batch/get", "200", {"successfulKeys": []}),
        ("batch/set", "200", {"successfulKeys": [], "failedKeys": [{"key": "a", "error": {}}]}),
        ("get", "400", {"code": "BAD_REQUEST"}),
        ("get", "400", {"errors": []}),
    ],
)
def test_response_schemas_reject_what_the_sdk_cannot_read(
    operation: str, status: str, body: Any
) -> None:
    assert not _response_validator(operation, status).is_valid(body)


# -- implementation properties ----------------------------------------------------------------


def test_importing_the_module_does_not_import_jsonschema() -> None:
    code = (
        "import sys\n"
        "import pytest_forge_storage.protocol.openapi as o\n"
        "assert 'jsonschema' not in sys.modules, 'imported at module import'\n"
        "o.validate_request('set', {'key': 'k', 'value': {'a': 1}})\n"
        "assert 'jsonschema' not in sys.modules, 'imported for a valid body'\n"
        "try:\n"
        "    o.validate_request('set', {'key': 'k'})\n"
        "except Exception as exc:\n"
        "    assert exc.code == 'BAD_REQUEST'\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_validators_are_compiled_once() -> None:
    validate_request("get", {"key": "k"})
    assert openapi._validator("get") is openapi._validator("get")
    assert openapi._conforms("get") is openapi._conforms("get")
    assert spec() is spec()


def test_nullable_becomes_a_null_type() -> None:
    schemas = {"N": {"type": "string", "enum": ["a"], "nullable": True, "description": "d"}}
    inlined = openapi._inline({"properties": {"n": {"$ref": "#/components/schemas/N"}}}, schemas)
    assert inlined == {"properties": {"n": {"type": ["string", "null"], "enum": ["a", None]}}}


def _mutations(body: Any) -> Any:
    """``body`` with one leaf replaced, or one unknown member added, in every possible place."""
    replacements: list[Any] = [None, 0, 101, 1.5, True, "", "x" * 501, "A", [], {}, ["UPDATED_AT"]]
    yield body
    if isinstance(body, dict):
        yield {**body, "unexpected": 1}
        for name, value in body.items():
            yield {k: v for k, v in body.items() if k != name}
            for replacement in replacements:
                yield {**body, name: replacement}
            for mutated in _mutations(value):
                yield {**body, name: mutated}
    elif isinstance(body, list):
        yield [*body, {}]
        for index, value in enumerate(body):
            for mutated in _mutations(value):
                yield [*body[:index], mutated, *body[index + 1 :]]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_fast_path_agrees_with_jsonschema(operation: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    reference = jsonschema.Draft4Validator(openapi._request_schema(operation))
    fast = openapi._conforms(operation)
    bodies = [body for op, body in VALID if op == operation]
    bodies += [body for op, body, _ in INVALID + DEFERRED if op == operation]
    checked = 0
    for original in bodies:
        for body in _mutations(original):
            assert fast(body) == reference.is_valid(body), (operation, body)
            checked += 1
    assert checked > 50
