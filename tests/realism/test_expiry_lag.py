"""``realism.expiry_lag`` and ``purge_expired()`` as tests meet them, on the test's clock.

Forge: "Expired data is not removed immediately upon expiry. Deletion may take up to 48
hours", and meanwhile "read operations may still return expired results" (ref §8). Under the
knob an expired item stays stored until its expiry plus the lag, so every read returns it;
``purge_expired()`` is that deletion happening now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import AUTH, BASE, Client

if TYPE_CHECKING:
    from tests.realism._support import Clock

GRACE = 60.0
TTL = {"ttl": {"value": 1, "unit": "SECONDS"}}


@pytest.fixture
def lingering(forge_storage: Any, clock: Clock) -> Any:
    forge_storage.realism.expiry_lag = GRACE
    forge_storage.define_entity(
        "employee", {"age": "integer"}, indexes=[{"name": "by-age", "range": ["age"]}]
    )
    return forge_storage


def post(http: httpx.Client, operation: str, body: Any, token: str | None = None) -> Any:
    headers = AUTH if token is None else {"Authorization": f"Bearer {token}"}
    return http.post(BASE + operation, json=body, headers=headers)


def expire_soon(http: httpx.Client) -> None:
    """A KVS item, a secret and an entity record, each with a TTL of 1 s."""
    for operation, body in (
        ("set", {"key": "k", "value": 1, "options": TTL}),
        ("secret/set", {"key": "s", "value": "hush", "options": TTL}),
        ("entity/set", {"entityName": "employee", "key": "e", "value": {"age": 3}, "options": TTL}),
    ):
        assert post(http, operation, body).status_code == 204


def visible(http: httpx.Client) -> dict[str, Any]:
    """What each read returns of the three items (``None``: not found / not listed)."""
    get = post(http, "get", {"key": "k", "options": {"metadataFields": ["EXPIRE_TIME"]}})
    secret = post(http, "secret/get", {"key": "s"})
    entity = post(http, "entity/get", {"entityName": "employee", "key": "e"})
    query = post(http, "query", {}).json()["data"]
    entity_query = post(http, "entity/query", {"entityName": "employee", "indexName": "by-age"})
    batch = post(http, "batch/get", [{"key": "k"}, {"key": "e", "entityName": "employee"}])
    return {
        "get": get.json() if get.status_code == 200 else None,
        "secret/get": secret.json()["value"] if secret.status_code == 200 else None,
        "entity/get": entity.json()["value"] if entity.status_code == 200 else None,
        "query": [item["key"] for item in query],
        "entity/query": [item["key"] for item in entity_query.json()["data"]],
        "batch/get": [item["key"] for item in batch.json()["successfulKeys"]],
    }


GONE = {
    "get": None,
    "secret/get": None,
    "entity/get": None,
    "query": [],
    "entity/query": [],
    "batch/get": [],
}


def test_without_expiry_lag_an_expired_item_is_gone_at_once(
    forge_storage: Any, clock: Clock, http: httpx.Client
) -> None:
    forge_storage.define_entity(
        "employee", {"age": "integer"}, indexes=[{"name": "by-age", "range": ["age"]}]
    )
    expire_soon(http)
    clock.advance(1)
    assert visible(http) == GONE


def test_an_expired_item_stays_visible_to_every_read_until_expiry_plus_the_lag(
    lingering: Any, clock: Clock, http: httpx.Client
) -> None:
    expire_soon(http)
    clock.advance(1 + GRACE - 0.001)
    seen = visible(http)
    assert seen["get"] == {"key": "k", "value": 1, "expireTime": "2026-03-02T09:00:01.000Z"}
    assert seen["secret/get"] == "hush"
    assert seen["entity/get"] == {"age": 3}
    assert (seen["query"], seen["entity/query"], seen["batch/get"]) == (["k"], ["e"], ["k", "e"])
    # the facade shows what a strongly consistent get sees: the item is still stored
    assert lingering.kvs["k"] == 1
    assert len(lingering.secrets) == 1
    assert dict(lingering.entity("employee")) == {"e": {"age": 3}}
    assert lingering.snapshot()["metadata"]["kvs"]["k"]["expireTime"] == "2026-03-02T09:00:01.000Z"
    clock.advance(0.001)  # expiry + expiry_lag
    assert visible(http) == GONE
    assert lingering.kvs == {}


def test_purge_expired_deletes_them_now_and_counts_them(
    lingering: Any, clock: Clock, client: Client
) -> None:
    lingering.set("k", 1, ttl=1)
    lingering.set("s", "hush", ttl=1, secret=True)
    lingering.set("e", {"age": 3}, ttl=1, entity="employee")
    lingering.set("stays", 2, ttl=3600)
    site = lingering.installation("site-b")
    site.set("k", "site-b", ttl=1)
    clock.advance(2)
    assert client.post("get", {"key": "k"}).status == 200
    assert lingering.purge_expired() == 4  # in every installation
    assert client.post("get", {"key": "k"}).error() == (404, "KEY_NOT_FOUND")
    assert client.post("query", {}).body == {"data": [{"key": "stays", "value": 2}]}
    assert "k" not in site.kvs
    assert lingering.purge_expired() == 0


def test_an_installation_purges_its_own_data_only(
    lingering: Any, clock: Clock, http: httpx.Client
) -> None:
    site = lingering.installation("site-b")
    lingering.set("k", 1, ttl=1)
    site.set("k", 2, ttl=1)
    clock.advance(2)
    assert site.purge_expired() == 1
    assert post(http, "get", {"key": "k"}, site.token).status_code == 404
    assert post(http, "get", {"key": "k"}).json()["value"] == 1


def test_max_is_48_hours(forge_storage: Any, clock: Clock, http: httpx.Client) -> None:
    forge_storage.realism = "full"  # expiry_lag = "max"
    assert forge_storage.realism.expiry_lag == 48 * 3600
    post(http, "set", {"key": "k", "value": 1, "options": TTL})
    clock.advance(1 + 48 * 3600 - 0.001)
    assert post(http, "get", {"key": "k"}).status_code == 200
    clock.advance(0.001)
    assert post(http, "get", {"key": "k"}).status_code == 404


def test_until_its_deletion_an_expired_item_is_stored_for_writes_too(
    lingering: Any, clock: Clock, http: httpx.Client
) -> None:
    lingering.set("k", 1, ttl=1)
    lingering.set("gone", 1, ttl=1)
    created = lingering.snapshot()["metadata"]["kvs"]["k"]["createdAt"]
    clock.advance(5)
    conflict = post(
        http, "set", {"key": "k", "value": 2, "options": {"keyPolicy": "FAIL_IF_EXISTS"}}
    )
    assert (conflict.status_code, conflict.json()["code"]) == (409, "KEY_CONFLICT")
    replaced = post(
        http,
        "set",
        {
            "key": "k",
            "value": 2,
            "options": {"returnValue": "PREVIOUS", "returnMetadataFields": ["CREATED_AT"]},
        },
    )
    assert replaced.json() == {"key": "k", "value": 1, "createdAt": created}
    assert post(http, "get", {"key": "k"}).json() == {"key": "k", "value": 2}  # no TTL now
    assert post(http, "delete", {"key": "gone"}).status_code == 204
    clock.advance(GRACE)
    assert post(http, "get", {"key": "k"}).json() == {"key": "k", "value": 2}


def test_a_transaction_condition_sees_a_lingering_record(
    lingering: Any, clock: Clock, http: httpx.Client
) -> None:
    lingering.set("e", {"age": 3}, ttl=1, entity="employee")
    clock.advance(5)
    check = {"property": "age", "condition": "EQUAL_TO", "values": [3]}
    body = {"check": [{"key": "e", "entityName": "employee", "conditions": {"and": [check]}}]}
    assert post(http, "transaction", body).status_code == 204
    lingering.purge_expired()
    failed = post(http, "transaction", body)
    assert (failed.status_code, failed.json()["code"]) == (400, "CONDITIONAL_CHECK_FAILED")


def test_with_query_lag_a_purged_item_leaves_queries_too(
    lingering: Any, clock: Clock, http: httpx.Client
) -> None:
    lingering.realism.query_lag = 10
    lingering.kvs["k"] = 0
    post(http, "set", {"key": "k", "value": 1, "options": TTL})  # pending for queries
    assert post(http, "query", {}).json()["data"] == [{"key": "k", "value": 0}]
    clock.advance(5)
    assert lingering.purge_expired() == 1
    assert post(http, "query", {}).json()["data"] == [{"key": "k", "value": 0}]
    clock.advance(5)  # the write is visible now, but its item was deleted
    assert post(http, "query", {}).json()["data"] == []


def test_a_clock_moving_backwards_never_resurrects_a_deleted_item(
    lingering: Any, clock: Clock, http: httpx.Client
) -> None:
    lingering.set("k", 1, ttl=1)
    clock.advance(1 + GRACE)
    assert post(http, "get", {"key": "k"}).status_code == 404
    clock.rewind(GRACE)
    assert post(http, "get", {"key": "k"}).status_code == 404
    lingering.set("k", 2, ttl=1)
    clock.rewind(3600)  # before the item was written: not expired, nothing to purge
    assert lingering.purge_expired() == 0
    assert post(http, "get", {"key": "k"}).json()["value"] == 2
