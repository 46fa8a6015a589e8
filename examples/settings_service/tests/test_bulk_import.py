"""A bulk import under Forge's limits.

Against the plain fake (realism off, the default) the naive one-write-per-site import
passes. Under ``realism="limits"`` the fake enforces Forge's 1000 requests per second and
4000 write units per minute per installation, and the same import fails with 429
``RATE_LIMIT_EXCEEDED`` as it would on Forge. Batching (25 items per ``batch/set``) and a
backoff on 429 fix it.

The clock is frozen (freezegun) and the client's ``sleep`` advances it: the backoff moves
the test's clock instead of waiting, so the limits see exactly the time the import would
take, and the test takes none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from forge_settings_service import (
    BULK_RETRY,
    ForgeStorageClient,
    ImportResult,
    RetryPolicy,
    StorageError,
    import_one_by_one,
    import_settings,
)
from freezegun import freeze_time

SITES = 5_000
TOKEN = "system-token-for-tests"


def settings_for(count: int) -> dict[str, dict[str, Any]]:
    themes = ("light", "dark")
    return {
        f"site-{i:05}": {"theme": themes[i % 2], "locale": "en-GB", "digest": "weekly"}
        for i in range(count)
    }


# --8<-- [start:clock]
@pytest.fixture
def frozen() -> Iterator[Any]:
    with freeze_time("2026-03-02 09:00:00") as frozen:
        yield frozen


@pytest.fixture
def sleep(frozen: Any, sleeps: list[float]) -> Callable[[float], None]:
    """The client's sleep: note the delay, move the frozen clock on by it."""

    def advance(seconds: float) -> None:
        sleeps.append(seconds)
        frozen.tick(seconds)

    return advance


@pytest.fixture
def bulk_client(sleep: Callable[[float], None]) -> ForgeStorageClient:
    return ForgeStorageClient(TOKEN, retry=BULK_RETRY, sleep=sleep)


# --8<-- [end:clock]


# -- the naive import ----------------------------------------------------------------------
# --8<-- [start:tests]
def test_one_by_one_passes_against_the_plain_fake(forge_storage, storage_client):
    assert import_one_by_one(storage_client, settings_for(SITES)) == SITES

    assert len(forge_storage.kvs) == SITES
    forge_storage.assert_usage(requests=SITES, write_units=SITES, rate_limited=0)


@pytest.mark.forge_storage(realism="limits")
def test_one_by_one_fails_under_forge_limits(forge_storage, frozen, sleep, sleeps):
    # the service's own client and retry policy (4 attempts, 0.1 s doubling)
    retry = RetryPolicy(max_attempts=4, base_delay=0.1)
    storage_client = ForgeStorageClient(TOKEN, retry=retry, sleep=sleep)

    with pytest.raises(StorageError) as refused:
        import_one_by_one(storage_client, settings_for(SITES))

    assert (refused.value.status, refused.value.code) == (429, "RATE_LIMIT_EXCEEDED")
    assert refused.value.message.startswith(
        "Rate limit exceeded: at most 1,000 requests per second per installation, and 1,000 "
        "were made in the last second."
    )
    assert len(forge_storage.kvs) == 1000  # the first second's worth, then nothing
    assert sleeps == [0.1, 0.2, 0.4]  # 0.7 s of backoff cannot wait out a full second
    assert forge_storage.usage.rate_limited == 4


# -- the fix: batches of 25, backoff on 429 ---------------------------------------------------
@pytest.mark.forge_storage(realism="limits")
def test_batched_import_fits_forge_limits(forge_storage, bulk_client, sleeps):
    result = import_settings(bulk_client, settings_for(SITES))

    assert result == ImportResult(imported=SITES, requests=200)
    assert len(forge_storage.kvs) == SITES
    assert sleeps == []  # never refused
    # 200 requests of 25 records, each under 10 KB: one write unit each
    forge_storage.assert_usage(requests=200, write_units=200, rate_limited=0)


@pytest.mark.forge_storage(realism="limits")
def test_batched_import_backs_off_when_the_second_is_spent(forge_storage, bulk_client, sleeps):
    # a large tenant: 30,000 sites are 1,200 batches, more than 1,000 in one second
    result = import_settings(bulk_client, settings_for(30_000))

    assert result == ImportResult(imported=30_000, requests=1_200)
    assert len(forge_storage.kvs) == 30_000
    # the 1,001st batch is refused at once and half a second later; 1.5 s after the start
    # the first second's batches have aged out of the window
    assert sleeps == [0.5, 1.0]
    usage = forge_storage.usage
    assert (usage.requests, usage.rate_limited, usage.write_units) == (1_202, 2, 1_200)


# --8<-- [end:tests]


@pytest.mark.forge_storage(realism="limits")
def test_batches_stay_under_the_1_mb_payload_cap(forge_storage, bulk_client):
    # 40 KB of settings per site: 25 of them would be a 1 MB payload, which Forge (FRGE-1916)
    # and the fake under realism refuse with 400; the import cuts batches at 1,000,000 bytes
    settings = {f"site-{i:03}": {"layout": "x" * 40_000} for i in range(100)}

    result = import_settings(bulk_client, settings)

    assert result == ImportResult(imported=100, requests=5)
    sent = [(len(call.request), call.status) for call in forge_storage.calls]
    assert sent == [(24, 200)] * 4 + [(4, 200)]  # 961,201 bytes each, then 160,201
    forge_storage.assert_usage(write_units=4 * 97 + 17, rate_limited=0)


@pytest.mark.forge_storage(realism="limits")
def test_records_forge_refuses_are_reported_and_the_rest_stored(forge_storage, bulk_client):
    settings = settings_for(30)
    settings["x" * 600] = {"theme": "dark"}  # a key over Forge's 500 characters

    result = import_settings(bulk_client, settings)

    assert result.imported == 30
    assert result.requests == 2
    assert [(failed["site"][:3], failed["code"]) for failed in result.failed] == [
        ("xxx", "KEY_TOO_LONG")
    ]
    assert len(forge_storage.kvs) == 30
