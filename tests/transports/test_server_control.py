"""The control API under ``/_forge-storage/``: what a Jest suite uses in place of the facade."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

from pytest_forge_storage.server import ForgeStorageServer

TOKEN = {"Authorization": "Bearer t"}
REST = "/forge/storage/kvs/v1"
CONTROL = "/_forge-storage"


@pytest.fixture
def server() -> Iterator[ForgeStorageServer]:
    with ForgeStorageServer(log=lambda line: None, timeout_delay=0.2) as srv:
        srv.storage.define_entity("employee", {"age": "integer"}, ["age"])
        yield srv


def control(
    server: ForgeStorageServer, method: str, path: str, body: Any = None
) -> requests.Response:
    kwargs: dict[str, Any] = {"timeout": 10}
    if body is not None:
        kwargs["json"] = body
    return requests.request(method, f"{server.url}{CONTROL}/{path}", **kwargs)


def rest(server: ForgeStorageServer, operation: str, body: Any) -> requests.Response:
    return requests.post(f"{server.url}{REST}/{operation}", json=body, headers=TOKEN, timeout=10)


def test_index_lists_the_endpoints(server: ForgeStorageServer) -> None:
    r = control(server, "GET", "")
    assert r.status_code == 200
    assert r.json()["endpoints"] == [
        "POST /_forge-storage/reset",
        "POST /_forge-storage/seed",
        "GET /_forge-storage/snapshot",
        "GET /_forge-storage/calls",
        "POST /_forge-storage/faults",
        "DELETE /_forge-storage/faults",
        "POST /_forge-storage/installations",
        "GET /_forge-storage/installations",
    ]


def test_seed_then_snapshot_then_reset(server: ForgeStorageServer) -> None:
    data = {
        "kvs": {"settings": {"theme": "dark"}},
        "secrets": {"api-key": "s3cret"},
        "entities": {"employee": {"e1": {"age": 30}, "e2": {"age": 40}}},
    }
    r = control(server, "POST", "seed", data)
    assert (r.status_code, r.json()) == (
        200,
        {"seeded": {"kvs": 1, "secrets": 1, "entities": {"employee": 2}}},
    )
    assert rest(server, "get", {"key": "settings"}).json()["value"] == {"theme": "dark"}
    snapshot = control(server, "GET", "snapshot").json()
    assert snapshot["kvs"] == data["kvs"]
    assert snapshot["secrets"] == {"api-key": "s3cret"}  # the data, in clear
    assert snapshot["entities"] == data["entities"]
    assert set(snapshot["metadata"]["kvs"]["settings"]) == {"createdAt", "updatedAt"}
    r = control(server, "POST", "reset")
    assert (r.status_code, r.json()) == (200, {"reset": True})
    assert server.storage.snapshot()["kvs"] == {}
    assert server.storage.calls == []
    assert server.storage.entity("employee") is not None  # declarations stay


def test_seed_adds_to_what_is_stored_all_or_nothing(server: ForgeStorageServer) -> None:
    server.storage.kvs["keep"] = 1
    r = control(server, "POST", "seed", {"kvs": {"new": 2}, "entities": {"employee": {"e": {}}}})
    assert r.status_code == 200
    assert dict(server.storage.kvs) == {"keep": 1, "new": 2}
    r = control(
        server, "POST", "seed", {"kvs": {"more": 3}, "entities": {"employee": {"b": {"age": "x"}}}}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "INVALID_ENTITY_VALUE"
    assert dict(server.storage.kvs) == {"keep": 1, "new": 2}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"", 400, "the request body is empty"),
        (b"{nope", 400, "not valid JSON"),
        (b"[]", 400, "data"),
        (b'{"kv": {}}', 400, "'kv'"),
        (b'{"kvs": {"a/b": 1}}', 400, "a/b"),
    ],
    ids=["empty", "not-json", "list", "unknown-section", "bad-key"],
)
def test_seed_refuses_bad_data(
    server: ForgeStorageServer, body: bytes, status: int, words: str
) -> None:
    r = requests.post(f"{server.url}{CONTROL}/seed", data=body, timeout=10)
    assert r.status_code == status
    assert set(r.json()) == {"code", "message"}
    assert words in r.json()["message"]


def test_calls_are_masked_and_filterable(server: ForgeStorageServer) -> None:
    rest(server, "secret/set", {"key": "token", "value": "hunter2-very-secret"})
    rest(server, "set", {"key": "plain", "value": {"n": 1}})
    rest(server, "get", {"key": "missing"})
    calls = control(server, "GET", "calls").json()["calls"]
    assert [c["operation"] for c in calls] == ["secret/set", "set", "get"]
    assert calls[0]["request"] == {"key": "token", "value": "********"}
    assert "hunter2" not in str(calls)
    assert calls[1] == {
        "operation": "set",
        "api": "rest",
        "key": "plain",
        "entity_name": None,
        "status": 204,
        "error_code": None,
        "url": f"{server.url}{REST}/set",
        "request": {"key": "plain", "value": {"n": 1}},
        "response": None,
        "summary": "rest set key='plain' -> 204",
    }
    assert calls[2]["error_code"] == "KEY_NOT_FOUND"
    r = control(server, "GET", "calls?operation=get&key=missing")
    assert [c["key"] for c in r.json()["calls"]] == ["missing"]
    r = control(server, "GET", "calls?api=graphql")
    assert r.json() == {"calls": []}
    assert len(server.storage.calls) == 3  # control requests are not recorded


def test_calls_refuse_unknown_filters(server: ForgeStorageServer) -> None:
    r = control(server, "GET", "calls?op=get")
    assert (r.status_code, r.json()["code"]) == (400, "BAD_REQUEST")
    assert "unknown filter 'op'" in r.json()["message"]
    r = control(server, "GET", "calls?operation=gett")
    assert r.status_code == 400
    assert "'gett'" in r.json()["message"]


def test_a_forge_error_fault(server: ForgeStorageServer) -> None:
    fault = {"operation": "set", "code": "RATE_LIMIT_EXCEEDED", "times": 2, "after": 1}
    r = control(server, "POST", "faults", fault)
    assert (r.status_code, r.json()) == (200, {"planned": 1})
    statuses = [rest(server, "set", {"key": "k", "value": i}).status_code for i in range(4)]
    assert statuses == [204, 429, 429, 204]
    assert server.storage.calls[1].error_code == "RATE_LIMIT_EXCEEDED"


def test_a_fault_on_one_batch_item(server: ForgeStorageServer) -> None:
    control(server, "POST", "faults", {"operation": "batch/set", "key": "b", "code": "X_FAIL"})
    r = rest(server, "batch/set", [{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    assert r.status_code == 200
    assert [item["key"] for item in r.json()["failedKeys"]] == ["b"]


def test_a_list_of_faults_and_clearing_them(server: ForgeStorageServer) -> None:
    r = control(
        server,
        "POST",
        "faults",
        [{"operation": "get", "code": "INTERNAL_SERVER_ERROR", "times": None}, {"key": "x"}],
    )
    assert r.json() == {"planned": 2}
    assert rest(server, "get", {"key": "a"}).status_code == 500
    assert rest(server, "get", {"key": "a"}).status_code == 500
    r = control(server, "DELETE", "faults")
    assert (r.status_code, r.json()) == (200, {"cleared": True})
    assert rest(server, "get", {"key": "a"}).status_code == 404


def test_transport_faults(server: ForgeStorageServer) -> None:
    control(server, "POST", "faults", {"transport": True, "operation": "get"})
    with pytest.raises(requests.ConnectionError):
        rest(server, "get", {"key": "a"})
    control(server, "POST", "faults", {"transport": True, "error": "timeout"})
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}{REST}/get", json={"key": "a"}, headers=TOKEN, timeout=0.1)
    assert rest(server, "get", {"key": "a"}).status_code == 404


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"operation": "gett"}, "Unknown storage operation 'gett'"),
        ({"codee": "X"}, "faults: unknown field 'codee'"),
        ({"times": "2"}, "faults: 'times' must be a positive integer or null"),
        ({"times": 0}, "times must be a positive integer"),
        ({"times": True}, "'times' must be"),
        ({"status": 99}, "status must be an HTTP status"),
        ({"transport": "yes"}, "'transport' must be true or false"),
        ({"transport": True, "code": "X"}, "unknown field 'code'; a fail_transport() fault"),
        ({"transport": True, "error": "dns"}, "'error' must be 'connection' or 'timeout'"),
        ([], "send a fault object or a non-empty list"),
        ([{"operation": "get"}, {"after": -1}], "faults[1]: after must be a non-negative"),
        ("get", "send a fault object"),
    ],
)
def test_bad_faults_are_400_naming_the_field(
    server: ForgeStorageServer, fault: Any, words: str
) -> None:
    r = control(server, "POST", "faults", fault)
    assert r.status_code == 400
    assert r.json()["code"] == "BAD_REQUEST"
    assert words in r.json()["message"]
    assert rest(server, "get", {"key": "a"}).status_code == 404  # nothing was planned


def test_wrong_method_is_405_and_unknown_path_404(server: ForgeStorageServer) -> None:
    r = control(server, "GET", "reset")
    assert (r.status_code, r.json()["code"], r.headers["allow"]) == (
        405,
        "METHOD_NOT_ALLOWED",
        "POST",
    )
    r = control(server, "PUT", "faults")
    assert r.headers["allow"] == "POST, DELETE"
    r = control(server, "POST", "nowhere", {"key": "other"})
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
    assert "/_forge-storage/reset" in r.json()["message"]
    r = requests.head(f"{server.url}{CONTROL}/snapshot", timeout=10)
    assert (r.status_code, r.content) == (200, b"")


def test_control_off_means_an_ordinary_404() -> None:
    with ForgeStorageServer(log=lambda line: None, control=False) as srv:
        srv.storage.kvs["k"] = 1
        r = requests.post(f"{srv.url}{CONTROL}/reset", timeout=10)
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
        assert "is not a Forge storage path" in r.json()["message"]
        assert srv.storage.kvs["k"] == 1


def test_control_requests_are_logged_like_others() -> None:
    lines: list[str] = []
    with ForgeStorageServer(log=lines.append) as srv:
        requests.post(f"{srv.url}{CONTROL}/seed", json={"secrets": {"s": "hunter2"}}, timeout=10)
        requests.get(f"{srv.url}{CONTROL}/snapshot", timeout=10)
    assert [line.split()[:3] for line in lines] == [
        ["POST", "/_forge-storage/seed", "200"],
        ["GET", "/_forge-storage/snapshot", "200"],
    ]
    assert "hunter2" not in "".join(lines)


def test_installations_are_made_and_listed(server: ForgeStorageServer) -> None:
    r = control(server, "POST", "installations", {"key": "site-b", "product": "confluence"})
    assert r.status_code == 200
    made = r.json()
    assert made["contextAri"] == f"ari:cloud:confluence::site/{made['cloudId']}"
    assert made["installationId"].startswith("ari:cloud:ecosystem::installation/")
    # The token reaches that installation's partition, not the default one.
    headers = {"Authorization": f"Bearer {made['token']}"}
    body = {"key": "k", "value": 1}
    set_url = f"{server.url}/forge/storage/kvs/v1/set"
    assert requests.post(set_url, json=body, headers=headers, timeout=10).status_code == 204
    assert server.storage.installation("site-b").kvs["k"] == 1
    assert "k" not in server.storage.kvs
    listed = control(server, "GET", "installations").json()["installations"]
    assert [i["key"] for i in listed] == ["default", "site-b"]
    again = control(server, "POST", "installations", {"key": "site-b", "product": "jira"})
    assert (again.status_code, again.json()["code"]) == (400, "BAD_REQUEST")
    assert "already exists" in again.json()["message"]
    bad = control(server, "POST", "installations", {"name": "x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "BAD_REQUEST")
