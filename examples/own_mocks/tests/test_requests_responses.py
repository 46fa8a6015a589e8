"""requests + responses: your mock answers GitHub, the fake answers Forge storage.

Nothing to configure: in every form and start order, responses sees only the requests that
are not Forge storage, and ``responses.calls`` never holds a storage call.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses
from forge_release_cache import with_requests

from pytest_forge_storage import BlockedRequestError

# --8<-- [start:constants]
REPO = "acme/widgets"
LATEST = f"https://api.github.com/repos/{REPO}/releases/latest"
RELEASE = {"tag_name": "v2.1.0", "published_at": "2024-05-01T12:00:00Z", "draft": False}
RECORD = {"tag": "v2.1.0", "published": "2024-05-01T12:00:00Z"}
TOKEN = "system-token"
KEY = "release:acme:widgets"  # the cache's key for REPO
MYSELF = "https://api.atlassian.com/ex/jira/cloud-1/rest/api/3/myself"
# --8<-- [end:constants]


# --8<-- [start:activate]
@responses.activate
def test_responses_activate(forge_storage):
    responses.get(LATEST, json=RELEASE)

    assert with_requests.cache_latest_release(REPO, TOKEN) == RECORD

    assert forge_storage.kvs[KEY] == RECORD
    forge_storage.assert_called("set", key=KEY, request={"value": RECORD})
    assert [call.request.url for call in responses.calls] == [LATEST]  # GitHub only


# --8<-- [end:activate]


# --8<-- [start:inside]
def test_a_requests_mock_opened_inside_the_test(forge_storage):
    with responses.RequestsMock() as github:  # asserts at exit that every route was called
        github.get(LATEST, json=RELEASE)

        with_requests.cache_latest_release(REPO, TOKEN)

        assert len(github.calls) == 1
    assert forge_storage.kvs[KEY] == RECORD


# --8<-- [end:inside]


@pytest.fixture
def github() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        mock.get(LATEST, json=RELEASE)
        yield mock


def test_your_mock_as_a_fixture_set_up_before_the_fake(github, forge_storage):
    with_requests.cache_latest_release(REPO, TOKEN)
    assert len(github.calls) == 1
    forge_storage.assert_called("set", times=1)


def test_your_mock_as_a_fixture_set_up_after_the_fake(forge_storage, github):
    with_requests.cache_latest_release(REPO, TOKEN)
    assert len(github.calls) == 1
    forge_storage.assert_called("set", times=1)


# --8<-- [start:forge-host]
def test_other_calls_to_forges_host_go_to_your_mock(forge_storage):
    # /ex/jira/... is on api.atlassian.com but is not storage: the fake hands it to you.
    with responses.RequestsMock() as atlassian:
        atlassian.get(MYSELF, json={"accountId": "557058:app"})

        assert with_requests.jira_account_id("cloud-1", TOKEN) == "557058:app"

    forge_storage.assert_not_called()  # not a storage call, so not recorded


def test_an_unmocked_call_to_forges_host_never_leaves(forge_storage):
    with pytest.raises(BlockedRequestError, match="passthrough=True"):
        with_requests.jira_account_id("cloud-1", TOKEN)


# --8<-- [end:forge-host]


def test_a_storage_fault_under_your_mock(forge_storage):
    forge_storage.fail("set", code="INTERNAL_SERVER_ERROR")
    with responses.RequestsMock() as github:
        github.get(LATEST, json=RELEASE)

        with pytest.raises(requests.HTTPError, match="500"):
            with_requests.cache_latest_release(REPO, TOKEN)

    assert KEY not in forge_storage.kvs
