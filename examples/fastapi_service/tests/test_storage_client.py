"""The async storage client on its own, under pytest-asyncio, against the same fixture: the
fake serves ``httpx.AsyncClient`` in an async test as it serves the app's."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import pytest_asyncio
from conftest import SYSTEM_TOKEN
from forge_deploy_tracker import Backoff, ConditionFailed, ForgeStorage, KeyNotFound, RateLimited

ENTITY = "deployment"


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest_asyncio.fixture  # asyncio_mode = "strict": async fixtures say so
async def store(slept):
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with httpx.AsyncClient() as http:
        yield ForgeStorage(http, SYSTEM_TOKEN, backoff=Backoff(base_delay=0.25), sleep=sleep)


def seed(forge_storage, site: str, count: int) -> None:
    records = forge_storage.entity(ENTITY)
    for n in range(count):
        records[f"{site}:d{n:04d}"] = {"site": site, "startedAt": n, "succeeded": n % 2 == 0}


@pytest.mark.asyncio
async def test_reads_every_page_until_forge_sends_no_cursor(forge_storage, store):
    seed(forge_storage, "acme", 250)

    items = [
        item
        async for item in store.iter_entity_query(
            ENTITY, "by-site-started", partition=["acme"], limit=100
        )
    ]

    assert [item["value"]["startedAt"] for item in items] == list(range(250))
    assert [len(c.response["data"]) for c in forge_storage.calls_to("entity/query")] == [
        100,
        100,
        50,
    ]


@pytest.mark.asyncio
async def test_concurrent_queries_keep_their_own_cursors(forge_storage, store):
    seed(forge_storage, "acme", 30)
    seed(forge_storage, "globex", 7)

    async def count(site: str) -> int:
        query = store.iter_entity_query(ENTITY, "by-site-started", partition=[site], limit=10)
        return len([item async for item in query])

    assert await asyncio.gather(count("acme"), count("globex"), count("initech")) == [30, 7, 0]
    forge_storage.assert_called("entity/query", times=3 + 1 + 1)


@pytest.mark.asyncio
async def test_secrets_and_kvs_are_separate_namespaces(forge_storage, store):
    await store.set("token", "s3cret", secret=True)
    await store.set("token", {"public": True})

    assert await store.get("token", secret=True) == "s3cret"
    assert await store.get("token") == {"public": True}
    await store.delete("token", secret=True)
    with pytest.raises(KeyNotFound):
        await store.get("token", secret=True)
    assert forge_storage.kvs["token"] == {"public": True}


@pytest.mark.asyncio
async def test_a_false_condition_applies_nothing(forge_storage, store):
    seed(forge_storage, "acme", 2)  # d0000 succeeded, d0001 did not
    guard = {"and": [{"property": "succeeded", "condition": "EQUAL_TO", "values": [True]}]}

    with pytest.raises(ConditionFailed):
        await store.transaction(
            sets=[{"key": "release:acme", "value": {"deployment": "d0001"}}],
            checks=[{"key": "acme:d0001", "entityName": ENTITY, "conditions": guard}],
        )
    assert "release:acme" not in forge_storage.kvs

    await store.transaction(
        sets=[{"key": "release:acme", "value": {"deployment": "d0000"}}],
        checks=[{"key": "acme:d0000", "entityName": ENTITY, "conditions": guard}],
    )
    assert forge_storage.kvs["release:acme"] == {"deployment": "d0000"}


@pytest.mark.asyncio
async def test_batches_split_at_25_items(forge_storage, store):
    items = [{"key": f"k{n}", "value": n} for n in range(60)]
    items.append({"key": "bad key/", "value": 0})

    failed = await store.batch_set(items)

    assert [(f["key"], f["error"]["code"]) for f in failed] == [("bad key/", "INVALID_KEY")]
    assert len(forge_storage.kvs) == 60
    assert [len(c.request) for c in forge_storage.calls_to("batch/set")] == [25, 25, 11]


@pytest.mark.asyncio
async def test_backoff_doubles_up_to_the_last_attempt(forge_storage, store, slept):
    forge_storage.fail("batch/set", code="TOO_MANY_REQUESTS", times=None)

    with pytest.raises(RateLimited) as error:
        await store.batch_set([{"key": "a", "value": 1}])

    assert error.value.code == "TOO_MANY_REQUESTS"
    assert slept == [0.25, 0.5, 1.0]
    assert error.value.retry_after == 2.0
    assert "a" not in forge_storage.kvs


def test_retry_after_wins_over_the_doubling_up_to_the_cap():
    backoff = Backoff(base_delay=0.5, max_delay=8.0)
    assert [backoff.delay(retry, None) for retry in (1, 2, 3, 6)] == [0.5, 1.0, 2.0, 8.0]
    assert backoff.delay(1, "3") == 3.0
    assert backoff.delay(1, "120") == 8.0
    assert backoff.delay(2, "soon") == 1.0
