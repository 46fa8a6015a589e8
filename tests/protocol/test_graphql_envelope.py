"""The GraphQL door: what is ours, what is passed on, request errors, caching and imports.

Driven through ``ForgeStorage().handle`` directly (no transport), except where the user's own
``responses``/``respx`` mocks must see the requests that are not storage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from test_graphql import AUTH, GET, GET_VARIABLES, GRAPHQL_URL, SET, SET_VARIABLES

from pytest_forge_storage import ForgeStorage
from pytest_forge_storage._http import HttpRequest, HttpResponse

HEADERS = {"authorization": "Bearer t"}
JIRA = 'query { jira { issueByKey(key: "ABC-1") { summary } } }'
ME = "query { me { user { name } } }"


def send(
    storage: ForgeStorage,
    body: Any,
    *,
    method: str = "POST",
    url: str = GRAPHQL_URL,
    headers: dict[str, str] | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return storage.handle(HttpRequest(method, url, HEADERS if headers is None else headers, raw))


def answer(result: Any) -> tuple[int, Any]:
    assert isinstance(result, HttpResponse), result
    assert result.headers == {"content-type": "application/json"}
    return result.status, json.loads(result.body)


def only_error(result: Any) -> tuple[int, str, str]:
    status, body = answer(result)
    [error] = body["errors"]
    assert set(error) <= {"message", "locations", "extensions"}
    assert error["extensions"]["statusCode"] == status
    return status, error["extensions"]["errorType"], error["message"]


@pytest.fixture
def storage() -> ForgeStorage:
    return ForgeStorage()


# -- ours or not -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query", [ME, JIRA, "{ __typename }", "mutation { createApp(input: {}) { success } }"]
)
def test_other_atlassian_queries_pass_through_before_auth(
    storage: ForgeStorage, query: str
) -> None:
    assert send(storage, {"query": query}, headers={}) is None
    assert storage.calls == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'[{"query": "{ me { name } }"}]'])
def test_batches_without_storage_fields_pass_through(storage: ForgeStorage, body: bytes) -> None:
    assert send(storage, body, headers={}) is None


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"not json", "BAD_REQUEST"),
        (b'{"query": 1}', "BAD_REQUEST"),
        (b'{"no": "query"}', "BAD_REQUEST"),
        (b'{"query": "query { me "}', "GRAPHQL_PARSE_FAILED"),
        (b'{"query": "{ me }", "operationName": 1}', "GRAPHQL_VALIDATION_FAILED"),
    ],
)
def test_malformed_bodies_are_400_even_without_storage_fields(
    storage: ForgeStorage, body: bytes, error_type: str
) -> None:
    # Design §2.5: not a GraphQL request at all, so the fake's to refuse; never sent on.
    assert only_error(send(storage, body))[:2] == (400, error_type)


@pytest.mark.parametrize("field", ["appStoredEntitiez", "appStorageThing"])
def test_unknown_root_fields_named_like_storage_are_validation_errors(
    storage: ForgeStorage, field: str
) -> None:
    body = json.dumps({"query": f"{{ {field} {{ value }} }}"}).encode()
    status, error_type, message = only_error(send(storage, body))
    assert (status, error_type) == (400, "GRAPHQL_VALIDATION_FAILED")
    assert field in message


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"appStoredEntity(", "BAD_REQUEST"),
        (b'{"query": ["appStoredEntity"]}', "BAD_REQUEST"),
        (b'[{"query": "{ appStoredEntity(key: \\"k\\") { value } }"}]', "BAD_REQUEST"),
        (b'{"query": "{ appStoredEntity(key: "}', "GRAPHQL_PARSE_FAILED"),
    ],
)
def test_unparseable_bodies_naming_storage_fields_are_400(
    storage: ForgeStorage, body: bytes, error_type: str
) -> None:
    assert only_error(send(storage, body))[:2] == (400, error_type)


def test_unparseable_storage_bodies_still_need_a_token(storage: ForgeStorage) -> None:
    assert only_error(send(storage, b"appStoredEntity(", headers={}))[:2] == (401, "UNAUTHORIZED")
    # recorded like any refusal before a field ran (design §2.2: one call per request served)
    [call] = storage.calls
    assert (call.api, call.operation, call.key, call.request) == ("graphql", None, None, None)
    assert (call.status, call.error_code) == (401, "UNAUTHORIZED")
    assert call.summary() == "graphql (no field ran) -> 401 UNAUTHORIZED"


def test_a_document_without_operations_naming_storage_fields_is_400(storage: ForgeStorage) -> None:
    query = 'fragment F on Query { appStoredEntity(key: "k") { value } }'
    assert only_error(send(storage, {"query": query}))[:2] == (400, "GRAPHQL_VALIDATION_FAILED")
    assert send(storage, {"query": "fragment F on Query { me { name } }"}) is None


def test_batches_are_refused_when_they_hold_storage_operations(storage: ForgeStorage) -> None:
    status, _, message = only_error(send(storage, [{"query": GET, "variables": GET_VARIABLES}]))
    assert status == 400
    assert "Batched" in message


def test_non_post_storage_requests_are_405(storage: ForgeStorage) -> None:
    url = GRAPHQL_URL + "?query=%7BappStoredEntity(key%3A%22k%22)%7Bvalue%7D%7D"
    assert only_error(send(storage, b"", method="GET", url=url))[:2] == (405, "METHOD_NOT_ALLOWED")
    assert send(storage, b"", method="GET", url=GRAPHQL_URL + "?query=%7Bme%7D") is None
    assert send(storage, b"", method="OPTIONS") is None


def test_the_forge_runtime_path_is_served_too(storage: ForgeStorage) -> None:
    url = "https://api.atlassian.com/forge/entities/graphql"
    assert answer(send(storage, {"query": SET, "variables": SET_VARIABLES}, url=url))[0] == 200
    assert storage.kvs["k"] == "v"
    assert storage.calls[0].url == url


# -- operations --------------------------------------------------------------------------------
OURS_AND_THEIRS = """
query Stored { appStoredEntity(key: "k") { value } }
query Mine { me { user { name } } }
"""


def test_operation_name_decides_between_storage_and_other_operations(storage: ForgeStorage) -> None:
    assert send(storage, {"query": OURS_AND_THEIRS, "operationName": "Mine"}) is None
    status, body = answer(send(storage, {"query": OURS_AND_THEIRS, "operationName": "Stored"}))
    assert (status, body) == (200, {"data": {"appStoredEntity": {"value": None}}})
    status, error_type, message = only_error(send(storage, {"query": OURS_AND_THEIRS}))
    assert (status, error_type) == (400, "GRAPHQL_VALIDATION_FAILED")
    assert message == "Must provide operation name if query contains multiple operations."
    status, error_type, message = only_error(
        send(storage, {"query": OURS_AND_THEIRS, "operationName": "Nope"})
    )
    assert (status, message) == (400, "Unknown operation named 'Nope'.")


def test_root_fragments_count_as_storage(storage: ForgeStorage) -> None:
    query = 'query { ...F } fragment F on Query { appStoredEntity(key: "k") { value } }'
    assert answer(send(storage, {"query": query}))[1] == {
        "data": {"appStoredEntity": {"value": None}}
    }
    mixed = "query { ...F me { name } } fragment F on Query { appStorage { __typename } }"
    assert only_error(send(storage, {"query": mixed}))[:2] == (400, "GRAPHQL_VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("envelope", "fragment"),
    [
        ({"variables": [1]}, "variables must be"),
        ({"variables": "x"}, "variables must be"),
        ({"operationName": 3}, "operationName must be"),
    ],
)
def test_bad_envelopes_are_400(
    storage: ForgeStorage, envelope: dict[str, Any], fragment: str
) -> None:
    status, error_type, message = only_error(send(storage, {"query": GET, **envelope}))
    assert (status, error_type) == (400, "GRAPHQL_VALIDATION_FAILED")
    assert fragment in message


def test_undeclared_variables_are_ignored(storage: ForgeStorage) -> None:
    body = {"query": GET, "variables": {**GET_VARIABLES, "unused": {"x": 1}}}
    assert answer(send(storage, body))[0] == 200


def test_an_unprovided_variable_inside_a_json_literal_is_not_stored(storage: ForgeStorage) -> None:
    query = 'mutation($v: JSON) { appStorage { setAppStoredEntity(input: {key: "k", value: {a: $v}}) { success } } }'  # noqa: E501
    status, body = answer(send(storage, {"query": query}))
    payload = body["data"]["appStorage"]["setAppStoredEntity"]
    assert (status, payload["success"]) == (200, False)
    assert "k" not in storage.kvs


def test_explicit_nulls_inside_input_objects_are_absent(storage: ForgeStorage) -> None:
    variables = {"input": {"key": "k", "value": {"a": None}, "encrypted": None, "contextAri": None}}
    assert answer(send(storage, {"query": SET, "variables": variables}))[0] == 200
    assert storage.kvs["k"] == {"a": None}  # a null inside a JSON value is data


def test_an_id_argument_accepts_an_integer(storage: ForgeStorage) -> None:
    storage.kvs["12"] = "twelve"
    body = {"query": GET, "variables": {"key": 12, "encrypted": False}}
    assert answer(send(storage, body))[1] == {
        "data": {"appStoredEntity": {"key": "12", "value": "twelve"}}
    }


# -- machinery ---------------------------------------------------------------------------------
def test_documents_are_parsed_once_and_the_schema_is_built_once(storage: ForgeStorage) -> None:
    from pytest_forge_storage.protocol import _graphql_document, _graphql_schema

    send(storage, {"query": GET, "variables": GET_VARIABLES})
    parsed = _graphql_document.document(GET)
    schema = _graphql_schema.schema()
    send(storage, {"query": GET, "variables": GET_VARIABLES})
    assert _graphql_document.document(GET) is parsed
    assert _graphql_schema.schema() is schema


def test_the_document_cache_is_bounded() -> None:
    from pytest_forge_storage.protocol import _graphql_document

    # Bounded by source bytes (design §3: 16 MiB), not by count: issue 13 found 256 texts of
    # 16 MiB each retained. tests/protocol/test_graphql_limits.py has the byte-level checks.
    for i in range(300):
        _graphql_document.document(f'{{ appStoredEntity(key: "k{i}") {{ value }} }}')
    assert _graphql_document._cache_bytes <= _graphql_document.CACHE_BYTES
    assert _graphql_document._cache_bytes == sum(
        _graphql_document.utf8_size(t) for t in _graphql_document._cache
    )


def test_graphql_core_is_imported_only_for_graphql_requests() -> None:
    script = """
import json, sys
import pytest_forge_storage.plugin
from pytest_forge_storage import ForgeStorage
from pytest_forge_storage._http import HttpRequest
assert "graphql" not in sys.modules, "plugin import"
s = ForgeStorage()
rest = HttpRequest("POST", "https://api.atlassian.com/forge/storage/kvs/v1/set",
                   {"authorization": "Bearer t"}, b'{"key": "k", "value": 1}')
assert s.handle(rest).status == 204
assert "graphql" not in sys.modules, "REST request"
body = json.dumps({"query": '{ appStoredEntity(key: "k") { value } }'}).encode()
gql = HttpRequest("POST", "https://api.atlassian.com/graphql", {"authorization": "Bearer t"}, body)
assert s.handle(gql).status == 200
assert "graphql" in sys.modules
"""
    subprocess.run([sys.executable, "-c", script], check=True)


# -- pass-through to the user's own mocks --------------------------------------------------------
def test_other_queries_reach_the_users_responses_mock() -> None:
    import requests
    import responses

    with responses.RequestsMock() as mock:
        mock.post(GRAPHQL_URL, json={"data": {"me": {"user": {"name": "Ada"}}}})
        storage = ForgeStorage().start()  # ours on top: everything else goes to the user's mock
        try:
            me = requests.post(GRAPHQL_URL, json={"query": ME}, timeout=5)
            assert me.json() == {"data": {"me": {"user": {"name": "Ada"}}}}
            stored = requests.post(
                GRAPHQL_URL,
                json={"query": SET, "variables": SET_VARIABLES},
                headers=AUTH,
                timeout=5,
            )
            assert stored.json() == {
                "data": {"appStorage": {"setAppStoredEntity": {"success": True, "errors": None}}}
            }
        finally:
            storage.stop()
        assert len(mock.calls) == 1
    assert [c.operation for c in storage.calls] == ["set"]
    assert storage.kvs["k"] == "v"


def test_other_queries_reach_the_users_respx_mock() -> None:
    import httpx
    import respx

    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(GRAPHQL_URL).respond(json={"data": {"me": {"user": {"name": "Ada"}}}})
        storage = ForgeStorage().start()
        try:
            with httpx.Client() as client:
                me = client.post(GRAPHQL_URL, json={"query": ME})
                assert me.json() == {"data": {"me": {"user": {"name": "Ada"}}}}
                got = client.post(
                    GRAPHQL_URL, json={"query": GET, "variables": GET_VARIABLES}, headers=AUTH
                )
                assert got.json() == {"data": {"appStoredEntity": {"key": "k", "value": None}}}
        finally:
            storage.stop()
        assert route.call_count == 1
    assert [c.operation for c in storage.calls] == ["get"]


def test_other_queries_reach_the_users_default_responses_mock(forge_storage: Any) -> None:
    import requests
    import responses

    with responses.mock:  # started after the fixture's interception
        responses.post(GRAPHQL_URL, json={"data": {"me": None}})
        me = requests.post(GRAPHQL_URL, json={"query": ME}, timeout=5)
        assert me.json() == {"data": {"me": None}}
        got = requests.post(
            GRAPHQL_URL, json={"query": GET, "variables": GET_VARIABLES}, headers=AUTH, timeout=5
        )
        assert got.json() == {"data": {"appStoredEntity": {"key": "k", "value": None}}}
    assert [c.operation for c in forge_storage.calls] == ["get"]
