"""Isolation: state never leaks between tests, fakes, or ``mock_forge_storage()`` blocks.

Each fake owns its store, calls, faults, tokens and declarations; the interception of one
ends with it; a test run in any order (pytest-randomly) sees the same thing. (CI also runs the
whole suite shuffled across two pytest-xdist workers.)
"""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest
import requests

from pytest_forge_storage import ForgeStorage, mock_forge_storage
from pytest_forge_storage._http import HttpRequest, HttpResponse

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer isolation"}


def post(operation: str, body: Any, *, client: str = "requests") -> tuple[int, Any]:
    if client == "requests":
        r = requests.post(BASE + operation, json=body, headers=AUTH, timeout=5)
        return r.status_code, r.json() if r.content else None
    with httpx.Client() as http:
        answer = http.post(BASE + operation, json=body, headers=AUTH)
        return answer.status_code, answer.json() if answer.content else None


def query_keys(client: str = "requests") -> list[str]:
    status, body = post("query", {"limit": 100}, client=client)
    assert status == 200, body
    return [item["key"] for item in body["data"]]


def seed_everything(storage: ForgeStorage, client: str) -> None:
    """Leave something behind in every kind of state a fake has."""
    storage.define_entity("widget", {"size": "integer"}, indexes=["size"])
    assert post("set", {"key": "k", "value": 1}, client=client)[0] == 204
    assert post("secret/set", {"key": "s", "value": "x"}, client=client)[0] == 204
    body = {"entityName": "widget", "key": "w", "value": {"size": 3}}
    assert post("entity/set", body, client=client)[0] == 204
    storage.fail("get", times=None)
    storage.allowed_tokens = {"only-this-one"}


def assert_pristine(storage: ForgeStorage, client: str) -> None:
    """A fresh fake: nothing stored, no calls, no faults, any token, no entities."""
    assert storage.calls == []
    status, body = post("get", {"key": "k"}, client=client)
    assert (status, body["code"]) == (404, "KEY_NOT_FOUND")
    assert post("secret/get", {"key": "s"}, client=client)[0] == 404
    assert query_keys(client) == []
    body = {"entityName": "widget", "key": "w"}
    assert post("entity/get", body, client=client)[1]["code"] == "INVALID_ENTITY_TYPE"
    assert len(storage.kvs) == len(storage.secrets) == 0


def assert_not_intercepted() -> None:
    """Neither client is patched: requests and httpx reach their own transports."""
    from requests.adapters import HTTPAdapter

    assert HTTPAdapter.send.__module__ == "requests.adapters", HTTPAdapter.send
    for client in (httpx.Client, httpx.AsyncClient):
        assert client._transport_for_url.__module__ == "httpx._client", client


# -- mock_forge_storage() blocks ---------------------------------------------------------
@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_sequential_blocks_start_empty(client: str) -> None:
    with mock_forge_storage() as first:
        seed_everything(first, client)
    with mock_forge_storage() as second:
        assert second is not first
        assert_pristine(second, client)
    assert first.kvs["k"] == 1  # the first block's data stays inspectable after it ends


@pytest.mark.parametrize("client", ["requests", "httpx"])
def test_nested_blocks_are_separate_stores(client: str) -> None:
    with mock_forge_storage() as outer:
        assert post("set", {"key": "outer", "value": 1}, client=client)[0] == 204
        with mock_forge_storage() as inner:
            assert query_keys(client) == []  # the inner block serves, from its own store
            assert post("set", {"key": "inner", "value": 2}, client=client)[0] == 204
            assert query_keys(client) == ["inner"]
        assert query_keys(client) == ["outer"]  # the outer block serves again
        assert post("get", {"key": "inner"}, client=client)[0] == 404
    assert dict(outer.kvs) == {"outer": 1}
    assert dict(inner.kvs) == {"inner": 2}
    assert [call.key for call in inner.calls_to("set")] == ["inner"]
    assert [call.key for call in outer.calls_to("set")] == ["outer"]


def test_nothing_is_intercepted_after_the_last_block() -> None:
    assert_not_intercepted()
    with mock_forge_storage(), mock_forge_storage():
        pass
    assert_not_intercepted()


def test_a_failing_block_stops_intercepting() -> None:
    def fail_inside() -> None:
        with mock_forge_storage() as storage:
            storage.kvs["k"] = 1
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert_not_intercepted()
    with mock_forge_storage() as fresh:
        assert post("get", {"key": "k"})[0] == 404
        assert fresh.calls_to("get")[0].status == 404


def test_decorated_functions_get_a_fresh_store_each_call() -> None:
    seen: list[list[str]] = []

    @mock_forge_storage()
    def app_code() -> None:
        seen.append(query_keys())
        assert post("set", {"key": f"call-{len(seen)}", "value": 1})[0] == 204

    app_code()
    app_code()
    assert seen == [[], []]


# -- ForgeStorage objects --------------------------------------------------------------
def test_two_storage_objects_share_nothing() -> None:
    one, two = ForgeStorage(), ForgeStorage()
    one.define_entity("widget", {"size": "integer"})

    def handle(storage: ForgeStorage, operation: str, body: bytes) -> int:
        headers = {"authorization": "Bearer t"}
        result = storage.handle(HttpRequest("POST", BASE + operation, headers, body))
        assert isinstance(result, HttpResponse)
        return result.status

    assert handle(one, "set", b'{"key":"k","value":1}') == 204
    assert handle(two, "get", b'{"key":"k"}') == 404
    assert handle(two, "entity/get", b'{"entityName":"widget","key":"w"}') == 400
    one.fail("get")
    assert handle(two, "get", b'{"key":"k"}') == 404  # the fault is one's
    assert handle(one, "get", b'{"key":"k"}') == 429
    assert len(one.calls) == 2
    assert len(two.calls) == 3
    two.reset()
    assert one.kvs["k"] == 1


def test_two_storages_started_and_stopped_out_of_order() -> None:
    first, second = ForgeStorage().start(), ForgeStorage().start()
    try:
        assert post("set", {"key": "k", "value": "second"})[0] == 204
        first.stop()  # not on top: the second keeps serving
        assert post("get", {"key": "k"})[1]["value"] == "second"
    finally:
        second.stop()
        first.stop()
    assert "k" not in first.kvs
    assert_not_intercepted()
    with mock_forge_storage() as third:
        assert query_keys() == []
        assert third.calls_to("query")


def test_a_server_and_the_fixture_are_separate(forge_storage: ForgeStorage) -> None:
    from pytest_forge_storage.server import ForgeStorageServer

    with ForgeStorageServer() as server:
        url = server.url + "/forge/storage/kvs/v1/set"
        assert requests.post(url, json={"key": "k", "value": 1}, headers=AUTH).status_code == 204
        assert post("get", {"key": "k"})[0] == 404
        assert dict(server.storage.kvs) == {"k": 1}
    assert dict(forge_storage.kvs) == {}


# -- between tests ---------------------------------------------------------------------
LEAKY_TESTS = """
import pytest, requests, httpx, time_machine
from datetime import datetime, timezone

BASE = "https://api.atlassian.com/forge/storage/kvs/v1/"
AUTH = {"Authorization": "Bearer t"}

def keys():
    r = requests.post(BASE + "query", json={"limit": 100}, headers=AUTH)
    return [item["key"] for item in r.json()["data"]]

@pytest.mark.parametrize("n", range(4))
def test_seeds(forge_storage, n):
    assert keys() == [] and forge_storage.calls[0].operation == "query"
    forge_storage.define_entity("widget", {"size": "integer"})
    forge_storage.kvs[f"k{n}"] = n
    forge_storage.secrets["s"] = "x"
    forge_storage.entity("widget")["w"] = {"size": n}
    forge_storage.fail("get", times=None, required=False)  # planted to prove it does not leak
    forge_storage.allowed_tokens = {"nobody"}
    with httpx.Client() as client:
        assert client.post(BASE + "get", json={"key": "k"}, headers=AUTH).status_code == 401

@pytest.mark.forge_storage(data={"kvs": {"marker": 1}})
def test_marker_data(forge_storage):
    assert keys() == ["marker"]

def test_clock(forge_storage):
    with time_machine.travel(datetime(2090, 1, 1, tzinfo=timezone.utc), tick=False):
        forge_storage.set("soon", 1, ttl=5)
    assert keys() == ["soon"]  # back to the real clock: well before 2090

@pytest.mark.parametrize("n", range(4))
def test_sees_nothing(forge_storage, n):
    assert keys() == []
    assert len(forge_storage.secrets) == 0
    r = requests.post(BASE + "get", json={"key": "k0"}, headers=AUTH)
    assert r.status_code == 404 and r.json()["code"] == "KEY_NOT_FOUND"
    r = requests.post(BASE + "entity/get", json={"entityName": "widget", "key": "w"}, headers=AUTH)
    assert r.json()["code"] == "INVALID_ENTITY_TYPE"
    assert [c.operation for c in forge_storage.calls] == ["query", "get", "entity/get"]

@pytest.mark.parametrize("n", range(2))
def test_server_sees_nothing(forge_storage_server, n):
    url = forge_storage_server.url + "/forge/storage/kvs/v1/"
    assert requests.post(url + "query", json={}, headers=AUTH).json() == {"data": []}
    r = requests.post(url + "set", json={"key": f"srv{n}", "value": n}, headers=AUTH)
    assert r.status_code == 204

def test_outside_the_fake_nothing_is_intercepted():
    from requests.adapters import HTTPAdapter
    assert HTTPAdapter.send.__module__ == "requests.adapters"
    assert httpx.Client._transport_for_url.__module__ == "httpx._client"
"""


def _has(plugin: str) -> bool:
    try:
        __import__(plugin)
    except ImportError:
        return False
    return True


needs_randomly = pytest.mark.skipif(not _has("pytest_randomly"), reason="needs pytest-randomly")


@needs_randomly
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_leak_between_tests_in_random_order(pytester: pytest.Pytester, seed: int) -> None:
    pytester.makepyfile(test_leaks=LEAKY_TESTS)
    result = pytester.runpytest("-p", "randomly", f"--randomly-seed={seed}", "-p", "no:asyncio")
    result.assert_outcomes(passed=13)


@needs_randomly
def test_random_order_really_reorders(pytester: pytest.Pytester) -> None:
    """The order above did change between seeds (else the test proves nothing)."""
    pytester.makepyfile(test_leaks=LEAKY_TESTS)
    orders = set()
    for seed in (1, 2, 3, 4):
        result = pytester.runpytest(
            "-p", "randomly", f"--randomly-seed={seed}", "-v", "-p", "no:asyncio"
        )
        orders.add(tuple(line for line in result.outlines if "PASSED" in line))
    assert len(orders) > 1


def test_plugin_import_leaves_no_interception() -> None:
    """This test does not use the fake: the plugin patched nothing at import or session
    start, nor left anything patched by the tests before it."""
    assert_not_intercepted()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_the_fake_writes_nothing_to_the_working_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaks=LEAKY_TESTS)
    before = sorted(p.name for p in pytester.path.iterdir())
    pytester.runpytest(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:asyncio"
    ).assert_outcomes(passed=13)
    after = sorted(p.name for p in pytester.path.iterdir() if p.name != "__pycache__")
    assert after == [name for name in before if name != "__pycache__"]
