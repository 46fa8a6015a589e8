"""User preferences: the legacy module on the GraphQL storage API.

The fake serves ``https://api.atlassian.com/graphql`` from the same store as REST, records
each storage field as a call with ``api == "graphql"`` and the REST operation name, and
passes every other GraphQL document (``me``, say) on to the test's own ``responses`` mock.
"""

from __future__ import annotations

import itertools
import json

import pytest
import responses
from forge_settings_service import StorageError

GRAPHQL_URL = "https://api.atlassian.com/graphql"
ANN = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"
BOB = "5b10a2844c20165700ede21g"
DEFAULTS = {"theme": "light", "digest": "daily", "language": "en"}


# -- one user's preferences ------------------------------------------------------------
def test_reads_preferences_seeded_through_the_kvs_view(forge_storage, client, headers):
    forge_storage.kvs[f"prefs:{ANN}"] = {"theme": "dark"}  # REST's store, read over GraphQL

    response = client.get(f"/preferences/{ANN}", headers=headers)

    assert response.json == {
        "accountId": ANN,
        "preferences": {**DEFAULTS, "theme": "dark"},
        "stored": True,
    }
    (call,) = forge_storage.calls
    assert (call.api, call.operation, call.key, call.status) == (
        "graphql",
        "get",
        f"prefs:{ANN}",
        200,
    )
    assert call.request == {"key": f"prefs:{ANN}", "encrypted": False}  # the variables
    assert call.response == {"key": f"prefs:{ANN}", "value": {"theme": "dark"}}
    assert call.url == GRAPHQL_URL


def test_a_missing_key_is_a_null_value_not_an_error(forge_storage, client, headers):
    response = client.get(f"/preferences/{ANN}", headers=headers)

    assert response.json == {"accountId": ANN, "preferences": DEFAULTS, "stored": False}
    (call,) = forge_storage.calls_to("get", api="graphql")
    assert (call.status, call.error_code) == (200, None)
    assert call.response == {"key": f"prefs:{ANN}", "value": None}


def test_graphql_writes_and_rest_reads_the_same_store(
    forge_storage, client, headers, storage_client
):
    response = client.patch(f"/preferences/{ANN}", json={"theme": "dark"}, headers=headers)

    assert response.json["preferences"] == {**DEFAULTS, "theme": "dark"}
    assert forge_storage.kvs[f"prefs:{ANN}"] == {"theme": "dark"}
    assert storage_client.get(f"prefs:{ANN}") == {"theme": "dark"}  # POST v1/get
    assert [(c.api, c.operation) for c in forge_storage.calls] == [
        ("graphql", "get"),
        ("graphql", "set"),
        ("rest", "get"),
    ]
    write = forge_storage.calls_to("set", api="graphql")[0]
    assert write.request == {
        "input": {"key": f"prefs:{ANN}", "value": {"theme": "dark"}, "encrypted": False}
    }
    assert write.response == {"success": True, "errors": None}


def test_rest_writes_and_graphql_reads_the_same_store(
    forge_storage, client, headers, graphql_client
):
    client.put("/settings/acme", json={"theme": "dark"}, headers=headers)  # REST set

    assert graphql_client.get("settings:acme") == {"theme": "dark"}
    assert [c.api for c in forge_storage.calls_to("set")] == ["rest", "rest"]  # + audit entry
    forge_storage.assert_called("get", key="settings:acme", times=1)  # either API counts


def test_a_none_change_restores_the_default(forge_storage, client, headers):
    forge_storage.kvs[f"prefs:{ANN}"] = {"theme": "dark", "digest": "never"}

    response = client.patch(f"/preferences/{ANN}", json={"digest": None}, headers=headers)

    assert response.json["preferences"] == {**DEFAULTS, "theme": "dark"}
    assert forge_storage.kvs[f"prefs:{ANN}"] == {"theme": "dark"}


def test_delete_succeeds_whether_or_not_there_is_a_value(forge_storage, client, headers):
    forge_storage.kvs[f"prefs:{ANN}"] = {"theme": "dark"}

    assert client.delete(f"/preferences/{ANN}", headers=headers).status_code == 204
    assert client.delete(f"/preferences/{ANN}", headers=headers).status_code == 204

    assert f"prefs:{ANN}" not in forge_storage.kvs
    deletes = forge_storage.calls_to("delete", api="graphql")
    assert [(c.status, c.error_code, c.response["success"]) for c in deletes] == [
        (200, None, True),
        (200, None, True),
    ]


# -- errors ----------------------------------------------------------------------------
def test_a_mutation_payload_error_is_the_services_400(forge_storage, client, headers):
    too_big = {"signature": "x" * 250_000}  # over Forge's 240 KiB

    response = client.patch(f"/preferences/{ANN}", json=too_big, headers=headers)

    assert response.status_code == 400
    assert response.json["error"] == "preferences rejected"
    assert response.json["code"] == "MAX_SIZE"
    (write,) = forge_storage.calls_to("set")
    # HTTP 200: the error is in the payload, {"success": false, "errors": [...]}.
    assert (write.status, write.error_code, write.response["success"]) == (200, "MAX_SIZE", False)
    assert write.response["errors"][0]["extensions"] == {"errorType": "MAX_SIZE", "statusCode": 400}
    assert f"prefs:{ANN}" not in forge_storage.kvs


def test_an_injected_field_fault_is_a_payload_error_and_is_not_retried(
    forge_storage, client, headers, sleeps
):
    forge_storage.fail("set", code="INVALID_KEY")  # a 400 code fails only its field

    response = client.patch(f"/preferences/{ANN}", json={"theme": "dark"}, headers=headers)

    assert (response.status_code, response.json["code"]) == (400, "INVALID_KEY")
    (write,) = forge_storage.calls_to("set")
    assert write.response["success"] is False
    assert sleeps == []


def test_a_rate_limit_is_an_http_429_in_graphql_form_and_is_retried(
    forge_storage, client, headers, sleeps
):
    forge_storage.kvs[f"prefs:{ANN}"] = {"theme": "dark"}
    forge_storage.fail("get", code="RATE_LIMIT_EXCEEDED")

    response = client.get(f"/preferences/{ANN}", headers=headers)

    assert response.json["preferences"]["theme"] == "dark"
    first, second = forge_storage.calls_to("get", api="graphql")
    assert (first.status, first.error_code) == (429, "RATE_LIMIT_EXCEEDED")
    assert first.response["errors"][0]["extensions"] == {
        "errorType": "RATE_LIMIT_EXCEEDED",
        "statusCode": 429,
    }
    assert (second.status, second.error_code) == (200, None)
    assert sleeps == [0.1]


def test_the_client_raises_the_graphql_error_when_out_of_retries(
    forge_storage, graphql_client, sleeps
):
    forge_storage.fail("get", code="RATE_LIMIT_EXCEEDED", times=None)

    with pytest.raises(StorageError) as error:
        graphql_client.get(f"prefs:{ANN}")

    assert (error.value.status, error.value.code) == (429, "RATE_LIMIT_EXCEEDED")
    forge_storage.assert_called("get", times=4)
    assert sleeps == [0.1, 0.2, 0.4]


def test_a_gateway_500_is_the_services_502(forge_storage, client, headers, sleeps):
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR")  # the whole request fails

    response = client.patch(f"/preferences/{ANN}", json={"theme": "dark"}, headers=headers)

    assert response.status_code == 502
    assert response.json == {
        "error": "forge storage failed",
        "code": "INTERNAL_SERVER_ERROR",
        "status": 500,
    }
    assert sleeps == []


def test_a_dropped_connection_is_retried(forge_storage, client, headers):
    forge_storage.fail_transport("get")

    assert client.get(f"/preferences/{ANN}", headers=headers).status_code == 200
    assert [c.status for c in forge_storage.calls_to("get", api="graphql")] == [0, 200]


def test_a_rejected_token_is_an_http_401(forge_storage, client, headers):
    forge_storage.allowed_tokens = {"another-token"}

    response = client.get(f"/preferences/{ANN}", headers=headers)

    assert (response.status_code, response.json["code"]) == (502, "UNAUTHORIZED")
    (call,) = forge_storage.calls
    assert (call.api, call.status) == ("graphql", 401)


# -- listing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("users", "requests_made"),
    [(0, 1), (7, 1), (20, 1), (21, 2), (45, 3)],
)
def test_lists_everyone_with_first_and_after(users, requests_made, forge_storage, client, headers):
    for i in range(users):
        forge_storage.kvs[f"prefs:user-{i:03}"] = {"theme": "dark" if i % 2 else "light"}
    forge_storage.kvs["settings:acme"] = {"theme": "dark"}  # not a preference
    forge_storage.kvs["prefs"] = "no colon: not under the prefix either"

    response = client.get("/preferences", headers=headers)

    everyone = response.json["preferences"]
    assert sorted(everyone) == [f"user-{i:03}" for i in range(users)]
    if users:
        assert everyone["user-001"] == {**DEFAULTS, "theme": "dark"}
    pages = forge_storage.calls_to("query", api="graphql")
    assert len(pages) == requests_made  # pageInfo.hasNextPage says when to stop
    assert pages[0].request == {
        "where": [{"field": "key", "condition": "STARTS_WITH", "value": "prefs:"}],
        "first": 20,
        "after": None,
    }
    for previous, page in itertools.pairwise(pages):
        assert page.request["after"] == previous.response["edges"][-1]["cursor"]


# -- a non-storage GraphQL query, answered by the test's own mock ------------------------
ME_QUERY = "query { me { user { accountId } } }"


@responses.activate
def test_me_goes_to_the_tests_own_mock_and_storage_to_the_fake(forge_storage, client, headers):
    # The fake serves the storage documents before responses sees them, so this route (no
    # matcher needed) only ever gets the `me` query.
    responses.add(responses.POST, GRAPHQL_URL, json={"data": {"me": {"user": {"accountId": ANN}}}})
    forge_storage.kvs[f"prefs:{ANN}"] = {"language": "de"}

    response = client.get(
        "/me/preferences", headers={**headers, "x-forge-oauth-user": "user-token"}
    )

    assert response.status_code == 200
    assert response.json == {
        "accountId": ANN,
        "preferences": {**DEFAULTS, "language": "de"},
        "stored": True,
    }
    # The `me` query is not storage: it is neither served nor recorded by the fake.
    assert [(c.api, c.operation, c.key) for c in forge_storage.calls] == [
        ("graphql", "get", f"prefs:{ANN}")
    ]
    # `me` went out with the user's token, and it is all responses saw.
    (me,) = responses.calls
    assert json.loads(me.request.body) == {"query": ME_QUERY}
    assert me.request.headers["Authorization"] == "Bearer user-token"


@pytest.fixture
def atlassian_api():
    """The test's own mock of Atlassian's API, a ``responses.RequestsMock`` of its own."""
    with responses.RequestsMock() as mock:  # asserts at exit that every route was called
        yield mock


def test_me_goes_to_a_mock_started_before_the_fake(atlassian_api, forge_storage, client, headers):
    # `atlassian_api` comes before `forge_storage` in the arguments, so pytest starts the
    # test's mock first; either order works: the fake serves the storage documents and hands
    # everything else down to the mock.
    atlassian_api.post(GRAPHQL_URL, json={"data": {"me": {"user": {"accountId": BOB}}}})

    response = client.get(
        "/me/preferences", headers={**headers, "x-forge-oauth-user": "user-token"}
    )

    assert response.json == {"accountId": BOB, "preferences": DEFAULTS, "stored": False}
    (me,) = atlassian_api.calls  # the storage request never reached the test's mock
    assert json.loads(me.request.body) == {"query": ME_QUERY}
    forge_storage.assert_called("get", key=f"prefs:{BOB}", times=1)


def test_me_needs_the_users_token(forge_storage, client, headers):
    response = client.get("/me/preferences", headers=headers)

    assert response.status_code == 401
    forge_storage.assert_not_called()
