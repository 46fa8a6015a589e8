"""aiohttp + aioresponses: your mock answers GitHub, the fake answers Forge storage.

In every form and start order, ``m.requests`` holds only the requests that are not Forge
storage, even if a route of yours matches a storage URL.
"""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import pytest
from aioresponses import aioresponses
from forge_release_cache import with_aiohttp
from yarl import URL

REPO = "acme/widgets"
LATEST = f"https://api.github.com/repos/{REPO}/releases/latest"
RELEASE = {"tag_name": "v2.1.0", "published_at": "2024-05-01T12:00:00Z", "draft": False}
RECORD = {"tag": "v2.1.0", "published": "2024-05-01T12:00:00Z"}
TOKEN = "system-token"
KEY = "release:acme:widgets"  # the cache's key for REPO


# --8<-- [start:fixture]
@pytest.fixture
def github() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        mock.get(LATEST, payload=RELEASE)
        yield mock


@pytest.mark.asyncio
async def test_your_mock_as_a_fixture(github, forge_storage):
    async with aiohttp.ClientSession() as session:
        assert await with_aiohttp.cache_latest_release(session, REPO, TOKEN) == RECORD

    assert list(github.requests) == [("GET", URL(LATEST))]  # GitHub only
    forge_storage.assert_called("set", key=KEY, request={"value": RECORD})


# --8<-- [end:fixture]


@pytest.mark.asyncio
async def test_your_mock_opened_inside_the_test(forge_storage):
    with aioresponses() as github:
        github.get(LATEST, payload=RELEASE)

        async with aiohttp.ClientSession() as session:
            await with_aiohttp.cache_latest_release(session, REPO, TOKEN)

        assert len(github.requests) == 1
    assert forge_storage.kvs[KEY] == RECORD
