"""Two installations in one test over GraphQL: each token reaches its own partition, with or
without its own ``contextAri``; REST and GraphQL share one partition per installation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.multitenant._doors import (
    CE_DELETE,
    CE_GET,
    CE_LIST,
    CE_SET,
    DELETE,
    GET,
    LIST,
    SET,
    SUCCESS,
    Door,
)


@pytest.fixture
def sites(forge_storage: Any) -> tuple[Any, Any]:
    return (
        forge_storage.installation("site-a", product="jira"),
        forge_storage.installation("site-b", product="confluence"),
    )


def _set(door: Door, inst: Any, key: str, value: Any, **extra: Any) -> Any:
    variables = {"input": {"key": key, "value": value, "contextAri": inst.context_ari, **extra}}
    return door.graphql(SET, variables, inst.token).data["appStorage"]["setAppStoredEntity"]


def _get(door: Door, inst: Any, key: str, **extra: Any) -> Any:
    variables = {"key": key, "contextAri": inst.context_ari, **extra}
    return door.graphql(GET, variables, inst.token).data["appStoredEntity"]


def test_values_and_secrets_stay_in_their_installation(
    door: Door, forge_storage: Any, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    assert _set(door, a, "settings", "a") == SUCCESS
    assert _set(door, b, "settings", "b") == SUCCESS
    assert _set(door, a, "api-token", "secret-of-a", encrypted=True) == SUCCESS

    assert _get(door, a, "settings") == {"key": "settings", "value": "a"}
    assert _get(door, b, "settings") == {"key": "settings", "value": "b"}
    assert _get(door, b, "api-token", encrypted=True) == {"key": "api-token", "value": None}
    assert _get(door, a, "api-token", encrypted=True)["value"] == "secret-of-a"

    deleted = door.graphql(DELETE, {"input": {"key": "settings"}}, b.token).data
    assert deleted["appStorage"]["deleteAppStoredEntity"] == SUCCESS
    assert dict(a.kvs) == {"settings": "a"}
    assert dict(a.secrets) == {"api-token": "secret-of-a"}
    assert (len(b.kvs), len(b.secrets), len(forge_storage.kvs)) == (0, 0, 0)


def test_a_request_without_context_ari_is_served_by_its_token(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    a.kvs["k"] = "a"

    got = door.graphql(GET, {"key": "k"}, b.token).data  # no contextAri: the token decides

    assert got == {"appStoredEntity": {"key": "k", "value": None}}


def test_list_pages_through_one_installation_only(door: Door, sites: tuple[Any, Any]) -> None:
    a, b = sites
    for i in range(25):
        a.kvs[f"prefs:{i:02}"] = i
    b.kvs["prefs:b"] = "b"
    where = [{"field": "key", "condition": "STARTS_WITH", "value": "prefs:"}]

    def every(inst: Any) -> list[str]:
        keys: list[str] = []
        after = None
        while True:
            variables = {"contextAri": inst.context_ari, "where": where, "first": 10}
            page = door.graphql(LIST, {**variables, "after": after}, inst.token).data
            edges = page["appStoredEntities"]["edges"]
            keys += [edge["node"]["key"] for edge in edges]
            if not page["appStoredEntities"]["pageInfo"]["hasNextPage"]:
                return keys
            after = edges[-1]["cursor"]

    assert every(a) == [f"prefs:{i:02}" for i in range(25)]
    assert every(b) == ["prefs:b"]


def test_custom_entities_stay_in_their_installation(
    door: Door, sites: tuple[Any, Any], employee: str
) -> None:
    a, b = sites
    record = {"entityName": employee, "key": "e1", "value": {"age": 30, "team": "x"}}
    ce_set = door.graphql(CE_SET, {"input": {**record, "contextAri": a.context_ari}}, a.token)
    assert ce_set.data["appStorageCustomEntity"]["setAppStoredCustomEntity"] == SUCCESS
    get = {"entityName": employee, "key": "e1"}
    query = {"entityName": employee, "indexName": "by-age", "partition": ["x"]}

    assert door.graphql(CE_GET, get, b.token).data["appStoredCustomEntity"]["value"] is None
    assert door.graphql(CE_LIST, query, b.token).data["appStoredCustomEntities"] == {
        "cursor": None,
        "nodes": [],
    }
    deleted = door.graphql(CE_DELETE, {"input": get}, b.token).data
    assert deleted["appStorageCustomEntity"]["deleteAppStoredCustomEntity"] == SUCCESS
    nodes = door.graphql(CE_LIST, query, a.token).data["appStoredCustomEntities"]["nodes"]
    assert nodes == [{"key": "e1", "value": {"age": 30, "team": "x"}}]
    assert dict(a.entity(employee)) == {"e1": {"age": 30, "team": "x"}}
    assert dict(b.entity(employee)) == {}


def test_rest_and_graphql_share_one_partition_per_installation(
    door: Door, sites: tuple[Any, Any]
) -> None:
    a, b = sites
    _set(door, a, "shared", {"via": "graphql"})
    door.rest("set", {"key": "shared", "value": {"via": "rest"}}, b.token)

    assert door.rest("get", {"key": "shared"}, a.token).body["value"] == {"via": "graphql"}
    assert _get(door, b, "shared")["value"] == {"via": "rest"}
    assert [c.api for c in a.calls] == ["graphql", "rest"]
    assert [c.api for c in b.calls] == ["rest", "graphql"]
