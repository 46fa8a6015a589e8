"""List queries, and real GraphQL documents: aliases, fragments, ``__typename``, operationName."""

from __future__ import annotations

from typing import Any

import pytest
from test_graphql import (
    DOCS_QUERY,
    DOCS_QUERY_VARIABLES,
    LIST,
    Gql,
    field_error,
    seed,
    shape,
)


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def gql(request: pytest.FixtureRequest, forge_storage: Any) -> Gql:
    return Gql(request.param)


# -- the connection: edges, nodes, pageInfo, totalCount ---------------------------------------
CONNECTION = """
query($first: Int, $after: String) {
  appStoredEntities(first: $first, after: $after) {
    __typename
    edges { __typename cursor node { __typename key value } }
    nodes { key }
    pageInfo { __typename hasNextPage hasPreviousPage }
    totalCount
  }
}
"""


def test_connection_shape(gql: Gql, forge_storage: Any) -> None:
    seed(forge_storage, ["a", "b", "c"])
    first = gql.run(CONNECTION, {"first": 2}).data["appStoredEntities"]
    cursor = first["edges"][1]["cursor"]
    assert first == {
        "__typename": "AppStoredEntityConnection",
        "edges": [
            {
                "__typename": "AppStoredEntityEdge",
                "cursor": first["edges"][0]["cursor"],
                "node": {"__typename": "AppStoredEntity", "key": "a", "value": {"k": "a"}},
            },
            {
                "__typename": "AppStoredEntityEdge",
                "cursor": cursor,
                "node": {"__typename": "AppStoredEntity", "key": "b", "value": {"k": "b"}},
            },
        ],
        "nodes": [{"key": "a"}, {"key": "b"}],
        "pageInfo": {
            "__typename": "AppStoredEntityPageInfo",
            "hasNextPage": True,
            "hasPreviousPage": False,
        },
        "totalCount": 2,
    }
    second = gql.run(CONNECTION, {"first": 2, "after": cursor}).data["appStoredEntities"]
    assert second["nodes"] == [{"key": "c"}]
    assert second["pageInfo"] == {
        "__typename": "AppStoredEntityPageInfo",
        "hasNextPage": False,
        "hasPreviousPage": True,
    }
    assert second["totalCount"] == 1


def test_a_bare_list_query_returns_the_first_ten(gql: Gql, forge_storage: Any) -> None:
    # ref §14.5 trap 11: a Java client sends appStoredEntities with no arguments at all
    seed(forge_storage, [f"k{i:02}" for i in range(12)])
    page = gql.run("{ appStoredEntities { nodes { key } pageInfo { hasNextPage } } }").data
    assert [n["key"] for n in page["appStoredEntities"]["nodes"]] == [f"k{i:02}" for i in range(10)]
    assert page["appStoredEntities"]["pageInfo"] == {"hasNextPage": True}


def test_list_queries_never_return_secrets(gql: Gql, forge_storage: Any) -> None:
    forge_storage.secrets["s"] = 1
    forge_storage.kvs["k"] = 2
    page = gql.run("{ appStoredEntities { nodes { key value } } }").data
    assert page == {"appStoredEntities": {"nodes": [{"key": "k", "value": 2}]}}


@pytest.mark.parametrize(
    ("first", "ok"), [(1, True), (20, True), (21, False), (100, False), (0, False), (-1, False)]
)
def test_first_is_at_most_20(gql: Gql, forge_storage: Any, first: int, ok: bool) -> None:
    seed(forge_storage, [f"k{i:02}" for i in range(25)])
    answer = gql.run(
        DOCS_QUERY, {**DOCS_QUERY_VARIABLES, "where": [], "first": first, "after": None}
    )
    if ok:
        assert len(answer.data["appStoredEntities"]["edges"]) == first
    else:
        assert answer.body["data"] == {"appStoredEntities": None}
        assert [shape(e) for e in answer.body["errors"]] == [
            field_error(["appStoredEntities"], "LIST_QUERY_LIMIT_EXCEEDED")
        ]


@pytest.mark.parametrize(
    ("where", "code"),
    [
        ({"field": "key", "condition": "IN", "value": "a"}, "INVALID_FILTER_CONDITION"),
        ({"field": "key", "condition": "NOT_EQUAL_TO", "value": "a"}, "INVALID_FILTER_CONDITION"),
        ({"field": "value", "condition": "STARTS_WITH", "value": "a"}, "QUERY_WHERE_FIELD_INVALID"),
        ([{"field": "key", "condition": "STARTS_WITH", "value": "a"}] * 2, "QUERY_WHERE_INVALID"),
        ({"field": "key", "condition": "STARTS_WITH", "value": ""}, "KEY_TOO_SHORT"),
        ({"field": "key", "condition": "STARTS_WITH", "value": "a/"}, "INVALID_KEY"),
    ],
)
def test_where_errors(gql: Gql, where: Any, code: str) -> None:
    answer = gql.run(LIST, {"where": where, "cursor": None, "limit": None})
    assert answer.body["data"] == {"appStoredEntities": None}
    assert [shape(e) for e in answer.body["errors"]] == [field_error(["appStoredEntities"], code)]


def test_a_where_value_must_be_a_string_number_or_boolean(gql: Gql) -> None:
    answer = gql.run(LIST, {"where": {"field": "key", "condition": "STARTS_WITH", "value": {}}})
    assert answer.status == 400
    assert answer.body["errors"][0]["extensions"] == {
        "errorType": "GRAPHQL_VALIDATION_FAILED",
        "statusCode": 400,
    }


# -- real GraphQL: aliases, fragments, __typename, operationName --------------------------------
FRAGMENTS = """
query Both($secret: Boolean) {
  __typename
  ...Pair
  ... on Query { third: appStoredEntity(key: "c") { ...Entity } }
}
fragment Pair on Query {
  first: appStoredEntity(key: "a") { ...Entity }
  second: appStoredEntity(key: "b", encrypted: $secret) { __typename v: value }
}
fragment Entity on AppStoredEntity { __typename k: key value }
"""


def test_aliases_fragments_and_typename(gql: Gql, forge_storage: Any) -> None:
    forge_storage.kvs["a"] = 1
    forge_storage.secrets["b"] = 2
    assert gql.run(FRAGMENTS, {"secret": True}).body == {
        "data": {
            "__typename": "Query",
            "first": {"__typename": "AppStoredEntity", "k": "a", "value": 1},
            "second": {"__typename": "AppStoredEntity", "v": 2},
            "third": {"__typename": "AppStoredEntity", "k": "c", "value": None},
        }
    }
    calls = forge_storage.calls
    assert [(c.operation, c.key) for c in calls] == [
        ("get", "a"),
        ("secret/get", "b"),
        ("get", "c"),
    ]
    assert [c.response for c in calls] == [
        {"__typename": "AppStoredEntity", "k": "a", "value": 1},
        {"__typename": "AppStoredEntity", "v": 2},
        {"__typename": "AppStoredEntity", "k": "c", "value": None},
    ]


MUTATIONS = """
mutation Writes($v: JSON!) {
  appStorage {
    __typename
    ok: setAppStoredEntity(input: {key: "a", value: $v}) { ...Result }
    bad: setAppStoredEntity(input: {key: "b@", value: $v}) { ...Result }
    gone: deleteAppStoredEntity(input: {key: "a"}) { __typename success }
  }
}
fragment Result on Payload {
  __typename success errors { message extensions { __typename errorType statusCode } }
}
"""


def test_mutation_fragments_on_payload_and_error_typenames(gql: Gql, forge_storage: Any) -> None:
    answer = gql.run(MUTATIONS, {"v": {"x": 1}})
    bad = answer.data["appStorage"]["bad"]
    assert answer.data["appStorage"] == {
        "__typename": "AppStorageMutation",
        "ok": {"__typename": "SetAppStoredEntityPayload", "success": True, "errors": None},
        "bad": {
            "__typename": "SetAppStoredEntityPayload",
            "success": False,
            "errors": [
                {
                    "message": bad["errors"][0]["message"],
                    "extensions": {
                        "__typename": "GenericMutationErrorExtension",
                        "errorType": "INVALID_KEY",
                        "statusCode": 400,
                    },
                }
            ],
        },
        "gone": {"__typename": "DeleteAppStoredEntityPayload", "success": True},
    }
    assert 'Key "b@" should match the pattern' in bad["errors"][0]["message"]
    assert [(c.operation, c.key, c.error_code) for c in forge_storage.calls] == [
        ("set", "a", None),
        ("set", "b@", "INVALID_KEY"),
        ("delete", "a", None),
    ]
    # literal arguments: the call records the field's coerced arguments
    assert forge_storage.calls[0].request == {"input": {"key": "a", "value": {"x": 1}}}


SEVERAL = """
query Get($key: ID!) { appStoredEntity(key: $key) { value } }
mutation Put($key: ID!) {
  appStorage { setAppStoredEntity(input: {key: $key, value: 1}) { success } }
}
"""


def test_operation_name_selects_the_operation(gql: Gql, forge_storage: Any) -> None:
    assert gql.run(SEVERAL, {"key": "k"}, operationName="Put").data == {
        "appStorage": {"setAppStoredEntity": {"success": True}}
    }
    assert gql.run(SEVERAL, {"key": "k"}, operationName="Get").data == {
        "appStoredEntity": {"value": 1}
    }
    answer = gql.run(SEVERAL, {"key": "k"})
    assert answer.status == 400
    assert answer.body["errors"][0]["extensions"]["errorType"] == "GRAPHQL_VALIDATION_FAILED"
    # the refused request is recorded too, with no operation: no field ran
    assert [c.operation for c in forge_storage.calls] == ["set", "get", None]
    assert forge_storage.calls[-1].error_code == "GRAPHQL_VALIDATION_FAILED"
