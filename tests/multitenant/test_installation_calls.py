"""Calls and faults per installation: ``installation.calls``/``assert_called``/``fail()`` see
and act on that installation's calls only; ``storage`` sees and acts on all of them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.multitenant._doors import GET, Door


@pytest.fixture
def sites(forge_storage: Any) -> tuple[Any, Any]:
    return forge_storage.installation("site-a"), forge_storage.installation("site-b")


def test_each_installation_sees_its_own_calls(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    door.rest("set", {"key": "k", "value": 1}, a.token)
    door.rest("get", {"key": "k"}, b.token)
    door.graphql(GET, {"key": "k"}, a.token)
    door.rest("get", {"key": "k"}, "unissued")

    assert [(c.installation, c.operation, c.api) for c in forge_storage.calls] == [
        ("site-a", "set", "rest"),
        ("site-b", "get", "rest"),
        ("site-a", "get", "graphql"),
        ("default", "get", "rest"),
    ]
    assert [c.operation for c in a.calls] == ["set", "get"]
    assert [c.status for c in b.calls] == [404]
    assert [c.api for c in a.calls_to("get")] == ["graphql"]
    assert b.calls_to("set") == []
    assert len(forge_storage.installation().calls) == 1
    a.assert_called("set", key="k", times=1)
    b.assert_not_called("set")
    forge_storage.assert_called("get", times=3)
    assert "installation='site-b'" in repr(b.calls[0])


def test_an_installations_assertion_lists_only_its_calls(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    door.rest("set", {"key": "mine", "value": 1}, a.token)
    door.rest("set", {"key": "theirs", "value": 1}, b.token)

    with pytest.raises(AssertionError) as failed:
        a.assert_called("get")

    message = str(failed.value)
    assert "Expected a storage call to 'get', but none was made." in message
    assert "key='mine'" in message
    assert "theirs" not in message


def test_a_fault_on_an_installation_fails_only_its_calls(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    b.fail("set", code="RATE_LIMIT_EXCEEDED", times=None)

    assert door.rest("set", {"key": "k", "value": 1}, a.token).status == 204
    assert door.rest("set", {"key": "k", "value": 1}, "unissued").status == 204
    assert door.rest("set", {"key": "k", "value": 1}, b.token).error()[:2] == (
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    assert (dict(a.kvs), dict(b.kvs), dict(forge_storage.kvs)) == ({"k": 1}, {}, {"k": 1})
    assert [c.error_code for c in b.calls] == ["RATE_LIMIT_EXCEEDED"]


def test_a_storage_wide_fault_fails_any_installation(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    forge_storage.fail("get", code="INTERNAL_SERVER_ERROR", times=2)

    assert door.rest("get", {"key": "k"}, b.token).status == 500
    assert door.rest("get", {"key": "k"}, a.token).status == 500
    assert door.rest("get", {"key": "k"}, a.token).status == 404


def test_a_keyed_fault_on_an_installation_fails_one_batch_item(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    a.fail(key="k2", code="INTERNAL_SERVER_ERROR")
    items = [{"key": "k1", "value": 1}, {"key": "k2", "value": 2}]

    for_b = door.rest("batch/set", items, b.token).body
    for_a = door.rest("batch/set", items, a.token).body

    assert [item["key"] for item in for_b["successfulKeys"]] == ["k1", "k2"]
    assert [item["key"] for item in for_a["successfulKeys"]] == ["k1"]
    assert [f["key"] for f in for_a["failedKeys"]] == ["k2"]


@pytest.mark.parametrize("kind", ["requests", "httpx"])
def test_a_transport_fault_on_an_installation(forge_storage: Any, kind: str) -> None:
    import httpx
    import requests

    a = forge_storage.installation("site-a")
    b = forge_storage.installation("site-b")
    b.fail_transport("get", error="connection")
    url = "https://api.atlassian.com/forge/storage/kvs/v1/get"

    def get(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        if kind == "requests":
            return requests.post(url, json={"key": "k"}, headers=headers, timeout=5).status_code
        return httpx.post(url, json={"key": "k"}, headers=headers).status_code

    assert get(a.token) == 404
    with pytest.raises((requests.ConnectionError, httpx.ConnectError)):
        get(b.token)
    assert get(b.token) == 404  # times=1
    assert [(c.installation, c.status) for c in forge_storage.calls] == [
        ("site-a", 404),
        ("site-b", 0),
        ("site-b", 404),
    ]


def test_reset_empties_every_installation_and_keeps_them_and_their_tokens(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    a.kvs["k"] = 1
    b.secrets["s"] = "x"
    token = b.token
    door.rest("get", {"key": "k"}, token)
    b.fail("get", times=None)

    forge_storage.reset()

    assert (len(a.kvs), len(b.secrets), forge_storage.calls) == (0, 0, [])
    assert list(forge_storage.installations) == ["default", "site-a", "site-b"]
    assert door.rest("get", {"key": "k"}, token).status == 404  # no fault, still b's token
    assert [c.installation for c in forge_storage.calls] == ["site-b"]
