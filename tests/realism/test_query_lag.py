"""``realism.query_lag`` as tests meet it: real clients, on the test's frozen clock.

``query`` and ``entity/query`` (REST and GraphQL) see the store as it was ``query_lag``
seconds ago; ``get``, ``batch/get`` and transactions see every write at once. Each test runs
under freezegun and under time-machine (the ``clock`` fixture of this directory's conftest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_forge_storage import mock_forge_storage
from pytest_forge_storage._realism import Realism, write_lags
from tests.conftest import AUTH, BASE, Client

if TYPE_CHECKING:
    from tests.realism._support import Clock

GRAPHQL = "https://api.atlassian.com/graphql"
LAG = 2.0
KEYS_QUERY = "query($first: Int, $after: String) { appStoredEntities(first: $first, after: $after) { nodes { key value } pageInfo { hasNextPage } } }"  # noqa: E501
ENTITY_QUERY = """
query($range: AppStoredCustomEntityRange, $sort: SortOrder) {
  appStoredCustomEntities(entityName: "employee", indexName: "by-age", range: $range,
                          sort: $sort) {
    nodes { key value }
  }
}
"""


@pytest.fixture
def lagged(forge_storage: Any, clock: Clock) -> Any:
    forge_storage.realism.query_lag = LAG
    forge_storage.define_entity(
        "employee",
        {"age": "integer", "team": "string"},
        indexes=[
            {"name": "by-age", "range": ["age"]},
            {"name": "team-age", "range": ["age"], "partition": ["team"]},
        ],
    )
    return forge_storage


def post(http: httpx.Client, operation: str, body: Any, token: str | None = None) -> Any:
    headers = AUTH if token is None else {"Authorization": f"Bearer {token}"}
    answer = http.post(BASE + operation, json=body, headers=headers)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def listed(http: httpx.Client, prefix: str = "", token: str | None = None) -> dict[str, Any]:
    """Every key a ``query`` shows, with its value (one page of up to 100)."""
    body: dict[str, Any] = {"limit": 100}
    if prefix:
        body["where"] = [{"property": "key", "condition": "BEGINS_WITH", "values": [prefix]}]
    return {item["key"]: item["value"] for item in post(http, "query", body, token)["data"]}


def aged(http: httpx.Client, condition: str, value: int, sort: str = "ASC") -> list[Any]:
    """``entity/query`` on the by-age index: (key, age) in index order."""
    body = {
        "entityName": "employee",
        "indexName": "by-age",
        "range": {"condition": condition, "values": [value]},
        "sort": sort,
    }
    found = post(http, "entity/query", body)["data"]
    return [(item["key"], item["value"]["age"]) for item in found]


# -- KVS query -------------------------------------------------------------------------------
def test_a_write_is_read_back_by_get_at_once_but_query_sees_it_only_after_the_lag(
    lagged: Any, clock: Clock, client: Client
) -> None:
    assert client.post("set", {"key": "job:1", "value": {"state": "new"}}).status == 204
    got = client.post("get", {"key": "job:1"})
    assert (got.status, got.body) == (200, {"key": "job:1", "value": {"state": "new"}})
    assert client.post("query", {}).body == {"data": []}
    clock.advance(LAG - 0.001)
    assert client.post("query", {}).body == {"data": []}
    clock.advance(0.001)  # exactly query_lag after the write
    assert client.post("query", {}).body == {"data": [{"key": "job:1", "value": {"state": "new"}}]}


def test_an_update_shows_its_old_value_and_metadata_until_the_lag_passes(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    lagged.kvs["job:1"] = {"state": "new"}  # seeding: visible at once
    fields = {"options": {"metadataFields": ["UPDATED_AT"]}}
    before = post(http, "query", fields)["data"]
    clock.advance(10)
    post(http, "set", {"key": "job:1", "value": {"state": "done"}})
    assert post(http, "query", fields)["data"] == before
    assert post(http, "get", {"key": "job:1"})["value"] == {"state": "done"}
    clock.advance(LAG)
    [after] = post(http, "query", fields)["data"]
    assert after["value"] == {"state": "done"}
    assert after["updatedAt"] == before[0]["updatedAt"] + 10_000


def test_a_deleted_key_stays_in_query_until_the_lag_passes(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    lagged.kvs["job:1"] = 1
    post(http, "delete", {"key": "job:1"})
    assert http.post(BASE + "get", json={"key": "job:1"}, headers=AUTH).status_code == 404
    assert "job:1" not in lagged.kvs
    assert listed(http) == {"job:1": 1}
    clock.advance(LAG)
    assert listed(http) == {}


def test_pages_and_cursors_walk_the_store_as_it_was(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    for key in ("a", "c", "e", "g"):
        lagged.kvs[key] = f"old {key}"
    post(http, "set", {"key": "b", "value": "new b"})  # absent from query
    post(http, "delete", {"key": "c"})  # still there
    post(http, "set", {"key": "e", "value": "new e"})  # still old
    pages, cursor = [], None
    while True:
        body: dict[str, Any] = {"limit": 2} if cursor is None else {"limit": 2, "after": cursor}
        answer = post(http, "query", body)
        pages.append([(item["key"], item["value"]) for item in answer["data"]])
        cursor = answer.get("cursor")
        if cursor is None:
            break
    assert pages == [[("a", "old a"), ("c", "old c")], [("e", "old e"), ("g", "old g")]]
    clock.advance(LAG)
    assert listed(http) == {"a": "old a", "b": "new b", "e": "new e", "g": "old g"}


def test_graphql_lists_are_as_stale_as_rest_queries(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    lagged.kvs["a"] = 1
    post(http, "set", {"key": "a", "value": 2})
    post(http, "set", {"key": "b", "value": 3})

    def nodes() -> list[Any]:
        answer = http.post(GRAPHQL, json={"query": KEYS_QUERY, "variables": {}}, headers=AUTH)
        return answer.json()["data"]["appStoredEntities"]["nodes"]  # type: ignore[no-any-return]

    assert nodes() == [{"key": "a", "value": 1}]
    clock.advance(LAG)
    assert nodes() == [{"key": "a", "value": 2}, {"key": "b", "value": 3}]


def test_a_prefix_query_sees_only_its_range(lagged: Any, clock: Clock, http: httpx.Client) -> None:
    lagged.kvs["user:1"] = "u1"
    lagged.kvs["zone:1"] = "z1"
    post(http, "delete", {"key": "zone:1"})
    post(http, "set", {"key": "user:2", "value": "u2"})
    assert listed(http, "user:") == {"user:1": "u1"}
    assert listed(http, "zone:") == {"zone:1": "z1"}
    clock.advance(LAG)
    assert listed(http, "user:") == {"user:1": "u1", "user:2": "u2"}
    assert listed(http, "zone:") == {}


# -- entity/query --------------------------------------------------------------------------
def test_entity_query_sees_each_index_as_it_was(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    employees = lagged.entity("employee")
    employees["e1"] = {"age": 30, "team": "x"}
    employees["e2"] = {"age": 50, "team": "x"}
    post(
        http,
        "entity/set",
        {"entityName": "employee", "key": "e1", "value": {"age": 40, "team": "x"}},
    )
    post(
        http,
        "entity/set",
        {"entityName": "employee", "key": "e3", "value": {"age": 35, "team": "y"}},
    )
    post(http, "entity/delete", {"entityName": "employee", "key": "e2"})
    got = post(http, "entity/get", {"entityName": "employee", "key": "e1"})
    assert got["value"] == {"age": 40, "team": "x"}
    assert aged(http, "GREATER_THAN", 20) == [("e1", 30), ("e2", 50)]
    assert aged(http, "GREATER_THAN", 20, "DESC") == [("e2", 50), ("e1", 30)]
    assert aged(http, "GREATER_THAN", 32) == [("e2", 50)]  # e1 is still 30 to the index
    partitioned = {
        "entityName": "employee",
        "indexName": "team-age",
        "partition": ["x"],
        "range": {"condition": "LESS_THAN", "values": [100]},
    }
    assert [r["key"] for r in post(http, "entity/query", partitioned)["data"]] == ["e1", "e2"]
    clock.advance(LAG)
    assert aged(http, "GREATER_THAN", 20) == [("e3", 35), ("e1", 40)]
    assert [r["key"] for r in post(http, "entity/query", partitioned)["data"]] == ["e1"]


def test_entity_query_pages_resume_in_the_stale_view(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    employees = lagged.entity("employee")
    for number in range(1, 6):
        employees[f"e{number}"] = {"age": 20 + number, "team": "x"}
    post(http, "entity/delete", {"entityName": "employee", "key": "e2"})
    post(
        http,
        "entity/set",
        {"entityName": "employee", "key": "e9", "value": {"age": 22, "team": "x"}},
    )
    body = {"entityName": "employee", "indexName": "by-age", "limit": 2}
    keys, cursor = [], None
    while True:
        answer = post(http, "entity/query", body if cursor is None else {**body, "cursor": cursor})
        keys += [item["key"] for item in answer["data"]]
        cursor = answer.get("cursor")
        if cursor is None:
            break
    assert keys == ["e1", "e2", "e3", "e4", "e5"]


def test_graphql_entity_queries_are_stale_too(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    lagged.entity("employee")["e1"] = {"age": 30, "team": "x"}
    post(
        http,
        "entity/set",
        {"entityName": "employee", "key": "e1", "value": {"age": 31, "team": "x"}},
    )
    variables = {"range": {"condition": "GREATER_THAN", "values": [0]}, "sort": "ASC"}

    def nodes() -> list[Any]:
        answer = http.post(
            GRAPHQL, json={"query": ENTITY_QUERY, "variables": variables}, headers=AUTH
        )
        assert "errors" not in answer.json(), answer.text
        return answer.json()["data"]["appStoredCustomEntities"]["nodes"]  # type: ignore[no-any-return]

    assert nodes() == [{"key": "e1", "value": {"age": 30, "team": "x"}}]
    clock.advance(LAG)
    assert nodes() == [{"key": "e1", "value": {"age": 31, "team": "x"}}]


# -- strongly consistent reads, and writes of every kind ---------------------------------
def test_batch_get_and_transactions_see_every_write_at_once(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    post(
        http,
        "batch/set",
        [
            {"key": "a", "value": 1},
            {"key": "e1", "entityName": "employee", "value": {"age": 30, "team": "x"}},
        ],
    )
    got = post(http, "batch/get", [{"key": "a"}, {"key": "e1", "entityName": "employee"}])
    assert [item["key"] for item in got["successfulKeys"]] == ["a", "e1"]
    assert got["failedKeys"] == []
    # a transaction's check reads the latest record: age 30, which no query shows yet
    check = [
        {
            "key": "e1",
            "entityName": "employee",
            "conditions": {"and": [{"property": "age", "condition": "EQUAL_TO", "values": [30]}]},
        }
    ]
    post(http, "transaction", {"set": [{"key": "b", "value": 2}], "check": check})
    assert post(http, "get", {"key": "b"})["value"] == 2
    assert listed(http) == {}
    assert aged(http, "GREATER_THAN", 0) == []
    clock.advance(LAG)
    assert listed(http) == {"a": 1, "b": 2}
    assert aged(http, "GREATER_THAN", 0) == [("e1", 30)]


def test_batch_and_transaction_deletes_lag_too(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    lagged.kvs["a"] = 1
    lagged.kvs["b"] = 2
    post(http, "batch/delete", [{"key": "a"}])
    post(http, "transaction", {"delete": [{"key": "b"}]})
    assert lagged.kvs == {}
    assert listed(http) == {"a": 1, "b": 2}
    clock.advance(LAG)
    assert listed(http) == {}


# -- seeding, snapshots, switching -------------------------------------------------------
def test_seeding_and_restoring_are_visible_to_query_at_once(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    post(http, "set", {"key": "a", "value": 1})
    snapshot = lagged.snapshot()
    assert snapshot["kvs"] == {"a": 1}  # the truth, not what queries see
    assert listed(http) == {}
    lagged.restore(snapshot)
    assert listed(http) == {"a": 1}
    post(http, "set", {"key": "a", "value": 2})
    lagged.kvs["a"] = 3  # the facade's write wins at once over the pending API write
    assert listed(http) == {"a": 3}
    post(http, "delete", {"key": "a"})
    lagged.kvs["a"] = 4
    del lagged.kvs["a"]
    assert listed(http) == {}


def test_switching_the_lag_off_shows_every_write_from_the_next_request(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    post(http, "set", {"key": "a", "value": 1})
    assert listed(http) == {}
    lagged.realism.query_lag = 0
    assert listed(http) == {"a": 1}


def test_a_lag_is_fixed_when_the_write_is_made(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    post(http, "set", {"key": "a", "value": 1})
    lagged.realism.query_lag = 10
    post(http, "set", {"key": "b", "value": 2})
    clock.advance(LAG)
    assert listed(http) == {"a": 1}
    clock.advance(10 - LAG)
    assert listed(http) == {"a": 1, "b": 2}


def test_installations_lag_on_their_own(lagged: Any, clock: Clock, http: httpx.Client) -> None:
    site = lagged.installation("site-b")
    post(http, "set", {"key": "a", "value": "default"})
    clock.advance(1)
    post(http, "set", {"key": "a", "value": "site-b"}, site.token)
    clock.advance(LAG - 1)
    assert listed(http) == {"a": "default"}
    assert listed(http, token=site.token) == {}
    clock.advance(1)
    assert listed(http, token=site.token) == {"a": "site-b"}


# -- seeded lags --------------------------------------------------------------------------
def test_a_seed_gives_each_write_its_own_lag_the_same_on_every_run(clock: Clock) -> None:
    lags = write_lags(Realism(query_lag=10, seed=7))
    due = {f"k{n:02}": round(lags() * 1000) for n in range(20)}  # ms after the write
    assert len(set(due.values())) > 10  # the lags differ

    def seen_over_time() -> list[list[str]]:
        with mock_forge_storage() as storage, httpx.Client() as http:
            storage.realism = {"query_lag": 10, "seed": 7}
            for key in due:
                post(http, "set", {"key": key, "value": 1})
            seen = []
            for _ in range(11):
                seen.append(sorted(listed(http)))
                clock.advance(1)
            return seen

    first = seen_over_time()
    clock.rewind(11)
    assert seen_over_time() == first
    assert first == [sorted(k for k, ms in due.items() if ms <= s * 1000) for s in range(11)]
    assert first[-1] == sorted(due)


def test_with_a_seed_a_query_shows_the_newest_visible_write_of_a_key(clock: Clock) -> None:
    lags = write_lags(Realism(query_lag=5, seed=1))
    due = [round(lags() * 1000) for _ in range(30)]  # write n is visible `due[n]` ms after
    with mock_forge_storage() as storage, httpx.Client() as http:
        storage.realism = {"query_lag": 5, "seed": 1}
        for value in range(30):
            post(http, "set", {"key": "a", "value": value})
        seen = []
        for _ in range(6):
            seen.append(listed(http).get("a"))
            clock.advance(1)
    newest = [max((n for n in range(30) if due[n] <= s * 1000), default=None) for s in range(6)]
    assert seen == newest
    assert seen[0] is None
    assert seen[-1] == 29  # once every write is visible, the last one wins


# -- a clock that moves backwards --------------------------------------------------------
def test_a_clock_moving_backwards_never_breaks_or_unshows_a_write(
    lagged: Any, clock: Clock, http: httpx.Client
) -> None:
    post(http, "set", {"key": "a", "value": 1})
    clock.advance(LAG)
    assert listed(http) == {"a": 1}
    clock.rewind(60)
    assert listed(http) == {"a": 1}  # what a query has seen stays
    post(http, "set", {"key": "b", "value": 2})  # at the earlier instant
    post(http, "set", {"key": "a", "value": 3})
    assert listed(http) == {"a": 1}
    clock.advance(LAG)
    assert listed(http) == {"a": 3, "b": 2}
    assert post(http, "get", {"key": "b"})["value"] == 2
