"""Faults on demand (design §2.2), through real requests and httpx clients, sync and async."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests

from tests.conftest import Client


@pytest.fixture
def employee(forge_storage: Any) -> str:
    forge_storage.define_entity("employee", {"age": "integer"}, ["age"])
    forge_storage.define_entity("manager", {"age": "integer"})
    return "employee"


# -- fail(): the Forge error instead of the answer ---------------------------------------
def test_defaults_are_rate_limit_exceeded_429(client: Client, forge_storage: Any) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.fail()
    answer = client.post("get", {"key": "k"})
    assert answer.error() == (429, "RATE_LIMIT_EXCEEDED")
    assert answer.body["message"] == (
        "Any request that exceeds a quota or limit will return a 429 status."
    )
    assert client.post("get", {"key": "k"}).body == {"key": "k", "value": 1}  # times=1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("RATE_LIMIT_EXCEEDED", 429),
        ("TOO_MANY_REQUESTS", 429),
        ("INTERNAL_SERVER_ERROR", 500),
        ("UNAUTHORIZED", 401),
        ("KEY_NOT_FOUND", 404),
        ("KEY_CONFLICT", 409),
        ("INVALID_KEY", 400),
        ("BAD_REQUEST", 400),
        ("STORAGE_LIMIT_EXCEEDED", 400),  # a code the fake never produces itself
    ],
)
def test_status_defaults_from_the_code(
    client: Client, forge_storage: Any, code: str, status: int
) -> None:
    forge_storage.fail("set", code=code)
    answer = client.post("set", {"key": "k", "value": 1})
    assert answer.error() == (status, code)
    assert "k" not in forge_storage.kvs


def test_known_codes_keep_forge_messages(client: Client, forge_storage: Any) -> None:
    forge_storage.fail("get", code="INTERNAL_SERVER_ERROR")
    answer = client.post("get", {"key": "k"})
    assert answer.body == {
        "code": "INTERNAL_SERVER_ERROR",
        "message": "An internal server error has occurred",
    }


def test_custom_status_and_message(client: Client, forge_storage: Any) -> None:
    forge_storage.fail("query", code="SERVICE_UNAVAILABLE", status=503, message="try later")
    answer = client.post("query", {})
    assert (answer.status, answer.body) == (
        503,
        {"code": "SERVICE_UNAVAILABLE", "message": "try later"},
    )


@pytest.mark.parametrize("times", [1, 3])
def test_times(rq: Client, forge_storage: Any, times: int) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.fail("get", times=times)
    statuses = [rq.post("get", {"key": "k"}).status for _ in range(times + 2)]
    assert statuses == [429] * times + [200, 200]


def test_times_none_fails_every_matching_call(client: Client, forge_storage: Any) -> None:
    forge_storage.fail("get", code="INTERNAL_SERVER_ERROR", times=None)
    for _ in range(5):
        assert client.post("get", {"key": "k"}).error() == (500, "INTERNAL_SERVER_ERROR")
    assert client.post("set", {"key": "k", "value": 1}).status == 204


def test_after_lets_calls_succeed_first(client: Client, forge_storage: Any) -> None:
    forge_storage.fail("set", after=2, times=2, code="INTERNAL_SERVER_ERROR")
    statuses = [client.post("set", {"key": f"k{i}", "value": i}).status for i in range(5)]
    assert statuses == [204, 204, 500, 500, 204]
    assert sorted(forge_storage.kvs) == ["k0", "k1", "k4"]


def test_only_matching_calls_count_towards_after_and_times(rq: Client, forge_storage: Any) -> None:
    forge_storage.fail("set", after=1)
    assert rq.post("get", {"key": "k"}).status == 404  # not a set: not counted
    assert rq.post("set", {"key": "a", "value": 1}).status == 204
    assert rq.post("get", {"key": "a"}).status == 200
    assert rq.post("set", {"key": "b", "value": 1}).status == 429


def test_the_key_filter(client: Client, forge_storage: Any) -> None:
    forge_storage.kvs.update({"a": 1, "b": 2})
    forge_storage.fail("get", key="b", times=None)
    assert client.post("get", {"key": "a"}).status == 200
    assert client.post("get", {"key": "b"}).error() == (429, "RATE_LIMIT_EXCEEDED")
    assert client.post("delete", {"key": "b"}).status == 204  # another operation
    assert client.post("query", {}).status == 200  # no key: never matches a keyed fault


def test_the_entity_name_filter(client: Client, employee: str, forge_storage: Any) -> None:
    forge_storage.fail(entity_name="employee", code="INTERNAL_SERVER_ERROR", times=None)
    record = {"key": "k", "value": {"age": 1}}
    assert client.post("entity/set", {"entityName": "manager", **record}).status == 204
    assert client.post("entity/set", {"entityName": "employee", **record}).error() == (
        500,
        "INTERNAL_SERVER_ERROR",
    )
    query = {"entityName": "employee", "indexName": "by-key"}
    assert client.post("entity/query", query).error() == (500, "INTERNAL_SERVER_ERROR")
    assert client.post("set", {"key": "k", "value": 1}).status == 204  # no entity
    assert len(forge_storage.entity("employee")) == 0
    assert len(forge_storage.entity("manager")) == 1


def test_operation_key_and_entity_name_together(
    client: Client, employee: str, forge_storage: Any
) -> None:
    forge_storage.fail("entity/get", key="a", entity_name="employee", times=None)
    forge_storage.entity("employee")["a"] = {"age": 1}
    forge_storage.entity("employee")["b"] = {"age": 2}
    forge_storage.entity("manager")["a"] = {"age": 3}
    assert client.post("entity/get", {"entityName": "employee", "key": "a"}).status == 429
    assert client.post("entity/get", {"entityName": "employee", "key": "b"}).status == 200
    assert client.post("entity/get", {"entityName": "manager", "key": "a"}).status == 200


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("set", {"key": "k", "value": 2}),
        ("delete", {"key": "k"}),
        ("secret/set", {"key": "s", "value": "new"}),
        ("secret/delete", {"key": "s"}),
        ("entity/set", {"entityName": "employee", "key": "e", "value": {"age": 9}}),
        ("entity/delete", {"entityName": "employee", "key": "e"}),
        ("batch/set", [{"key": "k", "value": 2}, {"key": "new", "value": 3}]),
        ("batch/delete", [{"key": "k"}]),
        ("transaction", {"set": [{"key": "new", "value": 1}], "delete": [{"key": "k"}]}),
    ],
)
def test_nothing_is_written_by_a_faulted_call(
    client: Client, employee: str, forge_storage: Any, operation: str, body: Any
) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.secrets["s"] = "old"
    forge_storage.entity("employee")["e"] = {"age": 1}
    before = forge_storage.snapshot()
    forge_storage.fail(operation, code="INTERNAL_SERVER_ERROR")
    assert client.post(operation, body).error() == (500, "INTERNAL_SERVER_ERROR")
    assert forge_storage.snapshot() == before


def test_a_faulted_call_is_recorded_with_its_status_and_code(
    client: Client, forge_storage: Any
) -> None:
    forge_storage.fail("set", code="KEY_CONFLICT", message="taken")
    client.post("set", {"key": "k", "value": {"a": 1}})
    (call,) = forge_storage.calls
    assert (call.operation, call.api, call.key, call.entity_name) == ("set", "rest", "k", None)
    assert (call.status, call.error_code) == (409, "KEY_CONFLICT")
    assert call.request == {"key": "k", "value": {"a": 1}}
    assert call.response == {"code": "KEY_CONFLICT", "message": "taken"}
    assert call.url.endswith("/forge/storage/kvs/v1/set")
    forge_storage.assert_called("set", key="k", times=1)


def test_faults_are_taken_in_the_order_they_were_added(rq: Client, forge_storage: Any) -> None:
    forge_storage.fail("get", code="INTERNAL_SERVER_ERROR", after=1)
    forge_storage.fail("get", code="KEY_CONFLICT")
    # the first fault lets its first call through to the second fault, then fires
    assert rq.post("get", {"key": "k"}).error() == (409, "KEY_CONFLICT")
    assert rq.post("get", {"key": "k"}).error() == (500, "INTERNAL_SERVER_ERROR")
    assert rq.post("get", {"key": "k"}).error() == (404, "KEY_NOT_FOUND")


def test_a_fault_applies_before_validation_and_auth_before_the_fault(
    rq: Client, forge_storage: Any
) -> None:
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR")
    assert rq.post("set", {"key": "a/b", "value": 1}).error() == (500, "INTERNAL_SERVER_ERROR")
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR")
    unauthenticated = rq.post("set", {"key": "k", "value": 1}, headers={})
    assert unauthenticated.error() == (401, "UNAUTHORIZED")
    assert rq.post("set", {"key": "k", "value": 1}).status == 500  # still pending


def test_reset_removes_faults(rq: Client, forge_storage: Any) -> None:
    forge_storage.fail(times=None)
    forge_storage.reset()
    assert rq.post("get", {"key": "k"}).error() == (404, "KEY_NOT_FOUND")


# -- fail_transport(): the client's own transport errors ---------------------------------
TRANSPORT_ERRORS = {
    ("requests", "connection"): requests.ConnectionError,
    ("requests", "timeout"): requests.Timeout,
    ("httpx", "connection"): httpx.ConnectError,
    ("httpx", "timeout"): httpx.ReadTimeout,
    ("httpx-async", "connection"): httpx.ConnectError,
    ("httpx-async", "timeout"): httpx.ReadTimeout,
}


@pytest.mark.parametrize("error", ["connection", "timeout"])
def test_fail_transport_raises_the_clients_own_error(
    client: Client, forge_storage: Any, error: str
) -> None:
    forge_storage.fail_transport("set", error=error)
    with pytest.raises(TRANSPORT_ERRORS[client.kind, error]):
        client.post("set", {"key": "k", "value": 1})
    assert "k" not in forge_storage.kvs
    (call,) = forge_storage.calls
    assert (call.operation, call.key, call.status, call.response, call.error_code) == (
        "set",
        "k",
        0,
        None,
        None,
    )
    assert call.request == {"key": "k", "value": 1}
    assert client.post("set", {"key": "k", "value": 1}).status == 204


def test_requests_timeout_is_a_read_timeout(forge_storage: Any) -> None:
    forge_storage.fail_transport(error="timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        Client("requests").post("get", {"key": "k"})


def test_fail_transport_times_and_after(rq: Client, forge_storage: Any) -> None:
    forge_storage.kvs["k"] = 1
    forge_storage.fail_transport("get", times=2, after=1)
    assert rq.post("get", {"key": "k"}).status == 200
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            rq.post("get", {"key": "k"})
    assert rq.post("get", {"key": "k"}).status == 200
    assert [c.status for c in forge_storage.calls] == [200, 0, 0, 200]


def test_fail_transport_every_call(rq: Client, forge_storage: Any) -> None:
    forge_storage.fail_transport(times=None)
    for operation in ("get", "set", "query", "transaction"):
        with pytest.raises(requests.ConnectionError):
            rq.post(operation, {"key": "k", "value": 1})
    assert [c.operation for c in forge_storage.calls] == ["get", "set", "query", "transaction"]
    assert len(forge_storage.kvs) == 0


# -- misuse: ValueError saying what to write instead -------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": "entity/transaction"}, "Unknown storage operation 'entity/transaction'"),
        ({"operation": "GET"}, "use one of: get, set, delete"),
        ({"times": 0}, "times must be a positive integer or None"),
        ({"times": -1}, "times must be a positive integer or None"),
        ({"times": True}, "times must be a positive integer or None"),
        ({"after": -1}, "after must be a non-negative integer"),
        ({"after": 1.5}, "after must be a non-negative integer"),
        ({"code": ""}, "code must be a Forge error code"),
        ({"status": 99}, "status must be an HTTP status code"),
        ({"status": 600}, "status must be an HTTP status code"),
    ],
)
def test_bad_fail_arguments(forge_storage: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        forge_storage.fail(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error": "dns"}, "error must be 'connection' or 'timeout', not 'dns'"),
        ({"operation": "nope"}, "Unknown storage operation 'nope'"),
        ({"times": 0}, "times must be a positive integer or None"),
        ({"after": -1}, "after must be a non-negative integer"),
    ],
)
def test_bad_fail_transport_arguments(
    forge_storage: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        forge_storage.fail_transport(**kwargs)


@pytest.fixture
def rq(forge_storage: Any) -> Client:
    """requests only: where every client would only repeat the cost."""
    return Client("requests")
