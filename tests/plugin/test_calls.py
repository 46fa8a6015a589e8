"""Recorded calls and the assertions on them, as a test author uses them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pytest_forge_storage import StorageCall
from tests.conftest import AUTH, BASE


def post(operation: str, body: Any) -> requests.Response:
    return requests.post(BASE + operation, json=body, headers=AUTH, timeout=5)


def test_every_served_request_is_recorded_with_its_fields(forge_storage: Any) -> None:
    post("set", {"key": "k", "value": {"a": 1}})
    post("get", {"key": "missing"})
    post("query", {"limit": 5})
    first, second, third = forge_storage.calls
    assert isinstance(first, StorageCall)
    assert (first.operation, first.api, first.key, first.entity_name) == ("set", "rest", "k", None)
    assert (first.status, first.response, first.error_code) == (204, None, None)
    assert first.request == {"key": "k", "value": {"a": 1}}
    assert first.url == BASE + "set"
    assert (second.status, second.error_code) == (404, "KEY_NOT_FOUND")
    assert second.response["code"] == "KEY_NOT_FOUND"
    assert (third.operation, third.key, third.response) == (
        "query",
        None,
        {"data": [{"key": "k", "value": {"a": 1}}]},
    )


def test_recorded_bodies_are_copies(forge_storage: Any) -> None:
    post("set", {"key": "k", "value": {"a": 1}})
    forge_storage.calls[0].request["value"]["a"] = 2
    assert forge_storage.kvs["k"] == {"a": 1}


def test_seeding_through_the_facade_is_not_recorded(forge_storage: Any) -> None:
    forge_storage.kvs["a"] = 1
    forge_storage.set("b", 2, ttl=60)
    forge_storage.secrets["s"] = "x"
    assert forge_storage.calls == []


def test_calls_to_filters(forge_storage: Any) -> None:
    post("set", {"key": "a", "value": 1})
    post("set", {"key": "b", "value": 1})
    post("get", {"key": "a"})
    assert [c.key for c in forge_storage.calls_to("set")] == ["a", "b"]
    assert [c.operation for c in forge_storage.calls_to(key="a")] == ["set", "get"]
    assert forge_storage.calls_to("get", api="graphql") == []
    assert len(forge_storage.calls_to(api="rest")) == 3
    with pytest.raises(ValueError, match="Unknown storage operation 'put'"):
        forge_storage.calls_to("put")


def test_assert_called_and_its_messages(forge_storage: Any) -> None:
    post("get", {"key": "a"})
    forge_storage.assert_called("get")
    forge_storage.assert_called("get", key="a", times=1)
    with pytest.raises(AssertionError) as info:
        forge_storage.assert_called("get", key="a", times=2)
    assert str(info.value) == (
        "Expected 2 storage call(s) to 'get' for key 'a', but 1 was made.\n"
        "Recorded calls:\n  1. rest get key='a' -> 404 KEY_NOT_FOUND"
    )
    with pytest.raises(AssertionError, match="to 'set' on entity 'employee', but none was made"):
        forge_storage.assert_called("set", entity_name="employee")


def test_assert_not_called_and_its_messages(forge_storage: Any) -> None:
    forge_storage.assert_not_called()
    post("set", {"key": "a", "value": 1})
    post("set", {"key": "b", "value": 1})
    forge_storage.assert_not_called("delete")
    forge_storage.assert_not_called("set", key="c")
    with pytest.raises(AssertionError) as info:
        forge_storage.assert_not_called("set")
    assert str(info.value).startswith("Expected no storage call to 'set', but 2 were made.")
    with pytest.raises(AssertionError, match="of any operation, but 2 were made"):
        forge_storage.assert_not_called()


def test_no_calls_message(forge_storage: Any) -> None:
    with pytest.raises(AssertionError, match=r"\(no storage calls were recorded\)"):
        forge_storage.assert_called("get")


def test_secret_values_are_masked_everywhere_they_print(forge_storage: Any) -> None:
    secret = "s3cr3t-" + "value"
    post("secret/set", {"key": "api", "value": secret})
    post("secret/get", {"key": "api"})
    for call in forge_storage.calls:
        assert secret not in repr(call)
        assert secret not in str(call)
    assert forge_storage.calls[1].response["value"] == secret  # the test itself can read it
    with pytest.raises(AssertionError) as info:
        forge_storage.assert_not_called("secret/get")
    assert secret not in str(info.value)
    assert secret not in repr(forge_storage.secrets)


def test_reset_forgets_data_calls_and_faults(forge_storage: Any) -> None:
    forge_storage.kvs["a"] = 1
    post("get", {"key": "a"})
    forge_storage.fail("get")
    forge_storage.reset()
    assert (len(forge_storage.kvs), forge_storage.calls) == (0, [])
    assert post("get", {"key": "a"}).status_code == 404
