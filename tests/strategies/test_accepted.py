"""Everything the strategies draw is accepted by the fake: over HTTP and through the views.

One fake serves the whole module (``mock_forge_storage()`` in a module-scoped fixture, reset
per example): hypothesis runs many examples per test, and a function-scoped fixture would be
shared between them anyway (hypothesis warns about exactly that).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_forge_storage import ForgeStorage, _limits, mock_forge_storage
from pytest_forge_storage.strategies import (
    entity_values,
    keys,
    secret_keys,
    secret_values,
    values,
)
from tests.conftest import Client

ENTITY = "employee"
ATTRIBUTES = {
    "name": "string",
    "team": "string",
    "age": "integer",
    "score": "float",
    "active": "boolean",
    "profile": "any",
}
INDEXES: list[Any] = [
    "age",
    {"name": "by-team-name", "range": ["name"], "partition": ["team", "active"]},
    {"name": "by-score", "range": ["score"]},
]
#: The declarations the entity strategy reads, built once at import as the docs show.
DECLARED = ForgeStorage()
DECLARED.define_entity(ENTITY, ATTRIBUTES, INDEXES)

FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
BIG = settings(FEW, max_examples=3)

CLIENTS = ["requests", "httpx", "httpx-async"]


@pytest.fixture(scope="module")
def shared() -> Iterator[ForgeStorage]:
    with mock_forge_storage() as storage:
        storage.define_entity(ENTITY, ATTRIBUTES, INDEXES)
        yield storage


def fresh(storage: ForgeStorage) -> ForgeStorage:
    storage.reset()
    return storage


@pytest.mark.parametrize("kind", CLIENTS)
@FEW
@given(key=keys(), value=values())
def test_drawn_kvs_values_are_set_and_read_back_over_http(
    shared: ForgeStorage, kind: str, key: str, value: Any
) -> None:
    fresh(shared)
    client = Client(kind)
    set_answer = client.post("set", {"key": key, "value": value})
    assert set_answer.status == 204, set_answer.text
    got = client.post("get", {"key": key})
    assert (got.status, got.body) == (200, {"key": key, "value": value})


@pytest.mark.parametrize("kind", CLIENTS)
@FEW
@given(key=secret_keys(), value=secret_values())
def test_drawn_secrets_are_set_and_read_back_over_http(
    shared: ForgeStorage, kind: str, key: str, value: Any
) -> None:
    fresh(shared)
    client = Client(kind)
    assert client.post("secret/set", {"key": key, "value": value}).status == 204
    got = client.post("secret/get", {"key": key})
    assert (got.status, got.body) == (200, {"key": key, "value": value})


@pytest.mark.parametrize("kind", CLIENTS)
@FEW
@given(key=keys(), value=entity_values(DECLARED, ENTITY))
def test_drawn_entity_records_are_set_and_read_back_over_http(
    shared: ForgeStorage, kind: str, key: str, value: dict[str, Any]
) -> None:
    fresh(shared)
    client = Client(kind)
    body = {"entityName": ENTITY, "key": key, "value": value}
    answer = client.post("entity/set", body)
    assert answer.status == 204, answer.text
    got = client.post("entity/get", {"entityName": ENTITY, "key": key})
    assert (got.status, got.body) == (200, {"key": key, "value": value, "entityName": ENTITY})


@FEW
@given(data=st.data())
def test_records_drawn_from_the_shared_fake_are_queryable_by_each_index(
    shared: ForgeStorage, data: st.DataObject
) -> None:
    storage = fresh(shared)
    records = data.draw(
        st.dictionaries(keys(), entity_values(storage, ENTITY, required=True), max_size=5)
    )
    client = Client("requests")
    for key, value in records.items():
        body = {"entityName": ENTITY, "key": key, "value": value}
        assert client.post("entity/set", body).status == 204
    for index, partition in (("age", None), ("by-score", None), ("by-team-name", "x")):
        body: dict[str, Any] = {"entityName": ENTITY, "indexName": index, "limit": 100}
        if partition is not None:
            body["partition"] = [partition, True]
        answer = client.post("entity/query", body)
        assert answer.status == 200, answer.text
    listed = client.post("entity/query", {"entityName": ENTITY, "indexName": "age", "limit": 100})
    assert sorted(item["key"] for item in listed.body["data"]) == sorted(records)


@FEW
@given(key=keys(), value=values(), secret=secret_values(), record=entity_values(DECLARED, ENTITY))
def test_drawn_data_seeds_through_the_views(
    shared: ForgeStorage, key: str, value: Any, secret: Any, record: dict[str, Any]
) -> None:
    storage = fresh(shared)
    storage.kvs[key] = value
    storage.secrets[key] = secret
    storage.entity(ENTITY)[key] = record
    storage.set(key + "t", value, ttl=60)
    assert storage.kvs[key] == value
    assert storage.secrets[key] == secret
    assert storage.entity(ENTITY)[key] == record
    assert storage.calls == []  # seeding is not recorded


@BIG
@given(key=keys(min_size=500), value=values(min_bytes=_limits.VALUE_MAX_BYTES))
def test_values_at_the_limits_are_accepted_over_http(
    shared: ForgeStorage, key: str, value: Any
) -> None:
    fresh(shared)
    client = Client("httpx")
    answer = client.post("set", {"key": key, "value": value})
    assert answer.status == 204, answer.text[:300]
    assert shared.kvs[key] == value


@BIG
@given(key=secret_keys(min_size=500), value=secret_values(min_bytes=_limits.SECRET_MAX_BYTES))
def test_secrets_at_the_limit_are_accepted_over_http(
    shared: ForgeStorage, key: str, value: Any
) -> None:
    fresh(shared)
    answer = Client("requests").post("secret/set", {"key": key, "value": value})
    assert answer.status == 204, answer.text[:300]


@FEW
@given(value=values(min_depth=_limits.VALUE_MAX_DEPTH, max_depth=_limits.VALUE_MAX_DEPTH))
def test_the_deepest_values_are_accepted_over_http(shared: ForgeStorage, value: Any) -> None:
    fresh(shared)
    answer = Client("httpx-async").post("set", {"key": "deep", "value": value})
    assert answer.status == 204, answer.text[:300]
    assert Client("requests").post("get", {"key": "deep"}).body["value"] == value
