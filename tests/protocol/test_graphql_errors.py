"""GraphQL errors: field errors, payload errors, request errors, auth (reference §12.1)."""

from __future__ import annotations

from typing import Any

import pytest
from test_graphql import (
    GET,
    GET_VARIABLES,
    SET,
    SET_VARIABLES,
    SUCCESS,
    Gql,
)


@pytest.fixture(params=["requests", "httpx", "httpx-async"])
def gql(request: pytest.FixtureRequest, forge_storage: Any) -> Gql:
    return Gql(request.param)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "code", "message"),
    [
        ("", "KEY_TOO_SHORT", "Key was 0 characters, but should be at least 1 characters"),
        ("k" * 501, "KEY_TOO_LONG", None),
        ("a/b", "INVALID_KEY", None),
    ],
)
def test_a_bad_key_is_a_field_error(gql: Gql, key: str, code: str, message: str | None) -> None:
    answer = gql.run(GET, {"key": key, "encrypted": False})
    assert answer.status == 200
    [error] = answer.body["errors"]
    assert answer.body["data"] == {"appStoredEntity": None}
    assert set(error) == {"message", "locations", "path", "extensions"}
    assert error["path"] == ["appStoredEntity"]
    assert error["locations"] == [{"line": 3, "column": 9}]
    assert error["extensions"] == {"errorType": code, "statusCode": 400}
    if message is not None:
        assert error["message"] == message


def test_mutation_errors_come_back_in_the_payload(gql: Gql, forge_storage: Any) -> None:
    answer = gql.run(SET, {"input": {"key": "test-key@", "value": "v"}})
    assert answer.status == 200
    assert "errors" not in answer.body
    assert answer.data == {
        "appStorage": {
            "setAppStoredEntity": {
                "success": False,
                "errors": [
                    {
                        "message": 'Key "test-key@" should match the pattern '
                        '"/^(?!\\s+$)[a-zA-Z0-9:._\\s-#]+$/"',
                        "extensions": {"errorType": "INVALID_KEY", "statusCode": 400},
                    }
                ],
            }
        }
    }
    deep: Any = 1
    for _ in range(32):
        deep = {"a": deep}
    payload = gql.run(SET, {"input": {"key": "k", "value": deep}}).data["appStorage"]
    assert payload["setAppStoredEntity"]["errors"][0]["extensions"] == {
        "errorType": "MAX_DEPTH",
        "statusCode": 400,
    }
    big = "x" * (128 * 1024)
    secret = gql.run(SET, {"input": {"key": "k", "value": big, "encrypted": True}}).data
    assert secret["appStorage"]["setAppStoredEntity"]["errors"][0]["extensions"] == {
        "errorType": "MAX_SIZE",
        "statusCode": 400,
    }
    assert gql.run(SET, {"input": {"key": "k", "value": big}}).data["appStorage"] == {
        "setAppStoredEntity": SUCCESS
    }
    assert len(forge_storage.secrets) == 0


def test_a_null_value_is_a_validation_error(gql: Gql, forge_storage: Any) -> None:
    answer = gql.run(SET, {"input": {"key": "k", "value": None}})
    assert answer.status == 400
    [error] = answer.body["errors"]
    assert "value" in error["message"]
    assert error["extensions"] == {"errorType": "GRAPHQL_VALIDATION_FAILED", "statusCode": 400}
    assert forge_storage.calls == []


def test_a_malformed_document_is_400(gql: Gql, forge_storage: Any) -> None:
    answer = gql.run('query { appStoredEntity(key: "k" { value } }')
    assert answer.status == 400
    assert answer.body == {
        "errors": [
            {
                "message": "Syntax Error: Expected Name, found '{'.",
                "locations": [{"line": 1, "column": 34}],
                "extensions": {"errorType": "GRAPHQL_PARSE_FAILED", "statusCode": 400},
            }
        ]
    }
    [call] = forge_storage.calls
    assert (call.api, call.operation, call.key, call.request) == ("graphql", None, None, None)
    assert (call.status, call.error_code) == (400, "GRAPHQL_PARSE_FAILED")
    assert call.summary() == "graphql (no field ran) -> 400 GRAPHQL_PARSE_FAILED"


def test_an_unknown_field_is_400(gql: Gql) -> None:
    answer = gql.run('{ appStoredEntity(key: "k") { key valu } }')
    assert answer.status == 400
    assert answer.body == {
        "errors": [
            {
                "message": (
                    "Cannot query field 'valu' on type 'AppStoredEntity'. Did you mean 'value'?"
                ),
                "locations": [{"line": 1, "column": 35}],
                "extensions": {"errorType": "GRAPHQL_VALIDATION_FAILED", "statusCode": 400},
            }
        ]
    }


def test_a_missing_required_variable_is_400(gql: Gql) -> None:
    answer = gql.run(GET, {"encrypted": False})
    assert answer.status == 400
    [error] = answer.body["errors"]
    assert "$key" in error["message"]
    assert error["extensions"] == {"errorType": "GRAPHQL_VALIDATION_FAILED", "statusCode": 400}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic dXNlcjpwdw=="}]
)
def test_a_missing_or_blank_token_is_401(gql: Gql, forge_storage: Any, headers: Any) -> None:
    answer = gql.run(SET, SET_VARIABLES, headers=headers)
    assert answer.status == 401
    [error] = answer.body["errors"]
    assert error["message"]
    assert error["extensions"] == {"errorType": "UNAUTHORIZED", "statusCode": 401}
    assert forge_storage.kvs == {}
    [call] = forge_storage.calls
    assert (call.operation, call.api, call.key, call.status, call.error_code) == (
        "set",
        "graphql",
        "k",
        401,
        "UNAUTHORIZED",
    )


def test_allowed_tokens_apply_to_graphql(gql: Gql, forge_storage: Any) -> None:
    forge_storage.allowed_tokens = {"t1"}
    assert gql.run(GET, GET_VARIABLES).status == 401
    assert gql.run(GET, GET_VARIABLES, headers={"Authorization": "Bearer t1"}).status == 200


def test_a_mixed_document_is_400(gql: Gql, forge_storage: Any) -> None:
    answer = gql.run('{ me { user { name } } appStoredEntity(key: "k") { value } }')
    assert answer.status == 400
    [error] = answer.body["errors"]
    assert "appStoredEntity" in error["message"]
    assert "me" in error["message"]
    assert "only the storage fields" in error["message"]
    assert error["extensions"] == {"errorType": "GRAPHQL_VALIDATION_FAILED", "statusCode": 400}
    [call] = forge_storage.calls  # nothing ran, and the refusal is recorded
    assert (call.operation, call.error_code) == (None, "GRAPHQL_VALIDATION_FAILED")
