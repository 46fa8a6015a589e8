"""Custom entities over GraphQL: the ``@forge/storage`` documents of reference §12.3 and §12.4."""

from __future__ import annotations

from typing import Any

import pytest
from test_graphql import SUCCESS, Gql, field_error, shape


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def gql(request: pytest.FixtureRequest, forge_storage: Any) -> Gql:
    forge_storage.define_entity(
        "employee",
        {"age": "integer", "gender": "string", "team": "string"},
        [{"name": "by-age", "range": ["age"], "partition": ["team"]}, "gender"],
    )
    return Gql(request.param)


# -- verbatim documents ----------------------------------------------------------------------
#: CustomEntityQueries.get("employee","k")
CE_GET = """
    query forge_app_getApplicationStorageCustomEntity ($key: ID!, $entityName: String!) {
      appStoredCustomEntity(key: $key, entityName: $entityName) {
          value
          entityName
          key
      }
  }
    """
CE_GET_VARIABLES = {"entityName": "employee", "key": "k"}

#: CustomEntityQueries.set("employee","k",{age:1})
CE_SET = """
      mutation forge_app_setApplicationStorageCustomEntity($input: SetAppStoredCustomEntityMutationInput!) {
        appStorageCustomEntity{
          setAppStoredCustomEntity(input: $input) {
            success
\x20\x20
            errors {
              message
              extensions {
                errorType
                statusCode
              }
            }
          }
        }
      }
    """  # noqa: E501
CE_SET_VARIABLES = {"input": {"entityName": "employee", "key": "k", "value": {"age": 1}}}

#: CustomEntityQueries.delete("employee","k")
CE_DELETE = """
      mutation forge_app_deleteApplicationStorageCustomEntity($input: DeleteAppStoredCustomEntityMutationInput!) {
        appStorageCustomEntity {
          deleteAppStoredCustomEntity(input: $input) {
            success
\x20\x20
            errors {
              message
              extensions {
                errorType
                statusCode
              }
            }
          }
        }
      }
    """  # noqa: E501
CE_DELETE_VARIABLES = {"input": {"entityName": "employee", "key": "k"}}

#: CustomEntityQueries.listQuery({...})
CE_LIST = """
      query AppStorageCustomEntityQueries ($entityName: String!, $indexName: String!, $range: AppStoredCustomEntityRange, $filters: AppStoredCustomEntityFilters, $sort:SortOrder, $limit: Int, $cursor: String, $partition: [AppStoredCustomEntityFieldValue!]) {
        appStoredCustomEntities(entityName: $entityName, indexName: $indexName, range: $range, filters: $filters, sort:$sort, limit: $limit, cursor: $cursor, partition: $partition) {
            edges {
                node {
                    key
                    value
                }
                cursor
            }
            pageInfo {
                hasNextPage
                hasPreviousPage
            }
            totalCount
            cursor
        }
  }
    """  # noqa: E501
CE_LIST_VARIABLES = {
    "entityName": "employee",
    "indexName": "by-age",
    "range": {"condition": "GREATER_THAN", "values": [30]},
    "filters": {"and": [{"property": "gender", "condition": "EQUAL_TO", "values": ["f"]}]},
    "partition": ["x"],
    "sort": "DESC",
    "cursor": "c",
    "limit": 5,
}

#: CustomEntityQueries.get(ari,"employee","k")
ARI_CE_GET = """
    query forge_app_getApplicationStorageCustomEntity ($contextAri: ID!, $key: ID!, $entityName: String!) {
      appStoredCustomEntity(contextAri: $contextAri, key: $key, entityName: $entityName) {
          value
          entityName
          key
      }
  }
    """  # noqa: E501
ARI_CE_GET_VARIABLES = {
    "contextAri": "ari:cloud:jira::site/1234",
    "entityName": "employee",
    "key": "k",
}

#: CustomEntityQueries.listQuery(ari,{entityName,indexName})
ARI_CE_LIST = """
      query AppStorageCustomEntityQueries ($contextAri: ID!, $entityName: String!, $indexName: String!, $range: AppStoredCustomEntityRange, $filters: AppStoredCustomEntityFilters, $sort:SortOrder, $limit: Int, $cursor: String, $partition: [AppStoredCustomEntityFieldValue!]) {
        appStoredCustomEntities(contextAri: $contextAri, entityName: $entityName, indexName: $indexName, range: $range, filters: $filters, sort:$sort, limit: $limit, cursor: $cursor, partition: $partition) {
            edges {
                node {
                    key
                    value
                }
                cursor
            }
            pageInfo {
                hasNextPage
                hasPreviousPage
            }
            totalCount
            cursor
        }
  }
    """  # noqa: E501
ARI_CE_LIST_VARIABLES = {
    "contextAri": "ari:cloud:jira::site/1234",
    "entityName": "employee",
    "indexName": "by-key",
}


def test_sdk_set_get_delete(gql: Gql, forge_storage: Any) -> None:
    assert gql.run(CE_SET, CE_SET_VARIABLES).body == {
        "data": {"appStorageCustomEntity": {"setAppStoredCustomEntity": SUCCESS}}
    }
    assert forge_storage.entity("employee")["k"] == {"age": 1}
    assert gql.run(CE_GET, CE_GET_VARIABLES).body == {
        "data": {
            "appStoredCustomEntity": {"value": {"age": 1}, "entityName": "employee", "key": "k"}
        }
    }
    assert gql.run(CE_DELETE, CE_DELETE_VARIABLES).body == {
        "data": {"appStorageCustomEntity": {"deleteAppStoredCustomEntity": SUCCESS}}
    }
    assert "k" not in forge_storage.entity("employee")
    assert [(c.operation, c.api, c.key, c.entity_name) for c in forge_storage.calls] == [
        ("entity/set", "graphql", "k", "employee"),
        ("entity/get", "graphql", "k", "employee"),
        ("entity/delete", "graphql", "k", "employee"),
    ]
    assert forge_storage.calls[0].request == CE_SET_VARIABLES


def test_get_of_a_missing_record_has_a_null_value(gql: Gql) -> None:
    assert gql.run(CE_GET, CE_GET_VARIABLES).data == {
        "appStoredCustomEntity": {"value": None, "entityName": "employee", "key": "k"}
    }


def test_deleting_a_missing_record_succeeds(gql: Gql) -> None:
    assert gql.run(CE_DELETE, CE_DELETE_VARIABLES).data == {
        "appStorageCustomEntity": {"deleteAppStoredCustomEntity": SUCCESS}
    }


def test_context_ari_get(gql: Gql, forge_storage: Any) -> None:
    forge_storage.entity("employee")["k"] = {"age": 3}
    assert gql.run(ARI_CE_GET, ARI_CE_GET_VARIABLES).data == {
        "appStoredCustomEntity": {"value": {"age": 3}, "entityName": "employee", "key": "k"}
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"age": "old"}, "INVALID_ENTITY_VALUE"),
        ({"unknown": 1}, "INVALID_ENTITY_VALUE"),
        ("x", None),
    ],
)
def test_invalid_values_are_payload_errors(
    gql: Gql, forge_storage: Any, value: Any, code: Any
) -> None:
    variables = {"input": {"entityName": "employee", "key": "k", "value": value}}
    payload = gql.run(CE_SET, variables).data["appStorageCustomEntity"]["setAppStoredCustomEntity"]
    assert payload["success"] is False
    [error] = payload["errors"]
    assert error["message"]
    assert error["extensions"]["statusCode"] == 400
    if code is not None:
        assert error["extensions"]["errorType"] == code
    assert forge_storage.calls[0].error_code == error["extensions"]["errorType"]
    assert "k" not in forge_storage.entity("employee")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ab", "ENTITY_TYPE_TOO_SHORT"),
        ("x" * 61, "ENTITY_TYPE_TOO_LARGE"),
        ("Bad", "INVALID_ENTITY_TYPE"),
    ],
)
def test_bad_entity_names(gql: Gql, name: str, code: str) -> None:
    answer = gql.run(CE_GET, {"entityName": name, "key": "k"})
    assert answer.body["data"] == {"appStoredCustomEntity": None}
    assert [shape(e) for e in answer.body["errors"]] == [
        field_error(["appStoredCustomEntity"], code)
    ]
    variables = {"input": {"entityName": name, "key": "k", "value": {"age": 1}}}
    payload = gql.run(CE_SET, variables).data["appStorageCustomEntity"]["setAppStoredCustomEntity"]
    assert payload["errors"][0]["extensions"] == {"errorType": code, "statusCode": 400}


def test_an_empty_key_is_empty_key(gql: Gql) -> None:
    answer = gql.run(CE_GET, {"entityName": "employee", "key": ""})
    assert [shape(e) for e in answer.body["errors"]] == [
        field_error(["appStoredCustomEntity"], "EMPTY_KEY")
    ]


def _seed(storage: Any) -> None:
    people = storage.entity("employee")
    for i in range(12):
        people[f"e{i:02}"] = {"age": 20 + i, "gender": "f" if i % 2 else "m", "team": "x"}
    people["other"] = {"age": 99, "gender": "f", "team": "y"}


def test_sdk_list_query_verbatim(gql: Gql, forge_storage: Any) -> None:
    _seed(forge_storage)
    # the verbatim variables carry the cursor "c", which the fake did not issue
    answer = gql.run(CE_LIST, CE_LIST_VARIABLES)
    assert answer.body["data"] == {"appStoredCustomEntities": None}
    assert [shape(e) for e in answer.body["errors"]] == [
        field_error(["appStoredCustomEntities"], "BAD_REQUEST")
    ]
    variables = {k: v for k, v in CE_LIST_VARIABLES.items() if k != "cursor"}
    page = gql.run(CE_LIST, variables).data["appStoredCustomEntities"]
    # age > 30 in team x, descending, 5 per page, then only gender f: filters apply to the page
    assert page == {
        "edges": [
            {
                "node": {"key": "e11", "value": {"age": 31, "gender": "f", "team": "x"}},
                "cursor": None,
            },
        ],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
        "totalCount": 1,
        "cursor": None,
    }
    call = forge_storage.calls[-1]
    assert (call.operation, call.key, call.entity_name) == ("entity/query", None, "employee")
    assert call.request == variables


def test_legacy_pagination_follows_the_connection_cursor(gql: Gql, forge_storage: Any) -> None:
    # ref §14.5 trap 5: nextCursor = appStoredCustomEntities.cursor || null
    _seed(forge_storage)
    seen, cursor, pages = [], None, []
    while True:
        variables = {
            "entityName": "employee",
            "indexName": "by-age",
            "partition": ["x"],
            "limit": 5,
            "cursor": cursor,
            "range": None,
            "filters": None,
            "sort": None,
        }
        page = gql.run(CE_LIST, variables).data["appStoredCustomEntities"]
        seen += [e["node"]["key"] for e in page["edges"]]
        pages.append((page["pageInfo"], page["totalCount"]))
        cursor = page["cursor"]
        if not cursor:
            break
    assert seen == [f"e{i:02}" for i in range(12)]
    assert pages == [
        ({"hasNextPage": True, "hasPreviousPage": False}, 5),
        ({"hasNextPage": True, "hasPreviousPage": True}, 5),
        ({"hasNextPage": False, "hasPreviousPage": True}, 2),
    ]


def test_context_ari_list_query_on_by_key(gql: Gql, forge_storage: Any) -> None:
    _seed(forge_storage)
    page = gql.run(ARI_CE_LIST, ARI_CE_LIST_VARIABLES).data["appStoredCustomEntities"]
    assert [e["node"]["key"] for e in page["edges"]] == [f"e{i:02}" for i in range(10)]
    assert page["pageInfo"]["hasNextPage"] is True
    assert isinstance(page["cursor"], str)


def test_range_filters_and_sort_literals(gql: Gql, forge_storage: Any) -> None:
    _seed(forge_storage)
    query = """
    {
      appStoredCustomEntities(
        entityName: "employee", indexName: "by-age", partition: ["x"], sort: DESC, limit: 20,
        range: {condition: BETWEEN, values: [22, 26]},
        filters: {or: [{property: "gender", condition: EQUAL_TO, values: ["m"]}]}
      ) { __typename nodes { key } edges { __typename } }
    }
    """
    page = gql.run(query).data["appStoredCustomEntities"]
    assert page["__typename"] == "AppStoredCustomEntityConnection"
    assert page["nodes"] == [{"key": "e06"}, {"key": "e04"}, {"key": "e02"}]
    assert page["edges"] == [{"__typename": "AppStoredCustomEntityEdge"}] * 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"indexName": "by-nothing"}, "INVALID_ENTITY_INDEX"),
        ({"entityName": "nobody"}, "INVALID_ENTITY_TYPE"),
        ({"limit": 101}, "COMPLEX_QUERY_PAGE_LIMIT_NOT_IN_RANGE"),
        ({"filters": {"and": []}}, "EMPTY_FILTER_OPERATOR"),
        (
            {
                "filters": {
                    "and": [{"property": "age", "condition": "EXISTS", "values": [True]}],
                    "or": [{"property": "age", "condition": "EXISTS", "values": [True]}],
                }
            },
            "INVALID_FILTER_OPERATORS_COMBINATION",
        ),
    ],
)
def test_list_query_errors(gql: Gql, change: dict[str, Any], code: str) -> None:
    variables = {"entityName": "employee", "indexName": "by-age", "partition": ["x"], **change}
    answer = gql.run(CE_LIST, variables)
    assert answer.body["data"] == {"appStoredCustomEntities": None}
    assert [shape(e) for e in answer.body["errors"]] == [
        field_error(["appStoredCustomEntities"], code)
    ]


def test_a_partition_value_must_be_a_scalar(gql: Gql) -> None:
    variables = {"entityName": "employee", "indexName": "by-age", "partition": [{"a": 1}]}
    answer = gql.run(CE_LIST, variables)
    assert answer.status == 400
    assert answer.body["errors"][0]["extensions"]["errorType"] == "GRAPHQL_VALIDATION_FAILED"


def test_rest_and_graphql_share_entity_records(gql: Gql, forge_storage: Any) -> None:
    rest = gql.rest("entity/set", {"entityName": "employee", "key": "r", "value": {"age": 5}})
    assert rest.status == 204
    assert gql.run(CE_GET, {"entityName": "employee", "key": "r"}).data["appStoredCustomEntity"][
        "value"
    ] == {"age": 5}
    assert gql.run(CE_SET, CE_SET_VARIABLES).data
    got = gql.rest("entity/get", {"entityName": "employee", "key": "k"})
    assert got.body == {"key": "k", "value": {"age": 1}, "entityName": "employee"}


def test_entity_faults(gql: Gql, forge_storage: Any) -> None:
    forge_storage.fail("entity/set", entity_name="employee", code="KEY_CONFLICT")
    payload = gql.run(CE_SET, CE_SET_VARIABLES).data["appStorageCustomEntity"]
    assert payload["setAppStoredCustomEntity"]["errors"][0]["extensions"] == {
        "errorType": "KEY_CONFLICT",
        "statusCode": 409,
    }
    forge_storage.fail("entity/query", code="TOO_MANY_REQUESTS")
    answer = gql.run(ARI_CE_LIST, ARI_CE_LIST_VARIABLES)
    assert answer.status == 429
    assert answer.body["errors"][0]["extensions"] == {
        "errorType": "TOO_MANY_REQUESTS",
        "statusCode": 429,
    }
    assert [(c.operation, c.status, c.error_code) for c in forge_storage.calls] == [
        ("entity/set", 200, "KEY_CONFLICT"),
        ("entity/query", 429, "TOO_MANY_REQUESTS"),
    ]
