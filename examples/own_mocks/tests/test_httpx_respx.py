"""httpx + respx (and httpx.MockTransport): your routes answer GitHub, the fake Forge storage.

respx's default mocker, in every form (the ``respx_mock`` fixture, ``@respx.mock``, a
router in a fixture, in any order), sees only the requests that are not Forge storage.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx
from forge_release_cache import with_httpx

REPO = "acme/widgets"
LATEST = f"https://api.github.com/repos/{REPO}/releases/latest"
RELEASE = {"tag_name": "v2.1.0", "published_at": "2024-05-01T12:00:00Z", "draft": False}
RECORD = {"tag": "v2.1.0", "published": "2024-05-01T12:00:00Z"}
TOKEN = "system-token"
KEY = "release:acme:widgets"  # the cache's key for REPO


# --8<-- [start:fixture]
def test_the_respx_mock_fixture(forge_storage, respx_mock):
    github = respx_mock.get(LATEST).respond(json=RELEASE)

    with httpx.Client() as client:
        assert with_httpx.cache_latest_release(client, REPO, TOKEN) == RECORD

    assert github.call_count == 1
    assert respx_mock.calls.call_count == 1  # the storage call is not among them
    forge_storage.assert_called("set", key=KEY, request={"value": RECORD})


# --8<-- [end:fixture]


@pytest.mark.asyncio
@respx.mock
async def test_respx_mock_decorator_with_an_async_client(forge_storage):
    respx.get(LATEST).respond(json=RELEASE)

    async with httpx.AsyncClient() as client:
        await with_httpx.cache_latest_release_async(client, REPO, TOKEN)

    assert forge_storage.kvs[KEY] == RECORD


# --8<-- [start:using-httpx]
def test_respx_using_httpx_inside_the_test(forge_storage):
    # respx.mock(using="httpx") patches the seam the fake uses, and still never sees storage
    with respx.mock(using="httpx") as router:
        router.get(LATEST).respond(json=RELEASE)
        with httpx.Client() as client:
            with_httpx.cache_latest_release(client, REPO, TOKEN)
        assert router.calls.call_count == 1  # GitHub only (respx forgets calls at exit)

    assert forge_storage.kvs[KEY] == RECORD


@pytest.fixture
def github_on_the_httpx_mocker() -> Iterator[respx.Router]:
    with respx.mock(using="httpx") as router:
        router.get(LATEST).respond(json=RELEASE)
        yield router


def test_respx_using_httpx_started_before_the_fake(github_on_the_httpx_mocker, forge_storage):
    with httpx.Client() as client:
        with_httpx.cache_latest_release(client, REPO, TOKEN)

    assert github_on_the_httpx_mocker.calls.call_count == 1
    assert forge_storage.kvs[KEY] == RECORD


# --8<-- [end:using-httpx]


# --8<-- [start:transport]
def test_an_httpx_mock_transport(forge_storage):
    def github(request: httpx.Request) -> httpx.Response:
        assert request.url == LATEST
        return httpx.Response(200, json=RELEASE)

    # The fake answers Forge storage before the client's own transport is asked.
    with httpx.Client(transport=httpx.MockTransport(github)) as client:
        with_httpx.cache_latest_release(client, REPO, TOKEN)

    assert forge_storage.kvs[KEY] == RECORD


# --8<-- [end:transport]
