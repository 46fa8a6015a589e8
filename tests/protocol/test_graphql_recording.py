"""GraphQL calls share the store with REST, are recorded one per field, and take faults."""

from __future__ import annotations

from typing import Any

import pytest
from test_graphql import (
    DOCS_QUERY,
    DOCS_QUERY_VARIABLES,
    GET,
    GET_VARIABLES,
    GRAPHQL_URL,
    SET,
    SET_VARIABLES,
    SUCCESS,
    Gql,
    field_error,
    shape,
)


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def gql(request: pytest.FixtureRequest, forge_storage: Any) -> Gql:
    return Gql(request.param)


# -- one store, recording ----------------------------------------------------------------------
def test_rest_and_graphql_share_one_store(gql: Gql, forge_storage: Any) -> None:
    assert gql.rest("set", {"key": "r", "value": {"from": "rest"}}).status == 204
    assert gql.run(SET, {"input": {"key": "g", "value": {"from": "graphql"}}}).data
    assert gql.rest("secret/set", {"key": "s", "value": "x"}).status == 204
    assert gql.run(GET, {"key": "r", "encrypted": False}).data["appStoredEntity"]["value"] == {
        "from": "rest"
    }
    assert gql.run(GET, {"key": "s", "encrypted": True}).data["appStoredEntity"]["value"] == "x"
    assert gql.rest("get", {"key": "g"}).body == {"key": "g", "value": {"from": "graphql"}}
    assert gql.rest("query", {}).body == {
        "data": [
            {"key": "g", "value": {"from": "graphql"}},
            {"key": "r", "value": {"from": "rest"}},
        ]
    }
    assert [(c.api, c.operation) for c in forge_storage.calls] == [
        ("rest", "set"),
        ("graphql", "set"),
        ("rest", "secret/set"),
        ("graphql", "get"),
        ("graphql", "secret/get"),
        ("rest", "get"),
        ("rest", "query"),
    ]


def test_calls_record_operation_key_variables_and_field_result(
    gql: Gql, forge_storage: Any
) -> None:
    gql.run(SET, SET_VARIABLES)
    gql.run(GET, GET_VARIABLES)
    gql.run(DOCS_QUERY, {**DOCS_QUERY_VARIABLES, "after": None})
    set_call, get_call, query_call = forge_storage.calls
    assert (set_call.operation, set_call.api, set_call.key, set_call.entity_name) == (
        "set",
        "graphql",
        "k",
        None,
    )
    assert set_call.request == SET_VARIABLES
    assert (set_call.status, set_call.response, set_call.error_code) == (200, SUCCESS, None)
    assert set_call.url == GRAPHQL_URL
    assert (get_call.operation, get_call.key, get_call.request) == ("get", "k", GET_VARIABLES)
    assert get_call.response == {"key": "k", "value": "v"}
    # the variables the field uses, as sent (the undeclared "encrypted" is not among them)
    assert (query_call.operation, query_call.key) == ("query", None)
    assert query_call.request == {
        k: v for k, v in DOCS_QUERY_VARIABLES.items() if k != "encrypted"
    } | {"after": None}
    assert query_call.response == {"edges": [], "pageInfo": {"hasNextPage": False}}
    assert forge_storage.calls_to("set", api="graphql") == [set_call]
    forge_storage.assert_called("get", key="k", times=1)


def test_field_errors_are_recorded_with_their_error_type(gql: Gql, forge_storage: Any) -> None:
    gql.run(GET, {"key": "", "encrypted": False})
    [call] = forge_storage.calls
    assert (call.status, call.error_code) == (200, "KEY_TOO_SHORT")
    assert call.response["extensions"] == {"errorType": "KEY_TOO_SHORT", "statusCode": 400}
    assert call.response["path"] == ["appStoredEntity"]


def test_secret_values_are_masked_in_recorded_calls(gql: Gql, forge_storage: Any) -> None:
    gql.run(SET, {"input": {"key": "s", "value": "hunter2", "encrypted": True}})
    gql.run(GET, {"key": "s", "encrypted": True})
    renamed = "mutation($in: SetAppStoredEntityMutationInput!) { appStorage { setAppStoredEntity(input: $in) { success } } }"  # noqa: E501
    gql.run(renamed, {"in": {"key": "r", "value": "hunter2", "encrypted": True}})
    literal = 'mutation($v: JSON!) { appStorage { setAppStoredEntity(input: {key: "l", value: $v, encrypted: true}) { success } } }'  # noqa: E501
    gql.run(literal, {"v": "hunter2"})
    calls = forge_storage.calls
    assert [c.operation for c in calls] == ["secret/set", "secret/get", "secret/set", "secret/set"]
    assert calls[3].request == {"input": {"key": "l", "value": "hunter2", "encrypted": True}}
    assert calls[0].request == {"input": {"key": "s", "value": "hunter2", "encrypted": True}}
    for call in calls:
        assert "hunter2" not in repr(call)
        assert "hunter2" not in str(call)
    with pytest.raises(AssertionError) as failure:
        forge_storage.assert_called("delete", key="nope")
    assert "hunter2" not in str(failure.value)


# -- faults ------------------------------------------------------------------------------------
def test_a_4xx_fault_fails_its_field_and_writes_nothing(gql: Gql, forge_storage: Any) -> None:
    forge_storage.fail("set", code="KEY_CONFLICT")
    payload = gql.run(SET, SET_VARIABLES).data["appStorage"]["setAppStoredEntity"]
    assert payload["success"] is False
    assert payload["errors"][0]["extensions"] == {"errorType": "KEY_CONFLICT", "statusCode": 409}
    assert forge_storage.kvs == {}
    forge_storage.fail("get", code="BAD_REQUEST", message="nope")
    answer = gql.run(GET, GET_VARIABLES)
    assert answer.body["data"] == {"appStoredEntity": None}
    [error] = answer.body["errors"]
    assert error["message"] == "nope"
    assert shape(error) == field_error(["appStoredEntity"], "BAD_REQUEST")
    assert [(c.operation, c.status, c.error_code) for c in forge_storage.calls] == [
        ("set", 200, "KEY_CONFLICT"),
        ("get", 200, "BAD_REQUEST"),
    ]
    assert gql.run(SET, SET_VARIABLES).data["appStorage"]["setAppStoredEntity"] == SUCCESS


@pytest.mark.parametrize(
    ("code", "status"), [("RATE_LIMIT_EXCEEDED", 429), ("INTERNAL_SERVER_ERROR", 500)]
)
def test_rate_limit_and_server_faults_fail_the_whole_request(
    gql: Gql, forge_storage: Any, code: str, status: int
) -> None:
    forge_storage.fail("set", code=code)
    answer = gql.run(SET, SET_VARIABLES)
    assert answer.status == status
    [error] = answer.body["errors"]
    assert error["message"]
    assert error["extensions"] == {"errorType": code, "statusCode": status}
    assert forge_storage.kvs == {}
    [call] = forge_storage.calls
    assert (call.operation, call.key, call.status, call.error_code) == ("set", "k", status, code)


def test_a_keyed_fault_hits_only_its_field(gql: Gql, forge_storage: Any) -> None:
    forge_storage.kvs["a"] = 1
    forge_storage.kvs["b"] = 2
    forge_storage.fail("get", key="b", code="INVALID_KEY")
    answer = gql.run(
        '{ a: appStoredEntity(key: "a") { value } b: appStoredEntity(key: "b") { value } }'
    )
    assert answer.body["data"] == {"a": {"value": 1}, "b": None}
    assert [shape(e) for e in answer.body["errors"]] == [field_error(["b"], "INVALID_KEY")]


def test_faults_after_and_times_count_graphql_fields(gql: Gql, forge_storage: Any) -> None:
    forge_storage.fail("get", code="INVALID_KEY", after=1, times=1)
    answer = gql.run(
        '{ a: appStoredEntity(key: "a") { value } b: appStoredEntity(key: "b") { value } '
        'c: appStoredEntity(key: "c") { value } }'
    )
    assert answer.body["data"] == {"a": {"value": None}, "b": None, "c": {"value": None}}


def test_a_transport_fault_raises_the_clients_error(gql: Gql, forge_storage: Any) -> None:
    import httpx
    import requests

    forge_storage.fail_transport("set")
    errors = (requests.ConnectionError, httpx.ConnectError)
    with pytest.raises(errors):
        gql.run(SET, SET_VARIABLES)
    assert forge_storage.kvs == {}
    [call] = forge_storage.calls
    assert (call.operation, call.status) == ("set", 0)
    forge_storage.fail_transport("get", error="timeout")
    with pytest.raises((requests.Timeout, httpx.ReadTimeout)):
        gql.run(GET, GET_VARIABLES)
