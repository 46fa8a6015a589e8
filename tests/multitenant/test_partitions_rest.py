"""Two installations in one test over REST: each token reaches its own partition, for every
operation family, and nothing written under one installation is seen under another.

Each test writes the same keys under both installations (the realistic case: every site of a
remote stores ``settings``), so a partition mix-up shows as a wrong value, not just a 404.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.multitenant._doors import Door


@pytest.fixture
def sites(forge_storage: Any) -> tuple[Any, Any]:
    return (
        forge_storage.installation("site-a", product="jira"),
        forge_storage.installation("site-b", product="confluence"),
    )


OTHER = "not-issued-by-the-fake"  # reaches the default installation


def test_kvs_get_set_delete_stay_in_their_installation(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    assert door.rest("set", {"key": "settings", "value": "a"}, a.token).status == 204
    assert door.rest("set", {"key": "settings", "value": "b"}, b.token).status == 204

    assert door.rest("get", {"key": "settings"}, a.token).body == {"key": "settings", "value": "a"}
    assert door.rest("get", {"key": "settings"}, b.token).body == {"key": "settings", "value": "b"}
    assert door.rest("get", {"key": "settings"}, OTHER).error()[:2] == (404, "KEY_NOT_FOUND")

    assert door.rest("delete", {"key": "settings"}, b.token).status == 204
    assert door.rest("get", {"key": "settings"}, b.token).error()[:2] == (404, "KEY_NOT_FOUND")
    assert door.rest("get", {"key": "settings"}, a.token).body["value"] == "a"
    assert dict(a.kvs) == {"settings": "a"}
    assert dict(b.kvs) == {}
    assert dict(forge_storage.kvs) == {}  # the default installation's view


def test_secrets_stay_in_their_installation(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    door.rest("secret/set", {"key": "api-token", "value": "secret-of-a"}, a.token)

    assert door.rest("secret/get", {"key": "api-token"}, b.token).error()[:2] == (
        404,
        "KEY_NOT_FOUND",
    )
    assert door.rest("secret/delete", {"key": "api-token"}, b.token).status == 404
    assert door.rest("secret/get", {"key": "api-token"}, a.token).body == {
        "key": "api-token",
        "value": "secret-of-a",
    }
    assert dict(a.secrets) == {"api-token": "secret-of-a"}
    assert len(b.secrets) == 0
    assert len(forge_storage.secrets) == 0


def test_custom_entities_share_declarations_not_records(
    door: Door, forge_storage: Any, sites: tuple[Any, Any], employee: str
) -> None:
    a, b = sites
    record = {"entityName": employee, "key": "e1", "value": {"age": 30, "team": "x"}}
    assert door.rest("entity/set", record, a.token).status == 204
    get = {"entityName": employee, "key": "e1"}
    query = {"entityName": employee, "indexName": "by-age", "partition": ["x"]}

    assert door.rest("entity/get", get, b.token).error()[:2] == (404, "KEY_NOT_FOUND")
    assert door.rest("entity/query", query, b.token).body == {"data": []}
    assert door.rest("entity/delete", get, b.token).error()[:2] == (404, "KEY_NOT_FOUND")
    assert door.rest("entity/get", get, a.token).body["value"] == {"age": 30, "team": "x"}
    assert [i["key"] for i in door.rest("entity/query", query, a.token).body["data"]] == ["e1"]
    # Declared once, for the app: B may write the entity, into its own partition.
    b_record = {**record, "value": {"age": 40, "team": "x"}}
    assert door.rest("entity/set", b_record, b.token).status == 204
    assert dict(a.entity(employee)) == {"e1": {"age": 30, "team": "x"}}
    assert dict(b.entity(employee)) == {"e1": {"age": 40, "team": "x"}}
    assert dict(forge_storage.entity(employee)) == {}


def test_batches_read_and_delete_only_their_installation(
    door: Door, sites: tuple[Any, Any], employee: str
) -> None:
    a, b = sites
    items = [
        {"key": "k", "value": 1},
        {"key": "e1", "entityName": employee, "value": {"age": 1, "team": "x"}},
    ]
    assert door.rest("batch/set", items, a.token).status == 200
    keys = [{"key": "k"}, {"key": "e1", "entityName": employee}]

    got = door.rest("batch/get", keys, b.token).body
    assert got["successfulKeys"] == []
    assert [(f["key"], f["error"]["code"]) for f in got["failedKeys"]] == [
        ("k", "KEY_NOT_FOUND"),
        ("e1", "KEY_NOT_FOUND"),
    ]
    deleted = door.rest("batch/delete", keys, b.token).body
    assert deleted["successfulKeys"] == []
    got = door.rest("batch/get", keys, a.token).body
    assert [item["key"] for item in got["successfulKeys"]] == ["k", "e1"]
    assert dict(a.kvs) == {"k": 1}
    assert len(b.kvs) == 0


def test_transactions_write_and_delete_only_their_installation(
    door: Door, sites: tuple[Any, Any], employee: str
) -> None:
    a, b = sites
    a.kvs["keep"] = "a"
    a.entity(employee)["e1"] = {"age": 1, "team": "x"}
    body = {
        "set": [{"key": "new", "value": "b"}],
        "delete": [{"key": "keep"}, {"key": "e1", "entityName": employee}],
    }

    assert door.rest("transaction", body, b.token).status == 204  # missing keys: deleted anyway

    assert dict(a.kvs) == {"keep": "a"}
    assert dict(a.entity(employee)) == {"e1": {"age": 1, "team": "x"}}
    assert dict(b.kvs) == {"new": "b"}


def _pages(door: Door, operation: str, body: dict[str, Any], token: str, cursor: str) -> list[Any]:
    """Every key of a paged query, following the cursor until Forge sends none."""
    keys: list[Any] = []
    position: Any = None
    for _ in range(20):
        sent = body if position is None else {**body, cursor: position}
        page = door.rest(operation, sent, token).body
        keys += [item["key"] for item in page["data"]]
        position = page.get("cursor")
        if position is None:
            return keys
    raise AssertionError(f"more than 20 pages: {keys}")


def test_kvs_query_pages_through_one_installation_only(door: Door, sites: tuple[Any, Any]) -> None:
    a, b = sites
    for i in range(25):
        a.kvs[f"item:{i:02}"] = i
    for i in range(0, 25, 10):
        b.kvs[f"item:{i:02}b"] = i
    where = [{"property": "key", "condition": "BEGINS_WITH", "values": ["item:"]}]
    query = {"where": where, "limit": 10}

    assert _pages(door, "query", query, a.token, "after") == [f"item:{i:02}" for i in range(25)]
    assert _pages(door, "query", query, b.token, "after") == ["item:00b", "item:10b", "item:20b"]


def test_a_cursor_of_one_installation_reveals_nothing_of_it_to_another(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    for i in range(5):
        a.kvs[f"a:{i}"] = i
    b.kvs["z"] = "b"
    cursor = door.rest("query", {"limit": 2}, a.token).body["cursor"]

    page = door.rest("query", {"limit": 10, "after": cursor}, b.token).body

    assert page == {"data": [{"key": "z", "value": "b"}]}  # a position, not a window into A


def test_entity_query_pages_through_one_installation_only(
    door: Door, sites: tuple[Any, Any], employee: str
) -> None:
    a, b = sites
    for i in range(25):
        a.entity(employee)[f"a{i:02}"] = {"age": i, "team": "x"}
    b.entity(employee)["b00"] = {"age": 5, "team": "x"}
    query = {"entityName": employee, "indexName": "by-age", "partition": ["x"], "limit": 10}

    assert _pages(door, "entity/query", query, a.token, "cursor") == [f"a{i:02}" for i in range(25)]
    assert _pages(door, "entity/query", query, b.token, "cursor") == ["b00"]
