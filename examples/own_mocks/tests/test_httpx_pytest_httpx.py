"""httpx + pytest-httpx: ``httpx_mock`` answers GitHub, the fake answers Forge storage.

pytest-httpx's checks at teardown (every response requested, every request expected) see
only the requests that are not Forge storage.
"""

from __future__ import annotations

import httpx
import pytest
from forge_release_cache import with_httpx

REPO = "acme/widgets"
LATEST = f"https://api.github.com/repos/{REPO}/releases/latest"
RELEASE = {"tag_name": "v2.1.0", "published_at": "2024-05-01T12:00:00Z", "draft": False}
RECORD = {"tag": "v2.1.0", "published": "2024-05-01T12:00:00Z"}
TOKEN = "system-token"
KEY = "release:acme:widgets"  # the cache's key for REPO


# --8<-- [start:sync]
def test_httpx_mock_and_the_fake(forge_storage, httpx_mock):
    httpx_mock.add_response(url=LATEST, json=RELEASE)

    with httpx.Client() as client:
        assert with_httpx.cache_latest_release(client, REPO, TOKEN) == RECORD

    assert [str(request.url) for request in httpx_mock.get_requests()] == [LATEST]
    forge_storage.assert_called("set", key=KEY, request={"value": RECORD})


# --8<-- [end:sync]


@pytest.mark.asyncio
async def test_httpx_mock_fixture_first_with_an_async_client(httpx_mock, forge_storage):
    httpx_mock.add_response(url=LATEST, json=RELEASE)

    async with httpx.AsyncClient() as client:
        await with_httpx.cache_latest_release_async(client, REPO, TOKEN)

    assert len(httpx_mock.get_requests()) == 1
    assert forge_storage.kvs[KEY] == RECORD
