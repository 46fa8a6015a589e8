"""GraphQL storage API over real requests and httpx clients (reference §12, §14.5, decision 12).

The documents below are verbatim: ``@forge/storage@2.0.3`` (§12.3), the ``contextAri`` forms
of ``@forge/storage@1.5.15`` (§12.4) and the remote-GraphQL docs page (§12.5).
"""

from __future__ import annotations

from typing import Any

import pytest

GRAPHQL_URL = "https://api.atlassian.com/graphql"
REST_URL = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer test-token"}


class Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body

    @property
    def data(self) -> Any:
        assert self.status == 200, self.body
        return self.body["data"]


class Gql:
    """Posts GraphQL requests through one real client: requests, httpx or httpx async."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def run(
        self,
        query: str,
        variables: Any = None,
        *,
        headers: dict[str, str] | None = None,
        **envelope: Any,
    ) -> Answer:
        body = {"query": query, "variables": variables, **envelope}
        return self.post(GRAPHQL_URL, body, headers=AUTH if headers is None else headers)

    def rest(self, operation: str, body: Any) -> Answer:
        return self.post(REST_URL + operation, body, headers=AUTH)

    def post(self, url: str, body: Any, *, headers: dict[str, str]) -> Answer:
        if self.kind == "requests":
            import requests

            r = requests.post(url, json=body, headers=headers, timeout=5)
            return Answer(r.status_code, r.json() if r.content else None)
        import anyio
        import httpx

        if self.kind == "httpx":
            with httpx.Client() as client:
                got = client.post(url, json=body, headers=headers)
            return Answer(got.status_code, got.json() if got.content else None)

        async def send() -> httpx.Response:
            async with httpx.AsyncClient() as client:
                return await client.post(url, json=body, headers=headers)

        got = anyio.run(send)
        return Answer(got.status_code, got.json() if got.content else None)


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def gql(request: pytest.FixtureRequest, forge_storage: Any) -> Gql:
    return Gql(request.param)


def field_error(path: list[Any], error_type: str, status: int = 400) -> dict[str, Any]:
    """What the §12.1 field error shape checks: path and extensions (message, locations exist)."""
    return {"path": path, "extensions": {"errorType": error_type, "statusCode": status}}


def shape(error: dict[str, Any]) -> dict[str, Any]:
    assert error["message"], error
    assert error["locations"], error
    return {"path": error["path"], "extensions": error["extensions"]}


# -- verbatim documents ----------------------------------------------------------------------
#: UntypedQueries.get("k", false)
GET = """
      query forge_app_getApplicationStorageEntity($key: ID!, $encrypted: Boolean!) {
        appStoredEntity(key: $key, encrypted: $encrypted) {
          key
          value
        }
      }
    """
GET_VARIABLES = {"key": "k", "encrypted": False}

#: UntypedQueries.set("k", "v", false)
SET = """
      mutation forge_app_setApplicationStorageEntity($input: SetAppStoredEntityMutationInput!) {
        appStorage{
          setAppStoredEntity(input: $input) {
            success

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
    """
SET_VARIABLES = {"input": {"key": "k", "value": "v", "encrypted": False}}

#: UntypedQueries.delete("k", true)
DELETE = """
      mutation forge_app_deleteApplicationStorageEntity($input: DeleteAppStoredEntityMutationInput!) {
        appStorage {
          deleteAppStoredEntity(input: $input) {
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
DELETE_VARIABLES = {"input": {"key": "k", "encrypted": True}}

#: UntypedQueries.listQuery({where: [{field: "key", condition: "STARTS_WITH", value: "pre"}],
#:   cursor: "c", limit: 10})
LIST = """
      query forge_app_getApplicationStorageEntities($where: [AppStoredEntityFilter!], $cursor: String, $limit: Int) {
        appStoredEntities(where: $where, after: $cursor, first: $limit) {
          edges {
            node {
              value
              key
            }
\x20\x20
            cursor
          }
        }
      }
    """  # noqa: E501
LIST_VARIABLES = {
    "where": [{"field": "key", "condition": "STARTS_WITH", "value": "pre"}],
    "cursor": "c",
    "limit": 10,
}

#: UntypedQueries.get(ari,"k",false)
ARI_GET = """
      query forge_app_getApplicationStorageEntity($contextAri: ID!, $key: ID!, $encrypted: Boolean!) {
        appStoredEntity(contextAri: $contextAri, key: $key, encrypted: $encrypted) {
          key
          value
        }
      }
    """  # noqa: E501
ARI_GET_VARIABLES = {"contextAri": "ari:cloud:jira::site/1234", "key": "k", "encrypted": False}

#: UntypedQueries.listQuery(ari,{})
ARI_LIST = """
      query forge_app_getApplicationStorageEntities($contextAri: ID!, $where: [AppStoredEntityFilter!], $cursor: String, $limit: Int) {
        appStoredEntities(contextAri: $contextAri, where: $where, after: $cursor, first: $limit) {
          edges {
            node {
              value
              key
            }
\x20\x20
            cursor
          }
        }
      }
    """  # noqa: E501
ARI_LIST_VARIABLES = {
    "contextAri": "ari:cloud:jira::site/1234",
    "where": None,
    "cursor": None,
    "limit": None,
}

#: UntypedQueries.listQueryForCleanup(ari,{})
ARI_LIST_FOR_CLEANUP = """
      query forge_app_getApplicationStorageEntitiesForCleanup($contextAri: ID!, $where: [AppStoredEntityFilter!], $cursor: String, $limit: Int) {
        appStoredEntitiesForCleanup(contextAri: $contextAri, where: $where, after: $cursor, first: $limit) {
          edges {
            node {
              value
              key
            }
\x20\x20
            cursor
          }
        }
      }
    """  # noqa: E501
ARI_LIST_FOR_CLEANUP_VARIABLES = {
    "contextAri": "ari:cloud:jira::site/1234",
    "where": None,
    "cursor": None,
    "limit": None,
}

#: §12.5, the remote-GraphQL docs page examples (one line each, as published).
DOCS_SET = "mutation forge_app_setExample($input: SetAppStoredEntityMutationInput!) { appStorage { setAppStoredEntity(input: $input) { success errors { message extensions { errorType statusCode } } } } }"  # noqa: E501
DOCS_SET_VARIABLES = {
    "input": {
        "contextAri": "ari:cloud:confluence::site/1234",
        "key": "example-key",
        "value": "hello world",
        "encrypted": False,
    }
}
DOCS_GET = "query forge_app_getExample($contextAri: ID!, $key: ID!, $encrypted: Boolean!) { appStoredEntity( contextAri: $contextAri, key: $key, encrypted: $encrypted ) { value } }"  # noqa: E501
DOCS_QUERY = "query forge_app_queryExample($contextAri: ID!, $where: [AppStoredEntityFilter!]!, $first: Int!, $after: String) { appStoredEntities(contextAri: $contextAri, where: $where, first: $first, after: $after) { edges { node { value key } cursor } pageInfo { hasNextPage } } }"  # noqa: E501
DOCS_QUERY_VARIABLES = {
    "contextAri": "ari:cloud:confluence::site/1234",
    "where": {"field": "key", "condition": "STARTS_WITH", "value": "example"},
    "first": 10,
    "encrypted": False,
    "after": "FAJ0ZXN0LWtleS0yAA==",
}
DOCS_DELETE = "mutation forge_app_deleteExample($input: DeleteAppStoredEntityMutationInput!) { appStorage { deleteAppStoredEntity(input: $input) { success errors { message extensions { errorType statusCode } } } } }"  # noqa: E501

SUCCESS = {"success": True, "errors": None}


# -- the @forge/storage 2.0.3 documents (§12.3) ----------------------------------------------
def test_sdk_set_get_delete(gql: Gql, forge_storage: Any) -> None:
    assert gql.run(SET, SET_VARIABLES).body == {
        "data": {"appStorage": {"setAppStoredEntity": SUCCESS}}
    }
    assert forge_storage.kvs["k"] == "v"
    assert gql.run(GET, GET_VARIABLES).body == {
        "data": {"appStoredEntity": {"key": "k", "value": "v"}}
    }
    delete = gql.run(DELETE, {"input": {"key": "k", "encrypted": False}})
    assert delete.body == {"data": {"appStorage": {"deleteAppStoredEntity": SUCCESS}}}
    assert "k" not in forge_storage.kvs


def test_get_of_a_missing_key_is_an_entity_with_a_null_value(gql: Gql) -> None:
    # ref §14.5 trap 1: the SDK destructures appStoredEntity.value
    assert gql.run(GET, GET_VARIABLES).body == {
        "data": {"appStoredEntity": {"key": "k", "value": None}}
    }
    variables = {"contextAri": "ari:cloud:confluence::site/1", "key": "k", "encrypted": False}
    assert gql.run(DOCS_GET, variables).body == {"data": {"appStoredEntity": {"value": None}}}


@pytest.mark.parametrize("value", [0, False, "", [], {}, 1.5, {"a": [1, None, {"b": True}]}])
def test_every_json_value_round_trips(gql: Gql, value: Any) -> None:
    assert gql.run(SET, {"input": {"key": "k", "value": value}}).data["appStorage"] == {
        "setAppStoredEntity": SUCCESS
    }
    assert gql.run(GET, GET_VARIABLES).data == {"appStoredEntity": {"key": "k", "value": value}}


def test_encrypted_addresses_secrets(gql: Gql, forge_storage: Any) -> None:
    assert gql.run(SET, {"input": {"key": "k", "value": "s3cret", "encrypted": True}}).data
    assert forge_storage.secrets["k"] == "s3cret"
    assert "k" not in forge_storage.kvs
    assert gql.run(GET, GET_VARIABLES).data == {"appStoredEntity": {"key": "k", "value": None}}
    assert gql.run(GET, {"key": "k", "encrypted": True}).data == {
        "appStoredEntity": {"key": "k", "value": "s3cret"}
    }
    assert gql.run(DELETE, DELETE_VARIABLES).data == {
        "appStorage": {"deleteAppStoredEntity": SUCCESS}
    }
    assert "k" not in forge_storage.secrets
    assert [c.operation for c in forge_storage.calls] == [
        "secret/set",
        "get",
        "secret/get",
        "secret/delete",
    ]


def test_deleting_a_missing_key_succeeds(gql: Gql, forge_storage: Any) -> None:
    # The legacy SDK throws on any payload error, and its docs say delete succeeds either way.
    assert gql.run(DELETE, DELETE_VARIABLES).data["appStorage"] == {
        "deleteAppStoredEntity": SUCCESS
    }
    assert forge_storage.calls[0].error_code is None


def test_sdk_list_query(gql: Gql, forge_storage: Any) -> None:
    for key in ["other", "pre.1", "pre.2", "pre.3", "prf"]:
        forge_storage.kvs[key] = key.upper()
    answer = gql.run(LIST, {**LIST_VARIABLES, "cursor": None})
    edges = answer.data["appStoredEntities"]["edges"]
    assert [e["node"] for e in edges] == [
        {"value": "PRE.1", "key": "pre.1"},
        {"value": "PRE.2", "key": "pre.2"},
        {"value": "PRE.3", "key": "pre.3"},
    ]
    assert all(isinstance(e["cursor"], str) and e["cursor"] for e in edges)
    # after an edge's cursor, the list continues right after that edge
    after_first = gql.run(LIST, {**LIST_VARIABLES, "cursor": edges[0]["cursor"]})
    assert [e["node"]["key"] for e in after_first.data["appStoredEntities"]["edges"]] == [
        "pre.2",
        "pre.3",
    ]


def test_a_cursor_the_fake_did_not_issue_is_a_bad_request_field_error(gql: Gql) -> None:
    answer = gql.run(LIST, LIST_VARIABLES)  # the verbatim variables carry cursor "c"
    assert answer.status == 200
    assert answer.body["data"] == {"appStoredEntities": None}
    assert [shape(e) for e in answer.body["errors"]] == [
        field_error(["appStoredEntities"], "BAD_REQUEST")
    ]


def seed(storage: Any, keys: list[str]) -> None:
    for key in keys:
        storage.kvs[key] = {"k": key}


def test_legacy_pagination_ends_with_an_empty_page(gql: Gql, forge_storage: Any) -> None:
    # ref §14.5 trap 4: the SDK pages with the last edge's cursor until edges is empty.
    keys = [f"pre.{i:02}" for i in range(25)]
    seed(forge_storage, [*keys, "pra", "prf"])
    seen, cursor, pages = [], None, 0
    while True:
        variables = {"where": LIST_VARIABLES["where"], "cursor": cursor, "limit": 10}
        edges = gql.run(LIST, variables).data["appStoredEntities"]["edges"]
        pages += 1
        if not edges:
            break
        seen += [e["node"]["key"] for e in edges]
        cursor = edges[-1]["cursor"]
    assert seen == keys
    assert pages == 4  # 10, 10, 5, then the empty page
    assert [c.operation for c in forge_storage.calls] == ["query"] * 4


def test_docs_pagination_follows_has_next_page(gql: Gql, forge_storage: Any) -> None:
    keys = [f"example-{i:02}" for i in range(20)]
    seed(forge_storage, keys)
    seen, after, pages = [], None, []
    while True:
        variables = {**DOCS_QUERY_VARIABLES, "after": after, "first": 7}
        page = gql.run(DOCS_QUERY, variables).data["appStoredEntities"]
        seen += [e["node"]["key"] for e in page["edges"]]
        pages.append(page["pageInfo"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["edges"][-1]["cursor"]
    assert seen == keys
    assert pages == [{"hasNextPage": True}, {"hasNextPage": True}, {"hasNextPage": False}]


def test_a_full_last_page_says_there_is_no_next_page(gql: Gql, forge_storage: Any) -> None:
    seed(forge_storage, ["example-1", "example-2"])
    page = gql.run(DOCS_QUERY, {**DOCS_QUERY_VARIABLES, "after": None, "first": 2}).data
    assert page["appStoredEntities"]["pageInfo"] == {"hasNextPage": False}


def test_docs_query_example_verbatim(gql: Gql, forge_storage: Any) -> None:
    # where is a single object for a list type, encrypted is not declared, and the after
    # cursor is Forge's own example (the key test-key-2, tuple-encoded): all accepted.
    seed(forge_storage, ["example-a", "test-key-1", "test-key-2", "test-key-3"])
    answer = gql.run(
        DOCS_QUERY,
        {
            **DOCS_QUERY_VARIABLES,
            "where": {"field": "key", "condition": "STARTS_WITH", "value": "test-key"},
        },
    )
    assert answer.body == {
        "data": {
            "appStoredEntities": {
                "edges": [
                    {
                        "node": {"value": {"k": "test-key-3"}, "key": "test-key-3"},
                        "cursor": answer.data["appStoredEntities"]["edges"][0]["cursor"],
                    },
                ],
                "pageInfo": {"hasNextPage": False},
            }
        }
    }
    answer = gql.run(DOCS_QUERY, DOCS_QUERY_VARIABLES)  # prefix "example", after test-key-2
    assert answer.data == {"appStoredEntities": {"edges": [], "pageInfo": {"hasNextPage": False}}}


def test_docs_set_get_delete_examples(gql: Gql, forge_storage: Any) -> None:
    assert gql.run(DOCS_SET, DOCS_SET_VARIABLES).body == {
        "data": {"appStorage": {"setAppStoredEntity": SUCCESS}}
    }
    ari = DOCS_SET_VARIABLES["input"]["contextAri"]
    get = {"contextAri": ari, "key": "example-key", "encrypted": False}
    assert gql.run(DOCS_GET, get).body == {"data": {"appStoredEntity": {"value": "hello world"}}}
    delete = {"input": {"contextAri": ari, "key": "example-key", "encrypted": False}}
    assert gql.run(DOCS_DELETE, delete).body == {
        "data": {"appStorage": {"deleteAppStoredEntity": SUCCESS}}
    }
    assert forge_storage.kvs == {}


# -- contextAri (§12.4, decision 12) --------------------------------------------------------
def test_context_ari_documents(gql: Gql, forge_storage: Any) -> None:
    seed(forge_storage, ["a", "b"])
    assert gql.run(ARI_GET, {**ARI_GET_VARIABLES, "key": "a"}).body == {
        "data": {"appStoredEntity": {"key": "a", "value": {"k": "a"}}}
    }
    # explicit nulls for where, cursor and limit are absent: everything, default page
    answer = gql.run(ARI_LIST, ARI_LIST_VARIABLES)
    assert [e["node"]["key"] for e in answer.data["appStoredEntities"]["edges"]] == ["a", "b"]


def test_list_query_for_cleanup_is_no_longer_in_the_schema(gql: Gql, forge_storage: Any) -> None:
    answer = gql.run(ARI_LIST_FOR_CLEANUP, ARI_LIST_FOR_CLEANUP_VARIABLES)
    assert answer.status == 400
    [error] = answer.body["errors"]
    assert "appStoredEntitiesForCleanup" in error["message"]
    assert error["extensions"] == {"errorType": "GRAPHQL_VALIDATION_FAILED", "statusCode": 400}
    [call] = forge_storage.calls  # recorded, so that it shows in the test's report
    assert (call.api, call.operation, call.status) == ("graphql", None, 400)
    assert call.error_code == "GRAPHQL_VALIDATION_FAILED"
    assert call.response == answer.body


@pytest.mark.parametrize(
    "ari",
    [
        "ari:cloud:confluence::site/1234",
        "ari:cloud:jira::site/abc-1",
        "ari:cloud:jira:c1:issue/10000",
    ],
)
def test_valid_context_aris(gql: Gql, ari: str) -> None:
    assert gql.run(ARI_GET, {**ARI_GET_VARIABLES, "contextAri": ari}).data == {
        "appStoredEntity": {"key": "k", "value": None}
    }


@pytest.mark.parametrize(
    "ari", ["", "1234", "ari:cloud:jira::site", "site/1234", "ari:cloud:jira::site/"]
)
def test_invalid_context_ari_is_context_invalid(gql: Gql, forge_storage: Any, ari: str) -> None:
    answer = gql.run(ARI_GET, {**ARI_GET_VARIABLES, "contextAri": ari})
    assert answer.body["data"] == {"appStoredEntity": None}
    assert [shape(e) for e in answer.body["errors"]] == [
        field_error(["appStoredEntity"], "CONTEXT_INVALID")
    ]
    payload = gql.run(SET, {"input": {"contextAri": ari, "key": "k", "value": 1}}).data
    [error] = payload["appStorage"]["setAppStoredEntity"]["errors"]
    assert error["extensions"] == {"errorType": "CONTEXT_INVALID", "statusCode": 400}
    assert "k" not in forge_storage.kvs
