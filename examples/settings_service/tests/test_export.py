"""The async export (``httpx.AsyncClient``) against the same fake: the fixture serves
``httpx`` sync and async as it serves ``requests``."""

from __future__ import annotations

import httpx
import pytest
from forge_settings_service import RetryPolicy, StorageError, export_audit, export_many

TOKEN = "system-token-for-tests"
FAST = RetryPolicy(max_attempts=3, base_delay=0.5)


def seed_entries(forge_storage, site, count):
    for i in range(count):
        stamp = f"2024-05-01T12:{i // 60:02d}:{i % 60:02d}.000000Z"
        forge_storage.kvs[f"audit:{site}:{stamp}"] = {"site": site, "action": "test", "at": stamp}


@pytest.fixture
def async_sleeps():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    sleep.slept = slept  # type: ignore[attr-defined]
    return sleep


async def test_exports_every_page(forge_storage):
    seed_entries(forge_storage, "acme", 45)

    entries = await export_audit("acme", TOKEN, page_size=20)

    assert len(entries) == 45
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert [len(c.response["data"]) for c in forge_storage.calls_to("query")] == [20, 20, 5]
    assert all(call.api == "rest" for call in forge_storage.calls)


async def test_exports_several_sites_concurrently(forge_storage):
    seed_entries(forge_storage, "acme", 30)
    seed_entries(forge_storage, "globex", 7)

    logs = await export_many(["acme", "globex", "initech"], TOKEN, page_size=10)

    assert {site: len(entries) for site, entries in logs.items()} == {
        "acme": 30,
        "globex": 7,
        "initech": 0,
    }
    assert all(entry["site"] == "globex" for entry in logs["globex"])
    # 30 entries at 10 a page are 3 pages: the third has no cursor, as nothing follows.
    forge_storage.assert_called("query", times=3 + 1 + 1)


async def test_export_retries_rate_limits(forge_storage, async_sleeps):
    seed_entries(forge_storage, "acme", 15)
    forge_storage.fail("query", code="RATE_LIMIT_EXCEEDED", after=1)  # the second page

    entries = await export_audit("acme", TOKEN, page_size=10, retry=FAST, sleep=async_sleeps)

    assert len(entries) == 15
    assert [c.status for c in forge_storage.calls_to("query")] == [200, 429, 200]
    assert async_sleeps.slept == [0.5]


async def test_export_retries_connection_errors(forge_storage, async_sleeps):
    seed_entries(forge_storage, "acme", 3)
    forge_storage.fail_transport("query", times=2)

    entries = await export_audit("acme", TOKEN, retry=FAST, sleep=async_sleeps)

    assert len(entries) == 3
    assert async_sleeps.slept == [0.5, 1.0]


async def test_export_uses_a_client_you_pass(forge_storage):
    seed_entries(forge_storage, "acme", 2)

    async with httpx.AsyncClient() as client:
        entries = await export_audit("acme", TOKEN, client=client)

    assert [e["key"] for e in entries] == [
        "audit:acme:2024-05-01T12:00:00.000000Z",
        "audit:acme:2024-05-01T12:00:01.000000Z",
    ]


async def test_export_reports_a_rejected_token(forge_storage):
    forge_storage.allowed_tokens = {"the-real-token"}

    with pytest.raises(StorageError) as error:
        await export_audit("acme", TOKEN)

    assert (error.value.status, error.value.code) == (401, "UNAUTHORIZED")
    (call,) = forge_storage.calls
    assert (call.operation, call.status) == ("query", 401)
